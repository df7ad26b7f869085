//! Group commit for SQLite's single writer.
//!
//! SQLite in WAL mode with `synchronous = FULL` syncs the log on every commit, and it has one
//! writer. Committing each upload's metadata on its own therefore caps uploads at the disk's
//! sync rate, however many clients upload at once. Here concurrent writes queue for one task
//! that owns the writer's turn: it takes every write waiting, applies them all in one
//! transaction and commits them together, so one sync makes a whole batch durable. Every caller
//! hears about its own write only after the batch's commit returned, so an `Ok` still means
//! "durable".
//!
//! Each statement sent through sqlx is a round trip to its connection thread, and on a busy or
//! virtual machine such a hand-off costs more than the statement. So a batch is three round
//! trips whatever its size: `BEGIN`, all its statements as one script, `COMMIT`. The script
//! carries its values as SQL literals (every string hex-encoded, so no value can end its
//! literal), and each statement returns its job's number so every write finds its own rows.
//!
//! Writes rarely fail (a media ID taken twice, a pending upload filled twice), so a batch runs
//! optimistically, without savepoints. If any write fails, the whole transaction is rolled back
//! and every write of the batch is retried in a transaction of its own (with bound parameters),
//! which gives each its own answer.
//!
//! Writes wait for nothing extra: a batch is whatever queued while the previous one was
//! committing, so a lone write commits at once.

use sqlx::{Sqlite, SqlitePool, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::{DbError, media::MediaWrite};

mod script;

/// At most this many writes share one transaction.
const MAX_BATCH: usize = 128;

struct Job {
    write: MediaWrite,
    reply: oneshot::Sender<Result<crate::BlobOutcome, DbError>>,
}

/// The queue in front of the SQLite writer for the writes that benefit from sharing a commit.
#[derive(Clone, Debug)]
pub(crate) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the committing task; it ends when every handle is dropped or the pool closes.
    pub(crate) fn start(writer: SqlitePool) -> Self {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(writer, rx));
        Self { jobs }
    }

    /// Applies `write` in the next batch and returns its outcome once the batch is durable.
    pub(crate) async fn submit(&self, write: MediaWrite) -> Result<crate::BlobOutcome, DbError> {
        let (reply, outcome) = oneshot::channel();
        self.jobs
            .send(Job { write, reply })
            .await
            .map_err(|_| DbError::Closed)?;
        outcome.await.map_err(|_| DbError::Closed)?
    }
}

async fn run(writer: SqlitePool, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if writer.is_closed() {
            break;
        }
        let jobs = std::mem::take(&mut batch);
        match commit_together(&writer, &jobs).await {
            Ok(outcomes) => {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            // A write failed, or the commit did, and nothing of the batch was kept: give every
            // write its own transaction, and its own answer.
            Err(e) => {
                tracing::debug!(error = %e, writes = jobs.len(), "group commit failed; retrying one by one");
                for job in jobs {
                    let _ = job.reply.send(commit_alone(&writer, &job.write).await);
                }
            }
        }
    }
}

/// Every write in one transaction; `Err` means nothing was committed.
async fn commit_together(
    writer: &SqlitePool,
    jobs: &[Job],
) -> Result<Vec<crate::BlobOutcome>, DbError> {
    let mut tx = writer.begin().await?;
    let script = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| script::statements(&job.write, i))
        .collect::<String>();
    // Dropping the transaction on error rolls the whole batch back.
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(script))
        .fetch_all(&mut *tx)
        .await?;
    let outcomes = script::outcomes(jobs.iter().map(|j| &j.write), &rows)?;
    tx.commit().await?;
    Ok(outcomes)
}

async fn commit_alone(
    writer: &SqlitePool,
    write: &MediaWrite,
) -> Result<crate::BlobOutcome, DbError> {
    let mut tx: Transaction<'_, Sqlite> = writer.begin().await?;
    let outcome = write.apply_sqlite(&mut tx).await?;
    tx.commit().await?;
    Ok(outcome)
}
