//! Other servers' media (reference §4.8): fetched over federation when a local user asks for
//! it, once however many ask at the same time, streamed into the deduplicating store under the
//! size cap, recorded in `media` with the remote origin, thumbnailed here, and served from the
//! cache afterwards.

use std::{collections::BTreeSet, str::FromStr as _, sync::Arc};

use mxcd_blob::BlobError;
use mxcd_db::{BlobOutcome, ErrorKind, MediaRow, NewMedia};
use mxcd_types::time::now_ms;
use ruma::http_headers::ContentDisposition;

use super::{MediaError, Service, blob_row};
use crate::services::federation::{self, FederationError, MediaSource};

/// Who may be fetched from, and how.
#[derive(Default)]
pub struct RemotePolicy {
    /// The federation client; without one, remote media is never fetched.
    pub client: Option<Arc<federation::Client>>,
    /// `prevent_media_downloads_from`: never served to local users.
    pub prevent_downloads_from: BTreeSet<String>,
    /// `federation_domain_whitelist`: when set, only these servers are fetched from.
    pub domain_whitelist: Option<BTreeSet<String>>,
}

/// How a remote media request came in.
#[derive(Clone, Copy, Debug)]
pub struct RemoteRequest {
    /// Through the authenticated client v1 endpoints (else the legacy ones).
    pub authenticated: bool,
    /// `allow_remote` of the legacy endpoints: `false` serves only what is cached.
    pub allow_remote: bool,
}

impl Service {
    pub fn with_remote(mut self, policy: RemotePolicy) -> Self {
        self.remote = policy;
        self
    }

    /// How many remote fetches this instance started, for tests and metrics.
    pub fn remote_fetches(&self) -> u64 {
        self.remote_fetches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The cached copy of `mxc://origin/media_id`, fetched first if it is not cached yet.
    #[tracing::instrument(skip(self), fields(origin, media_id))]
    pub async fn find_remote(
        &self,
        origin: &str,
        media_id: &str,
        req: RemoteRequest,
    ) -> Result<MediaRow, MediaError> {
        if let Some(w) = &self.remote.domain_whitelist
            && !w.contains(origin)
        {
            return Err(MediaError::FederationDenied(origin.to_owned()));
        }
        if self.remote.prevent_downloads_from.contains(origin) {
            return Err(MediaError::NotFound);
        }
        if let Some(row) = self.cached(origin, media_id, req.authenticated).await? {
            return Ok(row);
        }
        // Media fetched now is stored authenticated (with `enable_authenticated_media`), which
        // the legacy endpoints do not serve: Synapse answers 404 without fetching.
        let Some(client) = self.remote.client.clone() else {
            return Err(MediaError::NotFound);
        };
        if !req.allow_remote || (!req.authenticated && self.authenticated_media) {
            return Err(MediaError::NotFound);
        }
        let _flight = self.flight(format!("remote/{origin}/{media_id}")).await;
        // Whoever held the flight before us may have fetched it.
        if let Some(row) = self.cached(origin, media_id, req.authenticated).await? {
            return Ok(row);
        }
        let source = if req.authenticated {
            MediaSource::Federation
        } else {
            MediaSource::Legacy
        };
        self.fetch(&client, origin, media_id, source).await?;
        self.find(origin, media_id, req.authenticated).await
    }

    /// The cached row, if there is one with content; `NotFound` if it may not be served.
    async fn cached(
        &self,
        origin: &str,
        media_id: &str,
        authenticated_request: bool,
    ) -> Result<Option<MediaRow>, MediaError> {
        match self.db.get_media_for_download(origin, media_id).await? {
            Some(row) if row.sha256.is_some() => {
                if row.quarantined_by.is_some() || (row.authenticated && !authenticated_request) {
                    return Err(MediaError::NotFound);
                }
                Ok(Some(row))
            }
            _ => Ok(None),
        }
    }

    /// Downloads the media into the store and records it; nothing is kept when it fails.
    async fn fetch(
        &self,
        client: &federation::Client,
        origin: &str,
        media_id: &str,
        source: MediaSource,
    ) -> Result<(), MediaError> {
        self.remote_fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let fetched = client
            .download(origin, media_id, source, self.max_upload_size)
            .await
            .map_err(|e| remote_error(origin, media_id, e))?;
        let stored = match self.store.put(fetched.body, self.max_upload_size).await {
            Ok(s) => s,
            Err(BlobError::TooLarge { limit }) => return Err(MediaError::RemoteTooLarge(limit)),
            Err(BlobError::Body(io)) => {
                let e = match io.downcast::<FederationError>() {
                    Ok(fe) => fe,
                    Err(io) => FederationError::Unreachable {
                        destination: origin.to_owned(),
                        reason: io.to_string(),
                    },
                };
                return Err(remote_error(origin, media_id, e));
            }
            Err(e) => return Err(e.into()),
        };
        let now = now_ms();
        let media = NewMedia {
            origin: origin.to_owned(),
            media_id: media_id.to_owned(),
            user_id: None,
            media_type: fetched
                .media_type
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            upload_name: fetched
                .content_disposition
                .as_deref()
                .and_then(|d| ContentDisposition::from_str(d).ok())
                .and_then(|d| d.filename),
            created_ts: now,
            authenticated: self.authenticated_media,
        };
        let blob = blob_row(&stored);
        // Hash quarantine applies here: content whose hash was quarantined is recorded
        // quarantined by the same insert that records an upload, and `find` then answers 404.
        match self.db.insert_media(&media, &blob).await {
            Ok(BlobOutcome::Stored) => {}
            Ok(BlobOutcome::Duplicate { .. }) => self.discard(&stored.key).await,
            // Another instance recorded it meanwhile: keep theirs.
            Err(e) if e.kind() == ErrorKind::Conflict => {
                self.discard(&stored.key).await;
                return Ok(());
            }
            Err(e) => {
                self.discard(&stored.key).await;
                return Err(e.into());
            }
        }
        // A remote row is accessed when it is cached (Synapse's rule, used by purge_media_cache).
        self.db
            .update_last_access(&[(origin.to_owned(), media_id.to_owned(), now)])
            .await?;
        self.thumbnail_new_media(origin, media_id, &media.media_type)
            .await;
        Ok(())
    }
}

/// Synapse's answers to a failed fetch: the remote's 404 as it was, too large as 502
/// `M_TOO_LARGE`, denied federation as 403, anything else 502 "Failed to fetch remote media".
fn remote_error(origin: &str, media_id: &str, e: FederationError) -> MediaError {
    tracing::warn!(origin, media_id, error = %e, "failed to fetch remote media");
    match e {
        FederationError::Status {
            status: 404,
            errcode,
            error,
        } => MediaError::RemoteNotFound { errcode, error },
        FederationError::TooLarge(limit) => MediaError::RemoteTooLarge(limit),
        FederationError::NotWhitelisted(o) => MediaError::FederationDenied(o),
        _ => MediaError::RemoteFailed,
    }
}
