//! Uploads: `POST /_matrix/media/{v3,r0,v1}/upload` (streamed, capped), and the asynchronous
//! pair `POST /_matrix/media/v1/create` + `PUT /_matrix/media/v3/upload/{serverName}/{mediaId}`.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode, header},
    routing::{post, put},
};
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    extract::Path,
    extract::QueryParams,
    services::media::{self, Upload},
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    let r = Router::new()
        .route("/_matrix/media/v1/create", post(create_mxc_uri))
        .route(
            "/_matrix/media/v3/upload/{server}/{id}",
            put(create_content_async).layer(DefaultBodyLimit::disable()),
        );
    ["v3", "r0", "v1"].iter().fold(r, |r, v| {
        r.route(
            &format!("/_matrix/media/{v}/upload"),
            post(create_content).layer(DefaultBodyLimit::disable()),
        )
    })
}

/// Synapse's `Content-Length` checks, then the upload's media type and file name.
fn upload_meta(
    media: &media::Service,
    user_id: String,
    q: &QueryParams,
    headers: &HeaderMap,
) -> ApiResult<Upload> {
    if let Some(len) = headers.get(header::CONTENT_LENGTH) {
        let len: u64 = len
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                ApiError::unknown(StatusCode::BAD_REQUEST, "Content-Length value is invalid")
            })?;
        if len > media.max_upload_size() {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "M_TOO_LARGE",
                "Upload request body is too large",
            ));
        }
    }
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let upload_name = q
        .get("filename")
        .filter(|f| !f.is_empty())
        .map(str::to_owned);
    Ok(Upload {
        user_id,
        media_type,
        upload_name,
    })
}

fn stream(body: Body) -> mxcd_blob::ByteStream {
    body.into_data_stream()
        .map_err(std::io::Error::other)
        .boxed()
}

/// # `POST /_matrix/media/v3/upload`
///
/// The body streams into storage and is cut off at `max_upload_size` (413 `M_TOO_LARGE`), so a
/// chunked body with no `Content-Length` is accepted too (Synapse requires the header).
async fn create_content(
    AuthUser(r): AuthUser,
    State(media): State<Arc<media::Service>>,
    q: QueryParams,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let upload = upload_meta(&media, r.user_id, &q, &headers)?;
    let content_uri = media.upload(upload, stream(body)).await?;
    Ok(Json(json!({ "content_uri": content_uri })))
}

/// # `POST /_matrix/media/v1/create`
async fn create_mxc_uri(
    AuthUser(r): AuthUser,
    State(media): State<Arc<media::Service>>,
) -> ApiResult<Json<Value>> {
    let (content_uri, unused_expires_at) = media.create_pending(&r.user_id).await?;
    Ok(Json(
        json!({ "content_uri": content_uri, "unused_expires_at": unused_expires_at }),
    ))
}

/// # `PUT /_matrix/media/v3/upload/{serverName}/{mediaId}`
async fn create_content_async(
    AuthUser(r): AuthUser,
    State(media): State<Arc<media::Service>>,
    Path((server, id)): Path<(String, String)>,
    q: QueryParams,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let claim = media.claim_pending(&server, &id, &r.user_id).await?;
    let upload = upload_meta(&media, r.user_id, &q, &headers)?;
    media.fill_pending(claim, upload, stream(body)).await?;
    Ok(Json(json!({})))
}
