//! Account endpoints: `whoami`.

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};

use super::CLIENT_PREFIXES;
use crate::{auth::AuthUser, state::AppState};

pub(super) fn router() -> Router<AppState> {
    CLIENT_PREFIXES.iter().fold(Router::new(), |r, p| {
        r.route(&format!("{p}/account/whoami"), get(get_whoami))
    })
}

/// # `GET /_matrix/client/v3/account/whoami`
async fn get_whoami(AuthUser(r): AuthUser) -> Json<Value> {
    Json(json!({ "user_id": r.user_id, "device_id": r.device_id, "is_guest": r.is_guest }))
}
