//! Queries behind `/sync`: what changed for one user between two stream positions. Each is
//! bounded by the stream index, so a sync with nothing new reads no room's events.

use sqlx::AssertSqlSafe;

use crate::{
    Db, DbError,
    events::{EVENT_COLUMNS, EventRow},
    read,
    rooms::{MEMBER_COLUMNS, MemberRow},
};

impl Db {
    /// The user's memberships whose event has `after < stream_ordering <= upto`.
    pub async fn membership_changes(
        &self,
        user_id: &str,
        after: i64,
        upto: i64,
    ) -> Result<Vec<MemberRow>, DbError> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM room_members m WHERE m.user_id = $1 \
             AND m.stream_ordering > $2 AND m.stream_ordering <= $3 ORDER BY m.stream_ordering"
        );
        Ok(read!(self, |p| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(user_id)
                .bind(after)
                .bind(upto)
                .fetch_all(p)
                .await?
        }))
    }

    /// Rooms the user has joined that have events with `after < stream_ordering <= upto`.
    pub async fn joined_rooms_with_events(
        &self,
        user_id: &str,
        after: i64,
        upto: i64,
    ) -> Result<Vec<String>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_scalar(
                "SELECT DISTINCT e.room_id FROM events e JOIN room_members m \
                 ON m.room_id = e.room_id AND m.user_id = $1 AND m.membership = 'join' \
                 WHERE e.stream_ordering > $2 AND e.stream_ordering <= $3",
            )
            .bind(user_id)
            .bind(after)
            .bind(upto)
            .fetch_all(p)
            .await?
        }))
    }

    /// The current state of every room the user has joined, in one query (initial sync).
    pub async fn joined_rooms_state(&self, user_id: &str) -> Result<Vec<EventRow>, DbError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM room_members m \
             JOIN room_state s ON s.room_id = m.room_id \
             JOIN events e ON e.event_id = s.event_id \
             WHERE m.user_id = $1 AND m.membership = 'join' ORDER BY e.stream_ordering"
        );
        Ok(read!(self, |p| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(user_id)
                .fetch_all(p)
                .await?
        }))
    }
}
