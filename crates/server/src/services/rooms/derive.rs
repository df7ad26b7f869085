//! What an event implies beyond itself: the MXC references it makes (the room↔media index), the
//! room columns it sets, the membership it records, and what redacting it changes.

use mxcd_db::{MediaRef, MemberFields, RoomField};
use ruma::MxcUri;
use serde_json::{Map, Value};

/// Parses `mxc://<server>/<media_id>` strictly: a valid server name and a non-empty media ID of
/// `[A-Za-z0-9_-]`. Anything else is not a reference.
pub(crate) fn parse_mxc(s: &str) -> Option<(String, String)> {
    let uri: &MxcUri = s.into();
    let (server, id) = uri.parts().ok()?;
    (!id.is_empty()).then(|| (server.to_string(), id.to_owned()))
}

/// The MXC references of an event. `m.room.encrypted` content is opaque. As in Synapse's room
/// media listing, `info.thumbnail_url` counts only when `url` is a string.
pub(crate) fn media_refs(event_type: &str, content: &Map<String, Value>) -> Vec<MediaRef> {
    if event_type == "m.room.encrypted" {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut add = |field: &'static str, v: Option<&Value>| {
        if let Some((origin, media_id)) = v.and_then(Value::as_str).and_then(parse_mxc) {
            out.push(MediaRef {
                field,
                origin,
                media_id,
            });
        }
    };
    if event_type == "m.room.member" {
        add("content.avatar_url", content.get("avatar_url"));
        return out;
    }
    if let Some(url) = content.get("url").filter(|u| u.is_string()) {
        add("content.url", Some(url));
        add(
            "content.info.thumbnail_url",
            content.get("info").and_then(|i| i.get("thumbnail_url")),
        );
    }
    out
}

/// The derived room columns a state event sets (only events with an empty state key count).
pub(crate) fn room_fields(
    event_type: &str,
    state_key: Option<&str>,
    content: &Map<String, Value>,
) -> Vec<(RoomField, Option<String>)> {
    if state_key != Some("") {
        return Vec::new();
    }
    let (field, key) = match event_type {
        "m.room.name" => (RoomField::Name, "name"),
        "m.room.topic" => (RoomField::Topic, "topic"),
        "m.room.canonical_alias" => (RoomField::CanonicalAlias, "alias"),
        "m.room.avatar" => (RoomField::Avatar, "url"),
        "m.room.join_rules" => (RoomField::JoinRules, "join_rule"),
        "m.room.guest_access" => (RoomField::GuestAccess, "guest_access"),
        "m.room.history_visibility" => (RoomField::HistoryVisibility, "history_visibility"),
        "m.room.encryption" => (RoomField::Encryption, "algorithm"),
        _ => return Vec::new(),
    };
    let value = content.get(key).and_then(Value::as_str).map(str::to_owned);
    vec![(field, value)]
}

/// The membership a member event records.
pub(crate) fn member_fields(
    event_type: &str,
    content: &Map<String, Value>,
) -> Option<MemberFields> {
    if event_type != "m.room.member" {
        return None;
    }
    let s = |k: &str| content.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(MemberFields {
        membership: s("membership")?,
        displayname: s("displayname"),
        avatar_url: s("avatar_url"),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn refs(t: &str, c: Value) -> Vec<(&'static str, String)> {
        media_refs(t, c.as_object().unwrap())
            .into_iter()
            .map(|r| (r.field, format!("{}/{}", r.origin, r.media_id)))
            .collect()
    }

    #[test]
    fn mxc_parsing_is_strict() {
        assert_eq!(
            parse_mxc("mxc://example.org:8448/abc_D-1"),
            Some(("example.org:8448".into(), "abc_D-1".into()))
        );
        for bad in [
            "mxc://example.org/",
            "mxc://example.org",
            "mxc:///abc",
            "http://example.org/abc",
            "mxc://example.org/a/b",
            "mxc://exa mple.org/abc",
            "mxc://example.org/ab#c",
            "MXC://example.org/abc",
        ] {
            assert_eq!(parse_mxc(bad), None, "{bad}");
        }
    }

    #[test]
    fn references_by_field() {
        assert_eq!(
            refs(
                "m.room.message",
                json!({"url": "mxc://s/a", "info": {"thumbnail_url": "mxc://s/t"}})
            ),
            [
                ("content.url", "s/a".to_owned()),
                ("content.info.thumbnail_url", "s/t".to_owned())
            ]
        );
        // A thumbnail without a string url is not listed (as Synapse); a bad url is skipped.
        assert!(
            refs(
                "m.room.message",
                json!({"info": {"thumbnail_url": "mxc://s/t"}})
            )
            .is_empty()
        );
        assert_eq!(
            refs(
                "m.room.message",
                json!({"url": "nope", "info": {"thumbnail_url": "mxc://s/t"}})
            ),
            [("content.info.thumbnail_url", "s/t".to_owned())]
        );
        assert_eq!(
            refs("m.room.avatar", json!({"url": "mxc://s/av"})),
            [("content.url", "s/av".to_owned())]
        );
        assert_eq!(
            refs(
                "m.room.member",
                json!({"membership": "join", "avatar_url": "mxc://s/me"})
            ),
            [("content.avatar_url", "s/me".to_owned())]
        );
        assert!(refs("m.room.encrypted", json!({"url": "mxc://s/a"})).is_empty());
    }
}
