//! The sync stage of the group commit: it syncs the write-ahead log once for every batch
//! committed before the sync began, then answers their writers (see `group_commit.rs`).

use std::{
    fs::File,
    sync::{Arc, OnceLock, mpsc},
};

use super::Job;
use crate::{BlobOutcome, DbError};

/// A batch committed but maybe not yet durable, waiting for the log's sync.
pub(super) struct Committed {
    pub(super) jobs: Vec<Job>,
    pub(super) outcomes: Vec<Result<BlobOutcome, DbError>>,
}

/// Set once a sync of the log failed: nothing commits after that.
pub(super) type LogFailure = Arc<OnceLock<String>>;

/// Runs until every sender of `committed` is gone. After a failed sync, every batch is answered
/// with an error and the log is not synced again: the kernel may have dropped the pages that
/// failed, so a later sync that succeeds would prove nothing about them.
pub(super) fn sync_log(log: &File, committed: &mpsc::Receiver<Committed>, failure: &LogFailure) {
    while let Ok(first) = committed.recv() {
        let batches: Vec<Committed> = std::iter::once(first).chain(committed.try_iter()).collect();
        let synced = match failure.get() {
            Some(e) => Err(e.clone()),
            None => log.sync_data().map_err(|e| {
                let e = e.to_string();
                tracing::error!(error = %e, "syncing the database log failed; no media is recorded until mxcd restarts");
                failure.get_or_init(|| e).clone()
            }),
        };
        for batch in batches {
            match &synced {
                Ok(()) => {
                    for (job, outcome) in batch.jobs.into_iter().zip(batch.outcomes) {
                        let _ = job.reply.send(outcome);
                    }
                }
                Err(e) => answer(batch.jobs, &not_durable(e)),
            }
        }
    }
}

pub(super) fn not_durable(e: &str) -> String {
    format!("the database log could not be synced ({e}); restart mxcd")
}

/// Tells each writer of a batch that did not become durable why.
pub(super) fn answer(jobs: Vec<Job>, error: &str) {
    for job in jobs {
        let _ = job.reply.send(Err(DbError::Commit(error.to_owned())));
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;

    use tokio::sync::oneshot;

    use super::*;
    use crate::{NewBlob, media::MediaWrite};

    fn job() -> (Job, oneshot::Receiver<Result<BlobOutcome, DbError>>) {
        let (reply, answered) = oneshot::channel();
        let write = MediaWrite::Fill {
            origin: "example.org".into(),
            media_id: "m".into(),
            media_type: "text/plain".into(),
            upload_name: None,
            blob: NewBlob {
                sha256: "00".into(),
                storage_key: "k".into(),
                size: 1,
            },
            now: 0,
        };
        (Job { write, reply }, answered)
    }

    /// Batches sent to a sync stage over `log`, each of one write committed as `Stored`; returns
    /// what each writer heard.
    fn run(log: File, batches: usize, failure: &LogFailure) -> Vec<Result<BlobOutcome, DbError>> {
        let (tx, rx) = mpsc::channel();
        let mut answers = Vec::new();
        for _ in 0..batches {
            let (job, answered) = job();
            tx.send(Committed {
                jobs: vec![job],
                outcomes: vec![Ok(BlobOutcome::Stored)],
            })
            .unwrap();
            answers.push(answered);
        }
        drop(tx);
        sync_log(&log, &rx, failure);
        answers
            .into_iter()
            .map(|mut a| a.try_recv().expect("every writer is answered"))
            .collect()
    }

    fn assert_not_durable(heard: Vec<Result<BlobOutcome, DbError>>) {
        for h in heard {
            match h {
                Err(DbError::Commit(e)) => assert!(e.contains("restart mxcd"), "{e}"),
                other => panic!("a write whose log did not sync was answered {other:?}"),
            }
        }
    }

    #[test]
    fn a_synced_log_answers_every_batch_with_its_outcome() {
        let failure = LogFailure::default();
        let heard = run(tempfile::tempfile().unwrap(), 3, &failure);
        assert!(failure.get().is_none());
        assert!(
            heard.iter().all(|h| matches!(h, Ok(BlobOutcome::Stored))),
            "{heard:?}"
        );
    }

    /// `fdatasync` on a pipe fails (EINVAL): every writer hears that its write is not durable.
    /// The failure is kept (the committer then refuses new writes), and later batches fail too,
    /// even where a sync would now succeed.
    #[test]
    fn a_failed_sync_fails_every_batch_and_sticks() {
        let failure = LogFailure::default();
        let (_reader, writer) = std::io::pipe().unwrap();
        assert_not_durable(run(File::from(OwnedFd::from(writer)), 3, &failure));
        assert!(failure.get().is_some());
        assert_not_durable(run(tempfile::tempfile().unwrap(), 2, &failure));
    }
}
