//! The media repository: upload into the blob store with de-duplication, and lookup for download.

mod access;
mod delete;
mod durable;
mod pending;
mod quarantine;
mod remote;
mod sweep;
mod thumbnails;

pub use delete::UserMediaPage;
pub use durable::Recovered;
pub use pending::Claim;
pub use quarantine::ChangesPage;
pub use remote::{RemotePolicy, RemoteRequest};
pub use sweep::SweepReport;
pub use thumbnails::{Served, ThumbnailRequest, ThumbnailSettings};

use std::{
    collections::BTreeSet,
    ops::Range,
    sync::{Arc, Mutex},
};

use mxcd_blob::{BlobError, BlobKey, BlobStore, ByteStream};
use mxcd_db::{Db, DbError, MediaRow, NewBlob, NewMedia};
use mxcd_types::time::now_ms;
use rand::{RngExt as _, distr::Alphabetic};

use crate::ratelimit::{Rate, Ratelimiter};

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("not found")]
    NotFound,
    #[error("upload larger than {0} bytes")]
    TooLarge(u64),
    #[error("media has not been uploaded yet")]
    NotYetUploaded,
    #[error("Media upload limit exceeded")]
    UploadLimitExceeded,
    #[error("Non-local server name specified")]
    NonLocal,
    #[error("Unknown media ID")]
    UnknownMediaId,
    #[error("Only the creator of the media ID can upload to it")]
    NotCreator,
    #[error("Media ID already has content")]
    AlreadyUploaded,
    #[error("Media ID has expired")]
    Expired,
    #[error("Media ID is being uploaded")]
    UploadInProgress,
    /// `rc_media_create` or `max_pending_media_uploads` refused the request.
    #[error("too many requests")]
    LimitExceeded { retry_after_ms: i64 },
    /// Thumbnails are not made on demand and this content has none.
    #[error("no thumbnails for this media")]
    NoThumbnails,
    /// Making a thumbnail on demand failed (unsupported, undecodable or too large).
    #[error("Failed to generate thumbnail.")]
    ThumbnailFailed,
    /// A remote server's media could not be fetched (502 `M_UNKNOWN`).
    #[error("Failed to fetch remote media")]
    RemoteFailed,
    /// A remote server's media is larger than `max_upload_size` (502 `M_TOO_LARGE`).
    #[error("Requested file is too large > {0} bytes")]
    RemoteTooLarge(u64),
    /// The remote server answered 404; its errcode and message are passed on.
    #[error("remote media not found")]
    RemoteNotFound {
        errcode: Option<String>,
        error: Option<String>,
    },
    /// `federation_domain_whitelist` does not list the media's server (403 `M_FORBIDDEN`).
    #[error("Federation denied with {0}.")]
    FederationDenied(String),
    #[error("{0}")]
    Internal(String),
    #[error("range not satisfiable for {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    #[error("reading the upload failed: {0}")]
    Body(std::io::Error),
    #[error(transparent)]
    Blob(BlobError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<BlobError> for MediaError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::TooLarge { limit } => Self::TooLarge(limit),
            BlobError::Body(io) => Self::Body(io),
            BlobError::NotFound => Self::NotFound,
            other => Self::Blob(other),
        }
    }
}

/// What an upload is stored with.
pub struct Upload {
    pub user_id: String,
    pub media_type: String,
    pub upload_name: Option<String>,
}

/// A per-user upload quota: at most `max_bytes` within `period_ms`.
#[derive(Clone, Copy, Debug)]
pub struct UploadQuota {
    pub period_ms: i64,
    pub max_bytes: i64,
}

/// Limits of asynchronous uploads (`/create`).
#[derive(Clone, Copy, Debug)]
pub struct PendingLimits {
    /// `max_pending_media_uploads`.
    pub max_pending: i64,
    /// `unused_expiration_time`, in milliseconds.
    pub expire_after_ms: i64,
}

impl Default for PendingLimits {
    fn default() -> Self {
        Self {
            max_pending: 5,
            expire_after_ms: 24 * 3_600_000,
        }
    }
}

pub struct Service {
    db: Db,
    store: Arc<dyn BlobStore>,
    server_name: String,
    max_upload_size: u64,
    authenticated_media: bool,
    pending: PendingLimits,
    /// Media IDs this instance is receiving content for. Only an early answer: the database
    /// decides which of two concurrent uploads wins, across instances too.
    uploading: Mutex<BTreeSet<String>>,
    /// Downloads noted since the last flush of `last_access_ts`.
    accessed: Mutex<access::Pending>,
    quotas: Vec<UploadQuota>,
    /// `rc_media_create`: how fast one user may create media IDs.
    create_limiter: Option<Ratelimiter>,
    thumbs: thumbnails::Thumbnailer,
    /// Fetching other servers' media.
    remote: RemotePolicy,
    /// How many remote fetches this instance started.
    remote_fetches: std::sync::atomic::AtomicU64,
}

/// The blob row that records what the store just stored.
fn blob_row(stored: &mxcd_blob::Stored) -> NewBlob {
    NewBlob {
        sha256: stored.sha256.clone(),
        storage_key: stored.key.to_string(),
        size: stored.size as i64,
    }
}

/// A media ID as Synapse makes them: 24 random ASCII letters.
fn new_media_id() -> String {
    rand::rng()
        .sample_iter(Alphabetic)
        .take(24)
        .map(char::from)
        .collect()
}

impl Service {
    pub fn new(
        db: Db,
        store: Arc<dyn BlobStore>,
        server_name: &str,
        max_upload_size: u64,
        authenticated_media: bool,
    ) -> Self {
        Self {
            db,
            store,
            server_name: server_name.to_owned(),
            max_upload_size,
            authenticated_media,
            pending: PendingLimits::default(),
            uploading: Mutex::new(BTreeSet::new()),
            accessed: Mutex::new(access::Pending::new()),
            quotas: Vec::new(),
            create_limiter: None,
            thumbs: thumbnails::Thumbnailer::new(ThumbnailSettings::default()),
            remote: RemotePolicy::default(),
            remote_fetches: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub fn with_thumbnails(mut self, settings: ThumbnailSettings) -> Self {
        self.thumbs = thumbnails::Thumbnailer::new(settings);
        self
    }

    pub fn with_create_ratelimit(mut self, rate: Rate) -> Self {
        self.create_limiter = Some(Ratelimiter::new(rate));
        self
    }

    pub fn with_pending_limits(mut self, limits: PendingLimits) -> Self {
        self.pending = limits;
        self
    }

    pub fn with_upload_quotas(mut self, quotas: Vec<UploadQuota>) -> Self {
        self.quotas = quotas;
        self
    }

    /// Refuses received bytes that would take `user_id` over a quota.
    async fn check_quotas(
        &self,
        user_id: &str,
        stored: &mxcd_blob::Stored,
    ) -> Result<(), MediaError> {
        let now = now_ms();
        for q in &self.quotas {
            let used = self
                .db
                .uploaded_bytes_since(user_id, now - q.period_ms)
                .await?;
            if used.saturating_add(stored.size as i64) > q.max_bytes {
                return Err(MediaError::UploadLimitExceeded);
            }
        }
        Ok(())
    }

    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    pub fn max_upload_size(&self) -> u64 {
        self.max_upload_size
    }

    /// Streams `body` into the store (capped), checks the uploader's quotas, then publishes
    /// the bytes and records them in one transaction, durably (see `durable.rs`). Identical
    /// content is kept once: the new copy is dropped and the existing blob gains a reference.
    #[tracing::instrument(skip_all, fields(user = %up.user_id))]
    pub async fn upload(&self, up: Upload, body: ByteStream) -> Result<String, MediaError> {
        let received = self.store.receive(body, self.max_upload_size).await?;
        if let Err(e) = self.check_quotas(&up.user_id, &received.stored).await {
            received.abort().await;
            return Err(e);
        }
        let media_id = new_media_id();
        let media = NewMedia {
            origin: self.server_name.clone(),
            media_id: media_id.clone(),
            user_id: Some(up.user_id),
            media_type: up.media_type,
            upload_name: up.upload_name,
            created_ts: now_ms(),
            authenticated: self.authenticated_media,
        };
        self.record_upload(&media, received).await?;
        self.thumbnail_new_media(&self.server_name, &media_id, &media.media_type)
            .await;
        Ok(format!("mxc://{}/{media_id}", self.server_name))
    }

    /// Pre-generates thumbnails for media that just got its content, before the upload is
    /// answered (as Synapse does), so a client's first thumbnail request finds them. A failure
    /// here does not fail the upload: the first thumbnail request tries again.
    async fn thumbnail_new_media(&self, origin: &str, media_id: &str, media_type: &str) {
        if !mxcd_imaging::is_thumbnailable(media_type) {
            return;
        }
        let done = async {
            match self.db.get_media(origin, media_id).await? {
                Some(row) => self.pregenerate(&row).await,
                None => Ok(()),
            }
        };
        if let Err(e) = done.await {
            tracing::warn!(media_id, error = %e, "could not pre-generate thumbnails");
        }
    }

    /// Deletes an object no row references; a failure leaves it to the orphan sweep.
    async fn discard(&self, key: &BlobKey) {
        if let Err(e) = self.store.delete(key).await {
            tracing::warn!(%key, error = %e, "could not delete an unreferenced blob; the sweep will");
        }
    }

    /// The media item to serve, after the checks every download makes: it exists, has content,
    /// is not quarantined, and (on the unauthenticated legacy endpoints) is not authenticated media.
    pub async fn find(
        &self,
        origin: &str,
        media_id: &str,
        authenticated_request: bool,
    ) -> Result<MediaRow, MediaError> {
        let row = self
            .db
            .get_media_for_download(origin, media_id)
            .await?
            .ok_or(MediaError::NotFound)?;
        if row.quarantined_by.is_some() || (row.authenticated && !authenticated_request) {
            return Err(MediaError::NotFound);
        }
        if row.sha256.is_none() {
            return Err(if row.unused_expires_at.is_some_and(|t| t <= now_ms()) {
                MediaError::NotFound
            } else {
                MediaError::NotYetUploaded
            });
        }
        Ok(row)
    }

    /// The bytes of a found media item, or of `range` within it.
    pub async fn open(
        &self,
        row: &MediaRow,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, MediaError> {
        let key = row
            .storage_key
            .as_deref()
            .and_then(BlobKey::parse)
            .ok_or(MediaError::NotFound)?;
        Ok(self.store.get(&key, range).await?)
    }

    /// Deletes a local media item; the bytes go when no other item references them, and its
    /// thumbnails with them.
    pub async fn delete(&self, origin: &str, media_id: &str) -> Result<(), MediaError> {
        for key in self.db.delete_media(origin, media_id).await? {
            if let Some(key) = BlobKey::parse(&key) {
                self.discard(&key).await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn media_ids_are_24_letters() {
        let id = super::new_media_id();
        assert_eq!(id.len(), 24);
        assert!(id.bytes().all(|b| b.is_ascii_alphabetic()));
        assert_ne!(id, super::new_media_id());
    }
}
