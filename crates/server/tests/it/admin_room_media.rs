//! `GET /_synapse/admin/v1/room/{roomId}/media` (reference §1.3 and its Part 5 lines): what
//! Synapse's event scan would list, from the room↔media index.

use serde_json::json;

use crate::{
    admin_quarantine::{V1, setup},
    harness::enc,
    rooms::{V3, create_room, send},
};

crate::backend_tests!(room_media_listing);

async fn room_media_listing(b: crate::harness::Backend) {
    let (s, admin, _, user) = setup(b).await;
    let r = s
        .get(
            &format!("{V1}/room/{}/media", enc("!nope:test.local")),
            Some(&admin),
        )
        .await;
    assert_eq!(r.ok(), &json!({"local": [], "remote": []}));

    let room = create_room(
        &s,
        &user,
        json!({"initial_state": [{"type": "m.room.avatar", "state_key": "", "content": {"url": "mxc://test.local/avatar"}}]}),
    )
    .await;
    // A membership avatar is not listed (Synapse's scan reads `url` only).
    s.put(
        &format!("{V3}/profile/{}/avatar_url", enc("@user:test.local")),
        Some(&user),
        json!({"avatar_url": "mxc://test.local/face"}),
    )
    .await
    .ok();
    let image = |url: &str, thumb: &str| json!({"msgtype": "m.image", "body": "x", "url": url, "info": {"thumbnail_url": thumb}});
    send(
        &s,
        &user,
        &room,
        "1",
        image("mxc://test.local/one", "mxc://remote.example/onethumb"),
    )
    .await;
    // Only a thumbnail: never scanned.
    let thumb_only = json!({"msgtype": "m.image", "body": "x", "info": {"thumbnail_url": "mxc://test.local/lonely"}});
    send(&s, &user, &room, "2", thumb_only).await;
    // Not an MXC URI; and a server name that differs from ours only by case is remote.
    send(
        &s,
        &user,
        &room,
        "3",
        image("https://example.org/x.png", "mxc://TEST.LOCAL/upper"),
    )
    .await;
    send(
        &s,
        &user,
        &room,
        "4",
        json!({"msgtype": "m.text", "body": "hi"}),
    )
    .await;
    // Encrypted events are opaque.
    let path = format!("{V3}/rooms/{}/send/m.room.encrypted/5", enc(&room));
    let encrypted = json!({"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "x", "file": {"url": "mxc://test.local/secret"}, "url": "mxc://test.local/secret2"});
    s.put(&path, Some(&user), encrypted).await.ok();
    // The same MXC again, newest: listed twice.
    send(
        &s,
        &user,
        &room,
        "6",
        image("mxc://test.local/one", "mxc://test.local/one"),
    )
    .await;

    let r = s
        .get(&format!("{V1}/room/{}/media", enc(&room)), Some(&admin))
        .await;
    assert_eq!(
        r.ok(),
        &json!({
            "local": [
                "mxc://test.local/one", "mxc://test.local/one",
                "mxc://test.local/one",
                "mxc://test.local/avatar",
            ],
            "remote": ["mxc://TEST.LOCAL/upper", "mxc://remote.example/onethumb"],
        })
    );
}
