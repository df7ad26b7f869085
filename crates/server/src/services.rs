//! Services: the application logic between the HTTP routes and storage. No axum types here.

pub mod accounts;
pub mod notifier;
pub mod profiles;
pub mod rooms;
pub mod media;
pub mod registration;
pub mod user_data;
pub mod users;
