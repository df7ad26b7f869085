//! Statistics over HTTP: `/statistics/database/rooms` on both backends, and mxcd's own rooms'
//! media and server-wide totals (with de-duplication).

use mxcd_db::Db;
use serde_json::json;

use crate::{
    harness::{Backend, SERVER_NAME, TestServer, enc},
    media::upload,
    rooms::{create_room, send},
    statistics::{ROOMS, ROOMS_MEDIA, TOTALS, USERS_MEDIA},
};

crate::backend_tests!(largest_rooms, rooms_media, media_totals_and_dedup);

/// On both backends, exact, and never a 500 on a fresh database.
async fn largest_rooms(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let (_, at) = s.register("alice", "pw", false).await;
    let r = s.get(ROOMS, Some(&admin)).await;
    assert_eq!(*r.ok(), json!({"rooms": []}));
    let mut rooms = Vec::new();
    for i in 0..12 {
        let room = create_room(&s, &at, json!({})).await;
        for k in 0..i {
            send(
                &s,
                &at,
                &room,
                &format!("r{i}t{k}"),
                json!({"msgtype": "m.text", "body": "x".repeat(200)}),
            )
            .await;
        }
        rooms.push(room);
    }
    let r = s.get(ROOMS, Some(&admin)).await;
    let listed = r.ok()["rooms"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 10);
    let ids: Vec<&str> = listed
        .iter()
        .map(|r| r["room_id"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = rooms.iter().rev().take(10).map(String::as_str).collect();
    assert_eq!(ids, want);
    let sizes: Vec<i64> = listed
        .iter()
        .map(|r| r["estimated_size"].as_i64().unwrap())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] > w[1]), "{sizes:?}");
    // Each message adds at least its body to its room.
    assert!(sizes[0] - sizes[1] > 200, "{sizes:?}");
}

async fn rooms_media(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let (_, at) = s.register("alice", "pw", false).await;
    let big = upload(&s, &at, &[7u8; 3000], "image/png", "").await;
    let small = upload(&s, &at, b"tiny", "image/png", "").await;
    s.sql(
        "INSERT INTO media (origin, media_id, media_type, media_length, created_ts, last_access_ts) \
         VALUES ('remote.example', 'cached', 'image/png', 500, 1000, 1000)",
    )
    .await;
    let mxc = |id: &str| format!("mxc://{SERVER_NAME}/{id}");
    let one = create_room(&s, &at, json!({})).await;
    let two = create_room(&s, &at, json!({})).await;
    let three = create_room(&s, &at, json!({})).await;
    // Transaction IDs are unique per device, not per room.
    // Room one: `big` twice and as a thumbnail (counted once), and the remote one.
    send(&s, &at, &one, "a", json!({"msgtype": "m.image", "body": "b", "url": mxc(&big), "info": {"thumbnail_url": mxc(&big)}})).await;
    send(
        &s,
        &at,
        &one,
        "b",
        json!({"msgtype": "m.image", "body": "b", "url": mxc(&big)}),
    )
    .await;
    send(
        &s,
        &at,
        &one,
        "c",
        json!({"msgtype": "m.image", "body": "r", "url": "mxc://remote.example/cached"}),
    )
    .await;
    // Room two: `small`, and media nobody has (not counted).
    send(
        &s,
        &at,
        &two,
        "2a",
        json!({"msgtype": "m.image", "body": "s", "url": mxc(&small)}),
    )
    .await;
    send(
        &s,
        &at,
        &two,
        "2b",
        json!({"msgtype": "m.image", "body": "n", "url": "mxc://remote.example/unknown"}),
    )
    .await;
    // Room three: a reference that was redacted.
    let ev = send(
        &s,
        &at,
        &three,
        "3a",
        json!({"msgtype": "m.image", "body": "s", "url": mxc(&small)}),
    )
    .await;
    s.put(
        &format!(
            "/_matrix/client/v3/rooms/{}/redact/{}/r1",
            enc(&three),
            enc(&ev)
        ),
        Some(&at),
        json!({}),
    )
    .await
    .ok();
    let r = s.get(ROOMS_MEDIA, Some(&admin)).await;
    assert_eq!(
        *r.ok(),
        json!({"rooms": [
            {"room_id": one, "media_count": 2, "media_length": 3500,
             "local_media_count": 1, "local_media_length": 3000,
             "remote_media_count": 1, "remote_media_length": 500},
            {"room_id": two, "media_count": 1, "media_length": 4,
             "local_media_count": 1, "local_media_length": 4,
             "remote_media_count": 0, "remote_media_length": 0},
        ], "total": 2})
    );
    let r = s
        .get(
            &format!("{ROOMS_MEDIA}?order_by=media_length&dir=f&limit=1"),
            Some(&admin),
        )
        .await;
    assert_eq!(r.ok()["rooms"][0]["room_id"], json!(two));
    assert_eq!(r.ok()["next_token"], 1);
    let r = s
        .get(
            &format!("{ROOMS_MEDIA}?order_by=remote_media_length&from=1"),
            Some(&admin),
        )
        .await;
    assert_eq!(r.ok()["rooms"][0]["room_id"], json!(two));
    assert!(r.ok().get("next_token").is_none());
    let r = s
        .get(&format!("{ROOMS_MEDIA}?order_by=size"), Some(&admin))
        .await;
    r.err(400, "M_INVALID_PARAM");
    let r = s
        .get(&format!("{ROOMS_MEDIA}?limit=-1"), Some(&admin))
        .await;
    r.err(400, "M_INVALID_PARAM");
}

/// Two users upload identical bytes: each counts fully, the bytes are stored once.
async fn media_totals_and_dedup(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let (alice, at) = s.register("alice", "pw", false).await;
    let (bob, bt) = s.register("bob", "pw", false).await;
    const BYTES: &[u8] = b"the same forty bytes for two users......";
    let id = upload(&s, &at, BYTES, "text/plain", "").await;
    upload(&s, &bt, BYTES, "text/plain", "").await;
    upload(&s, &bt, b"different", "text/plain", "").await;
    s.sql(
        "INSERT INTO media (origin, media_id, media_type, media_length, created_ts, last_access_ts) \
         VALUES ('remote.example', 'cached', 'image/png', 500, 1000, 1000)",
    )
    .await;
    let r = s
        .get(&format!("{USERS_MEDIA}?order_by=user_id"), Some(&admin))
        .await;
    assert_eq!(
        r.ok()["users"],
        json!([
            {"user_id": alice, "displayname": "alice", "media_count": 1, "media_length": 40},
            {"user_id": bob, "displayname": "bob", "media_count": 2, "media_length": 49},
        ])
    );
    let db = Db::connect(&s.database_url(), None).await.unwrap();
    db.test_execute(&format!(
        "UPDATE media SET quarantined_by = '@root:test.local' WHERE media_id = '{id}'"
    ))
    .await;
    let r = s.get(TOTALS, Some(&admin)).await;
    let t = r.ok();
    assert_eq!(t["logical"]["local"], json!({"count": 3, "bytes": 89}));
    assert_eq!(t["logical"]["remote"], json!({"count": 1, "bytes": 500}));
    assert_eq!(
        t["logical"]["quarantined"],
        json!({"count": 1, "bytes": 40})
    );
    assert_eq!(t["physical"]["local"], json!({"count": 2, "bytes": 49}));
    assert_eq!(t["physical"]["remote"], json!({"count": 0, "bytes": 0}));
    // Text has no thumbnails: every blob is content.
    assert_eq!(t["physical"]["thumbnails"], json!({"count": 0, "bytes": 0}));
    assert_eq!(t["physical"]["total"], json!({"count": 2, "bytes": 49}));
}
