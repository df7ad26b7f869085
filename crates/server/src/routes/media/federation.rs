//! Serving local media to other servers (reference §4.9):
//! `/_matrix/federation/v1/media/{download,thumbnail}/{mediaId}`, X-Matrix signed, answered
//! with a `multipart/mixed` body: an empty JSON object, then the file.

use std::sync::Arc;

use axum::{
    Router,
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::Response,
    routing::get,
};
use futures_util::{StreamExt as _, stream};
use mxcd_blob::ByteStream;

use super::{
    download::{not_found, wait_timeout},
    headers::{content_disposition, content_type, etag_matches, header_value, set_file_headers},
    thumbnail::{no_thumbnails, thumbnail_request},
};
use crate::{
    error::ApiResult,
    extract::{Path, QueryParams},
    routes::federation::FederationOrigin,
    services::{
        federation::multipart,
        media::{self, MediaError},
    },
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/_matrix/federation/v1/media/download/{id}",
            get(get_content),
        )
        .route(
            "/_matrix/federation/v1/media/thumbnail/{id}",
            get(get_content_thumbnail),
        )
}

/// # `GET /_matrix/federation/v1/media/download/{mediaId}`
async fn get_content(
    _: FederationOrigin,
    State(m): State<Arc<media::Service>>,
    Path(id): Path<String>,
    q: QueryParams,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let row = find(&m, &id, &q, &uri).await?;
    if etag_matches(&headers) {
        return Ok(not_modified());
    }
    let stored_type = row
        .media_type
        .clone()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "application/octet-stream".into());
    let disposition = content_disposition(
        &content_type(Some(&stored_type)),
        row.upload_name.as_deref(),
    );
    let length = row.media_length.unwrap_or(0).max(0) as u64;
    let body = m.open(&row, None).await?;
    m.record_access(m.server_name(), &id);
    Ok(multipart_response(&stored_type, &disposition, length, body))
}

/// # `GET /_matrix/federation/v1/media/thumbnail/{mediaId}`
async fn get_content_thumbnail(
    _: FederationOrigin,
    State(m): State<Arc<media::Service>>,
    Path(id): Path<String>,
    q: QueryParams,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let req = thumbnail_request(&q)?;
    let row = find(&m, &id, &q, &uri).await?;
    if etag_matches(&headers) {
        return Ok(not_modified());
    }
    let thumb = m.thumbnail(&row, &req).await.map_err(|e| match e {
        MediaError::NotFound => not_found(&uri),
        MediaError::NoThumbnails => no_thumbnails(&uri),
        other => other.into(),
    })?;
    m.record_access(m.server_name(), &id);
    let disposition = content_disposition(&content_type(Some(&thumb.media_type)), None);
    Ok(multipart_response(
        &thumb.media_type,
        &disposition,
        thumb.length,
        thumb.body,
    ))
}

/// Local media only; the `authenticated` flag does not restrict federation.
async fn find(
    m: &media::Service,
    id: &str,
    q: &QueryParams,
    uri: &Uri,
) -> ApiResult<mxcd_db::MediaRow> {
    let wait = wait_timeout(q)?;
    m.find_waiting(m.server_name(), id, true, wait)
        .await
        .map_err(|e| match e {
            MediaError::NotFound => not_found(uri),
            other => other.into(),
        })
}

fn not_modified() -> Response {
    let mut res = Response::new(Body::empty());
    set_file_headers(res.headers_mut());
    *res.status_mut() = StatusCode::NOT_MODIFIED;
    res
}

/// The `multipart/mixed` answer, streamed: framing, file, closing delimiter.
fn multipart_response(
    media_type: &str,
    disposition: &str,
    length: u64,
    body: ByteStream,
) -> Response {
    let boundary = multipart::new_boundary();
    let f = multipart::framing(&boundary, media_type, disposition, length);
    let stream = stream::once(std::future::ready(Ok(f.head)))
        .chain(body)
        .chain(stream::once(std::future::ready(Ok(f.tail))));
    let mut res = Response::new(Body::from_stream(stream));
    let h = res.headers_mut();
    set_file_headers(h);
    h.insert(
        header::CONTENT_TYPE,
        header_value(&format!("multipart/mixed; boundary={boundary}")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(f.content_length));
    res
}
