//! Group commit for SQLite's single writer.
//!
//! SQLite in WAL mode with `synchronous = FULL` syncs the log on every commit, and it has one
//! writer. Committing each upload's metadata on its own therefore caps uploads at the disk's
//! sync rate, however many clients upload at once. Here concurrent content writes queue for one
//! thread that owns a connection of its own: it takes every write waiting, applies them all in
//! one transaction and commits them together, so one sync makes a whole batch durable. Every
//! caller hears about its own write only after the batch's commit returned, so an `Ok` still
//! means "durable".
//!
//! The thread drives SQLite directly (rusqlite), not through sqlx: a batch is then one hand-off
//! from the uploading task to this thread and one back, and its statements are prepared once
//! and reused. Through sqlx the same batch cost a task hop plus five round trips to the
//! connection's thread (a ping on acquire and on release, `BEGIN`, the statements, `COMMIT`),
//! and the statements were parsed anew each time; on a busy or virtual machine those hand-offs
//! cost more than the statements (docs/benchmarks.md).
//!
//! A batch's writes are applied one after another in its transaction. If one of them fails (a
//! media ID taken twice, a pending upload filled twice), the transaction is rolled back and the
//! batch applied again with each write in a savepoint of its own, so the failing write is rolled
//! back alone and gets its own error while the others commit. Failures are rare, and savepoints
//! are not free: SQLite copies each page a savepoint changes into a statement journal, which
//! beyond 64 KiB spills into a temporary file made for the transaction. With a savepoint for
//! every write, that was 14% of this thread's time during uploads (docs/benchmarks.md).
//!
//! SQLite still has one writer: this connection and the sqlx writer pool take turns through
//! `turn`, which the `writer!` and `transaction!` macros take too, so neither ever waits on
//! SQLite's busy handler and no deferred transaction finds its snapshot stale.
//!
//! Writes wait for nothing extra: a batch is whatever queued while the previous one was
//! committing, so a lone write commits at once.
//!
//! The sync of the log is a stage of its own. This connection commits with `synchronous =
//! NORMAL`: SQLite writes the batch's frames to the write-ahead log and returns without syncing
//! it, so the write lock is free again after the writes alone. A second thread then syncs the
//! log file (`fdatasync`) and only after that answers the batch's writers, together with every
//! batch that committed before its sync began. The next batch is written while the log of the
//! last one is syncing, instead of waiting for that sync under the write lock. An `Ok` still
//! means durable: the log is sequential, so a batch's frames are on disk once a sync that began
//! after its commit returns, and with `NORMAL` SQLite still syncs the log before a checkpoint
//! copies it into the database, and the database before the log is reused.
//!
//! Between its commit and the sync, a batch is visible to readers but not yet durable, like a
//! committed row whose bytes are still syncing (`unsynced.rs`); nobody was answered for it, and
//! any later commit that is durable (the sqlx writer keeps `FULL`) made it durable first. If a
//! sync fails, the kernel may have dropped the unsynced frames, so later syncs prove nothing:
//! the group commit then refuses every write until mxcd is restarted, and SQLite's recovery
//! reads back what did reach the disk.

use std::{
    fs::File,
    path::Path,
    sync::{Arc, Mutex as SyncMutex, PoisonError, mpsc as sync_mpsc},
    time::Duration,
};

use rusqlite::{Connection, OpenFlags, TransactionBehavior, named_params};
use tokio::sync::{Mutex, mpsc, oneshot};

mod log_sync;
#[cfg(test)]
mod tests;

use log_sync::{Committed, LogFailure, answer, not_durable, sync_log};

use crate::{
    BlobOutcome, DbError,
    media::{FILL_MEDIA, INSERT_MEDIA, MediaWrite, UPSERT_BLOB},
    unsynced::CLEAR_UNSYNCED,
};

/// At most this many writes share one transaction.
const MAX_BATCH: usize = 128;

#[derive(Debug)]
struct Job {
    write: MediaWrite,
    reply: oneshot::Sender<Result<BlobOutcome, DbError>>,
}

#[derive(Debug)]
enum Msg {
    Write(Job),
    /// Enough `unsynced` flags wait to be cleared to commit them without writes.
    FlagsDue,
    /// Finish the writes queued before this, close the connection, and say so.
    Close(oneshot::Sender<()>),
}

/// The queue in front of the committing thread. It is unbounded: every write in it has a
/// request waiting for its answer, so concurrent requests bound it.
#[derive(Clone, Debug)]
pub(crate) struct GroupCommit {
    queue: mpsc::UnboundedSender<Msg>,
    synced: Synced,
}

/// Keys of blobs whose bytes are durable now, whose `unsynced` flags the next batch clears
/// (nothing waits for that; see `unsynced.rs`). They are left here rather than queued, so that
/// each upload's flag does not wake the committing thread only to be put aside: it is woken
/// once [`MAX_BATCH`] of them wait, or when it closes.
#[derive(Clone, Debug, Default)]
struct Synced(Arc<SyncMutex<Vec<String>>>);

impl Synced {
    /// Adds `key`; true if the flags are due for a commit of their own.
    fn push(&self, key: String) -> bool {
        let mut keys = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        keys.push(key);
        keys.len() >= MAX_BATCH
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Gives back keys taken for a commit that failed.
    fn restore(&self, keys: Vec<String>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(keys);
    }
}

/// A media write prepared but not yet queued. Queuing it never blocks and needs no runtime, so
/// it can happen on any thread: an upload's blocking file work queues its metadata the moment
/// its bytes are published, rather than first waking the upload's task to do it. Dropped
/// unqueued, its [`WriteOutcome`] reports [`DbError::Closed`].
#[derive(Debug)]
pub struct QueuedWrite {
    queue: mpsc::UnboundedSender<Msg>,
    job: Job,
}

impl QueuedWrite {
    /// Puts the write in the committing thread's queue.
    pub fn queue(self) {
        // If the committer is gone, the job drops here and its outcome reports `Closed`.
        let _ = self.queue.send(Msg::Write(self.job));
    }
}

/// The outcome of a [`QueuedWrite`], once its batch is durable.
#[derive(Debug)]
pub struct WriteOutcome(oneshot::Receiver<Result<BlobOutcome, DbError>>);

impl WriteOutcome {
    pub async fn outcome(self) -> Result<BlobOutcome, DbError> {
        self.0.await.map_err(|_| DbError::Closed)?
    }
}

impl GroupCommit {
    /// Opens a connection to the database file at `path` (WAL mode already set, as sqlx
    /// connects first) and starts the committing thread, which ends when every handle is
    /// dropped or [`GroupCommit::close`] is called.
    pub(crate) async fn start(path: &Path, turn: Arc<Mutex<()>>) -> Result<Self, DbError> {
        let path = path.to_owned();
        let (conn, log) = tokio::task::spawn_blocking(move || open(&path))
            .await
            .map_err(|e| DbError::Commit(e.to_string()))??;
        let (queue, rx) = mpsc::unbounded_channel();
        let (to_sync, committed) = sync_mpsc::channel();
        let failure = LogFailure::default();
        let synced = Synced::default();
        let syncer = {
            let failure = failure.clone();
            std::thread::Builder::new()
                .name("mxcd-sqlite-sync".into())
                .spawn(move || sync_log(&log, &committed, &failure))
                .map_err(|e| DbError::Commit(e.to_string()))?
        };
        std::thread::Builder::new()
            .name("mxcd-sqlite-commit".into())
            .spawn({
                let synced = synced.clone();
                move || run(conn, &turn, rx, &synced, to_sync, syncer, &failure)
            })
            .map_err(|e| DbError::Commit(e.to_string()))?;
        Ok(Self { queue, synced })
    }

    /// Applies `write` in the next batch and returns its outcome once the batch is durable.
    pub(crate) async fn submit(&self, write: MediaWrite) -> Result<BlobOutcome, DbError> {
        let (queued, outcome) = self.prepare(write);
        queued.queue();
        outcome.outcome().await
    }

    /// `write`, to be queued later from any thread (see [`QueuedWrite`]), and its outcome.
    pub(crate) fn prepare(&self, write: MediaWrite) -> (QueuedWrite, WriteOutcome) {
        let (reply, outcome) = oneshot::channel();
        let queued = QueuedWrite {
            queue: self.queue.clone(),
            job: Job { write, reply },
        };
        (queued, WriteOutcome(outcome))
    }

    /// Clears the `unsynced` flag of the blob under `key` in a later batch.
    pub(crate) async fn synced_later(&self, key: String) -> Result<(), DbError> {
        if self.queue.is_closed() {
            return Err(DbError::Closed);
        }
        if self.synced.push(key) {
            self.queue
                .send(Msg::FlagsDue)
                .map_err(|_| DbError::Closed)?;
        }
        Ok(())
    }

    /// Commits what is queued, then closes the connection; later writes get [`DbError::Closed`].
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Msg::Close(done)).is_ok() {
            let _ = closed.await;
        }
    }
}

/// The connection and its write-ahead log file, which the sync stage syncs.
fn open(path: &Path) -> Result<(Connection, File), DbError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // The settings of the sqlx connections (lib.rs), but for `synchronous`: this connection's
    // commits leave the log's sync to `sync_log`. The busy timeout is a safety net only: `turn`
    // keeps the two writers apart.
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // The statement journal of a batch that needs savepoints stays in memory instead of
    // spilling into a temporary file; a batch of the largest size journals a few MiB at most.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(DbError::Commit(format!("journal mode is {mode}, not WAL")));
    }
    // A read opens the log (SQLite makes it if needed). It is `<database>-wal`, and it stays the
    // same file while this connection is open: SQLite removes it only when the last
    // connection closes.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
    let mut log = path.as_os_str().to_owned();
    log.push("-wal");
    let log = File::open(&log)
        .map_err(|e| DbError::Commit(format!("cannot open the log {}: {e}", log.display())))?;
    Ok((conn, log))
}

fn run(
    mut conn: Connection,
    turn: &Mutex<()>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    synced: &Synced,
    to_sync: sync_mpsc::Sender<Committed>,
    syncer: std::thread::JoinHandle<()>,
    failure: &LogFailure,
) {
    let mut closing = None;
    while closing.is_none() {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let jobs;
        (jobs, closing) = gather(first, &mut rx);
        if let Some(e) = failure.get() {
            answer(jobs, &not_durable(e));
            continue;
        }
        // Flags to clear ride on the next batch of writes, unless there are many or the queue
        // closes.
        let flags = synced.take();
        let flags_due = flags.len() >= MAX_BATCH || (closing.is_some() && !flags.is_empty());
        if jobs.is_empty() && !flags_due {
            synced.restore(flags);
            continue;
        }
        let committed = {
            let _turn = turn.blocking_lock();
            commit(&mut conn, &jobs, &flags)
        };
        match committed {
            // The sync stage outlives this loop (it is joined below).
            Ok(outcomes) => drop(to_sync.send(Committed { jobs, outcomes })),
            Err(e) => {
                tracing::error!(error = %e, writes = jobs.len(), "group commit failed");
                answer(jobs, &e.to_string());
                synced.restore(flags);
            }
        }
    }
    // Every committed batch is answered before the connection closes.
    drop(to_sync);
    let _ = syncer.join();
    // Writes queued after a close get `Closed`: their reply senders drop with the queue.
    drop(rx);
    drop(conn);
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

/// `first` and every write queued behind it, up to [`MAX_BATCH`], stopping at a close.
fn gather(
    first: Msg,
    rx: &mut mpsc::UnboundedReceiver<Msg>,
) -> (Vec<Job>, Option<oneshot::Sender<()>>) {
    let mut jobs = Vec::new();
    let mut next = Some(first);
    while let Some(msg) = next {
        match msg {
            Msg::Write(job) => jobs.push(job),
            Msg::FlagsDue => {}
            Msg::Close(done) => return (jobs, Some(done)),
        }
        next = if jobs.len() < MAX_BATCH {
            rx.try_recv().ok()
        } else {
            None
        };
    }
    (jobs, None)
}

/// Every write in one transaction, and the `unsynced` flags of `synced` cleared; `Err` means
/// nothing was committed. The writes are applied together first, and only if one fails again
/// each in a savepoint of its own (see the module's documentation).
fn commit(
    conn: &mut Connection,
    jobs: &[Job],
    synced: &[String],
) -> rusqlite::Result<Vec<Result<BlobOutcome, DbError>>> {
    match commit_together(conn, jobs, synced)? {
        Some(outcomes) => Ok(outcomes),
        None => commit_each(conn, jobs, synced),
    }
}

/// Every write in one transaction with nothing between them; `None`, with nothing committed,
/// if any of them fails.
fn commit_together(
    conn: &mut Connection,
    jobs: &[Job],
    synced: &[String],
) -> rusqlite::Result<Option<Vec<Result<BlobOutcome, DbError>>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    clear_flags(&tx, synced)?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        match apply(&tx, &job.write) {
            Ok(outcome) => outcomes.push(Ok(outcome)),
            // Dropping the transaction rolls it back.
            Err(_) => return Ok(None),
        }
    }
    tx.commit()?;
    Ok(Some(outcomes))
}

/// Every write in one transaction, each in a savepoint of its own: a write that fails is rolled
/// back alone and gets its own error.
fn commit_each(
    conn: &mut Connection,
    jobs: &[Job],
    synced: &[String],
) -> rusqlite::Result<Vec<Result<BlobOutcome, DbError>>> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    clear_flags(&tx, synced)?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        let savepoint = tx.savepoint()?;
        let outcome = apply(&savepoint, &job.write);
        // A savepoint dropped without commit rolls back what it did.
        if outcome.is_ok() {
            savepoint.commit()?;
        }
        outcomes.push(outcome);
    }
    tx.commit()?;
    Ok(outcomes)
}

/// Clears the `unsynced` flags of the blobs under `synced`.
fn clear_flags(conn: &Connection, synced: &[String]) -> rusqlite::Result<()> {
    for key in synced {
        conn.prepare_cached(CLEAR_UNSYNCED)?
            .execute(named_params! { "$1": key })?;
    }
    Ok(())
}

/// The statements of [`MediaWrite`] (media.rs), with the same SQL, bound by name.
fn apply(conn: &Connection, write: &MediaWrite) -> Result<BlobOutcome, DbError> {
    let (blob, created_ts, unsynced) = write.blob();
    let key: String = conn.prepare_cached(UPSERT_BLOB)?.query_row(
        named_params! {
            "$1": blob.sha256, "$2": blob.storage_key, "$3": blob.size, "$4": created_ts,
            "$5": unsynced,
        },
        |row| row.get(0),
    )?;
    let rows = match write {
        MediaWrite::Insert { media: m, .. } => {
            conn.prepare_cached(INSERT_MEDIA)?.execute(named_params! {
                "$1": m.origin, "$2": m.media_id, "$3": m.user_id, "$4": m.media_type,
                "$5": blob.size, "$6": m.upload_name, "$7": blob.sha256, "$8": m.created_ts,
                "$9": m.authenticated,
            })?
        }
        MediaWrite::Fill {
            origin,
            media_id,
            media_type,
            upload_name,
            ..
        } => conn.prepare_cached(FILL_MEDIA)?.execute(named_params! {
            "$1": origin, "$2": media_id, "$3": blob.sha256, "$4": media_type,
            "$5": blob.size, "$6": upload_name,
        })?,
    };
    write.outcome(key, rows as u64)
}
