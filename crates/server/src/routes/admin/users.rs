//! `/_synapse/admin/v2/users…` and `/_synapse/admin/v1/users/<user_id>/admin`.

use std::sync::Arc;

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use mxcd_db::{UserFilter, UserOrder};
use serde_json::{Map, Value, json};

use super::{parse_user_id, truthy, user_json};
use crate::{
    auth::AdminUser,
    error::{ApiError, ApiResult},
    extract::{BodyBytes, JsonFields as _, Path, QueryParams, parse_object},
    services::{accounts, users},
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/_synapse/admin/v2/users", get(list_users))
        .route(
            "/_synapse/admin/v2/users/{user_id}",
            get(get_user).put(put_user),
        )
        .route(
            "/_synapse/admin/v1/users/{user_id}/admin",
            get(get_admin).put(set_admin),
        )
}

const ORDER_BY: [&str; 11] = [
    "name",
    "displayname",
    "is_guest",
    "admin",
    "deactivated",
    "user_type",
    "avatar_url",
    "shadow_banned",
    "creation_ts",
    "last_seen_ts",
    "locked",
];
const USER_TYPES: [&str; 2] = ["bot", "support"];

/// # `GET /_synapse/admin/v2/users`
async fn list_users(
    _: AdminUser,
    q: QueryParams,
    State(users): State<Arc<users::Service>>,
) -> ApiResult<Json<Value>> {
    let from = q.int("from")?.unwrap_or(0);
    let limit = q.int("limit")?.unwrap_or(100);
    let order = match q.choice("order_by", &ORDER_BY)?.unwrap_or("name") {
        "displayname" => UserOrder::Displayname,
        "is_guest" => UserOrder::IsGuest,
        "admin" => UserOrder::Admin,
        "deactivated" => UserOrder::Deactivated,
        "user_type" => UserOrder::UserType,
        "avatar_url" => UserOrder::AvatarUrl,
        "shadow_banned" => UserOrder::ShadowBanned,
        "creation_ts" => UserOrder::CreationTs,
        "last_seen_ts" => UserOrder::LastSeenTs,
        "locked" => UserOrder::Locked,
        _ => UserOrder::Name,
    };
    let filter = UserFilter {
        user_id: q.get("user_id").map(str::to_owned),
        name: q.get("name").map(str::to_owned),
        guests: q.bool("guests")?.unwrap_or(true),
        // v2 semantics: `deactivated=true` includes deactivated users, otherwise they are hidden.
        deactivated: if q.bool("deactivated")?.unwrap_or(false) {
            None
        } else {
            Some(false)
        },
        locked: q.bool("locked")?.unwrap_or(false),
        admins: q.bool("admins")?,
        order,
        descending: q.choice("dir", &["b", "f"])? == Some("b"),
        from,
        limit,
    };
    let (rows, total) = users.list(&filter).await?;
    let mut body = json!({
        "users": rows.iter().map(user_json::user_list_entry).collect::<Vec<_>>(),
        "total": total,
    });
    if from + limit < total {
        body["next_token"] = json!((from + rows.len() as i64).to_string());
    }
    Ok(Json(body))
}

/// # `GET /_synapse/admin/v2/users/{userId}`
async fn get_user(
    _: AdminUser,
    Path(user_id): Path<String>,
    State(users): State<Arc<users::Service>>,
    State(accounts): State<Arc<accounts::Service>>,
) -> ApiResult<Json<Value>> {
    let target = parse_user_id(&user_id)?;
    if target.domain != accounts.server_name() {
        return Err(ApiError::unknown(
            StatusCode::BAD_REQUEST,
            "Can only look up local users",
        ));
    }
    let user = users
        .get(target.full)
        .await?
        .ok_or_else(|| ApiError::not_found("User not found"))?;
    Ok(Json(user_json::user_details(&user)))
}

/// # `PUT /_synapse/admin/v2/users/{userId}`: create (201) or modify (200) a user.
async fn put_user(
    AdminUser(requester): AdminUser,
    Path(user_id): Path<String>,
    State(users): State<Arc<users::Service>>,
    State(accounts): State<Arc<accounts::Service>>,
    BodyBytes(body): BodyBytes,
) -> ApiResult<impl IntoResponse> {
    let target = parse_user_id(&user_id)?;
    let body = parse_object(&body)?;
    if target.domain != accounts.server_name() {
        return Err(ApiError::unknown(
            StatusCode::BAD_REQUEST,
            "This endpoint can only be used with local users",
        ));
    }
    let current = users.get(target.full).await?;
    let fields = validate_put(&body)?;
    let status = match current {
        Some(current) => {
            users.modify(&requester, &current, fields).await?;
            StatusCode::OK
        }
        None => {
            let displayname = fields.displayname.flatten();
            let avatar_url = fields.avatar_url.flatten();
            let user_type = fields.user_type.flatten();
            let admin = fields.admin.unwrap_or(false);
            users
                .create(
                    target.localpart(),
                    fields.password,
                    admin,
                    displayname,
                    avatar_url,
                    user_type,
                )
                .await?;
            StatusCode::CREATED
        }
    };
    let user = users
        .get(target.full)
        .await?
        .ok_or_else(|| ApiError::not_found("User not found"))?;
    Ok((status, Json(user_json::user_details(&user))))
}

/// Checks a PUT body in Synapse's order and with its messages.
fn validate_put(body: &Map<String, Value>) -> ApiResult<users::Modify> {
    let unknown = |m: &'static str| ApiError::unknown(StatusCode::BAD_REQUEST, m);
    for (key, required) in [
        ("threepids", ["medium", "address"]),
        ("external_ids", ["auth_provider", "external_id"]),
    ] {
        if let Some(Value::Array(items)) = body.get(key) {
            for item in items {
                let absent: Vec<String> = required
                    .iter()
                    .filter(|k| item.get(**k).is_none())
                    .map(|k| format!("'{k}'"))
                    .collect();
                if !absent.is_empty() {
                    return Err(ApiError::missing_param(format!(
                        "Missing params: [{}]",
                        absent.join(", ")
                    )));
                }
            }
        }
    }
    let user_type = match body.get("user_type") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(t)) if USER_TYPES.contains(&t.as_str()) => Some(Some(t.clone())),
        Some(_) => return Err(unknown("Invalid user type")),
    };
    let admin = match body.get("admin") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(ApiError::bad_json(
                "Param 'admin' must be a boolean, if given",
            ));
        }
    };
    let password = match body.get("password") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.chars().count() <= 512 => Some(p.clone()),
        Some(_) => return Err(unknown("Invalid password")),
    };
    let flag = |key: &'static str, msg: &'static str| match body.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(unknown(msg)),
    };
    let logout_devices = flag(
        "logout_devices",
        "'logout_devices' parameter is not of type boolean",
    )?;
    let deactivated = flag(
        "deactivated",
        "'deactivated' parameter is not of type boolean",
    )?;
    let locked = flag("locked", "'locked' parameter is not of type boolean")?;
    if deactivated == Some(true) && locked == Some(true) {
        return Err(unknown("An user can't be deactivated and locked"));
    }
    Ok(users::Modify {
        displayname: profile_field(
            body,
            "displayname",
            256,
            "Displayname is too long (max 256)",
        )?,
        avatar_url: profile_field(
            body,
            "avatar_url",
            1000,
            "Avatar URL is too long (max 1000)",
        )?,
        admin,
        password,
        logout_devices: logout_devices.unwrap_or(true),
        deactivated,
        locked,
        user_type,
    })
}

/// A profile string: absent → unchanged, `""` → cleared, otherwise trimmed and length-checked.
fn profile_field(
    body: &Map<String, Value>,
    key: &str,
    max: usize,
    too_long: &'static str,
) -> ApiResult<Option<Option<String>>> {
    let Some(v) = body
        .opt_str(key)
        .map_err(|_| ApiError::invalid_param(format!("'{key}' must be a string")))?
    else {
        return Ok(if body.contains_key(key) {
            Some(None)
        } else {
            None
        });
    };
    let v = v.trim();
    if v.chars().count() > max {
        return Err(ApiError::unknown(StatusCode::BAD_REQUEST, too_long));
    }
    Ok(Some(Some(v.to_owned()).filter(|s| !s.is_empty())))
}

/// # `GET /_synapse/admin/v1/users/{userId}/admin`
async fn get_admin(
    _: AdminUser,
    Path(user_id): Path<String>,
    State(users): State<Arc<users::Service>>,
    State(accounts): State<Arc<accounts::Service>>,
) -> ApiResult<Json<Value>> {
    let target = parse_user_id(&user_id)?;
    if target.domain != accounts.server_name() {
        return Err(not_local_admin());
    }
    Ok(Json(json!({ "admin": users.is_admin(target.full).await? })))
}

/// # `PUT /_synapse/admin/v1/users/{userId}/admin`
async fn set_admin(
    AdminUser(requester): AdminUser,
    Path(user_id): Path<String>,
    State(users): State<Arc<users::Service>>,
    State(accounts): State<Arc<accounts::Service>>,
    BodyBytes(body): BodyBytes,
) -> ApiResult<Json<Value>> {
    let target = parse_user_id(&user_id)?;
    let body = parse_object(&body)?;
    let Some(admin) = body.get("admin") else {
        return Err(ApiError::missing_param("Missing params: ['admin']"));
    };
    if target.domain != accounts.server_name() {
        return Err(not_local_admin());
    }
    users
        .set_admin(&requester.user_id, target.full, truthy(admin))
        .await?;
    Ok(Json(json!({})))
}

fn not_local_admin() -> ApiError {
    ApiError::unknown(
        StatusCode::BAD_REQUEST,
        "Only local users can be admins of this homeserver",
    )
}
