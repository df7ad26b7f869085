//! `GET/POST /_matrix/client/v3/login`, `POST …/logout`, `POST …/logout/all`.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde_json::{Map, Value, json};

use super::CLIENT_PREFIXES;
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    extract::JsonObject,
    services::accounts::{self, DeviceRequest},
    state::{AppState, Discovery},
};

pub(super) fn router() -> Router<AppState> {
    CLIENT_PREFIXES.iter().fold(Router::new(), |r, p| {
        r.route(&format!("{p}/login"), get(get_login_types).post(login))
            .route(&format!("{p}/logout"), post(logout))
            .route(&format!("{p}/logout/all"), post(logout_all))
    })
}

/// # `GET /_matrix/client/v3/login`
async fn get_login_types() -> Json<Value> {
    Json(json!({ "flows": [ { "type": "m.login.password" } ] }))
}

fn unknown(msg: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::unknown(StatusCode::BAD_REQUEST, msg)
}

/// The user named by a login submission: `identifier` (`m.id.user`) or the legacy `user`,
/// checked in the order of Synapse's `validate_login`.
fn login_user(body: &Map<String, Value>) -> ApiResult<String> {
    let mut identifier = body.get("identifier").cloned().unwrap_or_else(|| json!({}));
    if let Some(user) = body.get("user").filter(|u| super::admin::truthy(u)) {
        identifier = json!({ "type": "m.id.user", "user": user });
    }
    if !super::admin::truthy(&identifier) {
        return Err(ApiError::invalid_param("Invalid login submission"));
    }
    let Some(id_type) = identifier.get("type") else {
        return Err(ApiError::missing_param(
            "'identifier' dict has no key 'type'",
        ));
    };
    if id_type == "m.id.thirdparty" || id_type == "m.id.phone" {
        // No third-party identifiers are stored here, so no such login can succeed.
        return Err(ApiError::forbidden("Invalid username or password"));
    }
    if id_type != "m.id.user" {
        return Err(unknown("Unknown login identifier type"));
    }
    match identifier.get("user") {
        Some(Value::String(u)) if !u.is_empty() => Ok(u.clone()),
        _ => Err(unknown("User identifier is missing 'user' key")),
    }
}

/// # `POST /_matrix/client/v3/login`
async fn login(
    State(accounts): State<Arc<accounts::Service>>,
    State(discovery): State<Arc<Discovery>>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    if body.get("refresh_token").is_some_and(|v| !v.is_boolean()) {
        return Err(unknown("`refresh_token` should be true or false."));
    }
    let login_type = match body.get("type") {
        None => return Err(unknown("Missing JSON keys.")),
        Some(Value::String(t)) => t.as_str(),
        Some(_) => return Err(ApiError::invalid_param("Bad parameter: type")),
    };
    let password = body.get("password").and_then(Value::as_str);
    if login_type == "m.login.password" && password.is_none() {
        return Err(ApiError::invalid_param("Bad parameter: password"));
    }
    let user = login_user(&body)?;
    let Some(password) = password.filter(|_| login_type == "m.login.password") else {
        return Err(unknown(format!("Unknown login type {login_type}")));
    };
    let device_id = body
        .get("device_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if device_id.as_ref().is_some_and(|d| d.chars().count() > 512) {
        return Err(ApiError::invalid_param(
            "device_id cannot be longer than 512 characters.",
        ));
    }
    let display_name = body
        .get("initial_device_display_name")
        .and_then(Value::as_str);
    if display_name.is_some_and(|n| n.chars().count() > 100) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "M_TOO_LARGE",
            "Device display name is too long (max 100)",
        ));
    }
    let device = DeviceRequest {
        device_id: device_id.filter(|d| !d.is_empty()),
        display_name: body
            .get("initial_device_display_name")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    let session = accounts.login_password(&user, password, device).await?;
    let mut out = json!({
        "user_id": session.user_id,
        "access_token": session.access_token.as_str(),
        "home_server": accounts.server_name(),
        "device_id": session.device_id,
    });
    if let Some(ms) = session.expires_in_ms {
        out["expires_in_ms"] = json!(ms);
    }
    if let Some(wk) = &discovery.client_wellknown {
        out["well_known"] = wk.clone();
    }
    Ok(Json(out))
}

/// # `POST /_matrix/client/v3/logout`
async fn logout(
    AuthUser(r): AuthUser,
    State(accounts): State<Arc<accounts::Service>>,
) -> ApiResult<Json<Value>> {
    accounts.logout(&r).await?;
    Ok(Json(json!({})))
}

/// # `POST /_matrix/client/v3/logout/all`
async fn logout_all(
    AuthUser(r): AuthUser,
    State(accounts): State<Arc<accounts::Service>>,
) -> ApiResult<Json<Value>> {
    accounts.logout_all(&r).await?;
    Ok(Json(json!({})))
}
