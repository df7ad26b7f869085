//! What instances sharing one PostgreSQL database tell each other, heard by one task per
//! instance on one connection: cache invalidations (`cache.rs`) and stream positions
//! (`stream.rs`), both sent with `pg_notify`.
//!
//! Notifications sent while the connection is down are lost, so after every (re)connection
//! everything cached is dropped and the current stream position is read again.

use std::{sync::Arc, time::Duration};

use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::watch;

use crate::{Caches, cache, cache::Change, stream};

pub(crate) async fn run(pool: PgPool, caches: Arc<Caches>, positions: Arc<watch::Sender<i64>>) {
    let retry = Duration::from_secs(1);
    while !pool.is_closed() {
        let mut listener = match connect(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen to the other instances; retrying");
                tokio::time::sleep(retry).await;
                continue;
            }
        };
        catch_up(&pool, &caches, &positions).await;
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) if n.channel() == cache::CHANNEL => {
                    caches.apply(&Change::decode(n.payload()));
                }
                Ok(Some(n)) => {
                    if let Ok(pos) = n.payload().parse() {
                        advance(&positions, pos);
                    }
                }
                // Reconnected by sqlx: what was sent meanwhile is lost.
                Ok(None) => catch_up(&pool, &caches, &positions).await,
                Err(e) => {
                    tracing::warn!(error = %e, "listening to the other instances failed; reconnecting");
                    tokio::time::sleep(retry).await;
                    break;
                }
            }
        }
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen_all([cache::CHANNEL, stream::CHANNEL])
        .await?;
    Ok(listener)
}

/// After a gap in listening: drop every cached answer, and re-read the stream position.
async fn catch_up(pool: &PgPool, caches: &Caches, positions: &watch::Sender<i64>) {
    caches.apply(&Change::All);
    match sqlx::query_scalar::<_, i64>("SELECT pos FROM stream_position WHERE id = 1")
        .fetch_one(pool)
        .await
    {
        Ok(pos) => advance(positions, pos),
        Err(e) => tracing::warn!(error = %e, "cannot read the stream position"),
    }
}

fn advance(positions: &watch::Sender<i64>, pos: i64) {
    positions.send_if_modified(|cur| {
        let newer = pos > *cur;
        if newer {
            *cur = pos;
        }
        newer
    });
}
