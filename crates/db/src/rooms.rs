//! Rooms: their derived columns, current state, memberships, and the admin listing.

use sqlx::AssertSqlSafe;

use crate::{
    Db, DbError,
    events::{EVENT_COLUMNS, EventRow},
    read, writer,
};

/// A room with its derived columns (Synapse's `rooms` + `room_stats_state` + `room_stats_current`).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RoomRow {
    pub room_id: String,
    pub creator: String,
    pub room_version: String,
    pub is_public: bool,
    pub created_ts: i64,
    pub last_event_id: Option<String>,
    pub last_depth: i64,
    pub name: Option<String>,
    pub topic: Option<String>,
    pub canonical_alias: Option<String>,
    pub avatar: Option<String>,
    pub join_rules: Option<String>,
    pub guest_access: Option<String>,
    pub history_visibility: Option<String>,
    pub encryption: Option<String>,
    pub federatable: bool,
    pub room_type: Option<String>,
    pub joined_members: i64,
    pub invited_members: i64,
    pub state_events: i64,
}

const ROOM_COLUMNS: &str = "r.room_id, r.creator, r.room_version, r.is_public, r.created_ts, \
     r.last_event_id, r.last_depth, r.name, r.topic, r.canonical_alias, r.avatar, r.join_rules, \
     r.guest_access, r.history_visibility, r.encryption, r.federatable, r.room_type, \
     r.joined_members, r.invited_members, r.state_events";

/// A user's current membership of a room.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRow {
    pub room_id: String,
    pub user_id: String,
    pub membership: String,
    pub event_id: String,
    pub stream_ordering: i64,
    pub sender: String,
    pub displayname: Option<String>,
    pub avatar_url: Option<String>,
    pub forgotten: bool,
}

pub(crate) const MEMBER_COLUMNS: &str = "m.room_id, m.user_id, m.membership, m.event_id, \
     m.stream_ordering, m.sender, m.displayname, m.avatar_url, m.forgotten";

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
    pub async fn get_room(&self, room_id: &str) -> Result<Option<RoomRow>, DbError> {
        let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms r WHERE r.room_id = $1");
        Ok(read!(self, |p| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(room_id)
                .fetch_optional(p)
                .await?
        }))
    }

    /// The current state events of a room.
    pub async fn current_state(&self, room_id: &str) -> Result<Vec<EventRow>, DbError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM room_state s JOIN events e ON e.event_id = s.event_id \
             WHERE s.room_id = $1 ORDER BY e.stream_ordering"
        );
        Ok(read!(self, |p| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(room_id)
                .fetch_all(p)
                .await?
        }))
    }

    /// The current state events of several rooms, in stream order.
    pub async fn current_state_of_rooms(
        &self,
        room_ids: &[String],
    ) -> Result<Vec<EventRow>, DbError> {
        let mut out = Vec::new();
        for chunk in room_ids.chunks(200) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM room_state s JOIN events e ON e.event_id = s.event_id \
                 WHERE s.room_id IN ({}) ORDER BY e.stream_ordering",
                marks.join(", ")
            );
            let rows: Vec<EventRow> = read!(self, |p| {
                let mut q = sqlx::query_as(AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(p).await?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// Current state events of a room set by events with `after < stream_ordering < before`.
    pub async fn state_changes(
        &self,
        room_id: &str,
        after: i64,
        before: i64,
    ) -> Result<Vec<EventRow>, DbError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM room_state s JOIN events e ON e.event_id = s.event_id \
             WHERE s.room_id = $1 AND s.stream_ordering > $2 AND s.stream_ordering < $3 \
             ORDER BY e.stream_ordering"
        );
        Ok(read!(self, |p| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(room_id)
                .bind(after)
                .bind(before)
                .fetch_all(p)
                .await?
        }))
    }

    /// One current state event.
    pub async fn state_event(
        &self,
        room_id: &str,
        event_type: &str,
        state_key: &str,
    ) -> Result<Option<EventRow>, DbError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM room_state s JOIN events e ON e.event_id = s.event_id \
             WHERE s.room_id = $1 AND s.type = $2 AND s.state_key = $3"
        );
        Ok(read!(self, |p| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(room_id)
                .bind(event_type)
                .bind(state_key)
                .fetch_optional(p)
                .await?
        }))
    }

    /// The state events that authorise an event: create, power levels, join rules, and the
    /// member events of `users`.
    pub async fn auth_state(
        &self,
        room_id: &str,
        users: &[&str],
    ) -> Result<Vec<EventRow>, DbError> {
        let marks: Vec<String> = (0..users.len()).map(|i| format!("${}", i + 2)).collect();
        let members = if users.is_empty() {
            String::new()
        } else {
            format!(
                " OR (s.type = 'm.room.member' AND s.state_key IN ({}))",
                marks.join(", ")
            )
        };
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM room_state s JOIN events e ON e.event_id = s.event_id \
             WHERE s.room_id = $1 AND (s.type IN ('m.room.create', 'm.room.power_levels', \
             'm.room.join_rules', 'm.room.history_visibility') {members})"
        );
        Ok(read!(self, |p| {
            let mut q = sqlx::query_as(AssertSqlSafe(sql)).bind(room_id);
            for u in users {
                q = q.bind(*u);
            }
            q.fetch_all(p).await?
        }))
    }

    pub async fn room_member(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> Result<Option<MemberRow>, DbError> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM room_members m WHERE m.room_id = $1 AND m.user_id = $2"
        );
        Ok(read!(self, |p| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(room_id)
                .bind(user_id)
                .fetch_optional(p)
                .await?
        }))
    }

    /// Members of a room with the given membership (all when `None`), by user ID.
    pub async fn room_members(
        &self,
        room_id: &str,
        membership: Option<&str>,
    ) -> Result<Vec<MemberRow>, DbError> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM room_members m WHERE m.room_id = $1 \
             AND ($2 IS NULL OR m.membership = $2) ORDER BY m.user_id"
        );
        Ok(read!(self, |p| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(room_id)
                .bind(membership)
                .fetch_all(p)
                .await?
        }))
    }

    /// Every current membership of a user.
    pub async fn user_memberships(&self, user_id: &str) -> Result<Vec<MemberRow>, DbError> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM room_members m WHERE m.user_id = $1 \
             ORDER BY m.stream_ordering"
        );
        Ok(read!(self, |p| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(user_id)
                .fetch_all(p)
                .await?
        }))
    }

    /// Rooms the user has joined.
    pub async fn joined_rooms(&self, user_id: &str) -> Result<Vec<String>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_scalar(
                "SELECT room_id FROM room_members WHERE user_id = $1 AND membership = 'join' \
                 ORDER BY room_id",
            )
            .bind(user_id)
            .fetch_all(p)
            .await?
        }))
    }

    /// Marks a left room as forgotten by the user.
    pub async fn forget_room(&self, room_id: &str, user_id: &str) -> Result<(), DbError> {
        writer!(self, |p| {
            sqlx::query(
                "UPDATE room_members SET forgotten = TRUE WHERE room_id = $1 AND user_id = $2",
            )
            .bind(room_id)
            .bind(user_id)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Whether every user with a membership of the room has forgotten it (Synapse's
    /// `is_locally_forgotten_room`).
    pub async fn room_forgotten(&self, room_id: &str) -> Result<bool, DbError> {
        let remembered: i64 = read!(self, |p| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM room_members WHERE room_id = $1 AND forgotten = FALSE",
            )
            .bind(room_id)
            .fetch_one(p)
            .await?
        });
        Ok(remembered == 0)
    }

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

    /// How many devices the given users have (Synapse's `count_devices_by_users`).
    pub async fn count_devices(&self, user_ids: &[String]) -> Result<i64, DbError> {
        let mut total = 0;
        for chunk in user_ids.chunks(200) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT COUNT(*) FROM devices WHERE user_id IN ({})",
                marks.join(", ")
            );
            let n: i64 = read!(self, |p| {
                let mut q = sqlx::query_scalar(AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_one(p).await?
            });
            total += n;
        }
        Ok(total)
    }
}
