//! Reading events: by ID, by transaction, and a room's events between two stream positions.

use sqlx::AssertSqlSafe;

use super::{EVENT_COLUMNS, EventRow};
use crate::{Db, DbError, read};

impl Db {
    pub async fn get_event(&self, event_id: &str) -> Result<Option<EventRow>, DbError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events e WHERE e.event_id = $1");
        Ok(read!(self, |p| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(event_id)
                .fetch_optional(p)
                .await?
        }))
    }

    /// Events by ID, in no particular order; unknown IDs are left out.
    pub async fn get_events(&self, event_ids: &[String]) -> Result<Vec<EventRow>, DbError> {
        self.events_in(
            |marks| format!("SELECT {EVENT_COLUMNS} FROM events e WHERE e.event_id IN ({marks})"),
            event_ids,
        )
        .await
    }

    /// The event `sender` sent from `device` with transaction ID `txn_id`, if any.
    pub async fn event_by_txn(
        &self,
        sender: &str,
        device: &str,
        txn_id: &str,
    ) -> Result<Option<String>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_scalar(
                "SELECT event_id FROM events WHERE sender = $1 AND txn_device = $2 AND txn_id = $3",
            )
            .bind(sender)
            .bind(device)
            .bind(txn_id)
            .fetch_optional(p)
            .await?
        }))
    }

    /// Events of a room with `after < stream_ordering <= upto`, at most `limit`: the newest
    /// first with `newest_first`, else the oldest first.
    pub async fn room_events(
        &self,
        room_id: &str,
        (after, upto): (i64, i64),
        limit: i64,
        newest_first: bool,
    ) -> Result<Vec<EventRow>, DbError> {
        let dir = if newest_first { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events e WHERE e.room_id = $1 \
             AND e.stream_ordering > $2 AND e.stream_ordering <= $3 \
             ORDER BY e.stream_ordering {dir} LIMIT $4"
        );
        Ok(read!(self, |p| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(room_id)
                .bind(after)
                .bind(upto)
                .bind(limit)
                .fetch_all(p)
                .await?
        }))
    }

    /// Events selected by `sql_for(marks)`, where `marks` is a list of `$N` placeholders bound
    /// to `ids`, queried 200 at a time.
    pub(crate) async fn events_in(
        &self,
        sql_for: impl Fn(&str) -> String,
        ids: &[String],
    ) -> Result<Vec<EventRow>, DbError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(200) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = sql_for(&marks.join(", "));
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
}
