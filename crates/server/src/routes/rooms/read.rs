//! Reading rooms: `state`, `members`, `joined_members`, `event/{eventId}`, `messages`.

use std::sync::Arc;

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde_json::{Value, json};

use super::{super::CLIENT_PREFIXES, viewer};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    extract::{Path, QueryParams},
    services::rooms::{self, Direction, parse_token},
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    CLIENT_PREFIXES.iter().fold(Router::new(), |r, p| {
        r.route(&format!("{p}/rooms/{{room_id}}/state"), get(get_state))
            .route(
                &format!("{p}/rooms/{{room_id}}/state/{{event_type}}/{{state_key}}"),
                get(get_state_event),
            )
            .route(
                &format!("{p}/rooms/{{room_id}}/state/{{event_type}}"),
                get(get_state_event_empty_key),
            )
            .route(
                &format!("{p}/rooms/{{room_id}}/state/{{event_type}}/"),
                get(get_state_event_empty_key),
            )
            .route(&format!("{p}/rooms/{{room_id}}/members"), get(get_members))
            .route(
                &format!("{p}/rooms/{{room_id}}/joined_members"),
                get(get_joined_members),
            )
            .route(
                &format!("{p}/rooms/{{room_id}}/event/{{event_id}}"),
                get(get_event),
            )
            .route(
                &format!("{p}/rooms/{{room_id}}/messages"),
                get(get_messages),
            )
    })
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/state`
async fn get_state(
    AuthUser(r): AuthUser,
    Path(room_id): Path<String>,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    Ok(Json(Value::Array(rooms.state(viewer(&r), &room_id).await?)))
}

async fn state_event(
    rooms: &rooms::Service,
    r: &crate::services::accounts::Requester,
    q: &QueryParams,
    room_id: &str,
    event_type: &str,
    state_key: &str,
) -> ApiResult<Json<Value>> {
    let format = q
        .choice("format", &["content", "event"])?
        .unwrap_or("content");
    let mut event = rooms
        .state_event(viewer(r), room_id, event_type, state_key)
        .await?;
    Ok(Json(if format == "event" {
        event
    } else {
        event["content"].take()
    }))
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}`
async fn get_state_event(
    AuthUser(r): AuthUser,
    Path((room_id, event_type, state_key)): Path<(String, String, String)>,
    q: QueryParams,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    state_event(&rooms, &r, &q, &room_id, &event_type, &state_key).await
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}` (empty state key)
async fn get_state_event_empty_key(
    AuthUser(r): AuthUser,
    Path((room_id, event_type)): Path<(String, String)>,
    q: QueryParams,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    state_event(&rooms, &r, &q, &room_id, &event_type, "").await
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/members`
async fn get_members(
    AuthUser(r): AuthUser,
    Path(room_id): Path<String>,
    q: QueryParams,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    let chunk = rooms
        .members(
            viewer(&r),
            &room_id,
            q.get("membership"),
            q.get("not_membership"),
        )
        .await?;
    Ok(Json(json!({ "chunk": chunk })))
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/joined_members`
async fn get_joined_members(
    AuthUser(r): AuthUser,
    Path(room_id): Path<String>,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    let joined = rooms.joined_members(&r.user_id, &room_id).await?;
    Ok(Json(json!({ "joined": joined })))
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}`
async fn get_event(
    AuthUser(r): AuthUser,
    Path((room_id, event_id)): Path<(String, String)>,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    Ok(Json(rooms.event(viewer(&r), &room_id, &event_id).await?))
}

/// A pagination token parameter; Synapse's message when it cannot be read.
fn token_param(q: &QueryParams, name: &str) -> ApiResult<Option<i64>> {
    q.get(name)
        .map(|t| {
            parse_token(t).ok_or_else(|| {
                ApiError::unknown(
                    StatusCode::BAD_REQUEST,
                    format!("'{name}' parameter is invalid"),
                )
            })
        })
        .transpose()
}

/// # `GET /_matrix/client/v3/rooms/{roomId}/messages`
async fn get_messages(
    AuthUser(r): AuthUser,
    Path(room_id): Path<String>,
    q: QueryParams,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    let from = token_param(&q, "from")?;
    let to = token_param(&q, "to")?;
    let dir = match q.choice("dir", &["b", "f"])? {
        Some("b") => Direction::Backward,
        _ => Direction::Forward,
    };
    let limit = q.int("limit")?.unwrap_or(10);
    let page = rooms
        .messages(viewer(&r), &room_id, from, to, dir, limit)
        .await?;
    let mut body = json!({ "chunk": page.chunk, "start": page.start });
    if let Some(end) = page.end {
        body["end"] = json!(end);
    }
    Ok(Json(body))
}
