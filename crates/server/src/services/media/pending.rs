//! Asynchronous uploads: media IDs created ahead of their content, filled by `PUT`, and
//! downloads that wait for content to arrive.

use std::time::Duration;

use mxcd_blob::ByteStream;
use mxcd_db::{BlobOutcome, ErrorKind, MediaRow};
use mxcd_types::time::now_ms;

use super::{MediaError, Service, Upload, blob_row, new_media_id};

/// How often a download polls for pending content (Synapse: 500 ms).
const POLL: Duration = Duration::from_millis(500);

impl Service {
    /// # `POST /_matrix/media/v1/create`: a media ID without content, valid for a while.
    /// Returns the MXC URI and when the ID expires unused.
    pub async fn create_pending(&self, user_id: &str) -> Result<(String, i64), MediaError> {
        if let Some(limiter) = &self.create_limiter {
            limiter
                .check(user_id)
                .map_err(|retry_after_ms| MediaError::LimitExceeded { retry_after_ms })?;
        }
        let now = now_ms();
        let (count, oldest) = self.db.pending_media(user_id, now).await?;
        if count >= self.pending.max_pending {
            let retry_after_ms = oldest.map_or(0, |t| (t - now).max(0));
            return Err(MediaError::LimitExceeded { retry_after_ms });
        }
        let media_id = new_media_id();
        let expires = now + self.pending.expire_after_ms;
        self.db
            .create_pending_media(
                &self.server_name,
                &media_id,
                user_id,
                now,
                expires,
                self.authenticated_media,
            )
            .await?;
        Ok((format!("mxc://{}/{media_id}", self.server_name), expires))
    }

    /// First half of `PUT /_matrix/media/v3/upload/{serverName}/{mediaId}`: Synapse's checks, in
    /// its order, before the body is looked at. The returned claim marks the upload in progress.
    pub async fn claim_pending(
        &self,
        server_name: &str,
        media_id: &str,
        user_id: &str,
    ) -> Result<Claim<'_>, MediaError> {
        if server_name != self.server_name {
            return Err(MediaError::NonLocal);
        }
        let claim = self.claim(media_id)?;
        let row = self
            .db
            .get_media(server_name, media_id)
            .await?
            .ok_or(MediaError::UnknownMediaId)?;
        check_fillable(&row, user_id, now_ms())?;
        Ok(claim)
    }

    /// Second half: streams the content in and attaches it to the claimed media ID. If another
    /// upload (on any instance) filled it meanwhile, this one is dropped with `AlreadyUploaded`.
    pub async fn fill_pending(
        &self,
        claim: Claim<'_>,
        up: Upload,
        body: ByteStream,
    ) -> Result<(), MediaError> {
        let stored = self.store.put(body, self.max_upload_size).await?;
        self.check_quotas(&up.user_id, &stored).await?;
        let blob = blob_row(&stored);
        let filled = self
            .db
            .fill_pending_media(
                &self.server_name,
                &claim.media_id,
                &up.media_type,
                up.upload_name.as_deref(),
                &blob,
                now_ms(),
            )
            .await;
        match filled {
            Ok(BlobOutcome::Stored) => {
                self.thumbnail_new_media(&self.server_name, &claim.media_id, &up.media_type)
                    .await;
                Ok(())
            }
            Ok(BlobOutcome::Duplicate { existing }) => {
                self.discard(&stored.key).await;
                // Another upload may still be syncing the content this row now shares.
                if let Err(e) = self.ensure_durable(&existing).await {
                    self.delete_local_media(&claim.media_id).await?;
                    return Err(e);
                }
                self.thumbnail_new_media(&self.server_name, &claim.media_id, &up.media_type)
                    .await;
                Ok(())
            }
            Err(e) => {
                self.discard(&stored.key).await;
                Err(if e.kind() == ErrorKind::Conflict {
                    MediaError::AlreadyUploaded
                } else {
                    e.into()
                })
            }
        }
    }

    /// Like [`Service::find`], but waits up to `timeout` for pending content to arrive: it
    /// looks every [`POLL`], and a last time when `timeout` is up.
    pub async fn find_waiting(
        &self,
        origin: &str,
        media_id: &str,
        authenticated_request: bool,
        timeout: Duration,
    ) -> Result<MediaRow, MediaError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.find(origin, media_id, authenticated_request).await {
                Err(MediaError::NotYetUploaded) => {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    if left.is_zero() {
                        return Err(MediaError::NotYetUploaded);
                    }
                    tokio::time::sleep(left.min(POLL)).await;
                }
                other => return other,
            }
        }
    }

    /// Marks `media_id` as being uploaded by this instance until the guard drops.
    fn claim(&self, media_id: &str) -> Result<Claim<'_>, MediaError> {
        let mut set = self.uploading.lock().unwrap_or_else(|p| p.into_inner());
        if !set.insert(media_id.to_owned()) {
            return Err(MediaError::UploadInProgress);
        }
        Ok(Claim {
            svc: self,
            media_id: media_id.to_owned(),
        })
    }
}

/// Synapse's checks before content is accepted for a pending ID.
fn check_fillable(row: &MediaRow, user_id: &str, now: i64) -> Result<(), MediaError> {
    if row.user_id.as_deref() != Some(user_id) {
        return Err(MediaError::NotCreator);
    }
    if row.sha256.is_some() {
        return Err(MediaError::AlreadyUploaded);
    }
    if row.unused_expires_at.is_some_and(|t| t <= now) {
        return Err(MediaError::Expired);
    }
    Ok(())
}

/// A media ID this instance is receiving content for; released on drop.
pub struct Claim<'a> {
    svc: &'a Service,
    media_id: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.svc
            .uploading
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.media_id);
    }
}
