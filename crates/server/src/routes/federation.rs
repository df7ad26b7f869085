//! Federation endpoints besides media: the key server, the version, and the X-Matrix
//! extractor every authenticated federation endpoint takes first.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{FromRef, FromRequestParts, State},
    http::request::Parts,
    routing::get,
};
use serde_json::{Value, json};

use crate::{error::ApiError, error::ApiResult, services::federation, state::AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/_matrix/key/v2/server", get(get_server_keys))
        .route("/_matrix/key/v2/server/{key_id}", get(get_server_keys))
        .route("/_matrix/federation/v1/version", get(get_server_version))
}

/// The server that signed an incoming federation request (checked X-Matrix).
#[derive(Clone, Debug)]
pub(crate) struct FederationOrigin(#[allow(dead_code)] pub(crate) String);

impl<S> FromRequestParts<S> for FederationOrigin
where
    S: Send + Sync,
    Arc<federation::Service>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let svc = Arc::<federation::Service>::from_ref(state);
        // The endpoints that take this have no body (GET).
        let origin = svc
            .authenticate(&parts.method, &parts.uri, &parts.headers, &[])
            .await?;
        Ok(Self(origin))
    }
}

/// # `GET /_matrix/key/v2/server` (and the deprecated `/_matrix/key/v2/server/{keyId}`)
async fn get_server_keys(State(f): State<Arc<federation::Service>>) -> ApiResult<Json<Value>> {
    let doc = f.key_document()?;
    Ok(Json(serde_json::to_value(doc).map_err(ApiError::internal)?))
}

/// # `GET /_matrix/federation/v1/version`
async fn get_server_version() -> Json<Value> {
    Json(json!({"server": {"name": "mxcd", "version": env!("CARGO_PKG_VERSION")}}))
}
