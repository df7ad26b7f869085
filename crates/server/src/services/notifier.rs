//! Wakes long-polling `/sync` requests when the stream moves.
//!
//! Writes made by this instance notify it directly. With PostgreSQL, [`relay_database`]
//! forwards the positions that other instances announce (`LISTEN mxcd_stream`, in the database layer), so a `/sync`
//! waiting on one instance wakes for a message sent through another.

use std::sync::Arc;

use mxcd_db::Db;
use tokio::sync::watch;

/// The newest stream position this instance knows of.
#[derive(Debug)]
pub struct Notifier {
    tx: watch::Sender<i64>,
}

impl Notifier {
    pub fn new(position: i64) -> Self {
        Self {
            tx: watch::Sender::new(position),
        }
    }

    /// Records that the stream reached `pos`, waking waiters if it moved forward.
    pub fn notify(&self, pos: i64) {
        self.tx.send_if_modified(|cur| {
            let newer = pos > *cur;
            if newer {
                *cur = pos;
            }
            newer
        });
    }

    pub fn position(&self) -> i64 {
        *self.tx.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.tx.subscribe()
    }
}

/// Forwards positions announced through the database (PostgreSQL) to `notifier`, for as long
/// as the database is open. Returns at once on SQLite.
pub async fn relay_database(db: Db, notifier: Arc<Notifier>) {
    let Some(mut announced) = db.stream_announcements() else {
        return;
    };
    loop {
        notifier.notify(*announced.borrow_and_update());
        if announced.changed().await.is_err() {
            return;
        }
    }
}
