//! Room aliases (`/directory/room/{roomAlias}`), the published list
//! (`/directory/list/room/{roomId}`) and `/publicRooms`.

use std::sync::Arc;

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use mxcd_db::RoomRow;
use serde_json::{Map, Value, json};

use super::super::CLIENT_PREFIXES;
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    extract::{BodyBytes, JsonObject, Path, QueryParams, parse_object},
    services::rooms,
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    CLIENT_PREFIXES.iter().fold(Router::new(), |r, p| {
        r.route(
            &format!("{p}/directory/room/{{room_alias}}"),
            get(get_alias).put(put_alias).delete(delete_alias),
        )
        .route(
            &format!("{p}/directory/list/room/{{room_id}}"),
            get(get_visibility).put(set_visibility),
        )
        .route(
            &format!("{p}/publicRooms"),
            get(get_public_rooms).post(post_public_rooms),
        )
    })
}

fn parse_alias(alias: &str) -> ApiResult<&ruma::RoomAliasId> {
    <&ruma::RoomAliasId>::try_from(alias).map_err(|_| ApiError::invalid_param("Room alias invalid"))
}

/// # `GET /_matrix/client/v3/directory/room/{roomAlias}`
async fn get_alias(
    Path(alias): Path<String>,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    let alias = parse_alias(&alias)?;
    let (room_id, servers) = rooms.get_alias(alias.as_str()).await?;
    Ok(Json(json!({ "room_id": room_id, "servers": servers })))
}

/// # `PUT /_matrix/client/v3/directory/room/{roomAlias}`: alias, body, then authentication,
/// in Synapse's order.
async fn put_alias(
    Path(alias): Path<String>,
    State(rooms): State<Arc<rooms::Service>>,
    auth: Result<AuthUser, ApiError>,
    BodyBytes(body): BodyBytes,
) -> ApiResult<Json<Value>> {
    let alias = parse_alias(&alias)?;
    let body = parse_object(&body)?;
    let Some(Value::String(room_id)) = body.get("room_id") else {
        return Err(ApiError::bad_json(
            "room_id: Input should be a valid string",
        ));
    };
    let AuthUser(r) = auth?;
    rooms
        .create_alias(&r.user_id, r.admin, alias, room_id)
        .await?;
    Ok(Json(json!({})))
}

/// # `DELETE /_matrix/client/v3/directory/room/{roomAlias}`
async fn delete_alias(
    Path(alias): Path<String>,
    State(rooms): State<Arc<rooms::Service>>,
    auth: Result<AuthUser, ApiError>,
) -> ApiResult<Json<Value>> {
    let alias = parse_alias(&alias)?;
    let AuthUser(r) = auth?;
    rooms.delete_alias(&r.user_id, r.admin, alias).await?;
    Ok(Json(json!({})))
}

/// # `GET /_matrix/client/v3/directory/list/room/{roomId}`
async fn get_visibility(
    Path(room_id): Path<String>,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "visibility": rooms.room_visibility(&room_id).await? }),
    ))
}

/// # `PUT /_matrix/client/v3/directory/list/room/{roomId}`
async fn set_visibility(
    AuthUser(r): AuthUser,
    Path(room_id): Path<String>,
    State(rooms): State<Arc<rooms::Service>>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let public = match body.get("visibility") {
        None => true,
        Some(v) if v == "public" => true,
        Some(v) if v == "private" => false,
        Some(_) => {
            return Err(ApiError::bad_json(
                "visibility: Input should be 'public' or 'private'",
            ));
        }
    };
    rooms
        .set_room_visibility(&r.user_id, r.admin, &room_id, public)
        .await?;
    Ok(Json(json!({})))
}

/// One `/publicRooms` entry, without the fields that are not set (as Synapse).
fn public_room(r: &RoomRow) -> Value {
    let mut m = Map::new();
    m.insert("room_id".into(), json!(r.room_id));
    for (k, v) in [
        ("name", &r.name),
        ("topic", &r.topic),
        ("canonical_alias", &r.canonical_alias),
        ("avatar_url", &r.avatar),
        ("join_rule", &r.join_rules),
        ("room_type", &r.room_type),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    m.insert("num_joined_members".into(), json!(r.joined_members));
    m.insert(
        "world_readable".into(),
        json!(r.history_visibility.as_deref() == Some("world_readable")),
    );
    m.insert(
        "guest_can_join".into(),
        json!(r.guest_access.as_deref() == Some("can_join")),
    );
    Value::Object(m)
}

async fn public_rooms(
    rooms: &rooms::Service,
    search: Option<&str>,
    since: Option<&str>,
    limit: Option<i64>,
) -> ApiResult<Json<Value>> {
    let offset = match since {
        None => 0,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::unknown(StatusCode::BAD_REQUEST, "Invalid since token"))?,
    };
    let limit = limit.unwrap_or(i64::MAX / 2);
    let (rows, total) = rooms.public_rooms(search, offset, limit).await?;
    let mut body = json!({
        "chunk": rows.iter().map(public_room).collect::<Vec<_>>(),
        "total_room_count_estimate": total,
    });
    if offset + (rows.len() as i64) < total {
        body["next_batch"] = json!((offset + rows.len() as i64).to_string());
    }
    if offset > 0 {
        body["prev_batch"] = json!((offset - limit).max(0).to_string());
    }
    Ok(Json(body))
}

/// # `GET /_matrix/client/v3/publicRooms`
async fn get_public_rooms(
    q: QueryParams,
    State(rooms): State<Arc<rooms::Service>>,
) -> ApiResult<Json<Value>> {
    let limit = q.int("limit")?;
    public_rooms(&rooms, None, q.get("since"), limit).await
}

/// # `POST /_matrix/client/v3/publicRooms`
async fn post_public_rooms(
    _: AuthUser,
    State(rooms): State<Arc<rooms::Service>>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let search = body
        .get("filter")
        .and_then(|f| f.get("generic_search_term"))
        .and_then(Value::as_str);
    let since = body.get("since").and_then(Value::as_str);
    let limit = body.get("limit").and_then(Value::as_i64);
    public_rooms(&rooms, search, since, limit).await
}
