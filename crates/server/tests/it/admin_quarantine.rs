//! Quarantine over HTTP (reference §1.4–1.7, §2, §4.6 and their Part 5 lines): by media, room
//! and user, hash-wide, protection, the admin bypass, and what quarantined media answers.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    harness::{Backend, TestServer, enc},
    media::{create_pending, fetch, upload},
    rooms::{create_room, send},
};

crate::backend_tests!(
    auth_on_every_endpoint,
    quarantine_by_id_is_hash_wide,
    protected_media_is_never_quarantined,
    unknown_media_and_rooms_and_users,
    admin_bypass,
    room_quarantine_on_both_paths,
    user_quarantine
);

pub(crate) const V1: &str = "/_synapse/admin/v1";
pub(crate) const PHOTO: &[u8] = include_bytes!("../../../../tests/fixtures/photo-exif6.jpg");
pub(crate) const CMYK: &[u8] = include_bytes!("../../../../tests/fixtures/cmyk.jpg");

/// A server with an admin and a user: `(server, admin token, admin ID, user token)`.
pub(crate) async fn setup(b: Backend) -> (TestServer, String, String, String) {
    let s = TestServer::start(b).await;
    let (admin_id, admin) = s.register("admin", "pw", true).await;
    let (_, user) = s.register("user", "pw", false).await;
    (s, admin, admin_id, user)
}

/// `quarantined_by` of a local media item, from the admin media info.
pub(crate) async fn quarantined_by(s: &TestServer, admin: &str, id: &str) -> Value {
    let r = s
        .get(&format!("{V1}/media/test.local/{id}"), Some(admin))
        .await;
    r.ok()["media_info"]["quarantined_by"].clone()
}

/// The status of a client v1 download.
pub(crate) async fn download_status(s: &TestServer, tok: &str, id: &str, query: &str) -> u16 {
    let path = format!("/_matrix/client/v1/media/download/test.local/{id}{query}");
    fetch(s, &path, Some(tok), &[]).await.0.as_u16()
}

/// `POST` an admin path and return the body, which must be a success.
pub(crate) async fn admin_post(s: &TestServer, admin: &str, path: &str) -> Value {
    s.post(&format!("{V1}{path}"), Some(admin), json!({}))
        .await
        .ok()
        .clone()
}

/// Every endpoint of this part, as `(method, path)`.
fn endpoints() -> Vec<(Method, String)> {
    let room = enc("!room:test.local");
    let user = enc("@user:test.local");
    [
        (Method::GET, format!("{V1}/room/{room}/media")),
        (Method::POST, format!("{V1}/room/{room}/media/quarantine")),
        (Method::POST, format!("{V1}/quarantine_media/{room}")),
        (Method::POST, format!("{V1}/user/{user}/media/quarantine")),
        (
            Method::POST,
            format!("{V1}/media/quarantine/test.local/abc"),
        ),
        (
            Method::POST,
            format!("{V1}/media/unquarantine/test.local/abc"),
        ),
        (
            Method::GET,
            format!("{V1}/media/quarantine_changes?from=-1"),
        ),
        (Method::POST, format!("{V1}/media/protect/abc")),
        (Method::POST, format!("{V1}/media/unprotect/abc")),
        (Method::GET, format!("{V1}/media/test.local/abc")),
    ]
    .into()
}

/// Part 5, "Auth": no token, a bad token, a non-admin (even with bad parameters), a guest.
async fn auth_on_every_endpoint(b: Backend) {
    let (s, _, _, user) = setup(b).await;
    let (_, guest) = s.register("visitor", "pw", false).await;
    s.sql("UPDATE users SET is_guest = TRUE WHERE user_id = '@visitor:test.local'")
        .await;
    for (method, path) in endpoints() {
        let r = s.req(method.clone(), &path, None, None).await;
        assert_eq!(
            r.err(401, "M_MISSING_TOKEN"),
            "Missing access token",
            "{path}"
        );
        let r = s.req(method.clone(), &path, Some("mxcd_nope"), None).await;
        r.err(401, "M_UNKNOWN_TOKEN");
        assert_eq!(r.body["soft_logout"], false, "{path}");
        // `from=-1` on quarantine_changes: the admin check comes before validation.
        let r = s.req(method.clone(), &path, Some(&user), None).await;
        assert_eq!(
            r.err(403, "M_FORBIDDEN"),
            "You are not a server admin",
            "{path}"
        );
        let r = s.req(method.clone(), &path, Some(&guest), None).await;
        r.err(403, "M_GUEST_ACCESS_FORBIDDEN");
    }
}

/// Quarantining one of three identical uploads quarantines all three but not a fourth,
/// different one; downloads and thumbnails 404 on every path; unquarantining releases all.
async fn quarantine_by_id_is_hash_wide(b: Backend) {
    let (s, admin, admin_id, user) = setup(b).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(upload(&s, &user, PHOTO, "image/jpeg", "").await);
    }
    let other = upload(&s, &user, CMYK, "image/jpeg", "").await;
    // Cached before the quarantine, so the caches must be told.
    assert_eq!(download_status(&s, &user, &ids[1], "").await, 200);
    let r = admin_post(
        &s,
        &admin,
        &format!("/media/quarantine/test.local/{}", ids[0]),
    )
    .await;
    assert_eq!(r, json!({}));
    for id in &ids {
        assert_eq!(quarantined_by(&s, &admin, id).await, admin_id.as_str());
        let path = format!("/_matrix/client/v1/media/download/test.local/{id}");
        let r = s.get(&path, Some(&user)).await;
        assert_eq!(r.err(404, "M_NOT_FOUND"), format!("Not found '{path}'"));
        let legacy = format!("/_matrix/media/v3/download/test.local/{id}");
        assert_eq!(fetch(&s, &legacy, None, &[]).await.0, 404);
        for thumb in [
            format!("/_matrix/client/v1/media/thumbnail/test.local/{id}?width=32&height=32"),
            format!("/_matrix/media/v3/thumbnail/test.local/{id}?width=32&height=32"),
        ] {
            assert_eq!(fetch(&s, &thumb, Some(&user), &[]).await.0, 404, "{thumb}");
        }
    }
    assert_eq!(quarantined_by(&s, &admin, &other).await, Value::Null);
    assert_eq!(download_status(&s, &user, &other, "").await, 200);
    // Quarantine never deletes bytes: every row still has its blob (and the downloads after
    // the unquarantine below read them).
    let with_blob = "SELECT COUNT(*) FROM media m JOIN blobs b ON b.sha256 = m.sha256";
    assert_eq!(s.sql_i64(with_blob).await, 4);

    let r = admin_post(
        &s,
        &admin,
        &format!("/media/unquarantine/test.local/{}", ids[0]),
    )
    .await;
    assert_eq!(r, json!({}));
    for id in &ids {
        assert_eq!(quarantined_by(&s, &admin, id).await, Value::Null);
        assert_eq!(download_status(&s, &user, id, "").await, 200);
    }
}

/// Protected media stays available: quarantining it by ID is `{}` with no effect, and a
/// protected twin of quarantined bytes is left alone.
async fn protected_media_is_never_quarantined(b: Backend) {
    let (s, admin, admin_id, user) = setup(b).await;
    let id = upload(&s, &user, PHOTO, "image/jpeg", "").await;
    admin_post(&s, &admin, &format!("/media/protect/{id}")).await;
    let r = admin_post(&s, &admin, &format!("/media/quarantine/test.local/{id}")).await;
    assert_eq!(r, json!({}));
    assert_eq!(quarantined_by(&s, &admin, &id).await, Value::Null);

    let twin = upload(&s, &user, PHOTO, "image/jpeg", "").await;
    admin_post(&s, &admin, &format!("/media/quarantine/test.local/{twin}")).await;
    assert_eq!(quarantined_by(&s, &admin, &twin).await, admin_id.as_str());
    assert_eq!(quarantined_by(&s, &admin, &id).await, Value::Null);
    assert_eq!(download_status(&s, &user, &id, "").await, 200);
    assert_eq!(download_status(&s, &user, &twin, "").await, 404);
}

/// Unknown media (local or remote) → `{}`; unknown rooms and users (or remote ones) → 0.
async fn unknown_media_and_rooms_and_users(b: Backend) {
    let (s, admin, _, user) = setup(b).await;
    upload(&s, &user, PHOTO, "image/jpeg", "").await;
    for path in [
        "/media/quarantine/test.local/nosuchmedia",
        "/media/unquarantine/test.local/nosuchmedia",
        "/media/quarantine/remote.example/nosuchmedia",
    ] {
        assert_eq!(admin_post(&s, &admin, path).await, json!({}), "{path}");
    }
    for path in [
        format!("/room/{}/media/quarantine", enc("!nope:test.local")),
        format!("/quarantine_media/{}", enc("!nope:test.local")),
        format!("/user/{}/media/quarantine", enc("@nobody:test.local")),
        format!("/user/{}/media/quarantine", enc("@user:elsewhere.example")),
        "/user/not-a-user-id/media/quarantine".to_owned(),
    ] {
        let r = admin_post(&s, &admin, &path).await;
        assert_eq!(r, json!({"num_quarantined": 0}), "{path}");
    }
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM quarantined_hashes").await,
        0
    );
}

/// `admin_unsafely_bypass_quarantine=true`: an admin downloads quarantined media (client v1
/// only, exact value only); a non-admin gets 400, even for remote media never fetched.
async fn admin_bypass(b: Backend) {
    let (s, admin, _, user) = setup(b).await;
    let id = upload(&s, &user, PHOTO, "image/jpeg", "").await;
    admin_post(&s, &admin, &format!("/media/quarantine/test.local/{id}")).await;
    let bypass = "?admin_unsafely_bypass_quarantine=true";
    let path = format!("/_matrix/client/v1/media/download/test.local/{id}{bypass}");
    let (status, _, body) = fetch(&s, &path, Some(&admin), &[]).await;
    assert_eq!((status.as_u16(), &body[..]), (200, PHOTO));
    assert_eq!(download_status(&s, &admin, &id, "").await, 404);
    for other in [
        "?admin_unsafely_bypass_quarantine=True",
        "?admin_unsafely_bypass_quarantine=1",
    ] {
        assert_eq!(
            download_status(&s, &admin, &id, other).await,
            404,
            "{other}"
        );
    }
    let legacy = format!("/_matrix/media/v3/download/test.local/{id}{bypass}");
    assert_eq!(fetch(&s, &legacy, Some(&admin), &[]).await.0, 404);
    for target in [
        format!("test.local/{id}"),
        "remote.example/neverfetched".to_owned(),
    ] {
        let path = format!("/_matrix/client/v1/media/download/{target}{bypass}");
        let r = s.get(&path, Some(&user)).await;
        assert_eq!(
            r.err(400, "M_UNKNOWN"),
            "Must be a server admin to bypass quarantine"
        );
    }
}

/// Reference §1.4's test: two `m.image` events whose URLs are two uploads of the same bytes.
async fn room_quarantine_on_both_paths(b: Backend) {
    for legacy in [false, true] {
        let (s, admin, admin_id, user) = setup(b.clone()).await;
        let room = create_room(&s, &user, json!({})).await;
        let mut ids = Vec::new();
        for (i, name) in ["a.jpg", "b.jpg"].into_iter().enumerate() {
            let id = upload(&s, &user, PHOTO, "image/jpeg", "").await;
            let url = format!("mxc://test.local/{id}");
            let content = json!({"msgtype": "m.image", "body": name, "url": url});
            send(&s, &user, &room, &format!("t{i}"), content).await;
            ids.push(id);
        }
        let path = if legacy {
            format!("/quarantine_media/{}", enc(&room))
        } else {
            format!("/room/{}/media/quarantine", enc(&room))
        };
        let r = admin_post(&s, &admin, &path).await;
        assert_eq!(r, json!({"num_quarantined": 2}), "legacy: {legacy}");
        for id in &ids {
            assert_eq!(quarantined_by(&s, &admin, id).await, admin_id.as_str());
            let bypass = "?admin_unsafely_bypass_quarantine=true";
            let r = s
                .get(
                    &format!("/_matrix/client/v1/media/download/test.local/{id}{bypass}"),
                    Some(&user),
                )
                .await;
            r.err(400, "M_UNKNOWN");
            assert_eq!(download_status(&s, &admin, id, "").await, 404);
        }
    }
}

/// Reference §1.5's tests: hash twins and hash-less (pending) media are counted; a protected
/// twin is left out and still downloads.
async fn user_quarantine(b: Backend) {
    let (s, admin, admin_id, user) = setup(b).await;
    let a = upload(&s, &user, PHOTO, "image/jpeg", "").await;
    let b2 = upload(&s, &user, PHOTO, "image/jpeg", "").await;
    // A media ID without content has no hash.
    let pending = create_pending(&s, &user).await;
    let path = format!("/user/{}/media/quarantine", enc("@user:test.local"));
    assert_eq!(
        admin_post(&s, &admin, &path).await,
        json!({"num_quarantined": 3})
    );
    for id in [&a, &b2, &pending] {
        assert_eq!(quarantined_by(&s, &admin, id).await, admin_id.as_str());
    }
    for id in [&a, &b2] {
        assert_eq!(download_status(&s, &user, id, "").await, 404);
    }
    assert_eq!(
        download_status(&s, &user, &pending, "?timeout_ms=0").await,
        404
    );
    // Already quarantined media is not selected again.
    assert_eq!(
        admin_post(&s, &admin, &path).await,
        json!({"num_quarantined": 0})
    );

    let (_, other) = s.register("other", "pw", false).await;
    let x = upload(&s, &other, CMYK, "image/jpeg", "").await;
    let y = upload(&s, &other, CMYK, "image/jpeg", "").await;
    admin_post(&s, &admin, &format!("/media/protect/{y}")).await;
    let path = format!("/user/{}/media/quarantine", enc("@other:test.local"));
    assert_eq!(
        admin_post(&s, &admin, &path).await,
        json!({"num_quarantined": 1})
    );
    assert_eq!(download_status(&s, &other, &x, "").await, 404);
    assert_eq!(download_status(&s, &other, &y, "").await, 200);
}
