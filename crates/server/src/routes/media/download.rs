//! Downloads: the authenticated `/_matrix/client/v1/media/download/…` and the legacy
//! `/_matrix/media/{v3,r0,v1}/download/…`, with Synapse's headers and HTTP ranges.

use std::sync::Arc;

use axum::{
    Router,
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;

use super::headers::{
    RangeRequest, content_disposition, content_type, etag_matches, header_value, parse_range,
    set_download_headers,
};
use crate::{
    auth::AuthUserOrGuest,
    error::{ApiError, ApiResult},
    extract::Path,
    extract::QueryParams,
    services::media::{self, MediaError},
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    let mut r = Router::new()
        .route(
            "/_matrix/client/v1/media/download/{server}/{id}",
            get(get_content),
        )
        .route(
            "/_matrix/client/v1/media/download/{server}/{id}/{filename}",
            get(get_content),
        )
        // An empty file name, as Synapse's pattern allows (matrix-nio sends a trailing slash).
        .route(
            "/_matrix/client/v1/media/download/{server}/{id}/",
            get(get_content),
        );
    for v in ["v3", "r0", "v1"] {
        r = r
            .route(
                &format!("/_matrix/media/{v}/download/{{server}}/{{id}}"),
                get(get_content_legacy),
            )
            .route(
                &format!("/_matrix/media/{v}/download/{{server}}/{{id}}/"),
                get(get_content_legacy),
            )
            .route(
                &format!("/_matrix/media/{v}/download/{{server}}/{{id}}/{{filename}}"),
                get(get_content_legacy),
            );
    }
    r
}

/// The path of a download: `{serverName}/{mediaId}[/{fileName}]`.
#[derive(Deserialize)]
struct DownloadPath {
    server: String,
    id: String,
    filename: Option<String>,
}

/// Everything a download needs from the request besides its path.
struct Request {
    q: QueryParams,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    /// An admin's `admin_unsafely_bypass_quarantine=true` (client v1 only).
    bypass_quarantine: bool,
}

/// # `GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}]`
async fn get_content(
    AuthUserOrGuest(requester): AuthUserOrGuest,
    State(m): State<Arc<media::Service>>,
    Path(p): Path<DownloadPath>,
    q: QueryParams,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // Only this exact value asks for the bypass; a non-admin asking is refused before any
    // remote fetch (reference §4.6).
    let bypass_quarantine = q.get("admin_unsafely_bypass_quarantine") == Some("true");
    if bypass_quarantine && !requester.admin {
        return Err(ApiError::unknown(
            StatusCode::BAD_REQUEST,
            "Must be a server admin to bypass quarantine",
        ));
    }
    serve(
        &m,
        &p,
        true,
        Request {
            q,
            method,
            uri,
            headers,
            bypass_quarantine,
        },
    )
    .await
}

/// # `GET /_matrix/media/v3/download/{serverName}/{mediaId}[/{fileName}]` (no access token)
async fn get_content_legacy(
    State(m): State<Arc<media::Service>>,
    Path(p): Path<DownloadPath>,
    q: QueryParams,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    serve(
        &m,
        &p,
        false,
        Request {
            q,
            method,
            uri,
            headers,
            bypass_quarantine: false,
        },
    )
    .await
}

async fn serve(
    m: &media::Service,
    p: &DownloadPath,
    authenticated: bool,
    req: Request,
) -> ApiResult<Response> {
    let Request {
        q,
        method,
        uri,
        headers,
        bypass_quarantine,
    } = req;
    let uri = &uri;
    let wait = wait_timeout(&q)?;
    let allow_remote = q.bool("allow_remote")?.unwrap_or(true);
    let stored = match bypass_quarantine {
        true => m.find_bypassing_quarantine(&p.server, &p.id).await?,
        false => None,
    };
    let row = match stored {
        Some(row) => row,
        None => find(m, &p.server, &p.id, authenticated, allow_remote, wait, uri).await?,
    };
    let mut res = Response::new(Body::empty());
    set_download_headers(res.headers_mut());
    if etag_matches(&headers) {
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(res);
    }
    let size = row.media_length.unwrap_or(0).max(0) as u64;
    let ctype = content_type(row.media_type.as_deref());
    let disposition =
        content_disposition(&ctype, p.filename.as_deref().or(row.upload_name.as_deref()));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, header_value(&ctype));
    h.insert(header::CONTENT_DISPOSITION, header_value(&disposition));
    let range = parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        size,
    );
    let (status, span) = match range {
        RangeRequest::Full => (StatusCode::OK, None),
        RangeRequest::Part(s, e) => (StatusCode::PARTIAL_CONTENT, Some(s..e)),
        RangeRequest::Unsatisfiable => {
            let mut err = ApiError::from(MediaError::RangeNotSatisfiable { size }).into_response();
            err.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{size}")),
            );
            set_download_headers(err.headers_mut());
            return Ok(err);
        }
    };
    let length = span.as_ref().map_or(size, |r| r.end - r.start);
    if let Some(r) = &span {
        res.headers_mut().insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {}-{}/{size}", r.start, r.end - 1)),
        );
    }
    res.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    *res.status_mut() = status;
    m.record_access(&p.server, &p.id);
    if method != Method::HEAD {
        *res.body_mut() = Body::from_stream(m.open(&row, span).await?);
    }
    Ok(res)
}

/// Default and largest wait for pending media (Synapse: 20 s, at most 60 s).
const DEFAULT_TIMEOUT_MS: i64 = 20_000;
const MAX_TIMEOUT_MS: i64 = 60_000;

/// `timeout_ms`: how long to wait for pending media.
pub(super) fn wait_timeout(q: &QueryParams) -> ApiResult<std::time::Duration> {
    let ms = q
        .int("timeout_ms")?
        .unwrap_or(DEFAULT_TIMEOUT_MS)
        .min(MAX_TIMEOUT_MS);
    Ok(std::time::Duration::from_millis(ms as u64))
}

/// Synapse's 404 for media it cannot serve: `Not found '<path>'`.
pub(super) fn not_found(uri: &Uri) -> ApiError {
    ApiError::not_found(format!("Not found '{}'", uri.path()))
}

/// The media item a download or thumbnail request names, after every check that makes it 404
/// (waiting up to `wait` for pending content). Other servers' media is fetched over federation
/// unless it is cached (or `allow_remote=false`).
pub(super) async fn find(
    m: &media::Service,
    server: &str,
    id: &str,
    authenticated: bool,
    allow_remote: bool,
    wait: std::time::Duration,
    uri: &Uri,
) -> ApiResult<mxcd_db::MediaRow> {
    let found = if server == m.server_name() {
        m.find_waiting(server, id, authenticated, wait).await
    } else if ruma::ServerName::parse(server).is_err() {
        Err(MediaError::NotFound)
    } else {
        let req = media::RemoteRequest {
            authenticated,
            allow_remote,
        };
        m.find_remote(server, id, req).await
    };
    found.map_err(|e| match e {
        MediaError::NotFound => not_found(uri),
        other => other.into(),
    })
}
