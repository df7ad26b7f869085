//! `GET /_synapse/admin/v1/whois/<user_id>`.

use std::sync::Arc;

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde_json::{Value, json};

use super::parse_user_id;
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    extract::Path,
    routes::CLIENT_PREFIXES,
    services::{accounts::AuthError, users},
    state::AppState,
};

pub(super) fn router() -> Router<AppState> {
    let r = Router::new().route("/_synapse/admin/v1/whois/{user_id}", get(get_whois));
    CLIENT_PREFIXES.iter().fold(r, |r, p| {
        r.route(&format!("{p}/admin/whois/{{user_id}}"), get(get_whois))
    })
}

/// # `GET /_synapse/admin/v1/whois/{userId}`
///
/// As Synapse: the user ID is checked before authentication, and users may look themselves up.
async fn get_whois(
    Path(user_id): Path<String>,
    auth: Result<AuthUser, ApiError>,
    State(users): State<Arc<users::Service>>,
    State(accounts): State<Arc<crate::services::accounts::Service>>,
) -> ApiResult<Json<Value>> {
    let target = parse_user_id(&user_id)?;
    let AuthUser(r) = auth?;
    if r.user_id != target.full && !r.admin {
        return Err(AuthError::NotAdmin.into());
    }
    if target.domain != accounts.server_name() {
        return Err(ApiError::unknown(
            StatusCode::BAD_REQUEST,
            "Can only whois a local user",
        ));
    }
    let mut conns = users.connections(target.full).await?;
    conns.retain(|c| c.last_seen.is_some());
    conns.sort_by_key(|c| std::cmp::Reverse(c.last_seen));
    let connections: Vec<Value> = conns
        .into_iter()
        .map(|c| json!({ "ip": c.ip, "last_seen": c.last_seen, "user_agent": c.user_agent }))
        .collect();
    Ok(Json(json!({
        "user_id": target.full,
        "devices": { "": { "sessions": [ { "connections": connections } ] } },
    })))
}
