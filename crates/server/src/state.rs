//! What the HTTP layer holds: one handle per service, and a few settings.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::services::{
    accounts, federation, media, profiles, registration, rooms, statistics, user_data, users,
};

/// Settings the client-facing discovery endpoints answer with.
#[derive(Debug, Default)]
pub struct Discovery {
    /// The `/.well-known/matrix/client` body, when served.
    pub client_wellknown: Option<serde_json::Value>,
    /// The `/.well-known/matrix/server` body, when served.
    pub server_wellknown: Option<serde_json::Value>,
    /// `m.upload.size` of the media config endpoint.
    pub max_upload_size: u64,
}

#[derive(Clone, FromRef)]
pub struct AppState {
    pub accounts: Arc<accounts::Service>,
    pub registration: Arc<registration::Service>,
    pub users: Arc<users::Service>,
    pub media: Arc<media::Service>,
    pub rooms: Arc<rooms::Service>,
    pub profiles: Arc<profiles::Service>,
    pub user_data: Arc<user_data::Service>,
    pub discovery: Arc<Discovery>,
    pub federation: Arc<federation::Service>,
    pub statistics: Arc<statistics::Service>,
}
