//! Profiles: `GET /profile/{userId}`, `GET`/`PUT …/displayname` and `…/avatar_url`.

use std::sync::Arc;

use axum::{Json, Router, extract::State, routing::get};
use serde_json::{Map, Value, json};

use super::CLIENT_PREFIXES;
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    extract::{BodyBytes, Path, parse_object},
    services::profiles::{self, Field},
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    CLIENT_PREFIXES.iter().fold(Router::new(), |r, p| {
        r.route(&format!("{p}/profile/{{user_id}}"), get(get_profile))
            .route(
                &format!("{p}/profile/{{user_id}}/displayname"),
                get(get_displayname).put(set_displayname),
            )
            .route(
                &format!("{p}/profile/{{user_id}}/avatar_url"),
                get(get_avatar_url).put(set_avatar_url),
            )
    })
}

fn check_user_id(user_id: &str) -> ApiResult<()> {
    ruma::UserId::parse(user_id)
        .map(|_| ())
        .map_err(|_| ApiError::invalid_param("Invalid user id"))
}

/// # `GET /_matrix/client/v3/profile/{userId}`
async fn get_profile(
    Path(user_id): Path<String>,
    State(svc): State<Arc<profiles::Service>>,
) -> ApiResult<Json<Value>> {
    check_user_id(&user_id)?;
    let (displayname, avatar_url) = svc.get(&user_id).await?;
    let mut body = Map::new();
    if let Some(d) = displayname {
        body.insert("displayname".into(), json!(d));
    }
    if let Some(a) = avatar_url {
        body.insert("avatar_url".into(), json!(a));
    }
    Ok(Json(Value::Object(body)))
}

async fn get_field(svc: &profiles::Service, user_id: &str, field: Field) -> ApiResult<Json<Value>> {
    check_user_id(user_id)?;
    let v = svc.get_field(user_id, field).await?;
    Ok(Json(json!({ field.name(): v })))
}

/// Synapse's order: user ID, authentication, body, the field's presence, then the service.
async fn set_field(
    svc: &profiles::Service,
    auth: Result<AuthUser, ApiError>,
    user_id: &str,
    field: Field,
    body: &[u8],
) -> ApiResult<Json<Value>> {
    check_user_id(user_id)?;
    let AuthUser(r) = auth?;
    let body = parse_object(body)?;
    let Some(v) = body.get(field.name()) else {
        return Err(ApiError::missing_param(format!(
            "Missing key '{}'",
            field.name()
        )));
    };
    svc.set_field(&r.user_id, r.admin, user_id, field, v)
        .await?;
    Ok(Json(json!({})))
}

/// # `GET /_matrix/client/v3/profile/{userId}/displayname`
async fn get_displayname(
    Path(user_id): Path<String>,
    State(svc): State<Arc<profiles::Service>>,
) -> ApiResult<Json<Value>> {
    get_field(&svc, &user_id, Field::Displayname).await
}

/// # `GET /_matrix/client/v3/profile/{userId}/avatar_url`
async fn get_avatar_url(
    Path(user_id): Path<String>,
    State(svc): State<Arc<profiles::Service>>,
) -> ApiResult<Json<Value>> {
    get_field(&svc, &user_id, Field::AvatarUrl).await
}

/// # `PUT /_matrix/client/v3/profile/{userId}/displayname`
async fn set_displayname(
    Path(user_id): Path<String>,
    State(svc): State<Arc<profiles::Service>>,
    auth: Result<AuthUser, ApiError>,
    BodyBytes(body): BodyBytes,
) -> ApiResult<Json<Value>> {
    set_field(&svc, auth, &user_id, Field::Displayname, &body).await
}

/// # `PUT /_matrix/client/v3/profile/{userId}/avatar_url`
async fn set_avatar_url(
    Path(user_id): Path<String>,
    State(svc): State<Arc<profiles::Service>>,
    auth: Result<AuthUser, ApiError>,
    BodyBytes(body): BodyBytes,
) -> ApiResult<Json<Value>> {
    set_field(&svc, auth, &user_id, Field::AvatarUrl, &body).await
}
