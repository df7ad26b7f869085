//! Discovery: supported versions, `.well-known` delegation, media configuration, server version.

use std::sync::Arc;

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde_json::{Value, json};

use crate::{
    auth::AuthUser,
    error::ApiResult,
    state::{AppState, Discovery},
};

pub(super) fn router() -> Router<AppState> {
    let mut r = Router::new()
        .route("/_matrix/client/versions", get(get_supported_versions))
        .route("/.well-known/matrix/client", get(get_client_wellknown))
        .route("/.well-known/matrix/server", get(get_server_wellknown))
        .route("/_synapse/admin/v1/server_version", get(get_server_version))
        .route("/_matrix/client/v1/media/config", get(get_media_config));
    for v in ["v3", "r0", "v1"] {
        r = r.route(&format!("/_matrix/media/{v}/config"), get(get_media_config));
    }
    r
}

/// # `GET /_matrix/client/versions`
async fn get_supported_versions() -> Json<Value> {
    Json(json!({
        "versions": [
            "r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
            "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12"
        ],
        "unstable_features": {
            "org.matrix.msc3916.stable": true
        }
    }))
}

/// # `GET /.well-known/matrix/client`
async fn get_client_wellknown(State(d): State<Arc<Discovery>>) -> ApiResult<Json<Value>> {
    d.client_wellknown
        .clone()
        .map(Json)
        .ok_or_else(not_configured)
}

/// # `GET /.well-known/matrix/server`
async fn get_server_wellknown(State(d): State<Arc<Discovery>>) -> ApiResult<Json<Value>> {
    d.server_wellknown
        .clone()
        .map(Json)
        .ok_or_else(not_configured)
}

fn not_configured() -> crate::error::ApiError {
    crate::error::ApiError::new(
        StatusCode::NOT_FOUND,
        "M_NOT_FOUND",
        ".well-known not available",
    )
}

/// # `GET /_synapse/admin/v1/server_version`
async fn get_server_version() -> Json<Value> {
    Json(json!({ "server_version": env!("CARGO_PKG_VERSION") }))
}

/// # `GET /_matrix/client/v1/media/config`
async fn get_media_config(_user: AuthUser, State(d): State<Arc<Discovery>>) -> Json<Value> {
    Json(json!({ "m.upload.size": d.max_upload_size }))
}
