//! One conformance suite for the metadata layer, run on SQLite always and on PostgreSQL when
//! `MXCD_TEST_POSTGRES_URL` is set (required under `CI=true`).

use mxcd_db::{
    Db, DbError, ErrorKind, NewBlob, NewUser, RegistrationToken, UserFilter, UserOrder, UserPatch,
    testing::{PgTestDb, postgres_admin_url},
};
use mxcd_types::{AccessToken, TokenHash};

mod media_writes;
use media_writes::text_media;

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

async fn suite(url: &str) {
    let db = Db::connect(url, None).await.unwrap();
    users_round_trip(&db).await;
    sessions(&db).await;
    listing(&db).await;
    nonces(&db).await;
    registration_tokens(&db).await;
    media_writes::media_blobs(&db).await;
    media_writes::concurrent_media_writes(&db).await;
    media_writes::content_writes_beside_other_writes(&db).await;
    db.close().await;
    let late = NewBlob {
        sha256: format!("{:064}", 999),
        storage_key: "late".into(),
        size: 1,
    };
    assert!(
        db.insert_media(&text_media("w", "late", None), &late)
            .await
            .is_err(),
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

    let media = text_media("x", "shared", Some("@carol:x"));
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
