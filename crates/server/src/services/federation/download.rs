//! Fetching a remote file (reference §4.8): the federation v1 endpoint, or the legacy ones,
//! with Synapse's fallback rule, `Location` parts, redirects and the size cap.

use bytes::Bytes;
use futures_util::{StreamExt as _, stream::BoxStream};
use reqwest::{Response, StatusCode, header};

use super::{
    Client, FederationError,
    client::{MAX_SMALL_BODY, read_small, status_error, unreachable},
    multipart::{self, FilePart},
};

/// Which endpoint a media download starts with (reference §4.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaSource {
    /// Client v1 requests: `/_matrix/federation/v1/media/download`, then legacy v3.
    Federation,
    /// Legacy client requests: `/_matrix/media/v3/download`, then r0.
    Legacy,
}

/// A remote file on its way in.
pub struct Fetched {
    pub media_type: Option<String>,
    pub content_disposition: Option<String>,
    /// The file's bytes; errors carry a [`FederationError`].
    pub body: BoxStream<'static, Result<Bytes, std::io::Error>>,
}

/// How long the remote may wait for pending media (Synapse sends 20 s).
const REMOTE_TIMEOUT_MS: u64 = 20_000;

impl Client {
    /// Downloads `mxc://origin/media_id` (reference §4.8): the first endpoint of `source`,
    /// then the legacy one when the remote does not know it; at most `max_size` bytes.
    pub async fn download(
        &self,
        origin: &str,
        media_id: &str,
        source: MediaSource,
        max_size: u64,
    ) -> Result<Fetched, FederationError> {
        let id = urlencode(media_id);
        let v3 = format!(
            "/_matrix/media/v3/download/{}/{id}?allow_remote=false&timeout_ms={REMOTE_TIMEOUT_MS}\
             &allow_redirect=true",
            urlencode(origin)
        );
        let attempts = match source {
            MediaSource::Federation => [
                format!(
                    "/_matrix/federation/v1/media/download/{id}?timeout_ms={REMOTE_TIMEOUT_MS}"
                ),
                v3,
            ],
            MediaSource::Legacy => [
                v3,
                format!(
                    "/_matrix/media/r0/download/{}/{id}?allow_remote=false\
                     &timeout_ms={REMOTE_TIMEOUT_MS}",
                    urlencode(origin)
                ),
            ],
        };
        let multipart = source == MediaSource::Federation;
        let res = self.get(origin, &attempts[0], true).await?;
        match self.accept(res, origin, multipart, max_size).await? {
            Some(f) => Ok(f),
            None => {
                tracing::debug!(origin, "remote does not know {}; falling back", attempts[0]);
                let res = self.get(origin, &attempts[1], true).await?;
                self.accept(res, origin, false, max_size)
                    .await?
                    .ok_or_else(|| FederationError::Status {
                        status: 404,
                        errcode: Some("M_UNRECOGNIZED".into()),
                        error: None,
                    })
            }
        }
    }

    /// A download answer: the file, `None` when the remote does not know the endpoint, or an
    /// error.
    async fn accept(
        &self,
        res: Response,
        origin: &str,
        multipart: bool,
        max_size: u64,
    ) -> Result<Option<Fetched>, FederationError> {
        let status = res.status();
        if matches!(
            status,
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::BAD_REQUEST
        ) {
            let body = read_small(res, origin).await?;
            if is_unknown_endpoint(status, &body) {
                return Ok(None);
            }
            return Err(status_error(status, &body));
        }
        let res = if status.is_redirection() && !multipart {
            let location = res
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| FederationError::Malformed("redirect without Location".into()))?;
            let url = res
                .url()
                .join(location)
                .map_err(|e| FederationError::Malformed(format!("bad redirect: {e}")))?;
            self.get_url(url.as_str()).await?
        } else {
            res
        };
        if !res.status().is_success() {
            let status = res.status();
            let body = read_small(res, origin).await?;
            return Err(status_error(status, &body));
        }
        if res.content_length().is_some_and(|n| n > max_size) {
            return Err(FederationError::TooLarge(max_size));
        }
        let ctype = header_string(&res, header::CONTENT_TYPE);
        if !multipart {
            return Ok(Some(Fetched {
                media_type: ctype,
                content_disposition: header_string(&res, header::CONTENT_DISPOSITION),
                body: capped(res, origin, max_size),
            }));
        }
        let boundary = ctype
            .as_deref()
            .and_then(multipart::boundary_of)
            .ok_or_else(|| {
                FederationError::Malformed(
                "Remote response is malformed: expected Content-Type of multipart/mixed with a \
                 boundary present."
                    .into(),
            )
            })?;
        // The framing around the file adds at most the JSON part and a few headers.
        let body = capped(
            res,
            origin,
            max_size.saturating_add(2 * MAX_SMALL_BODY as u64),
        );
        match multipart::read(body, &boundary).await? {
            FilePart::Inline {
                media_type,
                disposition,
                body,
            } => Ok(Some(Fetched {
                media_type,
                content_disposition: disposition,
                body,
            })),
            FilePart::Location(url) => {
                let res = self.get_url(&url).await?;
                if !res.status().is_success() {
                    return Err(status_error(res.status(), b""));
                }
                if res.content_length().is_some_and(|n| n > max_size) {
                    return Err(FederationError::TooLarge(max_size));
                }
                Ok(Some(Fetched {
                    media_type: header_string(&res, header::CONTENT_TYPE),
                    content_disposition: header_string(&res, header::CONTENT_DISPOSITION),
                    body: capped(res, origin, max_size),
                }))
            }
        }
    }
}

/// The body of a response as a stream that fails once it passes `max` bytes.
fn capped(
    res: Response,
    origin: &str,
    max: u64,
) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
    let origin = origin.to_owned();
    let mut seen: u64 = 0;
    res.bytes_stream()
        .map(move |chunk| {
            let chunk = chunk.map_err(|e| std::io::Error::other(unreachable(&origin, &e)))?;
            seen += chunk.len() as u64;
            if seen > max {
                return Err(std::io::Error::other(FederationError::TooLarge(max)));
            }
            Ok(chunk)
        })
        .boxed()
}

fn header_string(res: &Response, name: header::HeaderName) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Synapse's "unknown endpoint" rule: 404 or 405 with an empty, non-JSON or `M_UNRECOGNIZED`
/// body, or 400 with `M_UNRECOGNIZED`.
pub(super) fn is_unknown_endpoint(status: StatusCode, body: &[u8]) -> bool {
    let errcode = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .map(|v| v.get("errcode").and_then(|c| c.as_str()).map(str::to_owned));
    let unrecognized = matches!(&errcode, Some(Some(c)) if c == "M_UNRECOGNIZED");
    match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
            body.is_empty() || errcode.is_none() || unrecognized
        }
        StatusCode::BAD_REQUEST => unrecognized,
        _ => false,
    }
}

/// Percent-encodes a path segment.
fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_endpoint_rule() {
        let nf = StatusCode::NOT_FOUND;
        assert!(is_unknown_endpoint(nf, b""));
        assert!(is_unknown_endpoint(nf, b"<html>nope</html>"));
        assert!(is_unknown_endpoint(nf, br#"{"errcode":"M_UNRECOGNIZED"}"#));
        assert!(!is_unknown_endpoint(nf, br#"{"errcode":"M_NOT_FOUND"}"#));
        assert!(is_unknown_endpoint(StatusCode::METHOD_NOT_ALLOWED, b""));
        assert!(is_unknown_endpoint(
            StatusCode::BAD_REQUEST,
            br#"{"errcode":"M_UNRECOGNIZED"}"#
        ));
        assert!(!is_unknown_endpoint(StatusCode::BAD_REQUEST, b""));
        assert!(!is_unknown_endpoint(StatusCode::BAD_GATEWAY, b""));
    }
}
