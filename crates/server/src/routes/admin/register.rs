//! Synapse's shared-secret registration: `GET/POST /_synapse/admin/v1/register`.
//! No access token; the HMAC over a single-use nonce proves knowledge of the shared secret.

use std::sync::Arc;

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde_json::{Map, Value, json};

use crate::{
    error::{ApiError, ApiResult},
    extract::{BodyBytes, parse_object},
    services::{
        accounts::{self, DeviceRequest, Registration},
        registration::{self, MacInput},
    },
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    Router::new().route(
        "/_synapse/admin/v1/register",
        get(get_nonce).post(register_with_secret),
    )
}

/// # `GET /_synapse/admin/v1/register`
async fn get_nonce(State(reg): State<Arc<registration::Service>>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "nonce": reg.new_nonce().await? })))
}

fn bad(msg: &'static str) -> ApiError {
    ApiError::unknown(StatusCode::BAD_REQUEST, msg)
}

/// A username or password as Synapse accepts it: a string of at most 512 characters, no NUL.
fn credential<'a>(
    body: &'a Map<String, Value>,
    key: &str,
    missing: &'static str,
    invalid: &'static str,
) -> ApiResult<&'a str> {
    match body.get(key) {
        None => Err(ApiError::bad_json(missing)),
        Some(Value::String(s)) if s.chars().count() <= 512 && !s.contains('\0') => Ok(s),
        Some(_) => Err(bad(invalid)),
    }
}

/// # `POST /_synapse/admin/v1/register`
///
/// Checks run in Synapse's order; the nonce is used up before the other fields are checked.
async fn register_with_secret(
    State(reg): State<Arc<registration::Service>>,
    State(accounts): State<Arc<accounts::Service>>,
    BodyBytes(body): BodyBytes,
) -> ApiResult<Json<Value>> {
    if !reg.shared_secret_enabled() {
        return Err(bad("Shared secret registration is not enabled"));
    }
    let body = parse_object(&body)?;
    let nonce = match body.get("nonce") {
        None => return Err(ApiError::bad_json("nonce must be specified")),
        Some(Value::String(n)) => n.as_str(),
        Some(_) => return Err(bad("unrecognised nonce")),
    };
    if !reg.take_nonce(nonce).await? {
        return Err(bad("unrecognised nonce"));
    }
    let username = credential(
        &body,
        "username",
        "username must be specified",
        "Invalid username",
    )?;
    let password = credential(
        &body,
        "password",
        "password must be specified",
        "Invalid password",
    )?;
    let user_type = match body.get("user_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if ["bot", "support"].contains(&t.as_str()) => Some(t.as_str()),
        Some(_) => return Err(bad("Invalid user type")),
    };
    let Some(mac) = body.get("mac") else {
        return Err(ApiError::bad_json("mac must be specified"));
    };
    let admin = body.get("admin").is_some_and(super::truthy);
    let input = MacInput {
        nonce,
        username,
        password,
        admin,
        user_type,
    };
    if !mac.as_str().is_some_and(|m| reg.mac_matches(&input, m)) {
        return Err(ApiError::unknown(StatusCode::FORBIDDEN, "HMAC incorrect"));
    }
    let registration = Registration {
        localpart: username.to_lowercase(),
        password: Some(password.to_owned()),
        admin,
        displayname: body
            .get("displayname")
            .and_then(Value::as_str)
            .map(str::to_owned),
        user_type: user_type.map(str::to_owned),
        login: login_request(&body),
    };
    let (user_id, session) = accounts.register(registration).await?;
    Ok(Json(registration_response(
        &user_id,
        accounts.server_name(),
        session,
    )))
}

/// The session a registration asks for: none with `inhibit_login`, else the requested device.
pub(crate) fn login_request(body: &Map<String, Value>) -> Option<DeviceRequest> {
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    (!body.get("inhibit_login").is_some_and(super::truthy)).then(|| DeviceRequest {
        device_id: text("device_id"),
        display_name: text("initial_device_display_name"),
    })
}

/// The body of a successful registration (shared-secret or client `/register`).
pub(crate) fn registration_response(
    user_id: &str,
    server_name: &str,
    session: Option<accounts::Session>,
) -> Value {
    let mut out = json!({ "user_id": user_id, "home_server": server_name });
    if let Some(s) = session {
        out["access_token"] = json!(s.access_token.as_str());
        out["device_id"] = json!(s.device_id);
        if let Some(ms) = s.expires_in_ms {
            out["expires_in_ms"] = json!(ms);
        }
    }
    out
}
