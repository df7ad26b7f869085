//! `/sync` over HTTP: initial and incremental syncs, limited timelines, invites and leaves,
//! filters and account data. The long poll is in `sync_long_poll`.

use serde_json::{Value, json};

use crate::{
    harness::{Backend, TestServer, enc},
    rooms::{V3, create_room, room_get, send},
};

crate::backend_tests!(
    initial_and_incremental_sync,
    filters_and_limited_timelines,
    account_data_round_trips,
);

pub(crate) async fn sync(s: &TestServer, tok: &str, query: &str) -> Value {
    s.get(&format!("{V3}/sync{query}"), Some(tok))
        .await
        .ok()
        .clone()
}

pub(crate) fn timeline_bodies(room: &Value) -> Vec<String> {
    room["timeline"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
        .collect()
}

async fn initial_and_incremental_sync(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, at) = s.register("alice", "pw", false).await;
    let (bob, bt) = s.register("bob", "pw", false).await;
    let room = create_room(&s, &at, json!({"name": "R", "invite": [bob]})).await;
    send(
        &s,
        &at,
        &room,
        "1",
        json!({"msgtype": "m.text", "body": "one"}),
    )
    .await;

    let first = sync(&s, &at, "").await;
    let next = first["next_batch"].as_str().unwrap().to_owned();
    let joined = &first["rooms"]["join"][&room];
    assert_eq!(timeline_bodies(joined), ["one"]);
    assert_eq!(
        joined["timeline"]["limited"], false,
        "9 events fit the default limit of 10"
    );
    assert_eq!(joined["timeline"]["events"].as_array().unwrap().len(), 9);
    // The whole room fits the timeline, so no state precedes it.
    assert_eq!(joined["state"]["events"], json!([]));
    assert_eq!(joined["timeline"]["events"][0]["type"], "m.room.create");
    assert!(joined["timeline"]["events"][0].get("room_id").is_none());
    assert_eq!(
        joined["timeline"]["events"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["unsigned"]["transaction_id"],
        "1"
    );

    // Bob sees the invite with stripped state, including the room name.
    let bob_first = sync(&s, &bt, "").await;
    let invite = &bob_first["rooms"]["invite"][&room]["invite_state"]["events"];
    let names: Vec<&str> = invite
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"m.room.name") && names.contains(&"m.room.member"),
        "{names:?}"
    );
    assert!(bob_first["rooms"]["join"].as_object().unwrap().is_empty());
    let bob_next = bob_first["next_batch"].as_str().unwrap().to_owned();

    // Nothing new: an empty answer at once, with the same token.
    let empty = sync(&s, &at, &format!("?since={next}&timeout=0")).await;
    assert_eq!(empty["rooms"]["join"], json!({}));
    assert_eq!(empty["next_batch"], next.as_str());

    // Bob joins: his next sync has the room in full; alice's has the join in the timeline.
    s.post(
        &format!("{V3}/rooms/{}/join", enc(&room)),
        Some(&bt),
        json!({}),
    )
    .await
    .ok();
    send(&s, &at, &room, "2", json!({"body": "two"})).await;
    let bob_inc = sync(&s, &bt, &format!("?since={bob_next}")).await;
    let bj = &bob_inc["rooms"]["join"][&room];
    assert_eq!(timeline_bodies(bj).last().unwrap(), "two");
    assert!(
        !bj["state"]["events"].as_array().unwrap().is_empty() || bj["timeline"]["limited"] == false
    );
    let inc = sync(&s, &at, &format!("?since={next}")).await;
    let aj = &inc["rooms"]["join"][&room];
    assert_eq!(aj["timeline"]["limited"], false);
    let types: Vec<&str> = aj["timeline"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["m.room.member", "m.room.message"]);
    assert_eq!(aj["state"]["events"], json!([]));
    let next2 = inc["next_batch"].as_str().unwrap().to_owned();

    // Bob leaves: the room moves to his `leave` section.
    let bob_next2 = bob_inc["next_batch"].as_str().unwrap().to_owned();
    s.post(
        &format!("{V3}/rooms/{}/leave", enc(&room)),
        Some(&bt),
        json!({}),
    )
    .await
    .ok();
    let bob_leave = sync(&s, &bt, &format!("?since={bob_next2}")).await;
    let left = &bob_leave["rooms"]["leave"][&room];
    assert_eq!(
        left["timeline"]["events"][0]["content"]["membership"],
        "leave"
    );
    assert!(bob_leave["rooms"]["join"].as_object().unwrap().is_empty());
    // A full-state sync after leaving does not show the room without include_leave.
    let again = sync(&s, &bt, "").await;
    assert!(again["rooms"]["leave"].as_object().unwrap().is_empty());
    let with_leave = sync(
        &s,
        &bt,
        &format!(
            "?filter={}",
            enc_json(&json!({"room": {"include_leave": true}}))
        ),
    )
    .await;
    assert!(with_leave["rooms"]["leave"].get(&room).is_some());

    // A profile change shows as a member event, not as a new join.
    s.put(
        &format!("{V3}/profile/{}/displayname", enc("@alice:test.local")),
        Some(&at),
        json!({"displayname": "Alice"}),
    )
    .await
    .ok();
    let inc = sync(&s, &at, &format!("?since={next2}")).await;
    let aj = &inc["rooms"]["join"][&room];
    let member = aj["timeline"]["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(member["content"]["displayname"], "Alice");
    assert_eq!(member["unsigned"]["prev_content"]["displayname"], "alice");
    let r = s.get(&format!("{V3}/sync?since=bogus"), Some(&at)).await;
    r.err(400, "M_INVALID_PARAM");
}

fn enc_json(v: &Value) -> String {
    v.to_string()
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn filters_and_limited_timelines(b: Backend) {
    let s = TestServer::start(b).await;
    let (alice, at) = s.register("alice", "pw", false).await;
    let (bob, bt) = s.register("bob", "pw", false).await;
    let filter = json!({"room": {"timeline": {"limit": 2}}});
    let r = s
        .post(
            &format!("{V3}/user/{}/filter", enc(&alice)),
            Some(&at),
            filter.clone(),
        )
        .await;
    assert_eq!(r.ok(), &json!({"filter_id": "0"}));
    let r = s
        .post(
            &format!("{V3}/user/{}/filter", enc(&alice)),
            Some(&at),
            json!({}),
        )
        .await;
    assert_eq!(r.ok(), &json!({"filter_id": "1"}));
    let r = s
        .get(&format!("{V3}/user/{}/filter/0", enc(&alice)), Some(&at))
        .await;
    assert_eq!(r.ok(), &filter);
    let r = s
        .get(&format!("{V3}/user/{}/filter/0", enc(&alice)), Some(&bt))
        .await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "Cannot get filters for other users"
    );
    let r = s
        .post(
            &format!("{V3}/user/{}/filter", enc(&alice)),
            Some(&bt),
            json!({}),
        )
        .await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "Cannot create filters for other users"
    );
    let r = s
        .get(&format!("{V3}/user/{}/filter/9", enc(&alice)), Some(&at))
        .await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "No such filter");
    let r = s
        .get(&format!("{V3}/user/{}/filter/x", enc(&alice)), Some(&at))
        .await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Invalid filter_id");
    let _ = bob;

    let room = create_room(&s, &at, json!({})).await;
    let first = sync(&s, &at, "?filter=0").await;
    let next = first["next_batch"].as_str().unwrap().to_owned();
    assert_eq!(
        first["rooms"]["join"][&room]["timeline"]["events"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    for i in 0..5 {
        send(
            &s,
            &at,
            &room,
            &format!("t{i}"),
            json!({"body": format!("m{i}")}),
        )
        .await;
    }
    s.put(
        &format!("{V3}/rooms/{}/state/m.room.name", enc(&room)),
        Some(&at),
        json!({"name": "N"}),
    )
    .await
    .ok();
    send(&s, &at, &room, "t5", json!({"body": "m5"})).await;
    let inc = sync(&s, &at, &format!("?since={next}&filter=0")).await;
    let j = &inc["rooms"]["join"][&room];
    assert_eq!(j["timeline"]["limited"], true);
    let types: Vec<&str> = j["timeline"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["m.room.name", "m.room.message"]);
    assert_eq!(
        j["state"]["events"],
        json!([]),
        "the name is in the timeline, not the gap"
    );
    // The gap is reachable with prev_batch.
    let prev = j["timeline"]["prev_batch"].as_str().unwrap();
    let page = room_get(
        &s,
        &at,
        &room,
        &format!("/messages?dir=b&limit=3&from={prev}"),
    )
    .await;
    let bodies: Vec<&str> = page.ok()["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["content"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["m4", "m3", "m2"]);
    // Inline JSON filters work too; bad ones are refused.
    let inline = sync(
        &s,
        &at,
        &format!(
            "?filter={}",
            enc_json(&json!({"room": {"timeline": {"limit": 1}}}))
        ),
    )
    .await;
    assert_eq!(
        inline["rooms"]["join"][&room]["timeline"]["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = s.get(&format!("{V3}/sync?filter=%7Bnope"), Some(&at)).await;
    r.err(400, "M_NOT_JSON");
    let r = s.get(&format!("{V3}/sync?filter=77"), Some(&at)).await;
    r.err(400, "M_INVALID_PARAM");
    let _ = bt;
}

async fn account_data_round_trips(b: Backend) {
    let s = TestServer::start(b).await;
    let (alice, at) = s.register("alice", "pw", false).await;
    let (_, bt) = s.register("bob", "pw", false).await;
    let room = create_room(&s, &at, json!({})).await;
    let first = sync(&s, &at, "").await;
    let next = first["next_batch"].as_str().unwrap().to_owned();
    let path = format!(
        "{V3}/user/{}/account_data/org.example.settings",
        enc(&alice)
    );
    let r = s.get(&path, Some(&at)).await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "Account data not found");
    assert_eq!(
        s.put(&path, Some(&at), json!({"a": 1})).await.ok(),
        &json!({})
    );
    assert_eq!(s.get(&path, Some(&at)).await.ok(), &json!({"a": 1}));
    let r = s.get(&path, Some(&bt)).await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "Cannot get account data for other users."
    );
    let r = s.put(&path, Some(&bt), json!({})).await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "Cannot add account data for other users."
    );
    let room_path = format!(
        "{V3}/user/{}/rooms/{}/account_data/m.tag",
        enc(&alice),
        enc(&room)
    );
    s.put(&room_path, Some(&at), json!({"tags": {"u.x": {}}}))
        .await
        .ok();
    assert_eq!(
        s.get(&room_path, Some(&at)).await.ok(),
        &json!({"tags": {"u.x": {}}})
    );
    let r = s
        .put(
            &format!("{V3}/user/{}/rooms/nope/account_data/m.tag", enc(&alice)),
            Some(&at),
            json!({}),
        )
        .await;
    assert_eq!(r.err(400, "M_INVALID_PARAM"), "nope is not a valid room ID");
    let r = s
        .put(
            &format!("{V3}/user/{}/account_data/m.push_rules", enc(&alice)),
            Some(&at),
            json!({}),
        )
        .await;
    r.err(405, "M_BAD_JSON");
    let inc = sync(&s, &at, &format!("?since={next}")).await;
    assert_eq!(
        inc["account_data"]["events"],
        json!([{"type": "org.example.settings", "content": {"a": 1}}])
    );
    assert_eq!(
        inc["rooms"]["join"][&room]["account_data"]["events"],
        json!([{"type": "m.tag", "content": {"tags": {"u.x": {}}}}])
    );
    let full = sync(&s, &at, "").await;
    assert_eq!(full["account_data"]["events"].as_array().unwrap().len(), 1);
}
