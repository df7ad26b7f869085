//! Thumbnails: the authenticated `/_matrix/client/v1/media/thumbnail/…` and the legacy
//! `/_matrix/media/{v3,r0,v1}/thumbnail/…` (reference §4.7).

use std::sync::Arc;

use axum::{
    Router,
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::Response,
    routing::get,
};

use super::{
    download::{find, not_found, wait_timeout},
    headers::{content_disposition, content_type, etag_matches, header_value, set_file_headers},
};
use crate::{
    auth::AuthUserOrGuest,
    error::{ApiError, ApiResult},
    extract::{Path, QueryParams},
    services::media::{self, MediaError, ThumbnailRequest},
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    let r = Router::new().route(
        "/_matrix/client/v1/media/thumbnail/{server}/{id}",
        get(get_content_thumbnail),
    );
    ["v3", "r0", "v1"].iter().fold(r, |r, v| {
        r.route(
            &format!("/_matrix/media/{v}/thumbnail/{{server}}/{{id}}"),
            get(get_content_thumbnail_legacy),
        )
    })
}

/// # `GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}`
async fn get_content_thumbnail(
    _: AuthUserOrGuest,
    State(m): State<Arc<media::Service>>,
    Path((server, id)): Path<(String, String)>,
    q: QueryParams,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    serve(&m, (&server, &id), true, &q, &uri, &headers).await
}

/// # `GET /_matrix/media/v3/thumbnail/{serverName}/{mediaId}` (no access token)
async fn get_content_thumbnail_legacy(
    State(m): State<Arc<media::Service>>,
    Path((server, id)): Path<(String, String)>,
    q: QueryParams,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    serve(&m, (&server, &id), false, &q, &uri, &headers).await
}

/// Synapse's query parsing, in its order: `width`, `height`, `method`, `animated`.
pub(super) fn thumbnail_request(q: &QueryParams) -> ApiResult<ThumbnailRequest> {
    // Sizes past u32 cannot be met anyway; they select the largest thumbnail, or fail to
    // generate, as in Synapse.
    let size = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
    Ok(ThumbnailRequest {
        width: size(q.required_int("width")?),
        height: size(q.required_int("height")?),
        method: q.get("method").unwrap_or("scale").to_owned(),
        animated: q.bool("animated")?.unwrap_or(false),
    })
}

async fn serve(
    m: &media::Service,
    (server, id): (&str, &str),
    authenticated: bool,
    q: &QueryParams,
    uri: &Uri,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let req = thumbnail_request(q)?;
    let wait = wait_timeout(q)?;
    let allow_remote = q.bool("allow_remote")?.unwrap_or(true);
    let row = find(m, server, id, authenticated, allow_remote, wait, uri).await?;
    let mut res = Response::new(Body::empty());
    set_file_headers(res.headers_mut());
    if etag_matches(headers) {
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(res);
    }
    let thumb = m.thumbnail(&row, &req).await.map_err(|e| match e {
        MediaError::NotFound => not_found(uri),
        MediaError::NoThumbnails => no_thumbnails(uri),
        other => other.into(),
    })?;
    m.record_access(server, id);
    let ctype = content_type(Some(&thumb.media_type));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, header_value(&ctype));
    h.insert(
        header::CONTENT_DISPOSITION,
        header_value(&content_disposition(&ctype, None)),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(thumb.length));
    *res.body_mut() = Body::from_stream(thumb.body);
    Ok(res)
}

/// Synapse's answer when the media has no thumbnails and none are made on demand.
pub(super) fn no_thumbnails(uri: &Uri) -> ApiError {
    ApiError::unknown(
        StatusCode::BAD_REQUEST,
        format!(
            "Cannot find any thumbnails for the requested media ('{}'). This might mean the media \
             is not a supported_media_format=({}) or that thumbnailing failed for some other \
             reason. (Dynamic thumbnails are disabled on this server.)",
            uri.path(),
            mxcd_imaging::THUMBNAILABLE_TYPES.join(", ")
        ),
    )
}
