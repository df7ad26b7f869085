//! Statistics read from the aggregates that triggers keep (migration 0009): users' media usage,
//! the rooms taking the most database space, per-room media usage and server-wide totals.

mod rooms;
mod totals;

pub use rooms::{RoomMediaOrder, RoomMediaUsage, RoomSize};
pub use totals::{MediaTotals, Tally};

use sqlx::AssertSqlSafe;

use crate::{Db, DbError, read};

/// One UTC day in milliseconds: the granularity of `user_media_daily`.
const DAY_MS: i64 = 86_400_000;

/// A user's local media, as `/statistics/users/media` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserMediaUsage {
    pub user_id: String,
    pub displayname: Option<String>,
    pub media_count: i64,
    /// `None` when every row of the user is a pending upload (Synapse's `SUM` of NULLs).
    pub media_length: Option<i64>,
}
crate::row::from_row!(UserMediaUsage {
    user_id,
    displayname,
    media_count,
    media_length
});

/// The keys `/statistics/users/media` sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserUsageOrder {
    MediaLength,
    MediaCount,
    UserId,
    Displayname,
}

/// What to list. Bounds are on `created_ts`, both inclusive; `search` is matched
/// case-insensitively and literally against the localpart or the display name.
#[derive(Clone, Debug)]
pub struct UserMediaQuery {
    pub order: UserUsageOrder,
    pub descending: bool,
    pub from: i64,
    pub limit: i64,
    pub from_ts: Option<i64>,
    pub until_ts: Option<i64>,
    pub search: Option<String>,
}

/// The `created_ts` ranges a bounded window splits into: whole days read from
/// `user_media_daily`, and the partial days at its edges read from the media rows.
#[derive(Debug, PartialEq, Eq)]
struct Window {
    /// Whole days `[first, end)`, either side open when `None`.
    days: Option<(Option<i64>, Option<i64>)>,
    /// Inclusive `created_ts` ranges counted row by row.
    edges: Vec<(i64, i64)>,
}

impl Window {
    fn new(from_ts: Option<i64>, until_ts: Option<i64>) -> Self {
        let first = from_ts.map(|f| f.div_euclid(DAY_MS) + i64::from(f.rem_euclid(DAY_MS) != 0));
        let end = until_ts.map(|u| u.saturating_add(1).div_euclid(DAY_MS));
        if let (Some(f), Some(u), Some(a), Some(b)) = (from_ts, until_ts, first, end)
            && a >= b
        {
            // Less than a whole day between the edges: count the rows.
            return Self {
                days: None,
                edges: vec![(f, u)],
            };
        }
        let mut edges = Vec::new();
        if let (Some(f), Some(a)) = (from_ts, first)
            && a.saturating_mul(DAY_MS) > f
        {
            edges.push((f, a.saturating_mul(DAY_MS) - 1));
        }
        if let (Some(u), Some(b)) = (until_ts, end)
            && b.saturating_mul(DAY_MS) <= u
        {
            edges.push((b.saturating_mul(DAY_MS), u));
        }
        Self {
            days: Some((first, end)),
            edges,
        }
    }
}

impl Db {
    /// One page of users' local media usage and the number of users matching.
    pub async fn user_media_usage(
        &self,
        q: &UserMediaQuery,
    ) -> Result<(Vec<UserMediaUsage>, i64), DbError> {
        // Binds, in order: the window's values, then the search pattern, then limit/offset.
        let mut binds: Vec<i64> = Vec::new();
        fn bind(v: i64, binds: &mut Vec<i64>) -> String {
            binds.push(v);
            format!("${}", binds.len())
        }
        let source = if q.from_ts.is_none() && q.until_ts.is_none() {
            "SELECT user_id, media_count, media_length, length_count FROM user_media_totals"
                .to_owned()
        } else {
            let w = Window::new(q.from_ts, q.until_ts);
            let mut parts = Vec::new();
            if let Some((first, end)) = w.days {
                let mut sql = "SELECT user_id, media_count, media_length, length_count \
                               FROM user_media_daily WHERE 1 = 1"
                    .to_owned();
                if let Some(a) = first {
                    sql += &format!(" AND day >= {}", bind(a, &mut binds));
                }
                if let Some(b) = end {
                    sql += &format!(" AND day < {}", bind(b, &mut binds));
                }
                parts.push(sql);
            }
            for (lo, hi) in w.edges {
                parts.push(format!(
                    "SELECT user_id, 1 AS media_count, COALESCE(media_length, 0) AS media_length, \
                     CASE WHEN media_length IS NULL THEN 0 ELSE 1 END AS length_count FROM media \
                     WHERE user_id IS NOT NULL AND created_ts >= {} AND created_ts <= {}",
                    bind(lo, &mut binds),
                    bind(hi, &mut binds)
                ));
            }
            format!(
                "SELECT user_id, CAST(SUM(media_count) AS BIGINT) AS media_count, \
                 CAST(SUM(media_length) AS BIGINT) AS media_length, \
                 CAST(SUM(length_count) AS BIGINT) AS length_count \
                 FROM ({}) w \
                 GROUP BY user_id",
                parts.join(" UNION ALL ")
            )
        };
        let mut n = binds.len();
        let filter = if q.search.is_some() {
            format!(
                "WHERE lower(s.user_id) LIKE '@%' || ${a} || '%:%' ESCAPE '\\' \
                 OR lower(p.displayname) LIKE '%' || ${a} || '%' ESCAPE '\\'",
                a = n + 1
            )
        } else {
            String::new()
        };
        if q.search.is_some() {
            n += 1;
        }
        let key = match q.order {
            UserUsageOrder::MediaLength => "media_length",
            UserUsageOrder::MediaCount => "media_count",
            UserUsageOrder::UserId => "user_id",
            UserUsageOrder::Displayname => "displayname",
        };
        let dir = if q.descending { "DESC" } else { "ASC" };
        let from =
            format!("FROM ({source}) s LEFT JOIN profiles p ON p.user_id = s.user_id {filter}");
        let page = format!(
            "SELECT * FROM (SELECT s.user_id, p.displayname, s.media_count, \
             CASE WHEN s.length_count = 0 THEN NULL ELSE s.media_length END AS media_length \
             {from}) r ORDER BY (r.{key} IS NULL) {dir}, r.{key} {dir}, r.user_id ASC \
             LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let count = format!("SELECT COUNT(*) {from}");
        let search = q.search.as_deref().map(crate::accounts::like_escape);
        Ok(read!(self, |p| {
            let mut total = sqlx::query_scalar::<_, i64>(AssertSqlSafe(count));
            let mut rows = sqlx::query_as::<_, UserMediaUsage>(AssertSqlSafe(page));
            for v in &binds {
                total = total.bind(*v);
                rows = rows.bind(*v);
            }
            if let Some(term) = &search {
                total = total.bind(term.clone());
                rows = rows.bind(term.clone());
            }
            rows = rows.bind(q.limit).bind(q.from);
            let total = total.fetch_one(p).await?;
            (rows.fetch_all(p).await?, total)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_split_into_whole_days_and_edges() {
        const D: i64 = DAY_MS;
        // Day-aligned on both sides: whole days only.
        assert_eq!(
            Window::new(Some(2 * D), Some(5 * D - 1)),
            Window {
                days: Some((Some(2), Some(5))),
                edges: vec![]
            }
        );
        // Ragged edges.
        assert_eq!(
            Window::new(Some(2 * D + 7), Some(5 * D + 9)),
            Window {
                days: Some((Some(3), Some(5))),
                edges: vec![(2 * D + 7, 3 * D - 1), (5 * D, 5 * D + 9)]
            }
        );
        // Within one day or straddling one boundary: rows only.
        assert_eq!(
            Window::new(Some(2 * D + 7), Some(3 * D + 9)),
            Window {
                days: None,
                edges: vec![(2 * D + 7, 3 * D + 9)]
            }
        );
        // Open above.
        assert_eq!(
            Window::new(Some(D + 1), None),
            Window {
                days: Some((Some(2), None)),
                edges: vec![(D + 1, 2 * D - 1)]
            }
        );
        // Open below.
        assert_eq!(
            Window::new(None, Some(3 * D)),
            Window {
                days: Some((None, Some(3))),
                edges: vec![(3 * D, 3 * D)]
            }
        );
    }
}
