//! Hash behaviour of quarantine over HTTP (reference §2.1–2.2): twins of other users, later
//! copies quarantined by `system` (even once every copy is gone), release of every copy, and
//! invalidation of another instance's caches.

use serde_json::{Value, json};

use crate::{
    admin_quarantine::{CMYK, PHOTO, admin_post, download_status, quarantined_by, setup},
    harness::{Backend, TestServer, enc},
    media::{create_pending, upload},
    rooms::{create_room, send},
};

crate::backend_tests!(
    identical_bytes_of_two_users,
    later_copies_of_a_quarantined_hash
);

/// Identical bytes from two users: quarantining one user's media takes the other's too, and
/// both are counted, as Synapse counts.
async fn identical_bytes_of_two_users(b: Backend) {
    let (s, admin, _, user) = setup(b).await;
    let (_, other) = s.register("other", "pw", false).await;
    let mine = upload(&s, &user, PHOTO, "image/jpeg", "").await;
    let theirs = upload(&s, &other, PHOTO, "image/jpeg", "").await;
    let path = format!("/user/{}/media/quarantine", enc("@user:test.local"));
    assert_eq!(
        admin_post(&s, &admin, &path).await,
        json!({"num_quarantined": 2})
    );
    assert_eq!(download_status(&s, &user, &mine, "").await, 404);
    assert_eq!(download_status(&s, &other, &theirs, "").await, 404);
    // Quarantining again by ID counts the already quarantined twin again (Synapse's count).
    let room = create_room(&s, &user, json!({})).await;
    let content =
        json!({"msgtype": "m.image", "body": "x", "url": format!("mxc://test.local/{mine}")});
    send(&s, &user, &room, "t", content).await;
    let path = format!("/room/{}/media/quarantine", enc(&room));
    assert_eq!(
        admin_post(&s, &admin, &path).await,
        json!({"num_quarantined": 2})
    );
}

/// After a quarantine, new copies of the same bytes (`POST` upload and asynchronous `PUT`) are
/// quarantined by `system`, even once every copy is gone; unquarantining releases them all.
async fn later_copies_of_a_quarantined_hash(b: Backend) {
    let (s, admin, _, user) = setup(b).await;
    let first = upload(&s, &user, PHOTO, "image/jpeg", "").await;
    admin_post(&s, &admin, &format!("/media/quarantine/test.local/{first}")).await;
    let again = upload(&s, &user, PHOTO, "image/jpeg", "").await;
    assert_eq!(quarantined_by(&s, &admin, &again).await, "system");
    assert_eq!(download_status(&s, &user, &again, "").await, 404);
    let pending = create_pending(&s, &user).await;
    let r = s
        .client
        .put(format!(
            "{}/_matrix/media/v3/upload/test.local/{pending}",
            s.base
        ))
        .bearer_auth(&user)
        .header("content-type", "image/jpeg")
        .body(PHOTO)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(quarantined_by(&s, &admin, &pending).await, "system");
    // Different bytes are not affected.
    let other = upload(&s, &user, CMYK, "image/jpeg", "").await;
    assert_eq!(quarantined_by(&s, &admin, &other).await, Value::Null);

    // Unquarantining one copy releases every copy, the system's too, and the hash.
    admin_post(
        &s,
        &admin,
        &format!("/media/unquarantine/test.local/{first}"),
    )
    .await;
    for id in [&first, &again, &pending] {
        assert_eq!(quarantined_by(&s, &admin, id).await, Value::Null);
        assert_eq!(download_status(&s, &user, id, "").await, 200);
    }
    assert_eq!(upload_and_check(&s, &admin, &user).await, Value::Null);

    // Quarantined again, then every copy deleted: the hash is still remembered.
    admin_post(&s, &admin, &format!("/media/quarantine/test.local/{first}")).await;
    let db = mxcd_db::Db::connect(&s.database_url(), None).await.unwrap();
    for id in s.sql_strings("SELECT media_id FROM media").await {
        db.delete_media("test.local", &id).await.unwrap();
    }
    db.close().await;
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM media").await, 0);
    assert_eq!(upload_and_check(&s, &admin, &user).await, "system");
}

/// Uploads the photo once more and returns its `quarantined_by`.
async fn upload_and_check(s: &TestServer, admin: &str, user: &str) -> Value {
    let id = upload(s, user, PHOTO, "image/jpeg", "").await;
    quarantined_by(s, admin, &id).await
}

/// Two instances sharing one PostgreSQL database (and data directory): a quarantine made
/// through one is 404 on the other well before its caches would expire (10 s), both for a few
/// rows (announced one by one) and for many (one announcement dropping every cached row).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_reaches_another_instance() {
    let Some(b) = Backend::postgres() else {
        eprintln!("skipped: MXCD_TEST_POSTGRES_URL is not set");
        return;
    };
    let (a, admin, _, user) = setup(b).await;
    let other = TestServer::start_with(Backend::Sqlite, |c| {
        c.database.url = Some(a.database_url());
        c.data_dir = a.cfg.data_dir.clone();
    })
    .await;
    let one = upload(&a, &user, CMYK, "image/jpeg", "").await;
    let mut many = Vec::new();
    for _ in 0..70 {
        many.push(upload(&a, &user, PHOTO, "image/jpeg", "").await);
    }
    for id in many.iter().chain([&one]) {
        // Twice: the second answer comes from the other instance's cache.
        for _ in 0..2 {
            assert_eq!(download_status(&other, &user, id, "").await, 200);
        }
    }
    admin_post(&a, &admin, &format!("/media/quarantine/test.local/{one}")).await;
    admin_post(
        &a,
        &admin,
        &format!("/media/quarantine/test.local/{}", many[0]),
    )
    .await;
    for id in many.iter().chain([&one]) {
        let start = std::time::Instant::now();
        while download_status(&other, &user, id, "").await != 404 {
            assert!(start.elapsed().as_secs() < 2, "{id} still served");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
