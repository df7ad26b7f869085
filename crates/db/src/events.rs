//! Events and their persistence: one transaction per batch takes stream positions, writes the
//! events, moves the current state and memberships, refreshes the room's derived columns, records
//! the media references, and applies redactions.

use sqlx::AssertSqlSafe;

mod queries;

use crate::{Db, DbError, transaction};

/// An event as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    pub stream_ordering: i64,
    pub event_id: String,
    pub room_id: String,
    pub event_type: String,
    pub state_key: Option<String>,
    pub sender: String,
    pub origin_server_ts: i64,
    pub depth: i64,
    /// JSON text; pruned when the event was redacted.
    pub content: String,
    pub redacts: Option<String>,
    pub redacted_by: Option<String>,
    pub replaces_state: Option<String>,
    pub prev_content: Option<String>,
    pub txn_device: Option<String>,
    pub txn_id: Option<String>,
}
crate::row::from_row!(EventRow {
    stream_ordering, event_id, room_id, event_type as "type", state_key, sender,
    origin_server_ts, depth, content, redacts, redacted_by, replaces_state, prev_content,
    txn_device, txn_id
});

pub(crate) const EVENT_COLUMNS: &str = "e.stream_ordering, e.event_id, e.room_id, e.type, \
     e.state_key, e.sender, e.origin_server_ts, e.depth, e.content, e.redacts, e.redacted_by, \
     e.replaces_state, e.prev_content, e.txn_device, e.txn_id";

/// A derived column of `rooms` that a state event sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomField {
    Name,
    Topic,
    CanonicalAlias,
    Avatar,
    JoinRules,
    GuestAccess,
    HistoryVisibility,
    Encryption,
}

impl RoomField {
    fn column(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Topic => "topic",
            Self::CanonicalAlias => "canonical_alias",
            Self::Avatar => "avatar",
            Self::JoinRules => "join_rules",
            Self::GuestAccess => "guest_access",
            Self::HistoryVisibility => "history_visibility",
            Self::Encryption => "encryption",
        }
    }
}

/// An MXC URI referenced by an event, and the field it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRef {
    pub field: &'static str,
    pub origin: String,
    pub media_id: String,
}

/// The membership a member event sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberFields {
    pub membership: String,
    pub displayname: Option<String>,
    pub avatar_url: Option<String>,
}

/// What a redaction event does to its target.
#[derive(Clone, Debug)]
pub struct Redaction {
    pub target: String,
    /// The target's content after pruning, as JSON text.
    pub pruned_content: String,
    /// Derived room columns to set, if the target is still part of the current state.
    pub room_fields: Vec<(RoomField, Option<String>)>,
}

/// An event ready to be persisted, with everything derived from it.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub event_id: String,
    pub room_id: String,
    pub event_type: String,
    pub state_key: Option<String>,
    pub sender: String,
    pub origin_server_ts: i64,
    pub depth: i64,
    pub content: String,
    pub redacts: Option<String>,
    /// `(device_id, txn_id)` of the request that sent it.
    pub txn: Option<(String, String)>,
    pub member: Option<MemberFields>,
    pub room_fields: Vec<(RoomField, Option<String>)>,
    pub media: Vec<MediaRef>,
    pub redaction: Option<Redaction>,
}

/// A room to create together with its first events.
#[derive(Clone, Debug)]
pub struct NewRoom {
    pub room_id: String,
    pub creator: String,
    pub room_version: String,
    pub is_public: bool,
    pub created_ts: i64,
    pub federatable: bool,
    pub room_type: Option<String>,
}

/// Takes `$n` stream positions under the row lock that orders all writers; evaluates to the
/// first of them.
macro_rules! take_positions {
    ($tx:expr, $n:expr) => {{
        let last: i64 = sqlx::query_scalar(
            "UPDATE stream_position SET pos = pos + $1 WHERE id = 1 RETURNING pos",
        )
        .bind($n)
        .fetch_one(&mut *$tx)
        .await?;
        last - $n + 1
    }};
}
pub(crate) use take_positions;

/// Sets derived room columns; with `Some(event_id)`, only while that event is current state.
macro_rules! set_room_fields {
    ($tx:expr, $room_id:expr, $fields:expr, $only_if_current:expr) => {
        for (field, value) in $fields {
            let only: Option<&str> = $only_if_current;
            let sql = format!(
                "UPDATE rooms SET {} = $2 WHERE room_id = $1 AND ($3 IS NULL OR EXISTS \
                 (SELECT 1 FROM room_state s WHERE s.room_id = $1 AND s.event_id = $3))",
                field.column()
            );
            sqlx::query(AssertSqlSafe(sql))
                .bind($room_id)
                .bind(value)
                .bind(only)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

impl Db {
    /// Persists `events`, in order, in one transaction, and returns their stream positions.
    ///
    /// With `room`, the room is created first. Otherwise the room's newest event must still be
    /// `expected_last` (the one the events were built on): if another writer got there first, or
    /// the same transaction ID was used meanwhile, the result is [`DbError::Conflict`] and
    /// nothing is written; the caller rebuilds and retries.
    pub async fn persist_events(
        &self,
        room: Option<&NewRoom>,
        expected_last: Option<&str>,
        events: &[NewEvent],
    ) -> Result<Vec<i64>, DbError> {
        let Some(last) = events.last() else {
            return Ok(Vec::new());
        };
        let room_id = last.room_id.clone();
        let positions = transaction!(self, |tx| {
            let first = take_positions!(tx, events.len() as i64);
            match room {
                Some(r) => {
                    sqlx::query(
                        "INSERT INTO rooms (room_id, creator, room_version, is_public, created_ts, \
                         federatable, room_type) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&r.room_id)
                    .bind(&r.creator)
                    .bind(&r.room_version)
                    .bind(r.is_public)
                    .bind(r.created_ts)
                    .bind(r.federatable)
                    .bind(&r.room_type)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    let current: Option<Option<String>> =
                        sqlx::query_scalar("SELECT last_event_id FROM rooms WHERE room_id = $1")
                            .bind(&room_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let current = current.ok_or(DbError::NotFound)?;
                    if current.as_deref() != expected_last {
                        return Err(DbError::Conflict("room has newer events".into()));
                    }
                }
            }
            let mut positions = Vec::with_capacity(events.len());
            for (i, ev) in events.iter().enumerate() {
                let pos = first + i as i64;
                positions.push(pos);
                let (replaces, prev_content) = match &ev.state_key {
                    Some(key) => {
                        let prev: Option<(String, String)> = sqlx::query_as(
                            "SELECT e.event_id, e.content FROM room_state s \
                             JOIN events e ON e.event_id = s.event_id \
                             WHERE s.room_id = $1 AND s.type = $2 AND s.state_key = $3",
                        )
                        .bind(&ev.room_id)
                        .bind(&ev.event_type)
                        .bind(key)
                        .fetch_optional(&mut *tx)
                        .await?;
                        prev.unzip()
                    }
                    None => (None, None),
                };
                let (txn_device, txn_id) = ev.txn.clone().unzip();
                sqlx::query(
                    "INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, \
                     sender, origin_server_ts, depth, content, redacts, replaces_state, \
                     prev_content, txn_device, txn_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(pos)
                .bind(&ev.event_id)
                .bind(&ev.room_id)
                .bind(&ev.event_type)
                .bind(&ev.state_key)
                .bind(&ev.sender)
                .bind(ev.origin_server_ts)
                .bind(ev.depth)
                .bind(&ev.content)
                .bind(&ev.redacts)
                .bind(&replaces)
                .bind(&prev_content)
                .bind(&txn_device)
                .bind(&txn_id)
                .execute(&mut *tx)
                .await?;
                if let Some(key) = &ev.state_key {
                    sqlx::query(
                        "INSERT INTO room_state (room_id, type, state_key, event_id, stream_ordering) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_id, type, state_key) \
                         DO UPDATE SET event_id = excluded.event_id, \
                         stream_ordering = excluded.stream_ordering",
                    )
                    .bind(&ev.room_id)
                    .bind(&ev.event_type)
                    .bind(key)
                    .bind(&ev.event_id)
                    .bind(pos)
                    .execute(&mut *tx)
                    .await?;
                    if replaces.is_none() {
                        sqlx::query(
                            "UPDATE rooms SET state_events = state_events + 1 WHERE room_id = $1",
                        )
                        .bind(&ev.room_id)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                if let (Some(m), Some(user)) = (&ev.member, &ev.state_key) {
                    sqlx::query(
                        "INSERT INTO room_members (room_id, user_id, membership, event_id, \
                         stream_ordering, sender, displayname, avatar_url, forgotten) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE) \
                         ON CONFLICT (room_id, user_id) DO UPDATE SET \
                         membership = excluded.membership, event_id = excluded.event_id, \
                         stream_ordering = excluded.stream_ordering, sender = excluded.sender, \
                         displayname = excluded.displayname, avatar_url = excluded.avatar_url, \
                         forgotten = FALSE",
                    )
                    .bind(&ev.room_id)
                    .bind(user)
                    .bind(&m.membership)
                    .bind(&ev.event_id)
                    .bind(pos)
                    .bind(&ev.sender)
                    .bind(&m.displayname)
                    .bind(&m.avatar_url)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE rooms SET \
                         joined_members = (SELECT COUNT(*) FROM room_members \
                           WHERE room_id = $1 AND membership = 'join'), \
                         invited_members = (SELECT COUNT(*) FROM room_members \
                           WHERE room_id = $1 AND membership = 'invite') \
                         WHERE room_id = $1",
                    )
                    .bind(&ev.room_id)
                    .execute(&mut *tx)
                    .await?;
                }
                set_room_fields!(tx, &ev.room_id, &ev.room_fields, None);
                for m in &ev.media {
                    sqlx::query(
                        "INSERT INTO room_media (room_id, event_id, event_type, stream_ordering, \
                         field, origin, media_id, redacted) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE)",
                    )
                    .bind(&ev.room_id)
                    .bind(&ev.event_id)
                    .bind(&ev.event_type)
                    .bind(pos)
                    .bind(m.field)
                    .bind(&m.origin)
                    .bind(&m.media_id)
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some(r) = &ev.redaction {
                    sqlx::query(
                        "UPDATE events SET content = $3, redacted_by = $2 \
                         WHERE event_id = $1 AND room_id = $4",
                    )
                    .bind(&r.target)
                    .bind(&ev.event_id)
                    .bind(&r.pruned_content)
                    .bind(&ev.room_id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE room_media SET redacted = TRUE WHERE event_id = $1")
                        .bind(&r.target)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE room_members SET displayname = NULL, avatar_url = NULL \
                         WHERE event_id = $1",
                    )
                    .bind(&r.target)
                    .execute(&mut *tx)
                    .await?;
                    set_room_fields!(tx, &ev.room_id, &r.room_fields, Some(r.target.as_str()));
                }
            }
            sqlx::query("UPDATE rooms SET last_event_id = $2, last_depth = $3 WHERE room_id = $1")
                .bind(&room_id)
                .bind(&last.event_id)
                .bind(last.depth)
                .execute(&mut *tx)
                .await?;
            positions
        });
        self.notify_stream(positions.last().copied().unwrap_or_default())
            .await;
        Ok(positions)
    }
}
