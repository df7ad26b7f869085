//! Rooms over HTTP: creation, sending and state. Membership and its authorisation are in
//! `rooms_membership`, pagination and redaction in `rooms_messages`, the directory in
//! `rooms_directory`.

use serde_json::{Value, json};

use crate::harness::{Backend, TestServer, enc};

crate::backend_tests!(
    create_room_presets_and_state,
    create_room_validation,
    send_is_idempotent_and_state_round_trips,
);

pub(crate) const V3: &str = "/_matrix/client/v3";

/// Creates a room as `tok` with `body` and returns its ID.
pub(crate) async fn create_room(s: &TestServer, tok: &str, body: Value) -> String {
    let r = s.post(&format!("{V3}/createRoom"), Some(tok), body).await;
    r.ok()["room_id"].as_str().unwrap().to_owned()
}

/// Sends an `m.room.message` and returns the event ID.
pub(crate) async fn send(
    s: &TestServer,
    tok: &str,
    room: &str,
    txn: &str,
    content: Value,
) -> String {
    let path = format!("{V3}/rooms/{}/send/m.room.message/{txn}", enc(room));
    s.put(&path, Some(tok), content).await.ok()["event_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `GET` a room path (`/rooms/{room}{rest}`).
pub(crate) async fn room_get(
    s: &TestServer,
    tok: &str,
    room: &str,
    rest: &str,
) -> crate::harness::Res {
    s.get(&format!("{V3}/rooms/{}{rest}", enc(room)), Some(tok))
        .await
}

fn types(events: &Value) -> Vec<&str> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect()
}

async fn create_room_presets_and_state(b: Backend) {
    let s = TestServer::start(b).await;
    let (alice, tok) = s.register("alice", "pw", false).await;
    let (bob, _) = s.register("bob", "pw", false).await;
    let room = create_room(
        &s,
        &tok,
        json!({"name": "Cats", "topic": "about cats", "preset": "public_chat"}),
    )
    .await;
    assert!(
        room.starts_with('!') && room.ends_with(":test.local"),
        "{room}"
    );
    let state = room_get(&s, &tok, &room, "/state").await;
    assert_eq!(
        types(state.ok()),
        [
            "m.room.create",
            "m.room.member",
            "m.room.power_levels",
            "m.room.join_rules",
            "m.room.history_visibility",
            "m.room.name",
            "m.room.topic"
        ]
    );
    let create = &state.body[0];
    assert_eq!(
        create["content"],
        json!({"creator": alice, "room_version": "10"})
    );
    assert_eq!(state.body[1]["content"]["displayname"], "alice");
    let pl = room_get(&s, &tok, &room, "/state/m.room.power_levels/").await;
    assert_eq!(pl.ok()["users"][&alice], 100);
    // As Synapse: the preset override lands at the top level, not under `events`.
    assert_eq!(pl.body["m.call.invite"], 50);
    assert_eq!(pl.body["invite"], 50);
    let jr = room_get(&s, &tok, &room, "/state/m.room.join_rules").await;
    assert_eq!(jr.ok(), &json!({"join_rule": "public"}));
    let topic = room_get(&s, &tok, &room, "/state/m.room.topic?format=event").await;
    assert_eq!(
        topic.ok()["content"]["m.topic"]["m.text"][0]["body"],
        "about cats"
    );
    assert_eq!(topic.body["state_key"], "");

    // A private room: invite-only, guests can join, invitees, overrides, encryption, avatar.
    let private = create_room(
        &s,
        &tok,
        json!({
            "preset": "trusted_private_chat",
            "invite": [bob],
            "is_direct": true,
            "power_level_content_override": {"users": {&alice: 100}, "kick": 75},
            "initial_state": [
                {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}},
                {"type": "m.room.avatar", "content": {"url": "mxc://test.local/avatar"}},
            ],
        }),
    )
    .await;
    let state = room_get(&s, &tok, &private, "/state").await;
    assert_eq!(
        types(state.ok()),
        [
            "m.room.create",
            "m.room.member",
            "m.room.power_levels",
            "m.room.join_rules",
            "m.room.history_visibility",
            "m.room.guest_access",
            "m.room.encryption",
            "m.room.avatar",
            "m.room.member"
        ]
    );
    let pl = &state.body[2]["content"];
    // The override replaces `users` as a whole (Synapse's dict.update).
    assert_eq!(pl["users"], json!({&alice: 100}));
    assert_eq!(
        (pl["kick"].clone(), pl["invite"].clone()),
        (json!(75), json!(0))
    );
    let invite = &state.body[8];
    assert_eq!(invite["state_key"], bob.as_str());
    assert_eq!(invite["content"]["membership"], "invite");
    assert_eq!(invite["content"]["is_direct"], true);
    assert_eq!(invite["content"]["displayname"], "bob");
    let jr = room_get(&s, &tok, &private, "/state/m.room.join_rules").await;
    assert_eq!(jr.ok()["join_rule"], "invite");
    // Unknown state: 404.
    let r = room_get(&s, &tok, &private, "/state/m.room.name").await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "Event not found.");
    // The event itself, in the client format.
    let ev_id = state.body[7]["event_id"].as_str().unwrap();
    assert!(ev_id.starts_with('$') && ev_id.len() == 44, "{ev_id}");
    let ev = room_get(&s, &tok, &private, &format!("/event/{}", enc(ev_id))).await;
    assert_eq!(
        ev.ok()["content"],
        json!({"url": "mxc://test.local/avatar"})
    );
    assert_eq!(ev.body["room_id"], private.as_str());
    assert!(ev.body["unsigned"]["age"].as_i64().unwrap() >= 0);
}

async fn create_room_validation(b: Backend) {
    let s = TestServer::start(b).await;
    let (alice, tok) = s.register("alice", "pw", false).await;
    let create = |body: Value| {
        let (s, tok) = (&s, &tok);
        async move { s.post(&format!("{V3}/createRoom"), Some(tok), body).await }
    };
    let r = create(json!({"room_version": "9"})).await;
    assert_eq!(
        r.err(400, "M_UNSUPPORTED_ROOM_VERSION"),
        "Your homeserver does not support this room version"
    );
    let r = create(json!({"room_version": 10})).await;
    assert_eq!(r.err(400, "M_BAD_JSON"), "room_version must be a string");
    let r = create(json!({"preset": "party"})).await;
    assert_eq!(r.err(400, "M_BAD_JSON"), "'party' is not a valid preset");
    let r = create(json!({"invite": ["bob"]})).await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Invalid user_id: \"bob\"");
    let r =
        create(json!({"power_level_content_override": {"users": {"@x:test.local": 100}}})).await;
    assert_eq!(
        r.err(400, "M_UNKNOWN"),
        format!("Not a valid power_level_content_override: 'users' did not contain {alice}")
    );
    let r = create(json!({"room_alias_name": "a b"})).await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Invalid characters in room alias");
    let r = create(json!({"room_alias_name": "a:b"})).await;
    assert!(r.err(400, "M_UNKNOWN").starts_with("':' is not permitted"));
    let r = create(json!({"name": 5})).await;
    r.err(400, "M_BAD_JSON");
    let r = create(json!({"initial_state": [{"type": "x"}]})).await;
    r.err(400, "M_BAD_JSON");
    let r = create(json!({"power_level_content_override": {"users": {&alice: 100}, "ban": "50"}}))
        .await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "'50' must be an integer.");
    let r = create(json!({"creation_content": {"x": 1.5}})).await;
    assert_eq!(r.err(400, "M_BAD_JSON"), "Bad JSON value: float");
    create(json!({"room_alias_name": "taken"})).await.ok();
    let r = create(json!({"room_alias_name": "taken"})).await;
    assert_eq!(r.err(400, "M_ROOM_IN_USE"), "Room alias already taken");
    let r = s.post(&format!("{V3}/createRoom"), None, json!({})).await;
    r.err(401, "M_MISSING_TOKEN");
    let r = s
        .raw(
            reqwest::Method::POST,
            &format!("{V3}/createRoom?access_token={tok}"),
            "[]",
        )
        .await;
    r.err(400, "M_BAD_JSON");
}

async fn send_is_idempotent_and_state_round_trips(b: Backend) {
    let s = TestServer::start(b).await;
    let (alice, tok) = s.register("alice", "pw", false).await;
    let room = create_room(&s, &tok, json!({})).await;
    let ev = send(
        &s,
        &tok,
        &room,
        "t1",
        json!({"msgtype": "m.text", "body": "hi"}),
    )
    .await;
    let again = send(
        &s,
        &tok,
        &room,
        "t1",
        json!({"msgtype": "m.text", "body": "other"}),
    )
    .await;
    assert_eq!(ev, again, "same device and transaction ID: same event");
    let other = send(
        &s,
        &tok,
        &room,
        "t2",
        json!({"msgtype": "m.text", "body": "hi"}),
    )
    .await;
    assert_ne!(ev, other);
    // Another device of the same user may reuse the transaction ID.
    let tok2 = s.login("alice", "pw").await.ok()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let third = send(
        &s,
        &tok2,
        &room,
        "t1",
        json!({"msgtype": "m.text", "body": "hi"}),
    )
    .await;
    assert_ne!(ev, third);
    let got = room_get(&s, &tok, &room, &format!("/event/{}", enc(&ev))).await;
    assert_eq!(got.ok()["content"]["body"], "hi");
    assert_eq!(got.body["sender"], alice.as_str());
    assert_eq!(got.body["unsigned"]["transaction_id"], "t1");
    let seen_by_other_device = room_get(&s, &tok2, &room, &format!("/event/{}", enc(&ev))).await;
    assert!(
        seen_by_other_device.ok()["unsigned"]
            .get("transaction_id")
            .is_none()
    );
    // POST without a transaction ID.
    let r = s
        .post(
            &format!("{V3}/rooms/{}/send/m.room.message", enc(&room)),
            Some(&tok),
            json!({"body": "x"}),
        )
        .await;
    assert!(r.ok()["event_id"].as_str().unwrap().starts_with('$'));
    // State: set, read, replace (prev_content), no-op repeat.
    let path = format!("{V3}/rooms/{}/state/org.example.thing/k1", enc(&room));
    let id1 = s.put(&path, Some(&tok), json!({"v": 1})).await.ok()["event_id"].clone();
    let id1b = s.put(&path, Some(&tok), json!({"v": 1})).await.ok()["event_id"].clone();
    assert_eq!(id1, id1b, "the same state again changes nothing");
    let id2 = s.put(&path, Some(&tok), json!({"v": 2})).await.ok()["event_id"].clone();
    assert_ne!(id1, id2);
    assert_eq!(s.get(&path, Some(&tok)).await.ok(), &json!({"v": 2}));
    let ev = room_get(
        &s,
        &tok,
        &room,
        &format!("/event/{}", enc(id2.as_str().unwrap())),
    )
    .await;
    assert_eq!(ev.ok()["unsigned"]["prev_content"], json!({"v": 1}));
    assert_eq!(ev.body["unsigned"]["replaces_state"], id1);
    // Bad bodies, floats, huge events, unknown rooms.
    let r = s
        .raw(
            reqwest::Method::PUT,
            &format!(
                "{V3}/rooms/{}/send/m.room.message/t9?access_token={tok}",
                enc(&room)
            ),
            "nope",
        )
        .await;
    r.err(400, "M_NOT_JSON");
    let r = s
        .put(
            &format!("{V3}/rooms/{}/send/m.room.message/t10", enc(&room)),
            Some(&tok),
            json!({"n": 0.5}),
        )
        .await;
    assert_eq!(r.err(400, "M_BAD_JSON"), "Bad JSON value: float");
    let big = "x".repeat(70_000);
    let r = s
        .put(
            &format!("{V3}/rooms/{}/send/m.room.message/t11", enc(&room)),
            Some(&tok),
            json!({"body": big}),
        )
        .await;
    r.err(413, "M_TOO_LARGE");
    let r = s
        .put(
            &format!(
                "{V3}/rooms/{}/send/m.room.message/t12",
                enc("!nope:test.local")
            ),
            Some(&tok),
            json!({}),
        )
        .await;
    r.err(404, "M_NOT_FOUND");
    let r = s
        .put(
            &format!("{V3}/rooms/{}/state/m.room.member/bob", enc(&room)),
            Some(&tok),
            json!({"membership": "join"}),
        )
        .await;
    r.err(400, "M_UNKNOWN");
    let r = s
        .put(
            &format!("{V3}/rooms/{}/state/m.room.power_levels", enc(&room)),
            Some(&tok),
            json!({"users": {"nope": 1}}),
        )
        .await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Not a valid user_id: nope");
    // Someone else's state key starting with '@'.
    let r = s
        .put(
            &format!(
                "{V3}/rooms/{}/state/org.example.thing/{}",
                enc(&room),
                enc("@bob:test.local")
            ),
            Some(&tok),
            json!({}),
        )
        .await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "You are not allowed to set others state"
    );
    // The create event cannot be replaced; member events must be state events.
    let r = s
        .put(
            &format!("{V3}/rooms/{}/state/m.room.create", enc(&room)),
            Some(&tok),
            json!({}),
        )
        .await;
    assert_eq!(r.err(403, "M_FORBIDDEN"), "Create event has prev events");
    let r = s
        .put(
            &format!("{V3}/rooms/{}/send/m.room.member/t13", enc(&room)),
            Some(&tok),
            json!({"membership": "join"}),
        )
        .await;
    r.err(403, "M_FORBIDDEN");
    // r0 works too; joined_rooms lists the room.
    let r = s.get("/_matrix/client/r0/joined_rooms", Some(&tok)).await;
    assert_eq!(r.ok()["joined_rooms"], json!([room]));
}
