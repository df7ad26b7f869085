//! Membership over HTTP and its authorisation: invites, joins by ID and alias, join rules,
//! kicks, bans, power levels, leaving and forgetting.

use serde_json::json;

use crate::{
    harness::{Backend, TestServer, enc},
    rooms::{V3, create_room, room_get, send},
};

crate::backend_tests!(
    invite_only_rooms,
    kicks_bans_and_power_levels,
    public_rooms_leave_and_forget
);

async fn post(
    s: &TestServer,
    tok: &str,
    room: &str,
    action: &str,
    body: serde_json::Value,
) -> crate::harness::Res {
    s.post(
        &format!("{V3}/rooms/{}/{action}", enc(room)),
        Some(tok),
        body,
    )
    .await
}

async fn invite_only_rooms(b: Backend) {
    let s = TestServer::start(b).await;
    let (alice, at) = s.register("alice", "pw", false).await;
    let (bob, bt) = s.register("bob", "pw", false).await;
    let (carol, ct) = s.register("carol", "pw", false).await;
    let room = create_room(&s, &at, json!({"preset": "private_chat"})).await;
    let r = post(&s, &bt, &room, "join", json!({})).await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "You are not invited to this room."
    );
    let r = post(&s, &ct, &room, "invite", json!({"user_id": bob})).await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        format!("{carol} not in room {room}.")
    );
    let r = post(&s, &at, &room, "invite", json!({})).await;
    assert_eq!(r.err(400, "M_MISSING_PARAM"), "Missing params: ['user_id']");
    let r = post(&s, &at, &room, "invite", json!({"user_id": "bob"})).await;
    assert_eq!(
        r.err(400, "M_INVALID_PARAM"),
        "Expected UserID string to start with '@'"
    );
    assert_eq!(
        post(&s, &at, &room, "invite", json!({"user_id": bob}))
            .await
            .ok(),
        &json!({})
    );
    // Non-members cannot send, read or list members.
    let r = s
        .put(
            &format!("{V3}/rooms/{}/send/m.room.message/t1", enc(&room)),
            Some(&ct),
            json!({"body": "x"}),
        )
        .await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        format!("User {carol} not in room {room} (None)")
    );
    let r = room_get(&s, &bt, &room, "/joined_members").await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "Getting joined members while not being a current member of the room is forbidden."
    );
    // An invited user cannot send yet either; joining with an empty body works.
    let r = s
        .put(
            &format!("{V3}/rooms/{}/send/m.room.message/t1", enc(&room)),
            Some(&bt),
            json!({"body": "x"}),
        )
        .await;
    assert!(r.err(403, "M_FORBIDDEN").starts_with(&format!(
        "User {bob} not in room {room} (<FrozenEventV3 event_id=$"
    )));
    let r = s
        .raw(
            reqwest::Method::POST,
            &format!("{V3}/rooms/{}/join?access_token={bt}", enc(&room)),
            "",
        )
        .await;
    assert_eq!(r.ok(), &json!({"room_id": room}));
    let r = post(&s, &at, &room, "invite", json!({"user_id": bob})).await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        format!("{bob} is already in the room.")
    );
    send(&s, &bt, &room, "t1", json!({"body": "hello"})).await;
    let joined = room_get(&s, &at, &room, "/joined_members").await;
    assert_eq!(
        joined.ok()["joined"],
        json!({
            &alice: {"display_name": "alice", "avatar_url": null},
            &bob: {"display_name": "bob", "avatar_url": null},
        })
    );
    let members = room_get(&s, &at, &room, "/members?membership=join").await;
    assert_eq!(members.ok()["chunk"].as_array().unwrap().len(), 2);
    let members = room_get(&s, &at, &room, "/members?not_membership=join").await;
    assert_eq!(members.ok()["chunk"], json!([]));
    // Rejecting an invite is a leave by the invitee.
    let other = create_room(&s, &at, json!({"invite": [carol]})).await;
    assert_eq!(
        post(&s, &ct, &other, "leave", json!({})).await.ok(),
        &json!({})
    );
    let m = room_get(
        &s,
        &at,
        &other,
        &format!("/state/m.room.member/{}", enc(&carol)),
    )
    .await;
    assert_eq!(m.ok()["membership"], "leave");
    let r = post(&s, &bt, "!unknown:test.local", "join", json!({})).await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "No known servers");
}

async fn kicks_bans_and_power_levels(b: Backend) {
    let s = TestServer::start(b).await;
    let (alice, at) = s.register("alice", "pw", false).await;
    let (bob, bt) = s.register("bob", "pw", false).await;
    let (carol, ct) = s.register("carol", "pw", false).await;
    let room = create_room(&s, &at, json!({"preset": "public_chat"})).await;
    post(&s, &bt, &room, "join", json!({})).await.ok();
    // Bob (power 0) may not change the name, kick or ban.
    let r = s
        .put(
            &format!("{V3}/rooms/{}/state/m.room.name", enc(&room)),
            Some(&bt),
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "You don't have permission to post that to the room. user_level (0) < send_level (50)"
    );
    let r = post(&s, &bt, &room, "kick", json!({"user_id": alice})).await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        format!("You cannot kick user {alice}.")
    );
    let r = post(&s, &bt, &room, "ban", json!({"user_id": carol})).await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "You don't have permission to ban"
    );
    // Nor raise his own power level, nor redact alice's message.
    let mut pl = room_get(&s, &at, &room, "/state/m.room.power_levels")
        .await
        .ok()
        .clone();
    pl["users"][&bob] = json!(100);
    let r = s
        .put(
            &format!("{V3}/rooms/{}/state/m.room.power_levels", enc(&room)),
            Some(&bt),
            pl.clone(),
        )
        .await;
    r.err(403, "M_FORBIDDEN");
    let ev = send(&s, &at, &room, "a1", json!({"body": "mine"})).await;
    let r = s
        .put(
            &format!("{V3}/rooms/{}/redact/{}/x", enc(&room), enc(&ev)),
            Some(&bt),
            json!({}),
        )
        .await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "You don't have permission to redact events"
    );
    // Bob may redact his own message.
    let own = send(&s, &bt, &room, "b1", json!({"body": "mine"})).await;
    s.put(
        &format!("{V3}/rooms/{}/redact/{}/y", enc(&room), enc(&own)),
        Some(&bt),
        json!({}),
    )
    .await
    .ok();
    // Alice raises bob to 50: he still cannot give 100, or demote alice.
    pl["users"][&bob] = json!(50);
    s.put(
        &format!("{V3}/rooms/{}/state/m.room.power_levels", enc(&room)),
        Some(&at),
        pl.clone(),
    )
    .await
    .ok();
    pl["users"][&carol] = json!(100);
    let r = s
        .put(
            &format!("{V3}/rooms/{}/state/m.room.power_levels", enc(&room)),
            Some(&bt),
            pl.clone(),
        )
        .await;
    r.err(403, "M_FORBIDDEN");
    // Kick: alice kicks bob; kicking again finds nobody.
    assert_eq!(
        post(
            &s,
            &at,
            &room,
            "kick",
            json!({"user_id": bob, "reason": "r"})
        )
        .await
        .ok(),
        &json!({})
    );
    let m = room_get(
        &s,
        &at,
        &room,
        &format!("/state/m.room.member/{}", enc(&bob)),
    )
    .await;
    assert_eq!(m.ok(), &json!({"membership": "leave", "reason": "r"}));
    let r = post(&s, &at, &room, "kick", json!({"user_id": bob})).await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "The target user is not in the room"
    );
    // Ban: a banned user cannot join (as Synapse, 403 M_BAD_STATE from the membership
    // handler, before the auth rules' "You are banned from this room"); unban lets them;
    // unbanning again is refused.
    post(&s, &at, &room, "ban", json!({"user_id": carol}))
        .await
        .ok();
    let r = post(&s, &ct, &room, "join", json!({})).await;
    assert_eq!(r.err(403, "M_BAD_STATE"), "Cannot join user who was banned");
    let r = post(&s, &at, &room, "invite", json!({"user_id": carol})).await;
    assert_eq!(
        r.err(403, "M_BAD_STATE"),
        "Cannot invite user who was banned"
    );
    post(&s, &at, &room, "unban", json!({"user_id": carol}))
        .await
        .ok();
    let r = post(&s, &at, &room, "unban", json!({"user_id": carol})).await;
    assert_eq!(
        r.err(403, "M_BAD_STATE"),
        "Cannot unban user who was not banned (membership=leave)"
    );
    post(&s, &ct, &room, "join", json!({})).await.ok();
    // Joining again with the same profile is a no-op.
    let m1 = room_get(
        &s,
        &ct,
        &room,
        &format!("/state/m.room.member/{}?format=event", enc(&carol)),
    )
    .await;
    post(&s, &ct, &room, "join", json!({})).await.ok();
    let m2 = room_get(
        &s,
        &ct,
        &room,
        &format!("/state/m.room.member/{}?format=event", enc(&carol)),
    )
    .await;
    assert_eq!(m1.ok()["event_id"], m2.ok()["event_id"]);
}

async fn public_rooms_leave_and_forget(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, at) = s.register("alice", "pw", false).await;
    let (bob, bt) = s.register("bob", "pw", false).await;
    let room = create_room(
        &s,
        &at,
        json!({"preset": "public_chat", "room_alias_name": "lobby"}),
    )
    .await;
    let r = s
        .post(
            &format!("{V3}/join/{}", enc("#lobby:test.local")),
            Some(&bt),
            json!({}),
        )
        .await;
    assert_eq!(r.ok(), &json!({"room_id": room}));
    let r = s
        .post(
            &format!("{V3}/join/{}", enc("#nope:test.local")),
            Some(&bt),
            json!({}),
        )
        .await;
    assert_eq!(
        r.err(404, "M_NOT_FOUND"),
        "Room alias #nope:test.local not found"
    );
    let r = s
        .post(&format!("{V3}/join/nonsense"), Some(&bt), json!({}))
        .await;
    r.err(400, "M_UNKNOWN");
    send(&s, &at, &room, "1", json!({"body": "before"})).await;
    let r = post(&s, &bt, &room, "forget", json!({})).await;
    assert_eq!(
        r.err(400, "M_UNKNOWN"),
        format!("User {bob} in room {room}")
    );
    post(&s, &bt, &room, "leave", json!({})).await.ok();
    send(&s, &at, &room, "2", json!({"body": "after"})).await;
    // After leaving, history up to the departure remains readable.
    let msgs = room_get(&s, &bt, &room, "/messages?dir=b&limit=50").await;
    let bodies: Vec<&str> = msgs.ok()["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    assert_eq!(bodies, ["before"]);
    let r = s.get(&format!("{V3}/joined_rooms"), Some(&bt)).await;
    assert_eq!(r.ok()["joined_rooms"], json!([]));
    assert_eq!(
        post(&s, &bt, &room, "forget", json!({})).await.ok(),
        &json!({})
    );
    let r = post(&s, &bt, "!nope:test.local", "leave", json!({})).await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "Not a known room");
}
