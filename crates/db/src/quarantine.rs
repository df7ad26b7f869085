//! Quarantine (reference §2): by media, room or user, hash-wide, in one transaction that also
//! records the quarantined hashes (for later uploads and remote fetches) and the
//! `quarantined_media_changes` stream; protection; the admin's view of one media row.

use crate::{Db, DbError, cache::Change, read, transaction};

/// What a quarantine names before its hashes are expanded (reference §2.1).
#[derive(Clone, Copy, Debug)]
pub enum QuarantineTarget<'a> {
    /// One media item, local or a cached remote one.
    Media { origin: &'a str, media_id: &'a str },
    /// The media a room's events reference (`content.url`, `content.info.thumbnail_url`).
    Room(&'a str),
    /// A local user's media that is not quarantined yet.
    User(&'a str),
}

/// One entry of the quarantine change stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarantineChange {
    pub stream_id: i64,
    pub origin: String,
    pub media_id: String,
    pub quarantined: bool,
}
crate::row::from_row!(QuarantineChange {
    stream_id,
    origin,
    media_id,
    quarantined
});

/// Past this many changed rows, every cached media row is dropped instead of each by name.
const ANNOUNCE_EACH_UP_TO: usize = 64;

/// Change rows per INSERT (4 parameters each, well under both backends' limits).
const CHANGES_PER_INSERT: usize = 1000;

/// The rows a target names, as `(origin, media_id, sha256)`. Parameters: `$1` the new
/// `quarantined_by` (NULL to unquarantine), `$2` the local server name, `$3`… the target's.
/// When quarantining, protected local media is left out (`$1 IS NULL` lifts that).
fn selection(target: &QuarantineTarget<'_>) -> String {
    let from = match target {
        QuarantineTarget::Media { .. } => {
            "SELECT m.origin, m.media_id, m.sha256 FROM media m \
             WHERE m.origin = $3 AND m.media_id = $4"
        }
        QuarantineTarget::Room(_) => {
            "SELECT m.origin, m.media_id, m.sha256 FROM room_media r \
             JOIN media m ON m.origin = r.origin AND m.media_id = r.media_id \
             WHERE r.room_id = $3 AND r.field IN ('content.url', 'content.info.thumbnail_url')"
        }
        QuarantineTarget::User(_) => {
            "SELECT m.origin, m.media_id, m.sha256 FROM media m \
             WHERE m.origin = $2 AND m.user_id = $3 AND m.quarantined_by IS NULL"
        }
    };
    format!("{from} AND {}", eligible("m."))
}

/// Whether a row may take the new value: protected local media is never quarantined.
fn eligible(prefix: &str) -> String {
    format!("({prefix}origin <> $2 OR NOT {prefix}safe_from_quarantine OR $1 IS NULL)")
}

/// Binds a statement's parameters in the order [`selection`] documents.
macro_rules! bind_all {
    ($q:expr, $by:expr, $local:expr, $target:expr) => {{
        let q = $q.bind($by).bind($local);
        match $target {
            QuarantineTarget::Media { origin, media_id } => q.bind(*origin).bind(*media_id),
            QuarantineTarget::Room(v) | QuarantineTarget::User(v) => q.bind(*v),
        }
    }};
}

impl Db {
    /// Quarantines (`by` = the admin's user ID) or unquarantines (`by` = `None`) what `target`
    /// names and every row, local or cached remote, sharing a hash with it (reference §2.1),
    /// in one transaction that also records the hashes and the change stream. Returns the
    /// number of rows the updates returned, which is what Synapse reports.
    pub async fn set_quarantine(
        &self,
        local: &str,
        target: QuarantineTarget<'_>,
        by: Option<&str>,
        now: i64,
    ) -> Result<i64, DbError> {
        let sel = selection(&target);
        let hashes = if by.is_some() {
            format!(
                "INSERT INTO quarantined_hashes (sha256, quarantined_by, quarantined_ts) \
                 SELECT DISTINCT s.sha256, $1, {now} FROM ({sel}) s WHERE s.sha256 IS NOT NULL \
                 ON CONFLICT (sha256) DO NOTHING"
            )
        } else {
            format!(
                "DELETE FROM quarantined_hashes WHERE sha256 IN \
                 (SELECT s.sha256 FROM ({sel}) s WHERE s.sha256 IS NOT NULL)"
            )
        };
        let by_hash = format!(
            "UPDATE media SET quarantined_by = $1 WHERE sha256 IN \
             (SELECT s.sha256 FROM ({sel}) s WHERE s.sha256 IS NOT NULL) AND {} \
             RETURNING origin, media_id",
            eligible("")
        );
        let by_id = format!(
            "UPDATE media SET quarantined_by = $1 WHERE sha256 IS NULL AND (origin, media_id) IN \
             (SELECT s.origin, s.media_id FROM ({sel}) s WHERE s.sha256 IS NULL) AND {} \
             RETURNING origin, media_id",
            eligible("")
        );
        let mut changed: Vec<(String, String)> = transaction!(self, |tx| {
            // The hashes first: the user target's selection changes once its rows are updated.
            bind_all!(sqlx::query(sqlx::AssertSqlSafe(hashes)), by, local, &target)
                .execute(&mut *tx)
                .await?;
            let mut rows: Vec<(String, String)> = bind_all!(
                sqlx::query_as(sqlx::AssertSqlSafe(by_id)),
                by,
                local,
                &target
            )
            .fetch_all(&mut *tx)
            .await?;
            let hashed: Vec<(String, String)> = bind_all!(
                sqlx::query_as(sqlx::AssertSqlSafe(by_hash)),
                by,
                local,
                &target
            )
            .fetch_all(&mut *tx)
            .await?;
            rows.extend(hashed);
            rows.sort();
            if !rows.is_empty() {
                let end: i64 = sqlx::query_scalar(
                    "UPDATE quarantine_stream SET pos = pos + $1 WHERE id = 1 RETURNING pos",
                )
                .bind(rows.len() as i64)
                .fetch_one(&mut *tx)
                .await?;
                let mut id = end - rows.len() as i64;
                for chunk in rows.chunks(CHANGES_PER_INSERT) {
                    let mut qb = sqlx::QueryBuilder::new(
                        "INSERT INTO quarantined_media_changes \
                         (stream_id, origin, media_id, quarantined) ",
                    );
                    qb.push_values(chunk, |mut b, (origin, media_id)| {
                        id += 1;
                        b.push_bind(id)
                            .push_bind(origin.as_str())
                            .push_bind(media_id.as_str())
                            .push_bind(by.is_some());
                    });
                    qb.build().execute(&mut *tx).await?;
                }
            }
            rows
        });
        let count = changed.len() as i64;
        if changed.len() > ANNOUNCE_EACH_UP_TO {
            self.announce(Change::AllMedia).await;
        } else {
            for (origin, media_id) in changed.drain(..) {
                self.announce(Change::Media { origin, media_id }).await;
            }
        }
        Ok(count)
    }

    /// Marks a media item protected from quarantine, or not; `false` if there is no such row.
    pub async fn set_protected(
        &self,
        origin: &str,
        media_id: &str,
        protected: bool,
    ) -> Result<bool, DbError> {
        let updated = crate::writer!(self, |p| {
            sqlx::query(
                "UPDATE media SET safe_from_quarantine = $3 WHERE origin = $1 AND media_id = $2",
            )
            .bind(origin)
            .bind(media_id)
            .bind(protected)
            .execute(p)
            .await?
            .rows_affected()
        });
        if updated > 0 {
            self.announce(Change::Media {
                origin: origin.to_owned(),
                media_id: media_id.to_owned(),
            })
            .await;
        }
        Ok(updated > 0)
    }

    /// The newest position of the quarantine change stream (1 when it is empty).
    pub async fn quarantine_stream_position(&self) -> Result<i64, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_scalar("SELECT pos FROM quarantine_stream WHERE id = 1")
                .fetch_one(p)
                .await?
        }))
    }

    /// Changes after `from` up to `to`, oldest first, at most `limit`.
    pub async fn quarantine_changes(
        &self,
        from: i64,
        to: i64,
        limit: i64,
    ) -> Result<Vec<QuarantineChange>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_as(
                "SELECT stream_id, origin, media_id, quarantined FROM quarantined_media_changes \
                 WHERE stream_id > $1 AND stream_id <= $2 ORDER BY stream_id LIMIT $3",
            )
            .bind(from)
            .bind(to)
            .bind(limit)
            .fetch_all(p)
            .await?
        }))
    }

    /// Whether content with this hash is quarantined (future copies are recorded quarantined).
    pub async fn hash_quarantined(&self, sha256: &str) -> Result<bool, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM quarantined_hashes WHERE sha256 = $1",
            )
            .bind(sha256)
            .fetch_one(p)
            .await?
                > 0
        }))
    }
}
