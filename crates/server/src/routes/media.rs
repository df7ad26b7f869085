//! The media repository's client endpoints: upload, download, config.

mod download;
mod federation;
mod headers;
mod thumbnail;
mod upload;

use axum::Router;

use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .merge(upload::router())
        .merge(download::router())
        .merge(thumbnail::router())
        .merge(federation::router())
}
