//! Media rows and their blob references, for the conformance suite: de-duplication, reference
//! counts, and many writes at once (SQLite's group commit beside its other writer).

use mxcd_db::{BlobOutcome, Db, DbError, ErrorKind, NewBlob, NewMedia};

/// A plain-text media row of `origin`, created at 1 ms, not authenticated.
pub(crate) fn text_media(origin: &str, media_id: &str, user_id: Option<&str>) -> NewMedia {
    NewMedia {
        origin: origin.into(),
        media_id: media_id.into(),
        user_id: user_id.map(Into::into),
        media_type: "text/plain".into(),
        upload_name: None,
        created_ts: 1,
        authenticated: false,
    }
}

pub(crate) async fn media_blobs(db: &Db) {
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
pub(crate) async fn concurrent_media_writes(db: &Db) {
    let media = |id: String| text_media("c", &id, Some("@bob:x"));
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
pub(crate) async fn content_writes_beside_other_writes(db: &Db) {
    let media = |id: String| text_media("w", &id, Some("@dora:x"));
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
