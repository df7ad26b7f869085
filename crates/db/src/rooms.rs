//! Rooms: their derived columns, current state, memberships, and the admin listing.

pub(crate) mod listing;

use sqlx::AssertSqlSafe;

use crate::{
    Db, DbError,
    events::{EVENT_COLUMNS, EventRow},
    read, writer,
};

/// A room with its derived columns (Synapse's `rooms` + `room_stats_state` + `room_stats_current`).
#[derive(Clone, Debug, PartialEq, Eq)]
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
crate::row::from_row!(RoomRow {
    room_id,
    creator,
    room_version,
    is_public,
    created_ts,
    last_event_id,
    last_depth,
    name,
    topic,
    canonical_alias,
    avatar,
    join_rules,
    guest_access,
    history_visibility,
    encryption,
    federatable,
    room_type,
    joined_members,
    invited_members,
    state_events
});

pub(crate) const ROOM_COLUMNS: &str = "r.room_id, r.creator, r.room_version, r.is_public, r.created_ts, \
     r.last_event_id, r.last_depth, r.name, r.topic, r.canonical_alias, r.avatar, r.join_rules, \
     r.guest_access, r.history_visibility, r.encryption, r.federatable, r.room_type, \
     r.joined_members, r.invited_members, r.state_events";

/// A user's current membership of a room.
#[derive(Clone, Debug, PartialEq, Eq)]
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
crate::row::from_row!(MemberRow {
    room_id,
    user_id,
    membership,
    event_id,
    stream_ordering,
    sender,
    displayname,
    avatar_url,
    forgotten
});

pub(crate) const MEMBER_COLUMNS: &str = "m.room_id, m.user_id, m.membership, m.event_id, \
     m.stream_ordering, m.sender, m.displayname, m.avatar_url, m.forgotten";

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
        self.events_in(
            |marks| {
                format!(
                    "SELECT {EVENT_COLUMNS} FROM room_state s \
                     JOIN events e ON e.event_id = s.event_id \
                     WHERE s.room_id IN ({marks}) ORDER BY e.stream_ordering"
                )
            },
            room_ids,
        )
        .await
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
