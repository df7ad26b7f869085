//! Sending: `send`, `state` (PUT) and `redact`, with and without a transaction ID.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    routing::{post, put},
};
use serde_json::{Value, json};

use super::super::CLIENT_PREFIXES;
use crate::{
    auth::AuthUser,
    error::ApiResult,
    extract::{JsonObject, Path},
    services::rooms,
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    CLIENT_PREFIXES.iter().fold(Router::new(), |r, p| {
        r.route(
            &format!("{p}/rooms/{{room_id}}/send/{{event_type}}/{{txn_id}}"),
            put(send_message),
        )
        .route(
            &format!("{p}/rooms/{{room_id}}/send/{{event_type}}"),
            post(send_message_without_txn),
        )
        .route(
            &format!("{p}/rooms/{{room_id}}/state/{{event_type}}/{{state_key}}"),
            put(send_state),
        )
        .route(
            &format!("{p}/rooms/{{room_id}}/state/{{event_type}}"),
            put(send_state_empty_key),
        )
        .route(
            &format!("{p}/rooms/{{room_id}}/state/{{event_type}}/"),
            put(send_state_empty_key),
        )
        .route(
            &format!("{p}/rooms/{{room_id}}/redact/{{event_id}}/{{txn_id}}"),
            put(redact),
        )
        .route(
            &format!("{p}/rooms/{{room_id}}/redact/{{event_id}}"),
            post(redact_without_txn),
        )
    })
}

/// # `PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}`
async fn send_message(
    AuthUser(r): AuthUser,
    Path((room_id, event_type, txn_id)): Path<(String, String, String)>,
    State(rooms): State<Arc<rooms::Service>>,
    JsonObject(content): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = rooms
        .send_message(
            &r.user_id,
            &r.device_id,
            &room_id,
            &event_type,
            Some(&txn_id),
            content,
        )
        .await?;
    Ok(Json(json!({ "event_id": id })))
}

/// # `POST /_matrix/client/v3/rooms/{roomId}/send/{eventType}`
async fn send_message_without_txn(
    AuthUser(r): AuthUser,
    Path((room_id, event_type)): Path<(String, String)>,
    State(rooms): State<Arc<rooms::Service>>,
    JsonObject(content): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = rooms
        .send_message(
            &r.user_id,
            &r.device_id,
            &room_id,
            &event_type,
            None,
            content,
        )
        .await?;
    Ok(Json(json!({ "event_id": id })))
}

/// # `PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}`
async fn send_state(
    AuthUser(r): AuthUser,
    Path((room_id, event_type, state_key)): Path<(String, String, String)>,
    State(rooms): State<Arc<rooms::Service>>,
    JsonObject(content): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = rooms
        .send_state(&r.user_id, &room_id, &event_type, &state_key, content)
        .await?;
    Ok(Json(json!({ "event_id": id })))
}

/// # `PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}` (empty state key)
async fn send_state_empty_key(
    AuthUser(r): AuthUser,
    Path((room_id, event_type)): Path<(String, String)>,
    State(rooms): State<Arc<rooms::Service>>,
    JsonObject(content): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = rooms
        .send_state(&r.user_id, &room_id, &event_type, "", content)
        .await?;
    Ok(Json(json!({ "event_id": id })))
}

/// # `PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}`
async fn redact(
    AuthUser(r): AuthUser,
    Path((room_id, event_id, txn_id)): Path<(String, String, String)>,
    State(rooms): State<Arc<rooms::Service>>,
    JsonObject(content): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = rooms
        .redact(
            &r.user_id,
            &r.device_id,
            &room_id,
            &event_id,
            Some(&txn_id),
            content,
        )
        .await?;
    Ok(Json(json!({ "event_id": id })))
}

/// # `POST /_matrix/client/v3/rooms/{roomId}/redact/{eventId}`
async fn redact_without_txn(
    AuthUser(r): AuthUser,
    Path((room_id, event_id)): Path<(String, String)>,
    State(rooms): State<Arc<rooms::Service>>,
    JsonObject(content): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = rooms
        .redact(&r.user_id, &r.device_id, &room_id, &event_id, None, content)
        .await?;
    Ok(Json(json!({ "event_id": id })))
}
