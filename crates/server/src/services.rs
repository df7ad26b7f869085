//! Services: the application logic between the HTTP routes and storage. No axum types here.

pub mod accounts;
pub mod media;
pub mod registration;
pub mod users;
