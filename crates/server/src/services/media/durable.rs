//! Making an upload durable: its bytes synced and its metadata committed before it is answered.
//!
//! On PostgreSQL (several instances may share the database) the bytes are synced first and the
//! metadata committed after, so a committed row always has durable bytes. On SQLite, whose
//! database this process alone uses, the two run at the same time: the row is committed with
//! its blob flagged `unsynced` while the file is synced, and the upload is answered once both
//! are done; a later group commit clears the flag. A crash can then leave a committed row whose
//! bytes were lost, which no client was ever told about. [`Service::recover_unsynced`] runs at
//! startup, before anything is served, and removes exactly those.
//!
//! Content shared with another upload may be flagged too (that upload is still syncing it):
//! a duplicate syncs the existing object itself before it is answered.

use mxcd_blob::{BlobKey, Received};
use mxcd_db::{BlobOutcome, NewMedia};
use sha2::Digest as _;

use futures_util::StreamExt as _;

use super::{MediaError, Service, blob_row};

/// What the check at startup found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Flagged blobs whose stored bytes matched: kept, flag cleared.
    pub kept: usize,
    /// Media rows removed because the bytes of their content were lost.
    pub removed_media: Vec<(String, String)>,
}

impl Service {
    /// Publishes `received`, syncs it and records `media` with it; `Ok` means both are durable.
    /// Whatever fails, nothing of the upload stays referenced.
    pub(super) async fn record_upload(
        &self,
        media: &NewMedia,
        received: Received,
    ) -> Result<(), MediaError> {
        let key = received.stored.key.clone();
        let blob = blob_row(&received.stored);
        let queued = if received.needs_sync() {
            self.db.prepare_media_unsynced(media, &blob)
        } else {
            None
        };
        let overlap = queued.is_some();
        let (synced, recorded) = match queued {
            // The metadata is queued for the group commit by the thread that publishes the
            // bytes, the moment they are published: this task is not woken for it.
            Some((write, outcome)) => {
                let staged = received.publish(Some(Box::new(|| write.queue()))).await?;
                tokio::join!(staged.sync(), outcome.outcome())
            }
            None => match received.publish(None).await?.sync().await {
                Ok(stored) => (Ok(stored), self.db.insert_media(media, &blob).await),
                Err(e) => {
                    self.discard(&key).await;
                    return Err(e.into());
                }
            },
        };
        let outcome = match recorded {
            Ok(outcome) => outcome,
            Err(e) => {
                self.discard(&key).await;
                // A failed publish explains a write that was never queued.
                return Err(synced.err().map_or_else(|| e.into(), MediaError::from));
            }
        };
        let durable = match &outcome {
            BlobOutcome::Stored => synced.map(drop).map_err(MediaError::from),
            BlobOutcome::Duplicate { existing } => {
                // The new copy is not referenced, whether or not its sync succeeded.
                self.discard(&key).await;
                match synced {
                    Ok(_) => self.ensure_durable(existing).await,
                    Err(e) => Err(e.into()),
                }
            }
        };
        if let Err(e) = durable {
            // The row is committed but its content may not be durable: take it back, so that
            // the failed upload leaves nothing behind. Its object goes with its last reference
            // (a concurrent duplicate may hold another, and then syncs the object itself).
            self.delete_local_media(&media.media_id).await?;
            return Err(e);
        }
        if overlap
            && outcome == BlobOutcome::Stored
            && let Err(e) = self.db.mark_synced_later(key.to_string()).await
        {
            tracing::warn!(%key, error = %e, "could not clear the unsynced flag; it is checked at startup");
        }
        Ok(())
    }

    /// Makes sure the content under `existing`, which a new row now shares, is durable: the
    /// upload that stored it may still be syncing it.
    pub(super) async fn ensure_durable(&self, existing: &str) -> Result<(), MediaError> {
        if !self.db.blob_is_unsynced(existing).await? {
            return Ok(());
        }
        let key = BlobKey::parse(existing)
            .ok_or_else(|| MediaError::Internal(format!("malformed storage key {existing:?}")))?;
        Ok(self.store.sync_existing(&key).await?)
    }

    /// Checks every blob still flagged `unsynced` (left by a crash) against its stored bytes.
    /// Those that match are kept; the others are removed with every media row using them. Run
    /// at startup, before anything is served.
    pub async fn recover_unsynced(&self) -> Result<Recovered, MediaError> {
        let mut report = Recovered::default();
        let mut kept = Vec::new();
        for blob in self.db.unsynced_blobs().await? {
            let key = BlobKey::parse(&blob.storage_key);
            let intact = match &key {
                Some(k) => self.holds(k, &blob.sha256, blob.size).await?,
                None => false,
            };
            if intact {
                kept.push(blob.storage_key);
                continue;
            }
            tracing::warn!(key = %blob.storage_key, "the bytes of an upload were lost in a crash; removing its media");
            for (origin, media_id) in self.db.media_with_content(&blob.sha256).await? {
                let deleted = self
                    .db
                    .delete_media_ids(&origin, std::slice::from_ref(&media_id))
                    .await?;
                self.delete_objects(&deleted.freed_keys).await;
                report.removed_media.extend(deleted.media);
            }
        }
        report.kept = kept.len();
        self.db.mark_synced(&kept).await?;
        Ok(report)
    }

    /// Whether the object `key` holds exactly `size` bytes hashing to `sha256`.
    async fn holds(&self, key: &BlobKey, sha256: &str, size: i64) -> Result<bool, MediaError> {
        let mut bytes = match self.store.get(key, None).await {
            Ok(s) => s,
            Err(mxcd_blob::BlobError::NotFound) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let mut hasher = sha2::Sha256::new();
        let mut len = 0u64;
        while let Some(chunk) = bytes.next().await {
            match chunk {
                Ok(c) => {
                    len += c.len() as u64;
                    hasher.update(&c);
                }
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
                // A failing disk is for the operator to see, not a reason to delete media.
                Err(e) => return Err(MediaError::Blob(e.into())),
            }
        }
        Ok(len == size as u64 && hex::encode(hasher.finalize()) == sha256)
    }
}
