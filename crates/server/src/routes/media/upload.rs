//! `POST /_matrix/media/{v3,r0,v1}/upload`: a streamed, capped upload.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode, header},
    routing::post,
};
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    extract::QueryParams,
    services::media::{self, Upload},
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    ["v3", "r0", "v1"].iter().fold(Router::new(), |r, v| {
        r.route(
            &format!("/_matrix/media/{v}/upload"),
            post(create_content).layer(DefaultBodyLimit::disable()),
        )
    })
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
    let upload = Upload {
        user_id: r.user_id,
        media_type,
        upload_name: q
            .get("filename")
            .filter(|f| !f.is_empty())
            .map(str::to_owned),
    };
    let stream = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .boxed();
    let content_uri = media.upload(upload, stream).await?;
    Ok(Json(json!({ "content_uri": content_uri })))
}
