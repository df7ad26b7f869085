//! The global stream position, and how instances learn that it moved.
//!
//! One instance learns of its own writes directly. On PostgreSQL every write also sends
//! `NOTIFY mxcd_stream`, so that other instances sharing the database wake their long-polling
//! `/sync` requests too (see [`Db::listen_stream`]).

use sqlx::postgres::PgListener;

use crate::{Backend, Db, DbError, read};

const CHANNEL: &str = "mxcd_stream";

/// Stream positions written by any instance (PostgreSQL `LISTEN`).
pub struct StreamListener(PgListener);

impl std::fmt::Debug for StreamListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamListener")
    }
}

impl StreamListener {
    /// The next position announced. After a lost connection sqlx reconnects; positions
    /// announced meanwhile are missed, so callers also re-read the position themselves.
    pub async fn recv(&mut self) -> Result<i64, DbError> {
        loop {
            let n = self.0.recv().await?;
            if let Ok(pos) = n.payload().parse() {
                return Ok(pos);
            }
        }
    }
}

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
        if let Backend::Postgres(pool) = &self.backend {
            let r = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(pos.to_string())
                .execute(pool)
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "could not announce the stream position");
            }
        }
    }

    /// On PostgreSQL, a listener for stream positions written by any instance; `None` on
    /// SQLite, which only one instance can use.
    pub async fn listen_stream(&self) -> Result<Option<StreamListener>, DbError> {
        match &self.backend {
            Backend::Sqlite { .. } => Ok(None),
            Backend::Postgres(pool) => {
                let mut l = PgListener::connect_with(pool).await?;
                l.listen(CHANNEL).await?;
                Ok(Some(StreamListener(l)))
            }
        }
    }
}
