//! The user objects of Synapse's admin API.

use mxcd_db::UserRow;
use serde_json::{Value, json};

/// `GET /_synapse/admin/v2/users/<user_id>`: `creation_ts` in seconds, as Synapse stores it.
pub(super) fn user_details(u: &UserRow) -> Value {
    json!({
        "name": u.user_id,
        "admin": u.admin,
        "deactivated": u.deactivated,
        "locked": u.locked,
        "shadow_banned": u.shadow_banned,
        "creation_ts": u.created_ts / 1000,
        "appservice_id": null,
        "consent_server_notice_sent": null,
        "consent_version": null,
        "consent_ts": null,
        "user_type": u.user_type,
        "is_guest": u.is_guest,
        "suspended": false,
        "displayname": u.displayname,
        "avatar_url": u.avatar_url,
        "threepids": [],
        "external_ids": [],
        "erased": false,
        "last_seen_ts": u.last_seen_ts,
    })
}

/// An entry of `GET /_synapse/admin/v2/users`: `creation_ts` in milliseconds there.
pub(super) fn user_list_entry(u: &UserRow) -> Value {
    json!({
        "name": u.user_id,
        "user_type": u.user_type,
        "is_guest": u.is_guest,
        "admin": u.admin,
        "deactivated": u.deactivated,
        "shadow_banned": u.shadow_banned,
        "displayname": u.displayname,
        "avatar_url": u.avatar_url,
        "creation_ts": u.created_ts,
        "approved": true,
        "erased": false,
        "last_seen_ts": u.last_seen_ts,
        "locked": u.locked,
    })
}
