//! Room aliases, the published room list and `/publicRooms` over HTTP.

use serde_json::json;

use crate::{
    harness::{Backend, TestServer, enc},
    rooms::{V3, create_room},
};

crate::backend_tests!(aliases, public_room_list);

async fn aliases(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, at) = s.register("alice", "pw", false).await;
    let (_, bt) = s.register("bob", "pw", false).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let room = create_room(&s, &at, json!({})).await;
    let path = |a: &str| format!("{V3}/directory/room/{}", enc(a));
    let r = s
        .put(
            &path("#cats:test.local"),
            Some(&at),
            json!({"room_id": room}),
        )
        .await;
    assert_eq!(r.ok(), &json!({}));
    let r = s.get(&path("#cats:test.local"), None).await;
    assert_eq!(r.ok(), &json!({"room_id": room, "servers": ["test.local"]}));
    let r = s
        .put(
            &path("#cats:test.local"),
            Some(&at),
            json!({"room_id": room}),
        )
        .await;
    assert_eq!(
        r.err(409, "M_UNKNOWN"),
        "Room alias #cats:test.local already exists"
    );
    let r = s.get(&path("#dogs:test.local"), None).await;
    assert_eq!(
        r.err(404, "M_NOT_FOUND"),
        "Room alias #dogs:test.local not found"
    );
    let r = s.get(&path("cats"), None).await;
    assert_eq!(r.err(400, "M_INVALID_PARAM"), "Room alias invalid");
    let r = s
        .put(
            &path("#x:test.local"),
            Some(&at),
            json!({"room_id": "!nope:test.local"}),
        )
        .await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Room does not exist");
    let r = s.put(&path("#x:test.local"), Some(&at), json!({})).await;
    r.err(400, "M_BAD_JSON");
    let r = s
        .put(&path("#x:test.local"), Some(&bt), json!({"room_id": room}))
        .await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "You must be in the room to create an alias for it"
    );
    let r = s
        .put(
            &path("#x:elsewhere.example"),
            Some(&at),
            json!({"room_id": room}),
        )
        .await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Room alias must be local");
    // Deleting: not by an outsider; by the creator; by an admin.
    let r = s
        .req(
            reqwest::Method::DELETE,
            &path("#cats:test.local"),
            Some(&bt),
            None,
        )
        .await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "You don't have permission to delete the alias."
    );
    let r = s
        .req(
            reqwest::Method::DELETE,
            &path("#cats:test.local"),
            Some(&at),
            None,
        )
        .await;
    assert_eq!(r.ok(), &json!({}));
    let r = s
        .req(
            reqwest::Method::DELETE,
            &path("#cats:test.local"),
            Some(&at),
            None,
        )
        .await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "Unknown room alias");
    s.put(&path("#c2:test.local"), Some(&at), json!({"room_id": room}))
        .await
        .ok();
    let r = s
        .req(
            reqwest::Method::DELETE,
            &path("#c2:test.local"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.ok(), &json!({}));
}

async fn public_room_list(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, at) = s.register("alice", "pw", false).await;
    let (_, bt) = s.register("bob", "pw", false).await;
    let big = create_room(
        &s,
        &at,
        json!({"visibility": "public", "name": "Big", "topic": "t", "room_alias_name": "big"}),
    )
    .await;
    s.post(&format!("{V3}/join/{}", enc(&big)), Some(&bt), json!({}))
        .await
        .ok();
    let small = create_room(&s, &at, json!({"visibility": "public", "name": "Small"})).await;
    let private = create_room(&s, &at, json!({"name": "Hidden"})).await;
    let list = s.get(&format!("{V3}/publicRooms"), None).await;
    let chunk = list.ok()["chunk"].as_array().unwrap().clone();
    assert_eq!(list.body["total_room_count_estimate"], 2);
    assert_eq!(
        chunk[0],
        json!({
            "room_id": big, "name": "Big", "topic": "t", "canonical_alias": "#big:test.local",
            "join_rule": "public", "num_joined_members": 2, "world_readable": false,
            "guest_can_join": false,
        })
    );
    assert_eq!(chunk[1]["room_id"], small.as_str());
    let page = s.get(&format!("{V3}/publicRooms?limit=1"), None).await;
    assert_eq!(page.ok()["chunk"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["next_batch"], "1");
    let page2 = s
        .get(&format!("{V3}/publicRooms?limit=1&since=1"), None)
        .await;
    assert_eq!(page2.ok()["chunk"][0]["room_id"], small.as_str());
    let search = s
        .post(
            &format!("{V3}/publicRooms"),
            Some(&bt),
            json!({"filter": {"generic_search_term": "sma"}}),
        )
        .await;
    assert_eq!(search.ok()["chunk"].as_array().unwrap().len(), 1);
    // Visibility of a room in the directory.
    let vis = |r: &str| format!("{V3}/directory/list/room/{}", enc(r));
    assert_eq!(
        s.get(&vis(&private), None).await.ok(),
        &json!({"visibility": "private"})
    );
    let r = s
        .put(&vis(&private), Some(&bt), json!({"visibility": "public"}))
        .await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "This user is not permitted to edit the room directory"
    );
    s.put(&vis(&private), Some(&at), json!({"visibility": "public"}))
        .await
        .ok();
    assert_eq!(
        s.get(&vis(&private), None).await.ok(),
        &json!({"visibility": "public"})
    );
    // Published, but invite-only: still not listed.
    let list = s.get(&format!("{V3}/publicRooms"), None).await;
    assert_eq!(list.ok()["total_room_count_estimate"], 2);
    let r = s.get(&vis("!nope:test.local"), None).await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "Unknown room");
    let r = s
        .put(&vis(&private), Some(&at), json!({"visibility": "secret"}))
        .await;
    r.err(400, "M_BAD_JSON");
}
