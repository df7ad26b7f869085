//! Thumbnails (reference §4.7): pre-generated at upload for Synapse's image types, then either
//! selected among (`dynamic_thumbnails = false`, Synapse's default) or made to measure on
//! request and kept (`dynamic_thumbnails = true`).
//!
//! Thumbnails belong to content, not to a media ID: identical uploads share them, and they go
//! when the content's last reference goes. Image work runs on the blocking pool behind a
//! semaphore of one permit per core, and requests for the same missing thumbnail (or the same
//! pre-generation) wait for one computation instead of repeating it.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use mxcd_blob::{BlobError, BlobKey, ByteStream};
use mxcd_db::{MediaRow, NewThumbnail, ThumbnailRow};
use mxcd_imaging::{ANIMATED_TYPE, Candidate, Limits, Method, Spec, Thumbnail, is_thumbnailable};
use mxcd_types::time::now_ms;
use tokio::sync::{OwnedMutexGuard, Semaphore};

use super::{MediaError, Service, blob_row};
use crate::services::flights::Flights;

/// How thumbnails are made and served.
#[derive(Clone, Debug)]
pub struct ThumbnailSettings {
    /// Sizes pre-generated at upload (Synapse's `thumbnail_sizes`).
    pub sizes: Vec<Spec>,
    /// Make any requested size on demand (Synapse's `dynamic_thumbnails`).
    pub dynamic: bool,
    pub limits: Limits,
}

impl Default for ThumbnailSettings {
    fn default() -> Self {
        let spec = |width, height, method| Spec {
            width,
            height,
            method,
        };
        Self {
            sizes: vec![
                spec(32, 32, Method::Crop),
                spec(96, 96, Method::Crop),
                spec(320, 240, Method::Scale),
                spec(640, 480, Method::Scale),
                spec(800, 600, Method::Scale),
            ],
            dynamic: false,
            limits: Limits::default(),
        }
    }
}

/// The query of a thumbnail request.
#[derive(Clone, Debug)]
pub struct ThumbnailRequest {
    pub width: u32,
    pub height: u32,
    /// As given: Synapse accepts any string, and only `crop`/`scale` can match.
    pub method: String,
    pub animated: bool,
}

/// A thumbnail ready to send.
pub struct Served {
    pub media_type: String,
    pub length: u64,
    pub body: ByteStream,
}

/// The thumbnailing machinery a media service holds.
pub(super) struct Thumbnailer {
    settings: ThumbnailSettings,
    cpu: Arc<Semaphore>,
    /// One lock per computation in progress; see [`Service::flight`].
    flights: Flights,
    /// How many times image work ran (pre-generations and single thumbnails).
    renders: AtomicU64,
}

impl Thumbnailer {
    pub(super) fn new(settings: ThumbnailSettings) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            settings,
            cpu: Arc::new(Semaphore::new(cores)),
            flights: Flights::default(),
            renders: AtomicU64::new(0),
        }
    }
}

impl Service {
    /// The thumbnail to serve for `row` (found, with content, and authorised by the caller).
    pub async fn thumbnail(
        &self,
        row: &MediaRow,
        req: &ThumbnailRequest,
    ) -> Result<Served, MediaError> {
        let sha = row.sha256.as_deref().ok_or(MediaError::NotFound)?;
        let desired_type = if req.animated {
            ANIMATED_TYPE
        } else {
            "image/png"
        };
        if self.thumbs.settings.dynamic {
            return self.dynamic_thumbnail(row, sha, req, desired_type).await;
        }
        let mut set = self.db.thumbnails(sha).await?;
        if set.thumbnails.is_empty() && !set.pregenerated {
            // Pre-generation never ran for this content (a crash right after the upload):
            // run it now rather than answering "no thumbnails" for ever.
            self.pregenerate(row).await?;
            set = self.db.thumbnails(sha).await?;
        }
        if set.thumbnails.is_empty() {
            return Err(MediaError::NoThumbnails);
        }
        let candidates: Vec<Candidate> = set.thumbnails.iter().map(candidate).collect();
        let chosen = mxcd_imaging::select(
            &candidates,
            req.width,
            req.height,
            &req.method,
            desired_type,
        )
        .and_then(|c| candidates.iter().position(|x| std::ptr::eq(x, c)))
        .ok_or(MediaError::NotFound)?;
        self.serve_stored(row, &set.thumbnails[chosen]).await
    }

    /// `dynamic_thumbnails`: the exact size asked for, made and kept on first request.
    async fn dynamic_thumbnail(
        &self,
        row: &MediaRow,
        sha: &str,
        req: &ThumbnailRequest,
        desired_type: &str,
    ) -> Result<Served, MediaError> {
        let method: Method = req
            .method
            .parse()
            .map_err(|_| MediaError::ThumbnailFailed)?;
        let exact = |t: &&ThumbnailRow| {
            (t.width, t.height) == (i64::from(req.width), i64::from(req.height))
                && t.method == method.as_str()
                && t.media_type == desired_type
        };
        if let Some(t) = self.db.thumbnails(sha).await?.thumbnails.iter().find(exact) {
            return self.serve_stored(row, t).await;
        }
        let key = format!("{sha}/{}x{}/{method}/{desired_type}", req.width, req.height);
        let _flight = self.flight(key).await;
        // Whoever held the flight before us may have made it.
        if let Some(t) = self.db.thumbnails(sha).await?.thumbnails.iter().find(exact) {
            return self.serve_stored(row, t).await;
        }
        let spec = Spec {
            width: req.width,
            height: req.height,
            method,
        };
        let thumb = self
            .render(row, spec, desired_type.to_owned(), req.animated)
            .await?;
        let (bytes, new) = self.store_thumbnail(thumb, spec).await?;
        let unused = self
            .db
            .insert_thumbnails(sha, std::slice::from_ref(&new), false, now_ms())
            .await?;
        self.discard_keys(unused).await;
        Ok(served(new.media_type, bytes))
    }

    /// Serves a recorded thumbnail; if its bytes are gone from the store, makes them again.
    async fn serve_stored(&self, row: &MediaRow, t: &ThumbnailRow) -> Result<Served, MediaError> {
        let key = BlobKey::parse(&t.storage_key).ok_or(MediaError::NotFound)?;
        match self.store.get(&key, None).await {
            Ok(body) => {
                return Ok(Served {
                    media_type: t.media_type.clone(),
                    length: t.length.max(0) as u64,
                    body,
                });
            }
            Err(BlobError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(key = %t.storage_key, "thumbnail bytes missing; making them again");
        let method: Method = t.method.parse().map_err(|_| MediaError::ThumbnailFailed)?;
        let spec = Spec {
            width: u32::try_from(t.width).map_err(|_| MediaError::ThumbnailFailed)?,
            height: u32::try_from(t.height).map_err(|_| MediaError::ThumbnailFailed)?,
            method,
        };
        // A stored animated thumbnail is always of the animated type (as in Synapse).
        let animated = t.media_type == ANIMATED_TYPE;
        let thumb = self
            .render(row, spec, t.media_type.clone(), animated)
            .await?;
        let (bytes, new) = self.store_thumbnail(thumb, spec).await?;
        let sha = row.sha256.as_deref().ok_or(MediaError::NotFound)?;
        let unused = self
            .db
            .replace_thumbnail(sha, t, &new.blob, now_ms())
            .await?;
        self.discard_keys(unused).await;
        Ok(served(t.media_type.clone(), bytes))
    }

    /// Pre-generates the configured sizes for the content of `row`, once per content. Images
    /// that cannot be thumbnailed are recorded as done, with no thumbnails.
    pub(super) async fn pregenerate(&self, row: &MediaRow) -> Result<(), MediaError> {
        let (Some(sha), Some(media_type)) = (row.sha256.as_deref(), row.media_type.as_deref())
        else {
            return Ok(());
        };
        if !is_thumbnailable(media_type) || self.thumbs.settings.sizes.is_empty() {
            return Ok(());
        }
        let _flight = self.flight(format!("{sha}/pregenerate")).await;
        if self.db.thumbnails(sha).await?.pregenerated {
            return Ok(());
        }
        let (sizes, limits) = (
            self.thumbs.settings.sizes.clone(),
            self.thumbs.settings.limits.clone(),
        );
        let media_type = media_type.to_owned();
        let made = self
            .with_source(row, move |source| {
                mxcd_imaging::pregenerate(&source, &media_type, &sizes, &limits)
            })
            .await?;
        let thumbs = made.unwrap_or_else(|e| {
            tracing::debug!(error = %e, "no thumbnails for this content");
            Vec::new()
        });
        let stored = futures_util::future::try_join_all(thumbs.into_iter().map(|t| {
            let spec = Spec {
                width: t.width,
                height: t.height,
                method: t.method,
            };
            self.store_thumbnail(t, spec)
        }))
        .await?;
        let new: Vec<NewThumbnail> = stored.into_iter().map(|(_, n)| n).collect();
        let unused = self.db.insert_thumbnails(sha, &new, true, now_ms()).await?;
        self.discard_keys(unused).await;
        Ok(())
    }

    /// Makes one thumbnail of the content of `row`; any failure is Synapse's "Failed to generate
    /// thumbnail.".
    async fn render(
        &self,
        row: &MediaRow,
        spec: Spec,
        desired_type: String,
        animated: bool,
    ) -> Result<Thumbnail, MediaError> {
        let media_type = row.media_type.clone().unwrap_or_default();
        let limits = self.thumbs.settings.limits.clone();
        self.with_source(row, move |source| {
            mxcd_imaging::generate(&source, &media_type, spec, &desired_type, animated, &limits)
        })
        .await?
        .map_err(|e| {
            tracing::debug!(error = %e, "thumbnail generation failed");
            MediaError::ThumbnailFailed
        })
    }

    /// How many times this instance has done image work, for tests and metrics.
    pub fn thumbnail_renders(&self) -> u64 {
        self.thumbs.renders.load(Ordering::Relaxed)
    }

    /// Reads the content of `row` and runs `work` on it on the blocking pool. The CPU permit is
    /// taken before reading, so it also bounds how many sources are in memory at once.
    async fn with_source<T: Send + 'static>(
        &self,
        row: &MediaRow,
        work: impl FnOnce(Bytes) -> T + Send + 'static,
    ) -> Result<T, MediaError> {
        let _permit = self
            .thumbs
            .cpu
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| MediaError::Internal(e.to_string()))?;
        let source = self.read_all(row).await?;
        self.thumbs.renders.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || work(source))
            .await
            .map_err(|e| MediaError::Internal(format!("thumbnailing task failed: {e}")))
    }

    /// The whole content of `row`, in memory (at most `max_upload_size`).
    async fn read_all(&self, row: &MediaRow) -> Result<Bytes, MediaError> {
        let chunks: Vec<Bytes> = self
            .open(row, None)
            .await?
            .try_collect()
            .await
            .map_err(|e: std::io::Error| MediaError::Blob(BlobError::Backend(e.to_string())))?;
        Ok(chunks.concat().into())
    }

    /// Writes a thumbnail's bytes to the store; the row is for the caller to record.
    async fn store_thumbnail(
        &self,
        t: Thumbnail,
        spec: Spec,
    ) -> Result<(Bytes, NewThumbnail), MediaError> {
        let bytes = Bytes::from(t.bytes);
        let body = futures_util::stream::once(std::future::ready(Ok(bytes.clone()))).boxed();
        let stored = self.store.put(body, u64::MAX).await?;
        let new = NewThumbnail {
            width: i64::from(spec.width),
            height: i64::from(spec.height),
            method: spec.method.as_str().to_owned(),
            media_type: t.media_type.to_owned(),
            blob: blob_row(&stored),
        };
        Ok((bytes, new))
    }

    async fn discard_keys(&self, keys: Vec<String>) {
        for key in keys.iter().filter_map(|k| BlobKey::parse(k)) {
            self.discard(&key).await;
        }
    }

    /// Waits for any other computation under `key` to finish, then holds it; the caller checks
    /// again whether the work is still to do.
    pub(super) async fn flight(&self, key: String) -> OwnedMutexGuard<()> {
        self.thumbs.flights.hold(&key).await
    }
}

fn candidate(t: &ThumbnailRow) -> Candidate {
    Candidate {
        width: u32::try_from(t.width).unwrap_or(0),
        height: u32::try_from(t.height).unwrap_or(0),
        method: t.method.parse().unwrap_or(Method::Scale),
        media_type: t.media_type.clone(),
        length: t.length.max(0) as u64,
    }
}

fn served(media_type: String, bytes: Bytes) -> Served {
    Served {
        media_type,
        length: bytes.len() as u64,
        body: futures_util::stream::once(std::future::ready(Ok(bytes))).boxed(),
    }
}
