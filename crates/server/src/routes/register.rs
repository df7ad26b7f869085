//! Client registration: `POST /_matrix/client/v3/register` with user-interactive auth
//! (`m.login.dummy`, optionally behind `m.login.registration_token`), and the token validity check.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Map, Value, json};

use super::{
    CLIENT_PREFIXES,
    admin::register::{login_request, registration_response},
};
use crate::{
    error::{ApiError, ApiResult},
    extract::{JsonObject, QueryParams},
    services::{
        accounts::{self, Registration},
        registration,
    },
    state::AppState,
};

const DUMMY: &str = "m.login.dummy";
const TOKEN: &str = "m.login.registration_token";

pub(super) fn router() -> Router<AppState> {
    CLIENT_PREFIXES
        .iter()
        .fold(Router::new(), |r, p| {
            r.route(&format!("{p}/register"), post(register))
        })
        .route(
            "/_matrix/client/v1/register/m.login.registration_token/validity",
            get(get_token_validity),
        )
        .route(
            "/_matrix/client/v3/register/available",
            get(get_username_availability),
        )
        .route(
            "/_matrix/client/r0/register/available",
            get(get_username_availability),
        )
}

fn bad(msg: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::unknown(StatusCode::BAD_REQUEST, msg)
}

/// # `POST /_matrix/client/v3/register`
async fn register(
    q: QueryParams,
    State(reg): State<Arc<registration::Service>>,
    State(accounts): State<Arc<accounts::Service>>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    match q.get("kind").unwrap_or("user") {
        "user" => {}
        "guest" => {
            return Err(ApiError::unknown(
                StatusCode::FORBIDDEN,
                "Guest access is disabled",
            ));
        }
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "M_UNRECOGNIZED",
                format!("Do not understand membership kind: {other}"),
            ));
        }
    }
    if body.get("refresh_token").is_some_and(|v| !v.is_boolean()) {
        return Err(bad("`refresh_token` should be true or false."));
    }
    let username = match body.get("username") {
        None => None,
        Some(Value::String(u)) if u.chars().count() <= 512 => Some(u.to_lowercase()),
        Some(_) => return Err(bad("Invalid username")),
    };
    if !reg.policy().enabled {
        return Err(ApiError::forbidden("Registration has been disabled"));
    }
    let password = match body.get("password") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.chars().count() <= 512 => Some(p.clone()),
        Some(_) => return Err(bad("Invalid password")),
    };
    if let Some(u) = &username {
        accounts.check_username(u).await?;
    }
    let session = match user_interactive_auth(&reg, &body).await? {
        Ok(session) => session,
        Err(incomplete) => return Ok(incomplete),
    };
    let Some(password) = password else {
        return Err(ApiError::missing_param("Missing params: password"));
    };
    let registration = Registration {
        localpart: username.unwrap_or_else(generated_localpart),
        password: Some(password),
        admin: false,
        displayname: None,
        user_type: None,
        login: login_request(&body),
    };
    let (user_id, login) = accounts.register(registration).await?;
    reg.finish_uia_session(&session).await?;
    Ok(Json(registration_response(
        &user_id,
        accounts.server_name(),
        login,
    ))
    .into_response())
}

/// A localpart for a registration that named none: a letter, then random lowercase characters.
fn generated_localpart() -> String {
    format!("u{}", mxcd_types::random_string(11).to_lowercase())
}

/// Runs one round of user-interactive auth. `Ok(Ok(session))` when a flow is complete,
/// `Ok(Err(response))` with the 401 that tells the client what is still needed.
async fn user_interactive_auth(
    reg: &registration::Service,
    body: &Map<String, Value>,
) -> ApiResult<Result<String, Response>> {
    let flow: &[&str] = if reg.policy().requires_token {
        &[TOKEN, DUMMY]
    } else {
        &[DUMMY]
    };
    let auth = body.get("auth").and_then(Value::as_object);
    let session_id = match auth.and_then(|a| a.get("session")) {
        Some(sid) => {
            let sid = sid.as_str().unwrap_or_default();
            reg.uia_session(sid)
                .await?
                .ok_or_else(|| bad(format!("Unknown session ID: {sid}")))?;
            sid.to_owned()
        }
        None => reg.new_uia_session().await?,
    };
    let mut stage_error = None;
    if let Some(stage) = auth.and_then(|a| a.get("type")).and_then(Value::as_str) {
        stage_error = check_stage(reg, stage, auth.unwrap_or(&Map::new()), &session_id).await?;
    }
    let session = reg
        .uia_session(&session_id)
        .await?
        .ok_or_else(|| bad("Unknown session ID"))?;
    if flow.iter().all(|s| session.has_completed(s)) {
        return Ok(Ok(session_id));
    }
    let completed: Vec<&str> = flow
        .iter()
        .copied()
        .filter(|s| session.has_completed(s))
        .collect();
    let mut out = json!({
        "flows": [ { "stages": flow } ],
        "params": {},
        "session": session_id,
        "completed": completed,
    });
    if let Some(e) = stage_error {
        out["errcode"] = json!(e.errcode);
        out["error"] = json!(e.message);
    }
    Ok(Err((StatusCode::UNAUTHORIZED, Json(out)).into_response()))
}

/// Checks one presented stage; a failed stage is reported inside the 401, as Synapse does.
async fn check_stage(
    reg: &registration::Service,
    stage: &str,
    auth: &Map<String, Value>,
    session: &str,
) -> ApiResult<Option<ApiError>> {
    match stage {
        DUMMY => reg.complete_stage(session, DUMMY).await?,
        TOKEN if reg.policy().requires_token => {
            let token = match auth.get("token") {
                None => return Ok(Some(ApiError::missing_param("Missing registration token"))),
                Some(Value::String(t)) => t,
                Some(_) => {
                    return Ok(Some(ApiError::invalid_param(
                        "Registration token must be a string",
                    )));
                }
            };
            let done = reg
                .uia_session(session)
                .await?
                .is_some_and(|s| s.has_completed(TOKEN));
            if !done && !reg.use_registration_token(token, session).await? {
                return Ok(Some(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "M_UNAUTHORIZED",
                    "Invalid registration token",
                )));
            }
        }
        _ => {
            return Ok(Some(ApiError::new(
                StatusCode::BAD_REQUEST,
                "M_UNRECOGNIZED",
                "",
            )));
        }
    }
    Ok(None)
}

/// # `GET /_matrix/client/v1/register/m.login.registration_token/validity`
async fn get_token_validity(
    q: QueryParams,
    State(reg): State<Arc<registration::Service>>,
) -> ApiResult<Json<Value>> {
    if !reg.policy().enabled {
        return Err(ApiError::forbidden("Registration has been disabled"));
    }
    let Some(token) = q.get("token") else {
        return Err(ApiError::missing_param(
            "Missing string query parameter 'token'",
        ));
    };
    Ok(Json(
        json!({ "valid": reg.registration_token_valid(token).await? }),
    ))
}

/// # `GET /_matrix/client/v3/register/available`
///
/// As Synapse, the username is checked as given (not lower-cased, unlike `/register`).
async fn get_username_availability(
    q: QueryParams,
    State(reg): State<Arc<registration::Service>>,
    State(accounts): State<Arc<accounts::Service>>,
) -> ApiResult<Json<Value>> {
    if !reg.policy().enabled {
        return Err(ApiError::forbidden("Registration has been disabled"));
    }
    let Some(username) = q.get("username") else {
        return Err(ApiError::missing_param(
            "Missing string query parameter 'username'",
        ));
    };
    accounts.check_username(username).await?;
    Ok(Json(json!({ "available": true })))
}
