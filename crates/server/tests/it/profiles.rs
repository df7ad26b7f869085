//! Profiles over HTTP, and their propagation into the member events of joined rooms.

use serde_json::json;

use crate::{
    harness::{Backend, TestServer, enc},
    rooms::{V3, create_room, room_get},
};

crate::backend_tests!(
    profile_fields_and_errors,
    profile_changes_reach_joined_rooms
);

async fn profile_fields_and_errors(b: Backend) {
    let s = TestServer::start(b).await;
    let (alice, at) = s.register("alice", "pw", false).await;
    let (bob, bt) = s.register("bob", "pw", false).await;
    let p = |u: &str, rest: &str| format!("{V3}/profile/{}{rest}", enc(u));
    assert_eq!(
        s.get(&p(&alice, ""), None).await.ok(),
        &json!({"displayname": "alice"})
    );
    assert_eq!(
        s.get(&p(&alice, "/avatar_url"), None).await.ok(),
        &json!({"avatar_url": null})
    );
    let r = s
        .put(
            &p(&alice, "/avatar_url"),
            Some(&at),
            json!({"avatar_url": "mxc://test.local/me"}),
        )
        .await;
    assert_eq!(r.ok(), &json!({}));
    s.put(
        &p(&alice, "/displayname"),
        Some(&at),
        json!({"displayname": "  Alice  "}),
    )
    .await
    .ok();
    assert_eq!(
        s.get(&p(&alice, ""), None).await.ok(),
        &json!({"displayname": "Alice", "avatar_url": "mxc://test.local/me"})
    );
    assert_eq!(
        s.get(
            &format!("/_matrix/client/r0/profile/{}/displayname", enc(&alice)),
            None
        )
        .await
        .ok(),
        &json!({"displayname": "Alice"})
    );
    // Clearing both fields makes the profile "not found", as Synapse.
    s.put(
        &p(&bob, "/displayname"),
        Some(&bt),
        json!({"displayname": ""}),
    )
    .await
    .ok();
    let r = s.get(&p(&bob, ""), None).await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "Profile was not found");
    let r = s.get(&p("@nobody:test.local", "/displayname"), None).await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "Profile was not found");
    let r = s.get(&p("nobody", ""), None).await;
    assert_eq!(r.err(400, "M_INVALID_PARAM"), "Invalid user id");
    // Errors of PUT, in Synapse's order.
    let r = s
        .put(&p("nobody", "/displayname"), Some(&at), json!({}))
        .await;
    assert_eq!(r.err(400, "M_INVALID_PARAM"), "Invalid user id");
    let r = s.put(&p(&alice, "/displayname"), None, json!({})).await;
    r.err(401, "M_MISSING_TOKEN");
    let r = s
        .put(&p(&alice, "/displayname"), Some(&at), json!({}))
        .await;
    assert_eq!(r.err(400, "M_MISSING_PARAM"), "Missing key 'displayname'");
    let r = s
        .put(
            &p(&alice, "/displayname"),
            Some(&bt),
            json!({"displayname": "x"}),
        )
        .await;
    assert_eq!(
        r.err(400, "M_FORBIDDEN"),
        "Cannot set another user's displayname"
    );
    let r = s
        .put(
            &p(&alice, "/displayname"),
            Some(&at),
            json!({"displayname": 5}),
        )
        .await;
    assert_eq!(
        r.err(400, "M_INVALID_PARAM"),
        "'displayname' must be a string"
    );
    let r = s
        .put(
            &p(&alice, "/displayname"),
            Some(&at),
            json!({"displayname": "x".repeat(257)}),
        )
        .await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Displayname is too long (max 256)");
    let r = s
        .put(
            &p(&alice, "/avatar_url"),
            Some(&at),
            json!({"avatar_url": "x".repeat(1001)}),
        )
        .await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Avatar URL is too long (max 1000)");
    let r = s
        .put(
            &p("@x:elsewhere.example", "/displayname"),
            Some(&at),
            json!({"displayname": "x"}),
        )
        .await;
    assert_eq!(
        r.err(400, "M_UNKNOWN"),
        "User is not hosted on this homeserver"
    );
    // An admin may change another user's profile.
    let (_, admin) = s.register("root", "pw", true).await;
    s.put(
        &p(&bob, "/displayname"),
        Some(&admin),
        json!({"displayname": "Bobby"}),
    )
    .await
    .ok();
    assert_eq!(
        s.get(&p(&bob, "/displayname"), None).await.ok(),
        &json!({"displayname": "Bobby"})
    );
}

async fn profile_changes_reach_joined_rooms(b: Backend) {
    let s = TestServer::start(b).await;
    let (alice, at) = s.register("alice", "pw", false).await;
    let r1 = create_room(&s, &at, json!({})).await;
    let r2 = create_room(&s, &at, json!({})).await;
    let left = create_room(&s, &at, json!({})).await;
    s.post(
        &format!("{V3}/rooms/{}/leave", enc(&left)),
        Some(&at),
        json!({}),
    )
    .await
    .ok();
    s.put(
        &format!("{V3}/profile/{}/avatar_url", enc(&alice)),
        Some(&at),
        json!({"avatar_url": "mxc://test.local/face"}),
    )
    .await
    .ok();
    for room in [&r1, &r2] {
        let m = room_get(
            &s,
            &at,
            room,
            &format!("/state/m.room.member/{}?format=event", enc(&alice)),
        )
        .await;
        assert_eq!(
            m.ok()["content"],
            json!({"membership": "join", "displayname": "alice", "avatar_url": "mxc://test.local/face"})
        );
        assert_eq!(
            m.body["unsigned"]["prev_content"],
            json!({"membership": "join", "displayname": "alice"})
        );
        let joined = room_get(&s, &at, room, "/joined_members").await;
        assert_eq!(
            joined.ok()["joined"][&alice]["avatar_url"],
            "mxc://test.local/face"
        );
    }
    let m = room_get(
        &s,
        &at,
        &left,
        &format!("/state/m.room.member/{}", enc(&alice)),
    )
    .await;
    assert_eq!(m.ok(), &json!({"membership": "leave"}));
}
