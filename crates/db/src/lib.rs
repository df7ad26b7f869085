//! Metadata persistence for mxcd.
//!
//! [`Db`] is an enum over concrete sqlx pools, not a generic: each query is written once with
//! `$N` placeholders (which both SQLite and PostgreSQL accept) and compiled once per backend by
//! the [`read!`]/[`write!`]/[`transaction!`] macros. SQLite runs in WAL mode with a pool of
//! read-only connections and two writing connections that take turns (`turn`): sqlx's, for
//! everything but media content, and the group commit's (`group_commit.rs`). So there is one
//! writer at a time and writers never fight over locks.

mod account_data;
mod accounts;
mod blobs;
mod cache;
mod directory;
mod error;
mod events;
mod group_commit;
mod listen;
mod media;
mod media_delete;
mod migrations;
mod quarantine;
mod registration;
mod room_media;
mod rooms;
mod row;
mod server_keys;
mod statistics;
mod stream;
mod sync;
#[cfg(feature = "test-support")]
pub mod testing;
mod thumbnails;
mod tokens;
mod unsynced;

use std::{str::FromStr, sync::Arc, time::Duration};

use cache::Change;

use sqlx::{
    PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

pub use account_data::AccountDataRow;
pub use accounts::{NewUser, UserFilter, UserOrder, UserPatch, UserRow};
pub use directory::AliasRow;
pub use error::{DbError, ErrorKind};
pub use events::{EventRow, MediaRef, MemberFields, NewEvent, NewRoom, Redaction, RoomField};
pub use group_commit::{QueuedWrite, WriteOutcome};
pub use media::{BlobOutcome, MediaRow, NewBlob, NewMedia};
pub use media_delete::{AgeCriteria, BATCH as DELETE_BATCH, Deleted, UserMediaOrder, UserMediaRow};
pub use quarantine::{QuarantineChange, QuarantineTarget};
pub use registration::{RegistrationToken, UiaSession};
pub use room_media::RoomMediaRow;
pub use rooms::{
    MemberRow, RoomRow,
    listing::{RoomFilter, RoomOrder},
};
pub use server_keys::ServerKeyRow;
pub use statistics::{
    MediaTotals, RoomMediaOrder, RoomMediaUsage, RoomSize, Tally, UserMediaQuery, UserMediaUsage,
    UserUsageOrder,
};
pub use thumbnails::{NewThumbnail, ThumbnailRow, ThumbnailSet};
pub use tokens::{Connection, TokenOwner};
pub use unsynced::UnsyncedBlob;

#[derive(Clone, Debug)]
enum Backend {
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
        /// Media content writes, committed in groups by a connection of their own (see
        /// `group_commit.rs`).
        group: group_commit::GroupCommit,
        /// Held by whichever of `writer` and `group` is writing: SQLite has one writer.
        turn: Arc<tokio::sync::Mutex<()>>,
    },
    Postgres(PgPool),
}

/// A handle on the metadata database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    backend: Backend,
    caches: Arc<Caches>,
    /// The newest stream position announced by any instance (PostgreSQL; see `listen.rs`).
    announced: Arc<tokio::sync::watch::Sender<i64>>,
    /// PostgreSQL: the task that hears other instances (cache invalidations, stream positions).
    listener: Option<tokio::task::AbortHandle>,
}

/// The read caches of the download path (see `cache.rs`).
struct Caches {
    tokens: cache::Cache<String, TokenOwner>,
    media: cache::Cache<(String, String), MediaRow>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Caches")
    }
}

impl Caches {
    fn apply(&self, change: &Change) {
        match change {
            Change::User(user) => self.tokens.invalidate(|_, o| o.user_id == *user),
            Change::Media { origin, media_id } => self
                .media
                .invalidate(|(o, m), _| o == origin && m == media_id),
            Change::MediaBatch(items) => {
                let gone: std::collections::BTreeSet<&(String, String)> = items.iter().collect();
                self.media.invalidate(|k, _| gone.contains(k));
            }
            Change::AllMedia => self.media.invalidate(|_, _| true),
            Change::All => {
                self.tokens.invalidate(|_, _| true);
                self.media.invalidate(|_, _| true);
            }
        }
    }
}

/// Runs `$body` with `$p` bound to a pool suitable for reads.
macro_rules! read {
    ($db:expr, |$p:ident| $body:expr) => {
        match &$db.backend {
            $crate::Backend::Sqlite { reader: $p, .. } => $body,
            $crate::Backend::Postgres($p) => $body,
        }
    };
}

/// Runs `$body` with `$p` bound to the pool that may write.
macro_rules! writer {
    ($db:expr, |$p:ident| $body:expr) => {
        match &$db.backend {
            $crate::Backend::Sqlite {
                writer: $p, turn, ..
            } => {
                let _turn = turn.lock().await;
                $body
            }
            $crate::Backend::Postgres($p) => $body,
        }
    };
}

/// Runs `$body` inside one write transaction bound to `$tx`, committing when it returns `Ok`.
macro_rules! transaction {
    ($db:expr, |$tx:ident| $body:expr) => {
        match &$db.backend {
            $crate::Backend::Sqlite { writer, turn, .. } => {
                let _turn = turn.lock().await;
                let mut $tx = writer.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            $crate::Backend::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}
pub(crate) use {read, transaction, writer};

/// The database file a `sqlite:` URL names; `None` for other URLs.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if !url.starts_with("sqlite:") {
        return None;
    }
    let opts = SqliteConnectOptions::from_str(url).ok()?;
    Some(opts.get_filename().to_path_buf())
}

impl Db {
    /// Connects to `url` (`sqlite://PATH` or `postgres://…`), creating a SQLite file if needed,
    /// and applies pending migrations. `password` overrides any password in a PostgreSQL URL.
    pub async fn connect(url: &str, password: Option<&str>) -> Result<Self, DbError> {
        let db = if url.starts_with("sqlite:") {
            Self::connect_sqlite(url).await?
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let mut opts = PgConnectOptions::from_str(url)?;
            if let Some(pw) = password {
                opts = opts.password(pw);
            }
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            let caches = Arc::new(Caches::new());
            let announced = Arc::new(tokio::sync::watch::Sender::new(0));
            let listener =
                tokio::spawn(listen::run(pool.clone(), caches.clone(), announced.clone()))
                    .abort_handle();
            Self {
                backend: Backend::Postgres(pool),
                caches,
                announced,
                listener: Some(listener),
            }
        } else {
            return Err(DbError::UnsupportedUrl);
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn connect_sqlite(url: &str) -> Result<Self, DbError> {
        let base = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(base.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(base.clone().read_only(true))
            .await?;
        let turn = Arc::new(tokio::sync::Mutex::new(()));
        let group = group_commit::GroupCommit::start(base.get_filename(), turn.clone()).await?;
        Ok(Self {
            backend: Backend::Sqlite {
                group,
                turn,
                writer,
                reader,
            },
            caches: Arc::new(Caches::new()),
            announced: Arc::new(tokio::sync::watch::Sender::new(0)),
            listener: None,
        })
    }

    async fn migrate(&self) -> Result<(), DbError> {
        match &self.backend {
            Backend::Sqlite { writer, .. } => {
                migrations::migrator(migrations::SQLITE).run(writer).await?
            }
            Backend::Postgres(pool) => migrations::migrator(migrations::POSTGRES).run(pool).await?,
        }
        Ok(())
    }

    /// Announces a committed change that may invalidate cached reads: here at once, and on
    /// PostgreSQL to the other instances too.
    async fn announce(&self, change: Change) {
        self.caches.apply(&change);
        // If this fails, the other instances' entries still expire after the cache TTL.
        self.pg_notify(cache::CHANNEL, change.encode()).await;
    }

    /// Sends a notification to every instance listening on PostgreSQL (nothing on SQLite, which
    /// one instance uses alone). A failure is only logged: notifications are hints with a
    /// fallback (expiry, timeouts) wherever they are used.
    async fn pg_notify(&self, channel: &str, payload: String) {
        if let Backend::Postgres(pool) = &self.backend
            && let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(payload)
                .execute(pool)
                .await
        {
            tracing::warn!(error = %e, channel, "could not notify other instances");
        }
    }

    /// Whether transactions commit side by side (PostgreSQL) rather than one at a time through
    /// a single writer (SQLite), which other disk work in the meantime would hold up.
    pub fn concurrent_writers(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Closes every connection, waiting for queries in flight.
    pub async fn close(&self) {
        if let Some(l) = &self.listener {
            l.abort();
        }
        match &self.backend {
            Backend::Sqlite {
                writer,
                reader,
                group,
                ..
            } => {
                group.close().await;
                reader.close().await;
                writer.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

impl Caches {
    fn new() -> Self {
        Self {
            tokens: cache::Cache::new(),
            media: cache::Cache::new(),
        }
    }
}
