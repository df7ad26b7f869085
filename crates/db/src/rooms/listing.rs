//! Room listings: the public room directory and the admin room list.

use sqlx::AssertSqlSafe;

use super::{ROOM_COLUMNS, RoomRow};
use crate::{Db, DbError, read, writer};

/// Columns the admin room list can be sorted by (Synapse's `RoomSortOrder`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RoomOrder {
    #[default]
    Name,
    CanonicalAlias,
    JoinedMembers,
    JoinedLocalMembers,
    Version,
    Creator,
    Encryption,
    Federatable,
    Public,
    JoinRules,
    GuestAccess,
    HistoryVisibility,
    StateEvents,
}

impl RoomOrder {
    /// The column and whether Synapse sorts it ascending by default.
    fn column(self) -> (&'static str, bool) {
        match self {
            Self::Name => ("r.name", true),
            Self::CanonicalAlias => ("r.canonical_alias", true),
            Self::JoinedMembers | Self::JoinedLocalMembers => ("r.joined_members", false),
            Self::Version => ("r.room_version", false),
            Self::Creator => ("r.creator", true),
            Self::Encryption => ("r.encryption", true),
            Self::Federatable => ("r.federatable", true),
            Self::Public => ("r.is_public", true),
            Self::JoinRules => ("r.join_rules", true),
            Self::GuestAccess => ("r.guest_access", true),
            Self::HistoryVisibility => ("r.history_visibility", true),
            Self::StateEvents => ("r.state_events", false),
        }
    }
}

/// Which rooms the admin list shows, in which order, and which page.
#[derive(Clone, Debug, Default)]
pub struct RoomFilter {
    pub search_term: Option<String>,
    pub public_rooms: Option<bool>,
    pub empty_rooms: Option<bool>,
    pub order: RoomOrder,
    pub reverse: bool,
    pub from: i64,
    pub limit: i64,
}

impl Db {
    /// Publishes the room in, or removes it from, the public room directory.
    pub async fn set_room_public(&self, room_id: &str, public: bool) -> Result<(), DbError> {
        let n = writer!(self, |p| {
            sqlx::query("UPDATE rooms SET is_public = $2 WHERE room_id = $1")
                .bind(room_id)
                .bind(public)
                .execute(p)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(DbError::NotFound);
        }
        Ok(())
    }

    /// Published rooms anyone may join or read, largest first (Synapse's
    /// `get_largest_public_rooms`), from `offset`; and how many there are.
    pub async fn public_rooms(
        &self,
        search: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<RoomRow>, i64), DbError> {
        let filter = "FROM rooms r WHERE r.is_public = TRUE AND r.joined_members > 0 \
             AND (r.join_rules IN ('public', 'knock', 'knock_restricted') \
                  OR r.history_visibility = 'world_readable') \
             AND ($1 IS NULL OR lower(r.name) LIKE $1 ESCAPE '\\' \
                  OR lower(r.topic) LIKE $1 ESCAPE '\\' \
                  OR lower(r.canonical_alias) LIKE $1 ESCAPE '\\')";
        let pattern = search.map(|s| format!("%{}%", crate::accounts::like_escape(s)));
        let page = format!(
            "SELECT {ROOM_COLUMNS} {filter} ORDER BY r.joined_members DESC, r.room_id DESC \
             LIMIT $2 OFFSET $3"
        );
        let count = format!("SELECT COUNT(*) {filter}");
        read!(self, |p| {
            let rows = sqlx::query_as(AssertSqlSafe(page))
                .bind(&pattern)
                .bind(limit)
                .bind(offset)
                .fetch_all(p)
                .await?;
            let total: i64 = sqlx::query_scalar(AssertSqlSafe(count))
                .bind(&pattern)
                .fetch_one(p)
                .await?;
            Ok((rows, total))
        })
    }

    /// One page of the admin room list and the number of rooms matching (Synapse's
    /// `get_rooms_paginate`). NULLs sort last ascending and first descending on both backends;
    /// ties are broken by room ID in the same direction.
    pub async fn list_rooms(&self, f: &RoomFilter) -> Result<(Vec<RoomRow>, i64), DbError> {
        let mut conds = Vec::new();
        let mut args: Vec<String> = Vec::new();
        if let Some(term) = &f.search_term {
            let e = crate::accounts::like_escape(term);
            args.push(format!("%{e}%"));
            args.push(format!("#%{e}%:%"));
            args.push(term.clone());
            conds.push(
                "(lower(r.name) LIKE $1 ESCAPE '\\' OR lower(r.canonical_alias) LIKE $2 ESCAPE '\\' \
                 OR r.room_id = $3)"
                    .to_owned(),
            );
        }
        match f.public_rooms {
            Some(true) => conds.push("r.is_public = TRUE".into()),
            Some(false) => conds.push("r.is_public = FALSE".into()),
            None => {}
        }
        match f.empty_rooms {
            Some(true) => conds.push("r.joined_members = 0".into()),
            Some(false) => conds.push("r.joined_members <> 0".into()),
            None => {}
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let (col, asc) = f.order.column();
        let asc = asc != f.reverse;
        let (dir, nulls) = if asc {
            ("ASC", "LAST")
        } else {
            ("DESC", "FIRST")
        };
        let n = args.len();
        let page = format!(
            "SELECT {ROOM_COLUMNS} FROM rooms r {filter} \
             ORDER BY {col} {dir} NULLS {nulls}, r.room_id {dir} LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let count = format!("SELECT COUNT(*) FROM rooms r {filter}");
        read!(self, |p| {
            let mut q = sqlx::query_as::<_, RoomRow>(AssertSqlSafe(page));
            let mut c = sqlx::query_scalar::<_, i64>(AssertSqlSafe(count));
            for a in &args {
                q = q.bind(a);
                c = c.bind(a);
            }
            let rows = q.bind(f.limit).bind(f.from).fetch_all(p).await?;
            let total = c.fetch_one(p).await?;
            Ok((rows, total))
        })
    }
}
