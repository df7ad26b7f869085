//! The room↔media index: what an event references is recorded when it is persisted, encrypted
//! events are opaque, and redaction marks the references. Read back through the db layer.

use mxcd_db::{Db, RoomMediaRow};
use serde_json::json;

use crate::{
    harness::{Backend, TestServer, enc},
    rooms::{V3, create_room, send},
};

crate::backend_tests!(index_records_and_redaction_flips);

/// `(event_type, field, "origin/media_id", redacted)` rows of the room, newest first.
async fn index(s: &TestServer, room: &str) -> Vec<(String, String, String, bool)> {
    let db = Db::connect(&s.database_url(), None).await.unwrap();
    let rows = db.room_media(room).await.unwrap();
    db.close().await;
    rows.into_iter()
        .map(
            |RoomMediaRow {
                 event_type,
                 field,
                 origin,
                 media_id,
                 redacted,
                 ..
             }| { (event_type, field, format!("{origin}/{media_id}"), redacted) },
        )
        .collect()
}

fn row(t: &str, f: &str, m: &str, redacted: bool) -> (String, String, String, bool) {
    (t.into(), f.into(), m.into(), redacted)
}

async fn index_records_and_redaction_flips(b: Backend) {
    let s = TestServer::start(b).await;
    let (alice, at) = s.register("alice", "pw", false).await;
    let room = create_room(
        &s,
        &at,
        json!({"initial_state": [{"type": "m.room.avatar", "content": {"url": "mxc://test.local/roomavatar"}}]}),
    )
    .await;
    s.put(
        &format!("{V3}/profile/{}/avatar_url", enc(&alice)),
        Some(&at),
        json!({"avatar_url": "mxc://test.local/face"}),
    )
    .await
    .ok();
    let image = send(
        &s,
        &at,
        &room,
        "img",
        json!({
            "msgtype": "m.image", "body": "cat.png", "url": "mxc://test.local/cat",
            "info": {"mimetype": "image/png", "thumbnail_url": "mxc://remote.example:8448/catthumb"},
        }),
    )
    .await;
    // Opaque, malformed or not references at all: nothing recorded.
    s.put(
        &format!("{V3}/rooms/{}/send/m.room.encrypted/e1", enc(&room)),
        Some(&at),
        json!({"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "x", "url": "mxc://test.local/secret"}),
    )
    .await
    .ok();
    for (txn, url) in [
        ("b1", "https://example.org/x"),
        ("b2", "mxc://test.local/"),
        ("b3", "mxc://test.local/a/b"),
    ] {
        send(
            &s,
            &at,
            &room,
            txn,
            json!({"msgtype": "m.file", "body": "f", "url": url}),
        )
        .await;
    }
    send(
        &s,
        &at,
        &room,
        "thumbonly",
        json!({"body": "t", "info": {"thumbnail_url": "mxc://test.local/lonely"}}),
    )
    .await;
    send(
        &s,
        &at,
        &room,
        "file",
        json!({"msgtype": "m.file", "body": "f", "url": "mxc://test.local/doc"}),
    )
    .await;

    // Newest event first; within an event, url before info.thumbnail_url.
    let got = index(&s, &room).await;
    assert_eq!(
        got,
        vec![
            row("m.room.message", "content.url", "test.local/doc", false),
            row("m.room.message", "content.url", "test.local/cat", false),
            row(
                "m.room.message",
                "content.info.thumbnail_url",
                "remote.example:8448/catthumb",
                false
            ),
            row(
                "m.room.member",
                "content.avatar_url",
                "test.local/face",
                false
            ),
            row(
                "m.room.avatar",
                "content.url",
                "test.local/roomavatar",
                false
            ),
        ]
    );

    s.put(
        &format!("{V3}/rooms/{}/redact/{}/r1", enc(&room), enc(&image)),
        Some(&at),
        json!({}),
    )
    .await
    .ok();
    assert_eq!(
        index(&s, &room).await,
        vec![
            row("m.room.message", "content.url", "test.local/doc", false),
            row("m.room.message", "content.url", "test.local/cat", true),
            row(
                "m.room.message",
                "content.info.thumbnail_url",
                "remote.example:8448/catthumb",
                true
            ),
            row(
                "m.room.member",
                "content.avatar_url",
                "test.local/face",
                false
            ),
            row(
                "m.room.avatar",
                "content.url",
                "test.local/roomavatar",
                false
            ),
        ]
    );
    // Another room's references stay separate.
    let other = create_room(&s, &at, json!({})).await;
    assert_eq!(
        index(&s, &other).await,
        vec![row(
            "m.room.member",
            "content.avatar_url",
            "test.local/face",
            false
        )]
    );
}
