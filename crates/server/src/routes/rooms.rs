//! Rooms: creation, membership, `joined_rooms`; sending, reading and the directory live in
//! the submodules.

mod directory;
mod read;
mod send;

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    routing::{get, post},
};
use serde_json::{Map, Value, json};

use super::CLIENT_PREFIXES;
use crate::{
    auth::AuthUser,
    error::ApiResult,
    extract::{BodyBytes, JsonObject, Path, parse_object},
    services::{
        accounts::Requester,
        rooms::{self, CreateRoom, MembershipAction, Viewer},
    },
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    CLIENT_PREFIXES
        .iter()
        .fold(Router::new(), |r, p| {
            r.route(&format!("{p}/createRoom"), post(create_room))
                .route(&format!("{p}/join/{{room_id_or_alias}}"), post(join))
                .route(&format!("{p}/rooms/{{room_id}}/join"), post(join_room))
                .route(&format!("{p}/rooms/{{room_id}}/invite"), post(invite))
                .route(&format!("{p}/rooms/{{room_id}}/leave"), post(leave))
                .route(&format!("{p}/rooms/{{room_id}}/kick"), post(kick))
                .route(&format!("{p}/rooms/{{room_id}}/ban"), post(ban))
                .route(&format!("{p}/rooms/{{room_id}}/unban"), post(unban))
                .route(&format!("{p}/rooms/{{room_id}}/forget"), post(forget))
                .route(&format!("{p}/joined_rooms"), get(joined_rooms))
        })
        .merge(send::router())
        .merge(read::router())
        .merge(directory::router())
}

pub(super) fn viewer(r: &Requester) -> Viewer<'_> {
    Viewer {
        user_id: &r.user_id,
        device_id: &r.device_id,
    }
}

/// A body that may be empty (Synapse's `allow_empty_body=True`).
fn object_or_empty(body: &[u8]) -> ApiResult<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    parse_object(body)
}

/// # `POST /_matrix/client/v3/createRoom`
async fn create_room(
    AuthUser(r): AuthUser,
    State(rooms): State<Arc<rooms::Service>>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let room_id = rooms.create_room(&r.user_id, CreateRoom(body)).await?;
    Ok(Json(json!({ "room_id": room_id })))
}

/// # `POST /_matrix/client/v3/join/{roomIdOrAlias}`
async fn join(
    AuthUser(r): AuthUser,
    Path(target): Path<String>,
    State(rooms): State<Arc<rooms::Service>>,
    BodyBytes(body): BodyBytes,
) -> ApiResult<Json<Value>> {
    let body = object_or_empty(&body)?;
    let room_id = rooms.resolve_room(&target).await?;
    membership(&rooms, &r, &room_id, MembershipAction::Join, body).await
}

/// # `POST /_matrix/client/v3/rooms/{roomId}/join`
async fn join_room(
    AuthUser(r): AuthUser,
    Path(room_id): Path<String>,
    State(rooms): State<Arc<rooms::Service>>,
    BodyBytes(body): BodyBytes,
) -> ApiResult<Json<Value>> {
    let body = object_or_empty(&body)?;
    membership(&rooms, &r, &room_id, MembershipAction::Join, body).await
}

/// The membership endpoints after authentication: `user_id` (for actions on others), the
/// optional `reason`, then the service.
async fn membership(
    rooms: &rooms::Service,
    r: &Requester,
    room_id: &str,
    action: MembershipAction,
    body: Map<String, Value>,
) -> ApiResult<Json<Value>> {
    let target = match action {
        MembershipAction::Join | MembershipAction::Leave => r.user_id.clone(),
        _ => {
            let Some(u) = body.get("user_id") else {
                return Err(crate::error::ApiError::missing_param(
                    "Missing params: ['user_id']",
                ));
            };
            let u = u.as_str().unwrap_or_default();
            super::admin::parse_user_id(u)?;
            u.to_owned()
        }
    };
    rooms
        .update_membership(
            &r.user_id,
            room_id,
            action,
            &target,
            body.get("reason").cloned(),
        )
        .await?;
    Ok(Json(if action == MembershipAction::Join {
        json!({ "room_id": room_id })
    } else {
        json!({})
    }))
}

macro_rules! membership_handler {
    ($name:ident, $action:expr, $path:literal) => {
        #[doc = concat!("# `POST /_matrix/client/v3/rooms/{roomId}/", $path, "`")]
        async fn $name(
            AuthUser(r): AuthUser,
            Path(room_id): Path<String>,
            State(rooms): State<Arc<rooms::Service>>,
            BodyBytes(body): BodyBytes,
        ) -> ApiResult<Json<Value>> {
            let body = object_or_empty(&body)?;
            membership(&rooms, &r, &room_id, $action, body).await
        }
    };
}

membership_handler!(invite, MembershipAction::Invite, "invite");
membership_handler!(leave, MembershipAction::Leave, "leave");
membership_handler!(kick, MembershipAction::Kick, "kick");
membership_handler!(ban, MembershipAction::Ban, "ban");
membership_handler!(unban, MembershipAction::Unban, "unban");

/// # `POST /_matrix/client/v3/rooms/{roomId}/forget`
async fn forget(
    AuthUser(r): AuthUser,
    Path(room_id): Path<String>,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    rooms.forget(&r.user_id, &room_id).await?;
    Ok(Json(json!({})))
}

/// # `GET /_matrix/client/v3/joined_rooms`
async fn joined_rooms(
    AuthUser(r): AuthUser,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "joined_rooms": rooms.joined_rooms(&r.user_id).await? }),
    ))
}
