//! The global stream position, and how instances learn that it moved.
//!
//! One instance learns of its own writes directly. On PostgreSQL every write also sends
//! `NOTIFY mxcd_stream`, heard by every instance's listener (`listen.rs`), so that other
//! instances wake their long-polling `/sync` requests too (see [`Db::stream_announcements`]).

use tokio::sync::watch;

use crate::{Backend, Db, DbError, read};

pub(crate) const CHANNEL: &str = "mxcd_stream";

impl Db {
    /// The newest committed stream position.
    pub async fn stream_position(&self) -> Result<i64, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_scalar("SELECT pos FROM stream_position WHERE id = 1")
                .fetch_one(p)
                .await?
        }))
    }

    /// Tells other instances (PostgreSQL only) that the stream reached `pos`. Failures are only
    /// logged: waiting requests still wake at their timeout.
    pub(crate) async fn notify_stream(&self, pos: i64) {
        self.pg_notify(CHANNEL, pos.to_string()).await;
    }

    /// On PostgreSQL, the newest stream position any instance announced (it only grows);
    /// `None` on SQLite, which only one instance can use.
    pub fn stream_announcements(&self) -> Option<watch::Receiver<i64>> {
        match &self.backend {
            Backend::Sqlite { .. } => None,
            Backend::Postgres(_) => Some(self.announced.subscribe()),
        }
    }
}
