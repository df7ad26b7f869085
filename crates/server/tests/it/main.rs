//! HTTP integration tests: each test runs against a real mxcd bound to 127.0.0.1:0, once on
//! SQLite and once on PostgreSQL (when `MXCD_TEST_POSTGRES_URL` is set; required under CI=true).

mod harness;

mod admin_media_delete;
mod admin_media_info;
mod admin_purge;
mod admin_quarantine;
mod admin_quarantine_federation;
mod admin_quarantine_hash;
mod admin_room_media;
mod admin_rooms;
mod admin_user_media;
mod admin_users;
mod auth_table;
mod binary;
mod bodies;
mod client_register;
mod clients;
mod discovery;
mod federation;
mod federation_hostile;
mod login;
mod media;
mod media_async;
mod media_service;
mod media_unsynced;
mod profiles;
mod restart;
mod room_media;
mod rooms;
mod rooms_directory;
mod rooms_membership;
mod rooms_messages;
mod shared_secret;
mod statistics;
mod statistics_consistency;
mod statistics_rooms;
mod synadm;
mod synapse;
mod sync;
mod sync_long_poll;
mod thumbnails;
