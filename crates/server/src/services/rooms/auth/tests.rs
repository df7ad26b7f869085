#![cfg(test)]

use serde_json::json;

use super::*;

fn state() -> AuthState {
    let mut s = AuthState {
        room_id: "!r:x".into(),
        ..Default::default()
    };
    let obj = |v: Value| v.as_object().unwrap().clone();
    s.apply("m.room.create", "", "@a:x", &obj(json!({})), "$c");
    s.apply(
        "m.room.member",
        "@a:x",
        "@a:x",
        &obj(json!({"membership": "join"})),
        "$m",
    );
    s.apply(
        "m.room.power_levels",
        "",
        "@a:x",
        &obj(json!({"users": {"@a:x": 100}, "invite": 0})),
        "$p",
    );
    s.apply(
        "m.room.join_rules",
        "",
        "@a:x",
        &obj(json!({"join_rule": "invite"})),
        "$j",
    );
    s
}

#[test]
fn joins_need_an_invite_unless_public() {
    let mut s = state();
    let e = s.check_membership("@b:x", "@b:x", "join").unwrap_err();
    assert_eq!(e.to_string(), "You are not invited to this room.");
    s.check_membership("@a:x", "@b:x", "invite").unwrap();
    s.join_rule = Some("public".into());
    s.check_membership("@b:x", "@b:x", "join").unwrap();
}

#[test]
fn power_levels_guard_kicks_and_state() {
    let mut s = state();
    s.members
        .insert("@b:x".into(), ("join".into(), "$b".into()));
    let e = s.check_membership("@b:x", "@a:x", "leave").unwrap_err();
    assert_eq!(e.to_string(), "You cannot kick user @a:x.");
    let e = s
        .check_event("@b:x", "m.room.name", Some(""), &Map::new())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "You don't have permission to post that to the room. user_level (0) < send_level (50)"
    );
    let e = s
        .check_event("@c:x", "m.room.message", None, &Map::new())
        .unwrap_err();
    assert_eq!(e.to_string(), "User @c:x not in room !r:x (None)");
}

#[test]
fn power_level_changes_are_bounded() {
    let mut s = state();
    s.members
        .insert("@b:x".into(), ("join".into(), "$b".into()));
    let mut pl = s.power_levels.clone().unwrap();
    pl.insert("users".into(), json!({"@a:x": 100, "@b:x": 50}));
    s.check_event("@a:x", "m.room.power_levels", Some(""), &pl)
        .unwrap();
    s.power_levels = Some(pl.clone());
    pl.insert("users".into(), json!({"@a:x": 100, "@b:x": 100}));
    let e = s
        .check_event("@b:x", "m.room.power_levels", Some(""), &pl)
        .unwrap_err();
    assert!(e.to_string().contains("send_level (50)") || e.to_string().contains("greater"));
    let bad = json!({"ban": "50"});
    assert_eq!(
        validate_power_levels(bad.as_object().unwrap())
            .unwrap_err()
            .to_string(),
        "'50' must be an integer."
    );
}
