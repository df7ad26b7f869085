//! One conformance suite for the metadata layer, run on SQLite always and on PostgreSQL when
//! `MXCD_TEST_POSTGRES_URL` is set (required under `CI=true`).

use mxcd_db::{
    BlobOutcome, Db, DbError, ErrorKind, NewBlob, NewMedia, NewUser, RegistrationToken, UserFilter,
    UserOrder, UserPatch,
    testing::{PgTestDb, postgres_admin_url},
};
use mxcd_types::{AccessToken, TokenHash};

fn filter() -> UserFilter {
    UserFilter {
        user_id: Some(":l".into()),
        name: None,
        guests: true,
        deactivated: Some(false),
        admins: None,
        locked: true,
        order: UserOrder::Name,
        descending: false,
        from: 0,
        limit: 100,
    }
}

fn user(id: &str, ts: i64) -> NewUser {
    NewUser {
        user_id: id.into(),
        password_hash: Some("h".into()),
        created_ts: ts,
        ..Default::default()
    }
}

async fn users_round_trip(db: &Db) {
    db.create_user(&NewUser {
        displayname: Some("Alice".into()),
        admin: true,
        ..user("@alice:x", 5)
    })
    .await
    .unwrap();
    let u = db.get_user("@alice:x").await.unwrap().unwrap();
    assert!(u.admin && !u.deactivated && !u.is_guest);
    assert_eq!((u.created_ts, u.displayname.as_deref()), (5, Some("Alice")));
    let dup = db.create_user(&user("@alice:x", 6)).await.unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::Conflict, "{dup}");
    assert!(db.get_user("@nobody:x").await.unwrap().is_none());
    assert_eq!(
        db.find_user_ids_case_insensitive("@ALICE:x").await.unwrap(),
        vec!["@alice:x"]
    );
    assert_eq!(db.count_admins().await.unwrap(), 1);

    let patch = UserPatch {
        displayname: Some(None),
        admin: Some(false),
        ..Default::default()
    };
    db.update_user("@alice:x", &patch).await.unwrap();
    let u = db.get_user("@alice:x").await.unwrap().unwrap();
    assert_eq!((u.admin, u.displayname), (false, None));
    assert!(matches!(
        db.update_user("@ghost:x", &UserPatch::default()).await,
        Err(DbError::NotFound)
    ));
}

async fn sessions(db: &Db) {
    db.create_user(&user("@bob:x", 1)).await.unwrap();
    let (t1, t2) = (AccessToken::generate(), AccessToken::generate());
    db.create_session("@bob:x", "D1", Some("phone"), &t1.hash(), 10)
        .await
        .unwrap();
    db.create_session("@bob:x", "D2", None, &t2.hash(), 11)
        .await
        .unwrap();
    let owner = db.token_owner(&t1.hash()).await.unwrap().unwrap();
    assert_eq!(
        (owner.user_id.as_str(), owner.device_id.as_str()),
        ("@bob:x", "D1")
    );
    assert_eq!(owner.last_used_ts, None);
    assert!(
        db.token_owner(&TokenHash::of(t1.as_str().to_uppercase().as_str()))
            .await
            .unwrap()
            .is_none()
    );

    db.touch_token(&t1.hash(), 50, Some("127.0.0.1"), Some("curl"))
        .await
        .unwrap();
    let conns = db.user_connections("@bob:x").await.unwrap();
    assert_eq!(conns.len(), 2);
    assert_eq!(
        (conns[0].ip.as_deref(), conns[0].last_seen),
        (Some("127.0.0.1"), Some(50))
    );

    db.delete_session("@bob:x", "D1").await.unwrap();
    assert!(db.token_owner(&t1.hash()).await.unwrap().is_none());
    assert!(db.token_owner(&t2.hash()).await.unwrap().is_some());
    db.delete_all_sessions("@bob:x").await.unwrap();
    assert!(db.token_owner(&t2.hash()).await.unwrap().is_none());

    let t3 = AccessToken::generate();
    db.create_session("@bob:x", "D3", None, &t3.hash(), 12)
        .await
        .unwrap();
    db.update_user(
        "@bob:x",
        &UserPatch {
            deactivated: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        db.token_owner(&t3.hash()).await.unwrap().is_none(),
        "deactivation logs out"
    );
}

async fn listing(db: &Db) {
    for (i, id) in ["@c:l", "@a:l", "@b_1:l", "@d:l"].iter().enumerate() {
        db.create_user(&user(id, 100 - i as i64)).await.unwrap();
    }
    db.update_user(
        "@d:l",
        &UserPatch {
            deactivated: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    db.update_user(
        "@c:l",
        &UserPatch {
            displayname: Some(Some("Zed B".into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let ids = |rows: Vec<mxcd_db::UserRow>| rows.into_iter().map(|u| u.user_id).collect::<Vec<_>>();

    let (rows, total) = db.list_users(&filter()).await.unwrap();
    assert_eq!(
        (ids(rows), total),
        (vec!["@a:l".into(), "@b_1:l".into(), "@c:l".into()], 3)
    );

    let (rows, total) = db
        .list_users(&UserFilter {
            deactivated: None,
            ..filter()
        })
        .await
        .unwrap();
    assert_eq!((rows.len(), total), (4, 4));

    let f = UserFilter {
        order: UserOrder::CreationTs,
        descending: true,
        from: 1,
        limit: 1,
        ..filter()
    };
    let (rows, total) = db.list_users(&f).await.unwrap();
    assert_eq!((ids(rows), total), (vec!["@a:l".to_string()], 3));

    // `name` matches the localpart or the display name, case-insensitively, and overrides
    // `user_id`; `_` is literal.
    let (rows, _) = db
        .list_users(&UserFilter {
            name: Some("B".into()),
            ..filter()
        })
        .await
        .unwrap();
    assert_eq!(
        ids(rows),
        vec!["@b_1:l", "@c:l"],
        "deactivated @bob:x is left out"
    );
    let (rows, _) = db
        .list_users(&UserFilter {
            name: Some("b_".into()),
            deactivated: None,
            ..filter()
        })
        .await
        .unwrap();
    assert_eq!(ids(rows), vec!["@b_1:l"]);
    let (rows, _) = db
        .list_users(&UserFilter {
            name: Some("l".into()),
            ..filter()
        })
        .await
        .unwrap();
    assert_eq!(
        ids(rows),
        vec!["@alice:x"],
        "the server name is not searched"
    );
}

async fn nonces(db: &Db) {
    db.insert_nonce("n1", 1_000).await.unwrap();
    db.insert_nonce("n2", 5_000).await.unwrap();
    assert!(db.take_nonce("n1", 0).await.unwrap());
    assert!(
        !db.take_nonce("n1", 0).await.unwrap(),
        "nonces are single-use"
    );
    assert!(
        !db.take_nonce("n2", 6_000).await.unwrap(),
        "expired nonces are refused"
    );
    assert!(!db.take_nonce("unknown", 0).await.unwrap());
}

async fn registration_tokens(db: &Db) {
    let t = RegistrationToken {
        token: "tok".into(),
        uses_allowed: Some(1),
        pending: 0,
        completed: 0,
        expiry_time: None,
    };
    db.create_registration_token(&t).await.unwrap();
    db.create_uia_session("s1", 1).await.unwrap();
    db.create_uia_session("s2", 1).await.unwrap();
    assert!(db.reserve_registration_token("tok", "s1", 2).await.unwrap());
    assert!(
        !db.reserve_registration_token("tok", "s2", 2).await.unwrap(),
        "one use only"
    );
    assert!(
        db.get_uia_session("s1")
            .await
            .unwrap()
            .unwrap()
            .has_completed("m.login.registration_token")
    );
    db.finish_uia_session("s1").await.unwrap();
    let t = db.get_registration_token("tok").await.unwrap().unwrap();
    assert_eq!((t.pending, t.completed), (0, 1));
    assert!(db.get_uia_session("s1").await.unwrap().is_none());
    db.complete_uia_stage("s2", "m.login.dummy").await.unwrap();
    assert!(
        db.get_uia_session("s2")
            .await
            .unwrap()
            .unwrap()
            .has_completed("m.login.dummy")
    );
}

async fn media_blobs(db: &Db) {
    let media = |id: &str| NewMedia {
        origin: "x".into(),
        media_id: id.into(),
        user_id: Some("@alice:x".into()),
        media_type: "image/png".into(),
        upload_name: Some("a.png".into()),
        created_ts: 7,
        authenticated: true,
    };
    let blob = |key: &str| NewBlob {
        sha256: "ab".repeat(32),
        storage_key: key.into(),
        size: 3,
    };
    assert_eq!(
        db.insert_media(&media("m1"), &blob("k1")).await.unwrap(),
        BlobOutcome::Stored
    );
    assert_eq!(
        db.insert_media(&media("m2"), &blob("k2")).await.unwrap(),
        BlobOutcome::Duplicate {
            existing: "k1".into()
        },
        "identical content is stored once"
    );
    assert_eq!(db.count_blobs().await.unwrap(), 1);
    let row = db.get_media("x", "m2").await.unwrap().unwrap();
    assert_eq!(
        (
            row.storage_key.as_deref(),
            row.media_length,
            row.authenticated
        ),
        (Some("k1"), Some(3), true)
    );
    assert_eq!(row.upload_name.as_deref(), Some("a.png"));
    let dup_id = db
        .insert_media(&media("m1"), &blob("k3"))
        .await
        .unwrap_err();
    assert_eq!(dup_id.kind(), ErrorKind::Conflict);
    assert_eq!(
        db.count_blobs().await.unwrap(),
        1,
        "a failed insert leaves the reference count alone"
    );

    assert_eq!(
        db.delete_media("x", "m1").await.unwrap(),
        Vec::<String>::new(),
        "m2 still references the blob"
    );
    assert!(db.get_media("x", "m1").await.unwrap().is_none());
    assert_eq!(
        db.delete_media("x", "m2").await.unwrap(),
        vec!["k1".to_owned()],
        "the last reference frees the blob"
    );
    assert_eq!(db.count_blobs().await.unwrap(), 0);
    assert!(matches!(
        db.delete_media("x", "m2").await,
        Err(DbError::NotFound)
    ));
}

fn rand_suffix() -> u64 {
    use rand::RngExt as _;
    rand::rng().random()
}

/// Many content writes at once (on SQLite they share group commits): each gets its own outcome,
/// a failing write takes none of its neighbours down, and reference counts add up.
async fn concurrent_media_writes(db: &Db) {
    let media = |id: String| NewMedia {
        origin: "c".into(),
        media_id: id,
        user_id: Some("@bob:x".into()),
        media_type: "text/plain".into(),
        upload_name: None,
        created_ts: 1,
        authenticated: false,
    };
    // A clean batch: 20 uploads of 5 distinct contents, and 4 async uploads filled, at once.
    for id in ["p0", "p1", "p2", "p3"] {
        db.create_pending_media("c", id, "@bob:x", 1, i64::MAX, false)
            .await
            .unwrap();
    }
    let inserts = (0..20).map(|i| {
        let db = db.clone();
        let blob = NewBlob {
            sha256: format!("{:064}", 100 + i % 5),
            storage_key: format!("clean{i}"),
            size: 10,
        };
        tokio::spawn(async move { db.insert_media(&media(format!("clean{i}")), &blob).await })
    });
    let fills = [0, 1, 2, 3].map(|p| {
        let db = db.clone();
        tokio::spawn(async move {
            let blob = NewBlob {
                sha256: format!("{:064}", 200 + p),
                storage_key: format!("fill{p}-{}", rand_suffix()),
                size: 3,
            };
            db.fill_pending_media("c", &format!("p{p}"), "image/png", Some("f.png"), &blob, 2)
                .await
        })
    });
    let mut stored = 0;
    for w in inserts.collect::<Vec<_>>() {
        if w.await.unwrap().unwrap() == BlobOutcome::Stored {
            stored += 1;
        }
    }
    assert_eq!(stored, 5, "one stored object per distinct content");
    let mut fill_results = Vec::new();
    for f in fills {
        fill_results.push(f.await.unwrap().map_err(|e| e.kind()));
    }
    assert!(fill_results.iter().all(Result::is_ok), "{fill_results:?}");
    let again = NewBlob {
        sha256: format!("{:064}", 299),
        storage_key: "fill-again".into(),
        size: 1,
    };
    let refused = db
        .fill_pending_media("c", "p3", "image/png", None, &again, 3)
        .await;
    assert_eq!(
        refused.map_err(|e| e.kind()),
        Err(ErrorKind::Conflict),
        "filled once"
    );
    let filled = db.get_media("c", "p2").await.unwrap().unwrap();
    assert_eq!(
        (
            filled.media_type.as_deref(),
            filled.upload_name.as_deref(),
            filled.media_length
        ),
        (Some("image/png"), Some("f.png"), Some(3))
    );
    assert!(filled.unused_expires_at.is_none());
    assert_eq!(db.count_blobs().await.unwrap(), 9);
    for i in 0..20 {
        db.delete_media("c", &format!("clean{i}")).await.unwrap();
    }
    for p in 0..4 {
        db.delete_media("c", &format!("p{p}")).await.unwrap();
    }
    assert_eq!(db.count_blobs().await.unwrap(), 0);

    // 40 uploads of 4 distinct contents; every 10th reuses the media ID of the one before it.
    let writes = (0..40).map(|i| {
        let db = db.clone();
        let id = if i % 10 == 9 { i - 1 } else { i };
        let blob = NewBlob {
            sha256: format!("{:064}", i % 4),
            storage_key: format!("c{i}"),
            size: 10,
        };
        tokio::spawn(async move { db.insert_media(&media(format!("c{id}")), &blob).await })
    });
    let mut stored = 0;
    let mut conflicts = 0;
    for w in writes.collect::<Vec<_>>() {
        match w.await.unwrap() {
            Ok(BlobOutcome::Stored) => stored += 1,
            Ok(BlobOutcome::Duplicate { .. }) => {}
            Err(e) if e.kind() == ErrorKind::Conflict => conflicts += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((stored, conflicts), (4, 4));
    assert_eq!(db.count_blobs().await.unwrap(), 4);
    // Deleting every row frees each blob exactly at its last reference: a count too high
    // would leave blobs behind, one too low would fail a later delete.
    for i in (0..40).filter(|i| i % 10 != 9) {
        db.delete_media("c", &format!("c{i}")).await.unwrap();
    }
    assert_eq!(
        db.count_blobs().await.unwrap(),
        0,
        "every reference was counted once"
    );
}

/// Content writes (on SQLite, the group commit's own connection) at the same time as other
/// writes (the writer pool, in and out of transactions): SQLite has one writer, and every write
/// must still succeed, none lost and none counted twice.
async fn content_writes_beside_other_writes(db: &Db) {
    let media = |id: String| NewMedia {
        origin: "w".into(),
        media_id: id,
        user_id: Some("@dora:x".into()),
        media_type: "text/plain".into(),
        upload_name: None,
        created_ts: 1,
        authenticated: false,
    };
    let blob = |i: usize, key: String| NewBlob {
        sha256: format!("{:064}", 300 + i % 4),
        storage_key: key,
        size: 7,
    };
    for i in 0..30 {
        db.insert_media(&media(format!("old{i}")), &blob(i, format!("old{i}")))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (a, b, c) = (db.clone(), db.clone(), db.clone());
        tasks.push(tokio::spawn(async move {
            a.insert_media(&media(format!("new{i}")), &blob(i + 1, format!("new{i}")))
                .await
                .map(drop)
        }));
        tasks.push(tokio::spawn(async move {
            b.delete_media("w", &format!("old{i}")).await.map(drop)
        }));
        tasks.push(tokio::spawn(async move {
            c.create_pending_media("w", &format!("pending{i}"), "@dora:x", 1, i64::MAX, false)
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(db.get_media("w", "old7").await.unwrap(), None);
    assert!(db.get_media("w", "new7").await.unwrap().is_some());
    assert!(db.get_media("w", "pending7").await.unwrap().is_some());
    for i in 0..30 {
        db.delete_media("w", &format!("new{i}")).await.unwrap();
        db.delete_media("w", &format!("pending{i}")).await.unwrap();
    }
    assert_eq!(
        db.count_blobs().await.unwrap(),
        0,
        "every reference counted once"
    );
}

async fn suite(url: &str) {
    let db = Db::connect(url, None).await.unwrap();
    users_round_trip(&db).await;
    sessions(&db).await;
    listing(&db).await;
    nonces(&db).await;
    registration_tokens(&db).await;
    media_blobs(&db).await;
    concurrent_media_writes(&db).await;
    content_writes_beside_other_writes(&db).await;
    db.close().await;
    let late = NewBlob {
        sha256: format!("{:064}", 999),
        storage_key: "late".into(),
        size: 1,
    };
    let closed = NewMedia {
        origin: "w".into(),
        media_id: "late".into(),
        user_id: None,
        media_type: "text/plain".into(),
        upload_name: None,
        created_ts: 1,
        authenticated: false,
    };
    assert!(
        db.insert_media(&closed, &late).await.is_err(),
        "a closed database takes no writes"
    );
    // Reconnecting applies no migration twice and keeps the data.
    let db = Db::connect(url, None).await.unwrap();
    assert!(db.get_user("@alice:x").await.unwrap().is_some());
    db.close().await;
}

#[tokio::test]
async fn conformance_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    suite(&format!(
        "sqlite://{}",
        dir.path().join("mxcd.db").display()
    ))
    .await;
}

/// Waits (well under the cache TTL of 10 s, so expiry cannot be what passes the test) until
/// `check` holds.
async fn eventually<F: Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Two instances on one PostgreSQL database: what one caches, the other's writes invalidate.
async fn caches_follow_other_instances(a: &Db, b: &Db) {
    b.create_user(&user("@carol:x", 1)).await.unwrap();
    let t = AccessToken::generate();
    b.create_session("@carol:x", "C1", None, &t.hash(), 1)
        .await
        .unwrap();
    assert!(!a.token_owner(&t.hash()).await.unwrap().unwrap().admin);
    let admin = UserPatch {
        admin: Some(true),
        ..Default::default()
    };
    b.update_user("@carol:x", &admin).await.unwrap();
    eventually("the other instance sees the new admin flag", || async {
        a.token_owner(&t.hash()).await.unwrap().unwrap().admin
    })
    .await;
    b.delete_all_sessions("@carol:x").await.unwrap();
    eventually(
        "the other instance refuses the logged-out token",
        || async { a.token_owner(&t.hash()).await.unwrap().is_none() },
    )
    .await;

    let media = NewMedia {
        origin: "x".into(),
        media_id: "shared".into(),
        user_id: Some("@carol:x".into()),
        media_type: "text/plain".into(),
        upload_name: None,
        created_ts: 1,
        authenticated: false,
    };
    let blob = NewBlob {
        sha256: "cd".repeat(32),
        storage_key: "shared-key".into(),
        size: 1,
    };
    b.insert_media(&media, &blob).await.unwrap();
    assert!(
        a.get_media_for_download("x", "shared")
            .await
            .unwrap()
            .is_some()
    );
    b.delete_media("x", "shared").await.unwrap();
    eventually("the other instance forgets the deleted media", || async {
        a.get_media_for_download("x", "shared")
            .await
            .unwrap()
            .is_none()
    })
    .await;
}

#[tokio::test]
async fn two_instances_postgres() {
    let Some(admin) = postgres_admin_url() else {
        eprintln!("skipped: MXCD_TEST_POSTGRES_URL is not set");
        return;
    };
    let pg = PgTestDb::create(&admin).await;
    let a = Db::connect(pg.url(), None).await.unwrap();
    let b = Db::connect(pg.url(), None).await.unwrap();
    caches_follow_other_instances(&a, &b).await;
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn conformance_postgres() {
    let Some(admin) = postgres_admin_url() else {
        eprintln!("skipped: MXCD_TEST_POSTGRES_URL is not set");
        return;
    };
    let pg = PgTestDb::create(&admin).await;
    suite(pg.url()).await;
}
