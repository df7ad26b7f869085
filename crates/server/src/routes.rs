//! HTTP routes: thin handlers, one file per endpoint family.

mod account;
pub(crate) mod admin;
mod discovery;
pub(crate) mod federation;
mod login;
mod media;
mod profile;
mod register;
mod rooms;
mod sync;

use axum::Router;

use crate::state::AppState;

/// The client API versions (`r0`, `v3`) under which client endpoints are served, as Synapse.
pub(crate) const CLIENT_PREFIXES: [&str; 2] = ["/_matrix/client/r0", "/_matrix/client/v3"];

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(discovery::router())
        .merge(federation::router())
        .merge(login::router())
        .merge(account::router())
        .merge(register::router())
        .merge(admin::router())
        .merge(media::router())
        .merge(profile::router())
        .merge(rooms::router())
        .merge(sync::router())
}
