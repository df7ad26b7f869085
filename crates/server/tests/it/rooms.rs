//! Rooms over HTTP: creation, membership and its authorisation, sending, state, reading,
//! redaction.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Backend, TestServer, enc};

crate::backend_tests!(
    create_and_read_state,
);

const V3: &str = "/_matrix/client/v3";

/// Creates a room as `tok` with `body` and returns its ID.
pub(crate) async fn create_room(s: &TestServer, tok: &str, body: Value) -> String {
    let r = s.post(&format!("{V3}/createRoom"), Some(tok), body).await;
    r.ok()["room_id"].as_str().unwrap().to_owned()
}

/// Sends a message and returns the event ID.
pub(crate) async fn send(s: &TestServer, tok: &str, room: &str, txn: &str, content: Value) -> String {
    let path = format!("{V3}/rooms/{}/send/m.room.message/{txn}", enc(room));
    s.put(&path, Some(tok), content).await.ok()["event_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn create_and_read_state(b: Backend) {
    let s = TestServer::start(b).await;
    let (alice, tok) = s.register("alice", "pw", false).await;
    let room = create_room(
        &s,
        &tok,
        json!({"name": "Cats", "topic": "about cats", "preset": "public_chat"}),
    )
    .await;
    assert!(room.starts_with('!') && room.ends_with(":test.local"), "{room}");
    let state = s.get(&format!("{V3}/rooms/{}/state", enc(&room)), Some(&tok)).await;
    let types: Vec<&str> = state.ok().as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
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
    let name = s
        .get(&format!("{V3}/rooms/{}/state/m.room.name", enc(&room)), Some(&tok))
        .await;
    assert_eq!(name.ok(), &json!({"name": "Cats"}));
    let ev = send(&s, &tok, &room, "t1", json!({"msgtype": "m.text", "body": "hi"})).await;
    let again = send(&s, &tok, &room, "t1", json!({"msgtype": "m.text", "body": "hi"})).await;
    assert_eq!(ev, again);
    let got = s
        .get(&format!("{V3}/rooms/{}/event/{}", enc(&room), enc(&ev)), Some(&tok))
        .await;
    assert_eq!(got.ok()["content"]["body"], "hi");
    assert_eq!(got.body["sender"], alice.as_str());
    assert_eq!(got.body["unsigned"]["transaction_id"], "t1");
    let _ = Method::GET;
}
