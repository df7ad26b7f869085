//! HTTP integration tests: each test runs against a real mxcd bound to 127.0.0.1:0, once on
//! SQLite and once on PostgreSQL (when `MXCD_TEST_POSTGRES_URL` is set; required under CI=true).

mod harness;

mod admin_users;
mod auth_table;
mod binary;
mod client_register;
mod discovery;
mod login;
mod media;
mod media_async;
mod media_service;
mod restart;
mod rooms;
mod rooms_membership;
mod shared_secret;
mod sync;
