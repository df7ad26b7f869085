//! Blobs recorded before their bytes were durable.
//!
//! On SQLite an upload commits its metadata while its file is being synced, instead of after:
//! the two durable steps overlap, and the upload is answered once both are done. The blob row
//! is created with `unsynced` set, and the flag is cleared by a later batch once the sync has
//! finished. After a crash, a flagged blob may have lost its bytes; the media service checks
//! each one against its stored bytes before serving anything (`unsynced_blobs`), keeps those
//! that match (`mark_synced`) and removes the others with their media rows, none of which was
//! ever answered: an upload is answered only after its bytes are durable.

use crate::{
    Backend, BlobOutcome, Db, DbError, NewBlob, NewMedia, QueuedWrite, WriteOutcome,
    media::MediaWrite, read, writer,
};

/// Clears the flag of the blob under `$1`.
pub(crate) const CLEAR_UNSYNCED: &str =
    "UPDATE blobs SET unsynced = FALSE WHERE storage_key = $1 AND unsynced";

/// A new media row whose blob, if new, is flagged `unsynced`.
fn unsynced_insert(m: &NewMedia, blob: &NewBlob) -> MediaWrite {
    MediaWrite::Insert {
        media: m.clone(),
        blob: blob.clone(),
        unsynced: true,
    }
}

/// A blob recorded before its bytes were known to be durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsyncedBlob {
    pub sha256: String,
    pub storage_key: String,
    pub size: i64,
}
crate::row::from_row!(UnsyncedBlob {
    sha256,
    storage_key,
    size
});

impl Db {
    /// Records a media item whose bytes are stored but not yet durable, flagging its blob if
    /// the content is new. Durable when it returns, like [`Db::insert_media`]; the caller syncs
    /// the bytes, answers only once both are done, then calls [`Db::mark_synced_later`].
    pub async fn insert_media_unsynced(
        &self,
        m: &NewMedia,
        blob: &NewBlob,
    ) -> Result<BlobOutcome, DbError> {
        self.write_media(unsynced_insert(m, blob)).await
    }

    /// [`Db::insert_media_unsynced`], prepared here and queued later from any thread (see
    /// [`QueuedWrite`]); `None` where content writes do not go through the group commit
    /// (PostgreSQL, where bytes are synced before their metadata is written).
    pub fn prepare_media_unsynced(
        &self,
        m: &NewMedia,
        blob: &NewBlob,
    ) -> Option<(QueuedWrite, WriteOutcome)> {
        match &self.backend {
            Backend::Sqlite { group, .. } => Some(group.prepare(unsynced_insert(m, blob))),
            Backend::Postgres(_) => None,
        }
    }

    /// Clears the flag of the blob under `storage_key`, whose bytes are durable now. On SQLite
    /// this rides on the next group commit: a crash before then only means the blob is checked
    /// once more at startup.
    pub async fn mark_synced_later(&self, storage_key: String) -> Result<(), DbError> {
        match &self.backend {
            Backend::Sqlite { group, .. } => group.synced_later(storage_key).await,
            Backend::Postgres(_) => self.mark_synced(&[storage_key]).await,
        }
    }

    /// Clears the flags of blobs checked against their bytes, durably.
    pub async fn mark_synced(&self, storage_keys: &[String]) -> Result<(), DbError> {
        for key in storage_keys {
            writer!(self, |p| sqlx::query(CLEAR_UNSYNCED)
                .bind(key)
                .execute(p)
                .await?
                .rows_affected());
        }
        Ok(())
    }

    /// Every flagged blob, for the check at startup.
    pub async fn unsynced_blobs(&self) -> Result<Vec<UnsyncedBlob>, DbError> {
        Ok(read!(self, |p| sqlx::query_as(
            "SELECT sha256, storage_key, size FROM blobs WHERE unsynced ORDER BY storage_key"
        )
        .fetch_all(p)
        .await?))
    }

    /// Whether the blob under `storage_key` is flagged (its bytes may still be syncing).
    pub async fn blob_is_unsynced(&self, storage_key: &str) -> Result<bool, DbError> {
        Ok(read!(self, |p| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM blobs WHERE storage_key = $1 AND unsynced"
        )
        .bind(storage_key)
        .fetch_one(p)
        .await?)
            > 0)
    }

    /// Whether this process alone uses the database (SQLite), so that a blob still flagged at
    /// startup belongs to no upload in flight, and uploads may overlap their commit with the
    /// sync of their bytes. On PostgreSQL, instances share the database: uploads there record
    /// their bytes only once durable.
    pub fn single_process(&self) -> bool {
        matches!(self.backend, Backend::Sqlite { .. })
    }

    /// `(origin, media_id)` of every media row with the content `sha256`.
    pub async fn media_with_content(&self, sha256: &str) -> Result<Vec<(String, String)>, DbError> {
        Ok(read!(self, |p| sqlx::query_as(
            "SELECT origin, media_id FROM media WHERE sha256 = $1 ORDER BY origin, media_id"
        )
        .bind(sha256)
        .fetch_all(p)
        .await?))
    }
}
