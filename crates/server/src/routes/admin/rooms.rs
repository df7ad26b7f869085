//! `/_synapse/admin/v1/rooms`, `…/rooms/{roomId}`, `…/rooms/{roomId}/members`.

use std::sync::Arc;

use axum::{Json, Router, extract::State, routing::get};
use mxcd_db::{RoomFilter, RoomOrder, RoomRow};
use serde_json::{Value, json};

use crate::{
    auth::AdminUser,
    error::{ApiError, ApiResult},
    extract::{Path, QueryParams},
    services::rooms,
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/_synapse/admin/v1/rooms", get(list_rooms))
        .route("/_synapse/admin/v1/rooms/{room_id}", get(get_room))
        .route(
            "/_synapse/admin/v1/rooms/{room_id}/members",
            get(get_members),
        )
}

const ORDER_BY: [&str; 15] = [
    "alphabetical",
    "size",
    "name",
    "canonical_alias",
    "joined_members",
    "joined_local_members",
    "version",
    "creator",
    "encryption",
    "federatable",
    "public",
    "join_rules",
    "guest_access",
    "history_visibility",
    "state_events",
];

/// A room as the list shows it (Synapse's `get_rooms_paginate`).
fn room_entry(r: &RoomRow) -> Value {
    json!({
        "room_id": r.room_id,
        "name": r.name,
        "canonical_alias": r.canonical_alias,
        "joined_members": r.joined_members,
        "joined_local_members": r.joined_members,
        "version": r.room_version,
        "creator": r.creator,
        "encryption": r.encryption,
        "federatable": r.federatable,
        "public": r.is_public,
        "join_rules": r.join_rules,
        "guest_access": r.guest_access,
        "history_visibility": r.history_visibility,
        "state_events": r.state_events,
        "room_type": r.room_type,
    })
}

/// # `GET /_synapse/admin/v1/rooms`
async fn list_rooms(
    _: AdminUser,
    q: QueryParams,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    let from = q.int("from")?.unwrap_or(0);
    let limit = q.int("limit")?.unwrap_or(100);
    let order = match q.choice("order_by", &ORDER_BY)?.unwrap_or("name") {
        "canonical_alias" => RoomOrder::CanonicalAlias,
        "size" | "joined_members" => RoomOrder::JoinedMembers,
        "joined_local_members" => RoomOrder::JoinedLocalMembers,
        "version" => RoomOrder::Version,
        "creator" => RoomOrder::Creator,
        "encryption" => RoomOrder::Encryption,
        "federatable" => RoomOrder::Federatable,
        "public" => RoomOrder::Public,
        "join_rules" => RoomOrder::JoinRules,
        "guest_access" => RoomOrder::GuestAccess,
        "history_visibility" => RoomOrder::HistoryVisibility,
        "state_events" => RoomOrder::StateEvents,
        _ => RoomOrder::Name,
    };
    let search_term = q.get("search_term");
    if search_term == Some("") {
        return Err(ApiError::invalid_param(
            "search_term cannot be an empty string",
        ));
    }
    let filter = RoomFilter {
        search_term: search_term.map(str::to_owned),
        public_rooms: q.bool("public_rooms")?,
        empty_rooms: q.bool("empty_rooms")?,
        order,
        reverse: q.choice("dir", &["b", "f"])? == Some("b"),
        from,
        limit,
    };
    let (rows, total) = rooms.admin_list_rooms(&filter).await?;
    let mut body = json!({
        "offset": from,
        "rooms": rows.iter().map(room_entry).collect::<Vec<_>>(),
        "total_rooms": total,
    });
    if from + limit < total {
        body["next_batch"] = json!(from + limit);
    }
    if from > 0 {
        body["prev_batch"] = json!(if from > limit { from - limit } else { 0 });
    }
    Ok(Json(body))
}

/// # `GET /_synapse/admin/v1/rooms/{roomId}`
async fn get_room(
    _: AdminUser,
    Path(room_id): Path<String>,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    let a = rooms.admin_room(&room_id).await?;
    let r = &a.room;
    Ok(Json(json!({
        "room_id": r.room_id,
        "name": r.name,
        "canonical_alias": r.canonical_alias,
        "joined_members": r.joined_members,
        "joined_local_members": r.joined_members,
        "version": r.room_version,
        "creator": r.creator,
        "encryption": r.encryption,
        "federatable": r.federatable,
        "public": r.is_public,
        "join_rules": r.join_rules,
        "guest_access": r.guest_access,
        "history_visibility": r.history_visibility,
        "state_events": r.state_events,
        "avatar": r.avatar,
        "topic": r.topic,
        "room_type": r.room_type,
        "joined_local_devices": a.joined_local_devices,
        "forgotten": a.forgotten,
        "tombstoned": a.replacement_room.is_some(),
        "replacement_room": a.replacement_room.flatten(),
    })))
}

/// # `GET /_synapse/admin/v1/rooms/{roomId}/members`
async fn get_members(
    _: AdminUser,
    Path(room_id): Path<String>,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    let members = rooms.admin_room_members(&room_id).await?;
    Ok(Json(json!({ "total": members.len(), "members": members })))
}
