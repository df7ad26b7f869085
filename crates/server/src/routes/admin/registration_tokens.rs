//! Registration tokens (Synapse's `/_synapse/admin/v1/registration_tokens`): create and list.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    routing::{get, post},
};
use mxcd_db::RegistrationToken;
use mxcd_types::time::now_ms;
use serde_json::{Value, json};

use crate::{
    auth::AdminUser,
    error::{ApiError, ApiResult},
    extract::JsonObject,
    services::registration,
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/_synapse/admin/v1/registration_tokens", get(list_tokens))
        .route(
            "/_synapse/admin/v1/registration_tokens/new",
            post(create_token),
        )
}

fn token_json(t: &RegistrationToken) -> Value {
    json!({
        "token": t.token, "uses_allowed": t.uses_allowed, "pending": t.pending,
        "completed": t.completed, "expiry_time": t.expiry_time,
    })
}

/// # `GET /_synapse/admin/v1/registration_tokens`
async fn list_tokens(
    _: AdminUser,
    State(reg): State<Arc<registration::Service>>,
) -> ApiResult<Json<Value>> {
    let tokens = reg.list_registration_tokens().await?;
    Ok(Json(
        json!({ "registration_tokens": tokens.iter().map(token_json).collect::<Vec<_>>() }),
    ))
}

/// # `POST /_synapse/admin/v1/registration_tokens/new`
async fn create_token(
    _: AdminUser,
    State(reg): State<Arc<registration::Service>>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let token = match body.get("token") {
        None => None,
        Some(Value::String(t))
            if !t.is_empty()
                && t.len() <= 64
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b)) =>
        {
            Some(t.clone())
        }
        Some(_) => {
            return Err(ApiError::invalid_param(
                "token must not be empty and must not be longer than 64 characters and must consist \
                 only of characters matched by the regex [A-Za-z0-9._~-]",
            ));
        }
    };
    let uses_allowed = match body.get("uses_allowed") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ApiError::invalid_param("uses_allowed must be a non-negative integer or null")
                })?,
        ),
    };
    let expiry_time = match body.get("expiry_time") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let t = v
                .as_i64()
                .ok_or_else(|| ApiError::invalid_param("expiry_time must be an integer or null"))?;
            if t < now_ms() {
                return Err(ApiError::invalid_param(
                    "expiry_time must not be in the past",
                ));
            }
            Some(t)
        }
    };
    let length = match body.get("length") {
        None => 16,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=64).contains(n))
            .ok_or_else(|| ApiError::invalid_param("length must be an integer > 0 and <= 64"))?
            as usize,
    };
    let t = RegistrationToken {
        token: token.unwrap_or_else(|| mxcd_types::random_string(length)),
        uses_allowed,
        pending: 0,
        completed: 0,
        expiry_time,
    };
    if !reg.create_registration_token(&t).await? {
        return Err(ApiError::invalid_param(format!(
            "Token already exists: {}",
            t.token
        )));
    }
    Ok(Json(token_json(&t)))
}
