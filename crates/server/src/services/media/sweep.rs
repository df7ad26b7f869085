//! The orphan sweep: removes stored objects no blob row references (left by a crash between
//! writing bytes and committing metadata, or between deleting a row and its bytes), and uploads
//! in flight that were abandoned.

use std::{
    collections::BTreeSet,
    time::{Duration, SystemTime},
};

use mxcd_blob::BlobKey;

use super::{MediaError, Service};

/// What one sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub incomplete_uploads: u64,
    pub orphaned_blobs: u64,
}

impl Service {
    /// Removes abandoned uploads and unreferenced objects last written more than `grace` ago.
    /// The grace period protects an upload whose bytes are stored but whose metadata is not yet
    /// committed; it is safe to run on several instances at once.
    pub async fn sweep(&self, grace: Duration) -> Result<SweepReport, MediaError> {
        let cutoff = SystemTime::now() - grace;
        let incomplete_uploads = self.store.sweep_incomplete(cutoff).await?;
        let referenced: BTreeSet<String> = self.db.storage_keys().await?.into_iter().collect();
        let mut orphaned_blobs = 0;
        for key in self.store.list().await? {
            if referenced.contains(key.as_str()) || !self.older_than(&key, cutoff).await {
                continue;
            }
            // Re-check just before deleting: the metadata may have been committed meanwhile.
            if self.db.storage_key_exists(key.as_str()).await? {
                continue;
            }
            self.store.delete(&key).await?;
            orphaned_blobs += 1;
        }
        Ok(SweepReport {
            incomplete_uploads,
            orphaned_blobs,
        })
    }

    async fn older_than(&self, key: &BlobKey, cutoff: SystemTime) -> bool {
        self.store.modified(key).await.is_ok_and(|m| m <= cutoff)
    }
}
