//! Deleting media: one local item, local media by age and size, and the remote media cache.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{delete, post},
};
use mxcd_db::AgeCriteria;
use serde_json::{Value, json};

use crate::{
    auth::AdminUser,
    error::{ApiError, ApiResult},
    extract::{Path, QueryParams},
    services::media,
};

pub(super) fn router() -> Router<crate::state::AppState> {
    Router::new()
        .route(
            "/_synapse/admin/v1/media/{server_name}/{media_id}",
            delete(delete_media),
        )
        .route("/_synapse/admin/v1/media/delete", post(delete_old_media))
        // Registered before (and so preferred to) `…/{media_id}`, as in Synapse: other
        // methods on this path answer 405.
        .route(
            "/_synapse/admin/v1/media/{server_name}/delete",
            post(delete_old_media_legacy),
        )
        .route(
            "/_synapse/admin/v1/purge_media_cache",
            post(purge_media_cache),
        )
}

fn not_local_media() -> ApiError {
    ApiError::unknown(StatusCode::BAD_REQUEST, "Can only delete local media")
}

fn deleted(ids: Vec<String>) -> Json<Value> {
    Json(json!({ "total": ids.len(), "deleted_media": ids }))
}

/// `before_ts`, required, in milliseconds (Synapse rejects values that look like seconds).
fn before_ts(q: &QueryParams) -> ApiResult<i64> {
    q.required_int("before_ts")
}

fn check_not_1970(before_ts: i64) -> ApiResult<()> {
    if before_ts < 30_000_000_000 {
        return Err(ApiError::invalid_param(
            "Query parameter before_ts you provided is from the year 1970. Double check that \
             you are providing a timestamp in milliseconds.",
        ));
    }
    Ok(())
}

/// The parameters of delete-by-date, in Synapse's parse order.
fn age_criteria(q: &QueryParams) -> ApiResult<AgeCriteria> {
    let before_ts = before_ts(q)?;
    let size_gt = q.int("size_gt")?.unwrap_or(0);
    let keep_profiles = q.bool("keep_profiles")?.unwrap_or(true);
    check_not_1970(before_ts)?;
    Ok(AgeCriteria {
        before_ts,
        size_gt,
        keep_profiles,
    })
}

/// # `DELETE /_synapse/admin/v1/media/{serverName}/{mediaId}`
async fn delete_media(
    _: AdminUser,
    Path((server_name, media_id)): Path<(String, String)>,
    State(media): State<Arc<media::Service>>,
) -> ApiResult<Json<Value>> {
    if server_name != media.server_name() {
        return Err(not_local_media());
    }
    if !media.delete_local_media(&media_id).await? {
        return Err(ApiError::not_found("Unknown media"));
    }
    Ok(deleted(vec![media_id]))
}

/// # `POST /_synapse/admin/v1/media/delete`
async fn delete_old_media(
    _: AdminUser,
    q: QueryParams,
    State(media): State<Arc<media::Service>>,
) -> ApiResult<Json<Value>> {
    let c = age_criteria(&q)?;
    Ok(deleted(media.delete_old_local_media(&c).await?))
}

/// # `POST /_synapse/admin/v1/media/{serverName}/delete` (deprecated form)
async fn delete_old_media_legacy(
    _: AdminUser,
    Path(server_name): Path<String>,
    q: QueryParams,
    State(media): State<Arc<media::Service>>,
) -> ApiResult<Json<Value>> {
    let c = age_criteria(&q)?;
    if server_name != media.server_name() {
        return Err(not_local_media());
    }
    Ok(deleted(media.delete_old_local_media(&c).await?))
}

/// # `POST /_synapse/admin/v1/purge_media_cache`
async fn purge_media_cache(
    _: AdminUser,
    q: QueryParams,
    State(media): State<Arc<media::Service>>,
) -> ApiResult<Json<Value>> {
    let before_ts = before_ts(&q)?;
    check_not_1970(before_ts)?;
    let n = media.purge_remote_cache(before_ts).await?;
    Ok(Json(json!({ "deleted": n })))
}
