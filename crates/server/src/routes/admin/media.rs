//! The media admin API's quarantine side (reference §1.3–1.10): room media, quarantine by media,
//! room and user, the quarantine change stream, protection, and media info. Deletion lives in
//! `media_delete.rs`.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use mxcd_db::{MediaRow, QuarantineTarget};
use serde_json::{Value, json};

use crate::{
    auth::AdminUser,
    error::{ApiError, ApiResult},
    extract::{Path, QueryParams},
    services::media,
    state::AppState,
};

const V1: &str = "/_synapse/admin/v1";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("{V1}/room/{{room_id}}/media"), get(get_room_media))
        .route(
            &format!("{V1}/room/{{room_id}}/media/quarantine"),
            post(quarantine_room),
        )
        .route(
            &format!("{V1}/quarantine_media/{{room_id}}"),
            post(quarantine_room),
        )
        .route(
            &format!("{V1}/user/{{user_id}}/media/quarantine"),
            post(quarantine_user),
        )
        .route(
            &format!("{V1}/media/quarantine/{{server}}/{{id}}"),
            post(quarantine_media),
        )
        .route(
            &format!("{V1}/media/unquarantine/{{server}}/{{id}}"),
            post(unquarantine_media),
        )
        .route(
            &format!("{V1}/media/quarantine_changes"),
            get(get_quarantine_changes),
        )
        .route(&format!("{V1}/media/protect/{{id}}"), post(protect_media))
        .route(
            &format!("{V1}/media/unprotect/{{id}}"),
            post(unprotect_media),
        )
        .route(
            &format!("{V1}/media/{{server_name}}/{{media_id}}"),
            get(get_media_info),
        )
}

/// # `GET /_synapse/admin/v1/room/{roomId}/media`
async fn get_room_media(
    _: AdminUser,
    Path(room_id): Path<String>,
    State(m): State<Arc<media::Service>>,
) -> ApiResult<Json<Value>> {
    let (local, remote) = m.room_media_uris(&room_id).await?;
    Ok(Json(json!({"local": local, "remote": remote})))
}

/// # `POST /_synapse/admin/v1/room/{roomId}/media/quarantine` (and the legacy
/// `POST /_synapse/admin/v1/quarantine_media/{roomId}`)
async fn quarantine_room(
    AdminUser(admin): AdminUser,
    Path(room_id): Path<String>,
    State(m): State<Arc<media::Service>>,
) -> ApiResult<Json<Value>> {
    let n = m
        .set_quarantine(QuarantineTarget::Room(&room_id), Some(&admin.user_id))
        .await?;
    Ok(Json(json!({"num_quarantined": n})))
}

/// # `POST /_synapse/admin/v1/user/{userId}/media/quarantine`
async fn quarantine_user(
    AdminUser(admin): AdminUser,
    Path(user_id): Path<String>,
    State(m): State<Arc<media::Service>>,
) -> ApiResult<Json<Value>> {
    let n = m
        .set_quarantine(QuarantineTarget::User(&user_id), Some(&admin.user_id))
        .await?;
    Ok(Json(json!({"num_quarantined": n})))
}

/// # `POST /_synapse/admin/v1/media/quarantine/{serverName}/{mediaId}`
async fn quarantine_media(
    AdminUser(admin): AdminUser,
    Path((server, id)): Path<(String, String)>,
    State(m): State<Arc<media::Service>>,
) -> ApiResult<Json<Value>> {
    let target = QuarantineTarget::Media {
        origin: &server,
        media_id: &id,
    };
    m.set_quarantine(target, Some(&admin.user_id)).await?;
    Ok(Json(json!({})))
}

/// # `POST /_synapse/admin/v1/media/unquarantine/{serverName}/{mediaId}`
async fn unquarantine_media(
    _: AdminUser,
    Path((server, id)): Path<(String, String)>,
    State(m): State<Arc<media::Service>>,
) -> ApiResult<Json<Value>> {
    let target = QuarantineTarget::Media {
        origin: &server,
        media_id: &id,
    };
    m.set_quarantine(target, None).await?;
    Ok(Json(json!({})))
}

/// # `GET /_synapse/admin/v1/media/quarantine_changes?from=`
async fn get_quarantine_changes(
    _: AdminUser,
    q: QueryParams,
    State(m): State<Arc<media::Service>>,
) -> ApiResult<Json<Value>> {
    let from = q.int("from")?.unwrap_or(0);
    let page = m.quarantine_changes(from).await?.ok_or_else(|| {
        ApiError::invalid_param("Query parameter from is beyond the current stream position")
    })?;
    let changes: Vec<Value> = page
        .changes
        .iter()
        .map(|c| json!({"origin": c.origin, "media_id": c.media_id, "quarantined": c.quarantined}))
        .collect();
    Ok(Json(
        json!({"next_batch": page.next_batch, "changes": changes}),
    ))
}

/// # `POST /_synapse/admin/v1/media/protect/{mediaId}`
async fn protect_media(
    _: AdminUser,
    Path(id): Path<String>,
    State(m): State<Arc<media::Service>>,
) -> ApiResult<Json<Value>> {
    set_protected(&m, &id, true).await
}

/// # `POST /_synapse/admin/v1/media/unprotect/{mediaId}`
async fn unprotect_media(
    _: AdminUser,
    Path(id): Path<String>,
    State(m): State<Arc<media::Service>>,
) -> ApiResult<Json<Value>> {
    set_protected(&m, &id, false).await
}

async fn set_protected(m: &media::Service, id: &str, protected: bool) -> ApiResult<Json<Value>> {
    if !m.set_protected(id, protected).await? {
        // Synapse's storage-layer error, not `M_NOT_FOUND` (reference §1.9).
        return Err(ApiError::unknown(
            StatusCode::NOT_FOUND,
            "No row found (local_media_repository)",
        ));
    }
    Ok(Json(json!({})))
}

/// # `GET /_synapse/admin/v1/media/{serverName}/{mediaId}`
async fn get_media_info(
    _: AdminUser,
    Path((server, id)): Path<(String, String)>,
    State(m): State<Arc<media::Service>>,
) -> ApiResult<Json<Value>> {
    let row = m
        .media_info(&server, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Unknown media"))?;
    let local = server == m.server_name();
    Ok(Json(json!({"media_info": media_info(&row, local)})))
}

/// The 14 keys of Synapse's media info: local and remote rows fill different ones.
fn media_info(r: &MediaRow, local: bool) -> Value {
    json!({
        "media_origin": (!local).then_some(&r.origin),
        "user_id": if local { r.user_id.as_deref() } else { None },
        "media_id": r.media_id,
        "media_type": r.media_type,
        "media_length": r.media_length,
        "upload_name": r.upload_name,
        "created_ts": r.created_ts,
        "filesystem_id": if local { None } else { r.storage_key.as_deref() },
        "url_cache": if local { r.url_cache.as_deref() } else { None },
        "last_access_ts": r.last_access_ts,
        "quarantined_by": r.quarantined_by,
        "authenticated": r.authenticated,
        "safe_from_quarantine": local.then_some(r.safe_from_quarantine),
        "sha256": r.sha256,
    })
}
