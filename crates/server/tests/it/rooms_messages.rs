//! `/messages` pagination and redaction over HTTP.

use serde_json::{Value, json};

use crate::{
    harness::{Backend, TestServer, enc},
    rooms::{V3, create_room, room_get, send},
};

crate::backend_tests!(
    messages_paginate_both_ways,
    redaction_prunes_content,
    concurrent_senders_to_one_room
);

async fn messages_paginate_both_ways(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, tok) = s.register("alice", "pw", false).await;
    let room = create_room(&s, &tok, json!({})).await;
    for i in 0..5 {
        send(
            &s,
            &tok,
            &room,
            &format!("m{i}"),
            json!({"body": format!("m{i}")}),
        )
        .await;
    }
    let bodies = |r: &Value| -> Vec<String> {
        r["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "m.room.message")
            .map(|e| e["content"]["body"].as_str().unwrap().to_owned())
            .collect()
    };
    let page1 = room_get(&s, &tok, &room, "/messages?dir=b&limit=3").await;
    assert_eq!(bodies(page1.ok()), ["m4", "m3", "m2"]);
    let end = page1.body["end"].as_str().unwrap().to_owned();
    let page2 = room_get(
        &s,
        &tok,
        &room,
        &format!("/messages?dir=b&limit=3&from={end}"),
    )
    .await;
    assert_eq!(bodies(page2.ok()), ["m1", "m0"]);
    assert_eq!(page2.body["chunk"][2]["type"], "m.room.guest_access");
    let start = page2.body["end"].as_str().unwrap().to_owned();
    let fwd = room_get(
        &s,
        &tok,
        &room,
        &format!("/messages?dir=f&limit=3&from={start}"),
    )
    .await;
    assert_eq!(fwd.ok()["chunk"].as_array().unwrap().len(), 3);
    // Forwards from the beginning up to a `to` token.
    let all = room_get(&s, &tok, &room, "/messages?dir=f&limit=100").await;
    let chunk = all.ok()["chunk"].as_array().unwrap();
    assert_eq!(chunk[0]["type"], "m.room.create");
    assert_eq!(bodies(all.ok()), ["m0", "m1", "m2", "m3", "m4"]);
    let r = room_get(&s, &tok, &room, "/messages?dir=x").await;
    assert_eq!(
        r.err(400, "M_INVALID_PARAM"),
        "Query parameter 'dir' must be one of ['b', 'f']"
    );
    let r = room_get(&s, &tok, &room, "/messages?from=zzz").await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "'from' parameter is invalid");
    let (_, other) = s.register("eve", "pw", false).await;
    let r = room_get(&s, &other, &room, "/messages").await;
    assert!(r.err(403, "M_FORBIDDEN").contains("not in room"));
}

async fn redaction_prunes_content(b: Backend) {
    let s = TestServer::start(b).await;
    let (alice, tok) = s.register("alice", "pw", false).await;
    let room = create_room(&s, &tok, json!({})).await;
    let ev = send(
        &s,
        &tok,
        &room,
        "t1",
        json!({"msgtype": "m.image", "body": "cat.png", "url": "mxc://test.local/abc"}),
    )
    .await;
    let path = format!("{V3}/rooms/{}/redact/{}/r1", enc(&room), enc(&ev));
    let red = s.put(&path, Some(&tok), json!({"reason": "oops"})).await;
    let red_id = red.ok()["event_id"].as_str().unwrap().to_owned();
    let again = s.put(&path, Some(&tok), json!({"reason": "oops"})).await;
    assert_eq!(again.ok()["event_id"], red_id.as_str());
    let got = room_get(&s, &tok, &room, &format!("/event/{}", enc(&ev))).await;
    assert_eq!(got.ok()["content"], json!({}));
    let because = &got.body["unsigned"]["redacted_because"];
    assert_eq!(because["event_id"], red_id.as_str());
    assert_eq!(because["redacts"], ev.as_str());
    assert_eq!(because["content"], json!({"reason": "oops"}));
    // A member event keeps its membership only.
    let member = room_get(
        &s,
        &tok,
        &room,
        &format!("/state/m.room.member/{}?format=event", enc(&alice)),
    )
    .await;
    let mid = member.ok()["event_id"].as_str().unwrap().to_owned();
    s.post(
        &format!("{V3}/rooms/{}/redact/{}", enc(&room), enc(&mid)),
        Some(&tok),
        json!({}),
    )
    .await
    .ok();
    let member = room_get(
        &s,
        &tok,
        &room,
        &format!("/state/m.room.member/{}", enc(&alice)),
    )
    .await;
    assert_eq!(member.ok(), &json!({"membership": "join"}));
    let r = s
        .put(
            &format!("{V3}/rooms/{}/redact/{}/r3", enc(&room), enc(&ev)),
            Some(&tok),
            json!({"redacts": "$other"}),
        )
        .await;
    assert_eq!(
        r.err(400, "M_UNKNOWN"),
        "Cannot provide a redacts value incoherent with the event_id of the URL parameter"
    );
}

/// A hundred events sent to one room at once all land, in one timeline; concurrent repeats of
/// one transaction ID make one event.
async fn concurrent_senders_to_one_room(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, tok) = s.register("alice", "pw", false).await;
    let room = create_room(&s, &tok, json!({})).await;
    let put = |txn: String| {
        let (s, tok) = (&s, &tok);
        let path = format!("{V3}/rooms/{}/send/m.room.message/{txn}", enc(&room));
        async move { s.put(&path, Some(tok), json!({"body": txn})).await }
    };
    let sent = futures_util::future::join_all((0..100).map(|i| put(format!("c{i}")))).await;
    for r in &sent {
        assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    }
    let all = room_get(&s, &tok, &room, "/messages?dir=f&limit=1000").await;
    let mut bodies: Vec<String> = all.ok()["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .map(|e| e["content"]["body"].as_str().unwrap().to_owned())
        .collect();
    bodies.sort();
    let mut expected: Vec<String> = (0..100).map(|i| format!("c{i}")).collect();
    expected.sort();
    assert_eq!(bodies, expected);

    let again = futures_util::future::join_all((0..10).map(|_| put("same".into()))).await;
    let ids: std::collections::BTreeSet<&str> = again
        .iter()
        .map(|r| r.body["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "one event for one transaction ID");
}
