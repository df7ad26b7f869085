//! Statistics: Synapse's `/_synapse/admin/v1/statistics/…` and mxcd's own
//! `/_mxcd/admin/v1/statistics/…` (documented in `docs/admin-api.md`).

use std::sync::Arc;

use axum::http::StatusCode;
use axum::{Json, Router, extract::State, routing::get};
use mxcd_db::{RoomMediaOrder, Tally, UserMediaQuery, UserUsageOrder};
use serde_json::{Value, json};

use crate::{
    auth::AdminUser,
    error::{ApiError, ApiResult},
    extract::QueryParams,
    services::statistics,
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/_synapse/admin/v1/statistics/users/media",
            get(users_media),
        )
        .route(
            "/_synapse/admin/v1/statistics/database/rooms",
            get(largest_rooms),
        )
        .route("/_mxcd/admin/v1/statistics/rooms/media", get(rooms_media))
        .route("/_mxcd/admin/v1/statistics/media", get(media_totals))
}

/// `{total, next_token}` of Synapse's offset pagination (`next_token` only when more follow).
fn paginate(mut body: Value, from: i64, limit: i64, returned: usize, total: i64) -> Value {
    if let Some(next) = super::next_token(from, limit, returned, total) {
        body["next_token"] = json!(next);
    }
    body["total"] = json!(total);
    body
}

/// # `GET /_synapse/admin/v1/statistics/users/media`
async fn users_media(
    _: AdminUser,
    q: QueryParams,
    State(stats): State<Arc<statistics::Service>>,
) -> ApiResult<Json<Value>> {
    // Validated in Synapse's order.
    let order = match q
        .choice(
            "order_by",
            &["media_length", "media_count", "user_id", "displayname"],
        )?
        .unwrap_or("user_id")
    {
        "media_length" => UserUsageOrder::MediaLength,
        "media_count" => UserUsageOrder::MediaCount,
        "displayname" => UserUsageOrder::Displayname,
        _ => UserUsageOrder::UserId,
    };
    let from = q.int("from")?.unwrap_or(0);
    let limit = q.int("limit")?.unwrap_or(100);
    let from_ts = q.int("from_ts")?.unwrap_or(0);
    let until_ts = q.int("until_ts")?;
    if until_ts.is_some_and(|u| u <= from_ts) {
        return Err(ApiError::invalid_param(
            "Query parameter until_ts must be greater than from_ts.",
        ));
    }
    let search = q.get("search_term");
    if let Some(s) = search {
        if s.is_empty() {
            return Err(ApiError::invalid_param(
                "Query parameter search_term cannot be an empty string.",
            ));
        }
        if !s.is_ascii() {
            return Err(ApiError::unknown(
                StatusCode::BAD_REQUEST,
                "Query parameter 'search_term' must be ascii",
            ));
        }
    }
    let descending = q.choice("dir", &["b", "f"])? == Some("b");
    let query = UserMediaQuery {
        order,
        descending,
        from,
        limit,
        from_ts: (from_ts != 0).then_some(from_ts),
        until_ts,
        search: search.map(str::to_owned),
    };
    let (rows, total) = stats.users_media(&query).await?;
    let users: Vec<Value> = rows
        .iter()
        .map(|u| {
            json!({
                "user_id": u.user_id,
                "displayname": u.displayname,
                "media_count": u.media_count,
                "media_length": u.media_length,
            })
        })
        .collect();
    let n = users.len();
    Ok(Json(paginate(
        json!({ "users": users }),
        from,
        limit,
        n,
        total,
    )))
}

/// # `GET /_synapse/admin/v1/statistics/database/rooms`
///
/// On every backend, from the exact byte account (Synapse: PostgreSQL planner estimates only).
async fn largest_rooms(
    _: AdminUser,
    State(stats): State<Arc<statistics::Service>>,
) -> ApiResult<Json<Value>> {
    let rooms: Vec<Value> = stats
        .largest_rooms()
        .await?
        .into_iter()
        .map(|r| json!({"room_id": r.room_id, "estimated_size": r.bytes}))
        .collect();
    Ok(Json(json!({ "rooms": rooms })))
}

/// # `GET /_mxcd/admin/v1/statistics/rooms/media`
async fn rooms_media(
    _: AdminUser,
    q: QueryParams,
    State(stats): State<Arc<statistics::Service>>,
) -> ApiResult<Json<Value>> {
    let order = match q
        .choice(
            "order_by",
            &[
                "media_length",
                "media_count",
                "local_media_length",
                "remote_media_length",
                "room_id",
            ],
        )?
        .unwrap_or("media_length")
    {
        "media_count" => RoomMediaOrder::MediaCount,
        "local_media_length" => RoomMediaOrder::LocalMediaLength,
        "remote_media_length" => RoomMediaOrder::RemoteMediaLength,
        "room_id" => RoomMediaOrder::RoomId,
        _ => RoomMediaOrder::MediaLength,
    };
    let from = q.int("from")?.unwrap_or(0);
    let limit = q.int("limit")?.unwrap_or(100);
    // Largest first unless asked otherwise.
    let descending = q.choice("dir", &["b", "f"])?.unwrap_or("b") == "b";
    let (rows, total) = stats.rooms_media(order, descending, from, limit).await?;
    let rooms: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "room_id": r.room_id,
                "media_count": r.media_count,
                "media_length": r.media_length,
                "local_media_count": r.local_media_count,
                "local_media_length": r.local_media_length,
                "remote_media_count": r.remote_media_count,
                "remote_media_length": r.remote_media_length,
            })
        })
        .collect();
    let n = rooms.len();
    Ok(Json(paginate(
        json!({ "rooms": rooms }),
        from,
        limit,
        n,
        total,
    )))
}

fn tally(t: Tally) -> Value {
    json!({"count": t.count, "bytes": t.bytes})
}

/// # `GET /_mxcd/admin/v1/statistics/media`
async fn media_totals(
    _: AdminUser,
    State(stats): State<Arc<statistics::Service>>,
) -> ApiResult<Json<Value>> {
    let t = stats.media_totals().await?;
    Ok(Json(json!({
        "logical": {
            "local": tally(t.local),
            "remote": tally(t.remote),
            "quarantined": tally(t.quarantined),
        },
        "physical": {
            "total": tally(t.blobs),
            "local": tally(t.local_blobs),
            "remote": tally(t.remote_blobs),
            "thumbnails": tally(t.thumbnail_blobs),
        },
    })))
}
