//! `/sync`, filters and account data.

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde_json::{Map, Value, json};

use super::{CLIENT_PREFIXES, rooms::viewer};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    extract::{JsonObject, Path, QueryParams},
    services::{
        rooms::{self, SyncRequest, parse_token},
        user_data,
    },
    state::AppState,
};

/// The longest a `/sync` waits, whatever `timeout` asks.
const MAX_TIMEOUT_MS: i64 = 300_000;

pub(super) fn router() -> Router<AppState> {
    CLIENT_PREFIXES.iter().fold(Router::new(), |r, p| {
        r.route(&format!("{p}/sync"), get(sync))
            .route(&format!("{p}/user/{{user_id}}/filter"), post(create_filter))
            .route(
                &format!("{p}/user/{{user_id}}/filter/{{filter_id}}"),
                get(get_filter),
            )
            .route(
                &format!("{p}/user/{{user_id}}/account_data/{{data_type}}"),
                get(get_account_data).put(put_account_data),
            )
            .route(
                &format!("{p}/user/{{user_id}}/rooms/{{room_id}}/account_data/{{data_type}}"),
                get(get_room_account_data).put(put_room_account_data),
            )
    })
}

/// The filter of a `/sync`: inline JSON or the ID of a stored filter.
async fn sync_filter(
    data: &user_data::Service,
    user_id: &str,
    raw: Option<&str>,
) -> ApiResult<Value> {
    let Some(raw) = raw else {
        return Ok(json!({}));
    };
    if raw.starts_with('{') {
        return serde_json::from_str(raw).map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "M_NOT_JSON", "Invalid filter JSON")
        });
    }
    data.get_filter(user_id, user_id, raw)
        .await
        .map_err(|_| ApiError::invalid_param("Invalid filter ID"))
}

/// # `GET /_matrix/client/v3/sync`
async fn sync(
    AuthUser(r): AuthUser,
    q: QueryParams,
    State(rooms): State<Arc<rooms::Service>>,
    State(data): State<Arc<user_data::Service>>,
) -> ApiResult<Json<Value>> {
    let timeout = q.int("timeout")?.unwrap_or(0).min(MAX_TIMEOUT_MS);
    let since = q
        .get("since")
        .map(|s| parse_token(s).ok_or_else(|| ApiError::invalid_param("Invalid stream token")))
        .transpose()?;
    let full_state = q.bool("full_state")?.unwrap_or(false);
    let filter = sync_filter(&data, &r.user_id, q.get("filter")).await?;
    let room = &filter["room"];
    let req = SyncRequest {
        since,
        timeout: Duration::from_millis(timeout as u64),
        full_state,
        timeline_limit: room["timeline"]["limit"]
            .as_i64()
            .unwrap_or(10)
            .clamp(0, 1000),
        include_leave: room["include_leave"].as_bool().unwrap_or(false),
    };
    Ok(Json(rooms.sync(viewer(&r), &req).await?))
}

/// # `POST /_matrix/client/v3/user/{userId}/filter`
async fn create_filter(
    AuthUser(r): AuthUser,
    Path(user_id): Path<String>,
    State(data): State<Arc<user_data::Service>>,
    JsonObject(filter): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = data.create_filter(&r.user_id, &user_id, &filter).await?;
    Ok(Json(json!({ "filter_id": id })))
}

/// # `GET /_matrix/client/v3/user/{userId}/filter/{filterId}`
async fn get_filter(
    AuthUser(r): AuthUser,
    Path((user_id, filter_id)): Path<(String, String)>,
    State(data): State<Arc<user_data::Service>>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        data.get_filter(&r.user_id, &user_id, &filter_id).await?,
    ))
}

async fn put_data(
    data: &user_data::Service,
    requester: &str,
    user_id: &str,
    room_id: Option<&str>,
    data_type: &str,
    content: &Map<String, Value>,
) -> ApiResult<Json<Value>> {
    data.put_account_data(requester, user_id, room_id, data_type, content)
        .await?;
    Ok(Json(json!({})))
}

/// # `PUT /_matrix/client/v3/user/{userId}/account_data/{type}`
async fn put_account_data(
    AuthUser(r): AuthUser,
    Path((user_id, data_type)): Path<(String, String)>,
    State(data): State<Arc<user_data::Service>>,
    JsonObject(content): JsonObject,
) -> ApiResult<Json<Value>> {
    put_data(&data, &r.user_id, &user_id, None, &data_type, &content).await
}

/// # `GET /_matrix/client/v3/user/{userId}/account_data/{type}`
async fn get_account_data(
    AuthUser(r): AuthUser,
    Path((user_id, data_type)): Path<(String, String)>,
    State(data): State<Arc<user_data::Service>>,
) -> ApiResult<Json<Value>> {
    let v = data
        .get_account_data(&r.user_id, &user_id, None, &data_type)
        .await?;
    Ok(Json(v))
}

/// # `PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}`
async fn put_room_account_data(
    AuthUser(r): AuthUser,
    Path((user_id, room_id, data_type)): Path<(String, String, String)>,
    State(data): State<Arc<user_data::Service>>,
    JsonObject(content): JsonObject,
) -> ApiResult<Json<Value>> {
    put_data(
        &data,
        &r.user_id,
        &user_id,
        Some(&room_id),
        &data_type,
        &content,
    )
    .await
}

/// # `GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}`
async fn get_room_account_data(
    AuthUser(r): AuthUser,
    Path((user_id, room_id, data_type)): Path<(String, String, String)>,
    State(data): State<Arc<user_data::Service>>,
) -> ApiResult<Json<Value>> {
    let v = data
        .get_account_data(&r.user_id, &user_id, Some(&room_id), &data_type)
        .await?;
    Ok(Json(v))
}
