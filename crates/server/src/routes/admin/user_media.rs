//! `/_synapse/admin/v1/users/{userId}/media`: list or delete a page of a local user's media.

use std::sync::Arc;

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use mxcd_db::{UserMediaOrder, UserMediaRow};
use serde_json::{Value, json};

use super::parse_user_id;
use crate::{
    auth::AdminUser,
    error::{ApiError, ApiResult},
    extract::{Path, QueryParams},
    services::{
        media::{self, UserMediaPage},
        users,
    },
};

pub(super) fn router() -> Router<crate::state::AppState> {
    Router::new().route(
        "/_synapse/admin/v1/users/{user_id}/media",
        get(list_user_media).delete(delete_user_media),
    )
}

const ORDER_BY: [&str; 8] = [
    "media_id",
    "upload_name",
    "created_ts",
    "last_access_ts",
    "media_length",
    "media_type",
    "quarantined_by",
    "safe_from_quarantine",
];

/// Synapse's checks, in its order: the user ID, that it is local, that the user exists, then
/// `from`, `limit`, `order_by` and `dir`.
async fn page(
    user_id: &str,
    q: &QueryParams,
    media: &media::Service,
    users: &users::Service,
) -> ApiResult<UserMediaPage> {
    let parsed = parse_user_id(user_id)?;
    if parsed.domain != media.server_name() {
        return Err(ApiError::unknown(
            StatusCode::BAD_REQUEST,
            "Can only look up local users",
        ));
    }
    if users.get(user_id).await?.is_none() {
        return Err(ApiError::not_found("Unknown user"));
    }
    let from = q.int("from")?.unwrap_or(0);
    let limit = q.int("limit")?.unwrap_or(100);
    // Neither given: newest first. Otherwise `order_by` defaults to created_ts, `dir` to f.
    let (order, descending) = if q.get("order_by").is_none() && q.get("dir").is_none() {
        (UserMediaOrder::CreatedTs, true)
    } else {
        let order = match q.choice("order_by", &ORDER_BY)?.unwrap_or("created_ts") {
            "media_id" => UserMediaOrder::MediaId,
            "upload_name" => UserMediaOrder::UploadName,
            "last_access_ts" => UserMediaOrder::LastAccessTs,
            "media_length" => UserMediaOrder::MediaLength,
            "media_type" => UserMediaOrder::MediaType,
            "quarantined_by" => UserMediaOrder::QuarantinedBy,
            "safe_from_quarantine" => UserMediaOrder::SafeFromQuarantine,
            _ => UserMediaOrder::CreatedTs,
        };
        (order, q.choice("dir", &["b", "f"])? == Some("b"))
    };
    Ok(UserMediaPage {
        order,
        descending,
        from,
        limit,
    })
}

fn media_entry(r: &UserMediaRow) -> Value {
    json!({
        "media_id": r.media_id,
        "media_type": r.media_type,
        "media_length": r.media_length,
        "upload_name": r.upload_name,
        "created_ts": r.created_ts,
        "url_cache": r.url_cache,
        "last_access_ts": r.last_access_ts,
        "quarantined_by": r.quarantined_by,
        "safe_from_quarantine": r.safe_from_quarantine,
        "user_id": r.user_id,
        "authenticated": r.authenticated,
        "sha256": r.sha256,
    })
}

/// # `GET /_synapse/admin/v1/users/{userId}/media`
async fn list_user_media(
    _: AdminUser,
    Path(user_id): Path<String>,
    q: QueryParams,
    State(media): State<Arc<media::Service>>,
    State(users): State<Arc<users::Service>>,
) -> ApiResult<Json<Value>> {
    let p = page(&user_id, &q, &media, &users).await?;
    let (rows, total) = media.user_media(&user_id, p).await?;
    let mut body = json!({
        "media": rows.iter().map(media_entry).collect::<Vec<_>>(),
        "total": total,
    });
    if let Some(next) = super::next_token(p.from, p.limit, rows.len(), total) {
        body["next_token"] = json!(next);
    }
    Ok(Json(body))
}

/// # `DELETE /_synapse/admin/v1/users/{userId}/media`
async fn delete_user_media(
    _: AdminUser,
    Path(user_id): Path<String>,
    q: QueryParams,
    State(media): State<Arc<media::Service>>,
    State(users): State<Arc<users::Service>>,
) -> ApiResult<Json<Value>> {
    let p = page(&user_id, &q, &media, &users).await?;
    let ids = media.delete_user_media(&user_id, p).await?;
    Ok(Json(json!({ "total": ids.len(), "deleted_media": ids })))
}
