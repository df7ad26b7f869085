//! Byte storage for mxcd.
//!
//! A [`BlobStore`] takes a stream, hashes (SHA-256) and counts it as it arrives, refuses it past
//! a size cap, and makes it visible under a key it generates only once it is complete. Keys are
//! never built from user input. Two backends: [`FsStore`] (the default, under the data
//! directory, with file and directory `fsync` before a put returns) and [`S3Store`] (any
//! S3-compatible service, through a multipart upload that is aborted on failure).
//!
//! A put is [`BlobStore::receive`], [`Received::publish`] and [`Staged::sync`]. A caller may
//! decide between the first two (a quota, say) and abort instead, and may do other durable
//! work (committing metadata) while the bytes are synced; it must then be able to tell, after
//! a crash, which stored keys it had referenced before their sync finished.

mod fs;
mod key;
mod s3;

use std::{io, ops::Range, time::SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{future::BoxFuture, stream::BoxStream};

pub use fs::FsStore;
pub use key::BlobKey;
pub use s3::{S3Config, S3Store};

/// A stream of body chunks.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// Work, already under way, that makes staged bytes durable.
pub type SyncFuture = BoxFuture<'static, Result<(), BlobError>>;

/// Runs once published bytes are readable under their key, on the thread that published them
/// (for the filesystem, the blocking thread that goes on to sync them); it must not block.
pub type OnPublished = Box<dyn FnOnce() + Send>;

/// Bytes received in full (hashed, counted, within the cap) but not yet readable under their
/// key: [`Received::publish`] makes them so, [`Received::abort`] discards them.
pub struct Received {
    pub stored: Stored,
    rest: Box<dyn Publish>,
}

impl std::fmt::Debug for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Received")
            .field("stored", &self.stored)
            .finish_non_exhaustive()
    }
}

/// A backend's last steps of a put, after its bytes were received.
#[async_trait]
pub trait Publish: Send {
    /// Whether published bytes are durable only after a sync.
    fn needs_sync(&self) -> bool;
    /// Makes the bytes readable under their key, runs `then` (if any), and returns the work
    /// that makes them durable (`None`: they are already); see [`Received::publish`].
    async fn publish(
        self: Box<Self>,
        then: Option<OnPublished>,
    ) -> Result<Option<SyncFuture>, BlobError>;
    /// Discards the bytes; failures are left to the sweep of incomplete uploads.
    async fn abort(self: Box<Self>);
}

impl Received {
    pub fn new(stored: Stored, rest: Box<dyn Publish>) -> Self {
        Self { stored, rest }
    }

    /// Whether the bytes, once published, are durable only after [`Staged::sync`].
    pub fn needs_sync(&self) -> bool {
        self.rest.needs_sync()
    }

    /// Makes the bytes readable under their key. Without `then`, returns once they are. With
    /// it, may return before: `then` runs, on the thread that published them, as soon as they
    /// are readable, and does not run at all if publishing fails; [`Staged::sync`] then
    /// reports the failure. A failed publish leaves nothing under the key or beside it.
    pub async fn publish(self, then: Option<OnPublished>) -> Result<Staged, BlobError> {
        let sync = self.rest.publish(then).await?;
        Ok(Staged {
            stored: self.stored,
            sync,
        })
    }

    /// Discards the received bytes: nothing becomes readable under the key.
    pub async fn abort(self) {
        self.rest.abort().await;
    }
}

/// Bytes complete and readable under their key, perhaps not yet durable: a crash before
/// [`Staged::sync`] returns may lose them or leave them cut short. Dropping it without syncing
/// leaves the object in the store; the caller deletes it or leaves it to the orphan sweep.
pub struct Staged {
    pub stored: Stored,
    sync: Option<SyncFuture>,
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged")
            .field("stored", &self.stored)
            .field("needs_sync", &self.needs_sync())
            .finish()
    }
}

impl Staged {
    /// Whether [`Staged::sync`] has work to wait for; `false` means the bytes are durable now.
    pub fn needs_sync(&self) -> bool {
        self.sync.is_some()
    }

    /// Waits until the bytes are durable. On `Err` the object may still exist under its key.
    pub async fn sync(self) -> Result<Stored, BlobError> {
        if let Some(work) = self.sync {
            work.await?;
        }
        Ok(self.stored)
    }
}

/// What a completed put stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub key: BlobKey,
    pub size: u64,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob not found")]
    NotFound,
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// Reading the incoming body failed (the client went away, for example).
    #[error("reading the body failed: {0}")]
    Body(#[source] io::Error),
    #[error("requested range {start}..{end} is outside the blob of {size} bytes")]
    BadRange { start: u64, end: u64, size: u64 },
    #[error("storage failed: {0}")]
    Backend(String),
}

impl From<opendal::Error> for BlobError {
    fn from(e: opendal::Error) -> Self {
        if e.kind() == opendal::ErrorKind::NotFound {
            Self::NotFound
        } else {
            Self::Backend(e.to_string())
        }
    }
}

impl From<io::Error> for BlobError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::NotFound {
            Self::NotFound
        } else {
            Self::Backend(e.to_string())
        }
    }
}

/// Streaming byte storage. Implementations must be safe to share between instances: keys are
/// unique, and nothing lives only in process memory.
#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Receives `body` for a new key, hashing and counting it; nothing is readable under the
    /// key until the returned [`Received`] is published. Past `limit` bytes the upload is
    /// abandoned, nothing is left, and [`BlobError::TooLarge`] is returned.
    async fn receive(&self, body: ByteStream, limit: u64) -> Result<Received, BlobError>;

    /// Stores `body` under a new key ([`BlobStore::receive`], [`Received::publish`] and
    /// [`Staged::sync`]): durable when it returns `Ok`. If the sync fails, the object is deleted.
    async fn put(&self, body: ByteStream, limit: u64) -> Result<Stored, BlobError> {
        let staged = self.receive(body, limit).await?.publish(None).await?;
        let key = staged.stored.key.clone();
        match staged.sync().await {
            Ok(stored) => Ok(stored),
            Err(e) => {
                let _ = self.delete(&key).await;
                Err(e)
            }
        }
    }

    /// Makes the bytes already stored under `key` durable, whoever stored them: a blob staged
    /// by another upload may still be syncing. Nothing to do where a write is durable when it
    /// returns.
    async fn sync_existing(&self, _key: &BlobKey) -> Result<(), BlobError> {
        Ok(())
    }

    /// The bytes of `key`, or the bytes in `range` (end exclusive, within the blob).
    async fn get(&self, key: &BlobKey, range: Option<Range<u64>>) -> Result<ByteStream, BlobError>;

    /// The size of `key` in bytes.
    async fn size(&self, key: &BlobKey) -> Result<u64, BlobError>;

    /// When `key` was last written (for the orphan sweep's grace period).
    async fn modified(&self, key: &BlobKey) -> Result<SystemTime, BlobError>;

    /// Removes `key`; removing a missing key is not an error.
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;

    /// Every stored key, for the orphan sweep.
    async fn list(&self) -> Result<Vec<BlobKey>, BlobError>;

    /// Removes uploads in flight that were started before `before` and never finished
    /// (left by a crash). Returns how many were removed.
    async fn sweep_incomplete(&self, before: SystemTime) -> Result<u64, BlobError>;
}

/// Hashes and counts chunks against a cap; shared by both backends.
pub(crate) struct Meter {
    hasher: sha2::Sha256,
    size: u64,
    limit: u64,
}

impl Meter {
    pub(crate) fn new(limit: u64) -> Self {
        use sha2::Digest as _;
        Self {
            hasher: sha2::Sha256::new(),
            size: 0,
            limit,
        }
    }

    /// Accounts for a chunk; `Err(TooLarge)` once the total passes the limit.
    pub(crate) fn update(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        use sha2::Digest as _;
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(BlobError::TooLarge { limit: self.limit });
        }
        self.hasher.update(chunk);
        Ok(())
    }

    pub(crate) fn finish(self, key: BlobKey) -> Stored {
        use sha2::Digest as _;
        Stored {
            key,
            size: self.size,
            sha256: hex::encode(self.hasher.finalize()),
        }
    }
}

/// Checks a requested range against a blob's size.
pub(crate) fn check_range(range: &Range<u64>, size: u64) -> Result<(), BlobError> {
    if range.start > range.end || range.end > size {
        return Err(BlobError::BadRange {
            start: range.start,
            end: range.end,
            size,
        });
    }
    Ok(())
}
