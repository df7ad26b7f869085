//! Services: the application logic between the HTTP routes and storage. No axum types here.

pub mod accounts;
pub mod federation;
pub(crate) mod flights;
pub mod media;
pub mod notifier;
pub mod profiles;
pub mod registration;
pub mod rooms;
pub mod statistics;
pub mod user_data;
pub mod users;
