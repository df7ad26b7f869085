//! Synapse's admin room API subset: list, details, members.

use serde_json::json;

use crate::{
    harness::{Backend, TestServer, enc},
    rooms::{V3, create_room},
};

crate::backend_tests!(list_rooms, room_details_and_members);

const ADMIN: &str = "/_synapse/admin/v1/rooms";

async fn list_rooms(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let (alice, at) = s.register("alice", "pw", false).await;
    let (_, bt) = s.register("bob", "pw", false).await;
    let r = s.get(ADMIN, Some(&at)).await;
    assert_eq!(r.err(403, "M_FORBIDDEN"), "You are not a server admin");
    s.get(ADMIN, None).await.err(401, "M_MISSING_TOKEN");
    let zeta = create_room(
        &s,
        &at,
        json!({"name": "zeta", "preset": "public_chat", "room_alias_name": "zeta"}),
    )
    .await;
    s.post(&format!("{V3}/join/{}", enc(&zeta)), Some(&bt), json!({}))
        .await
        .ok();
    let alpha = create_room(&s, &at, json!({"name": "alpha", "visibility": "public"})).await;
    let unnamed = create_room(&s, &at, json!({})).await;
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["room_id"].as_str().unwrap().to_owned())
            .collect()
    };
    // By name ascending, unnamed rooms last.
    let r = s.get(ADMIN, Some(&admin)).await;
    assert_eq!(ids(r.ok()), [alpha.clone(), zeta.clone(), unnamed.clone()]);
    assert_eq!(
        (r.body["offset"].clone(), r.body["total_rooms"].clone()),
        (json!(0), json!(3))
    );
    assert!(r.body.get("next_batch").is_none() && r.body.get("prev_batch").is_none());
    let first = &r.body["rooms"][1];
    assert_eq!(
        first,
        &json!({
            "room_id": zeta, "name": "zeta", "canonical_alias": "#zeta:test.local",
            "joined_members": 2, "joined_local_members": 2, "version": "10", "creator": alice,
            "encryption": null, "federatable": true, "public": false, "join_rules": "public",
            "guest_access": null, "history_visibility": "shared", "state_events": 8, "room_type": null,
        })
    );
    let r = s.get(&format!("{ADMIN}?dir=b"), Some(&admin)).await;
    assert_eq!(ids(r.ok()), [unnamed.clone(), zeta.clone(), alpha.clone()]);
    let r = s
        .get(&format!("{ADMIN}?order_by=joined_members"), Some(&admin))
        .await;
    assert_eq!(ids(r.ok())[0], zeta);
    let r = s
        .get(&format!("{ADMIN}?limit=1&from=1"), Some(&admin))
        .await;
    assert_eq!(ids(r.ok()), [zeta.as_str()]);
    assert_eq!(
        (r.body["next_batch"].clone(), r.body["prev_batch"].clone()),
        (json!(2), json!(0))
    );
    let r = s
        .get(&format!("{ADMIN}?search_term=ALP"), Some(&admin))
        .await;
    assert_eq!(ids(r.ok()), [alpha.as_str()]);
    let r = s
        .get(&format!("{ADMIN}?search_term=zet"), Some(&admin))
        .await;
    assert_eq!(ids(r.ok()), [zeta.as_str()]);
    let r = s
        .get(
            &format!("{ADMIN}?search_term={}", enc(&unnamed)),
            Some(&admin),
        )
        .await;
    assert_eq!(ids(r.ok()), [unnamed.as_str()]);
    let r = s
        .get(&format!("{ADMIN}?public_rooms=true"), Some(&admin))
        .await;
    assert_eq!(ids(r.ok()), [alpha.as_str()]);
    let r = s.get(&format!("{ADMIN}?search_term="), Some(&admin)).await;
    assert_eq!(
        r.err(400, "M_INVALID_PARAM"),
        "search_term cannot be an empty string"
    );
    let r = s
        .get(&format!("{ADMIN}?order_by=colour"), Some(&admin))
        .await;
    assert!(
        r.err(400, "M_INVALID_PARAM").starts_with(
            "Query parameter 'order_by' must be one of ['alphabetical', 'size', 'name'"
        )
    );
    let r = s.get(&format!("{ADMIN}?from=-1"), Some(&admin)).await;
    r.err(400, "M_INVALID_PARAM");
}

async fn room_details_and_members(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let (alice, at) = s.register("alice", "pw", false).await;
    let (bob, bt) = s.register("bob", "pw", false).await;
    let room = create_room(
        &s,
        &at,
        json!({"name": "N", "topic": "T", "preset": "public_chat",
               "initial_state": [{"type": "m.room.avatar", "content": {"url": "mxc://test.local/a"}}]}),
    )
    .await;
    s.post(
        &format!("{V3}/rooms/{}/join", enc(&room)),
        Some(&bt),
        json!({}),
    )
    .await
    .ok();
    let r = s
        .get(&format!("{ADMIN}/{}", enc(&room)), Some(&admin))
        .await;
    let d = r.ok();
    assert_eq!(d["room_id"], room.as_str());
    assert_eq!(
        (d["name"].clone(), d["topic"].clone(), d["avatar"].clone()),
        (json!("N"), json!("T"), json!("mxc://test.local/a"))
    );
    assert_eq!(d["joined_members"], 2);
    assert_eq!(d["joined_local_devices"], 2);
    assert_eq!(
        (
            d["forgotten"].clone(),
            d["tombstoned"].clone(),
            d["replacement_room"].clone()
        ),
        (json!(false), json!(false), json!(null))
    );
    let m = s
        .get(&format!("{ADMIN}/{}/members", enc(&room)), Some(&admin))
        .await;
    let mut want = vec![alice.clone(), bob.clone()];
    want.sort();
    assert_eq!(m.ok(), &json!({"members": want, "total": 2}));
    let r = s
        .get(
            &format!("{ADMIN}/{}", enc("!nope:test.local")),
            Some(&admin),
        )
        .await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "Room not found");
    let r = s
        .get(
            &format!("{ADMIN}/{}/members", enc("!nope:test.local")),
            Some(&admin),
        )
        .await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "Room not found");
    let r = s
        .get(&format!("{ADMIN}/{}/members", enc(&room)), Some(&bt))
        .await;
    r.err(403, "M_FORBIDDEN");
    // Tombstones and forgetting show up.
    s.put(
        &format!("{V3}/rooms/{}/state/m.room.tombstone", enc(&room)),
        Some(&at),
        json!({"replacement_room": "!new:test.local", "body": "moved"}),
    )
    .await
    .ok();
    for t in [&at, &bt] {
        s.post(
            &format!("{V3}/rooms/{}/leave", enc(&room)),
            Some(t),
            json!({}),
        )
        .await
        .ok();
        s.post(
            &format!("{V3}/rooms/{}/forget", enc(&room)),
            Some(t),
            json!({}),
        )
        .await
        .ok();
    }
    let d = s
        .get(&format!("{ADMIN}/{}", enc(&room)), Some(&admin))
        .await;
    assert_eq!(
        (
            d.ok()["tombstoned"].clone(),
            d.body["replacement_room"].clone()
        ),
        (json!(true), json!("!new:test.local"))
    );
    assert_eq!(
        (
            d.body["forgotten"].clone(),
            d.body["joined_members"].clone()
        ),
        (json!(true), json!(0))
    );
}
