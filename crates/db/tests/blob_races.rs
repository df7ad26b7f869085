//! PostgreSQL has no foreign keys to `blobs` (migration 0010), so the code must keep thumbnails
//! from being recorded for content a concurrent deletion is removing. This plays a deletion
//! batch's statements by hand on a second connection and runs `insert_thumbnails` in between.
//! Runs when `MXCD_TEST_POSTGRES_URL` is set (SQLite has one writer: no such interleaving).

use std::time::Duration;

use mxcd_db::{
    Db, NewBlob, NewMedia, NewThumbnail,
    testing::{PgTestDb, postgres_admin_url},
};
use sqlx::{Connection as _, PgConnection};

fn blob(n: u64) -> NewBlob {
    NewBlob {
        sha256: format!("{n:064x}"),
        storage_key: format!("key{n}"),
        size: 10,
    }
}

/// A fresh database holding one local upload; `None` (skipped) without PostgreSQL.
async fn one_upload() -> Option<(PgTestDb, Db, NewBlob)> {
    let Some(admin) = postgres_admin_url() else {
        eprintln!("skipped: MXCD_TEST_POSTGRES_URL is not set");
        return None;
    };
    let pg = PgTestDb::create(&admin).await;
    let db = Db::connect(pg.url(), None).await.unwrap();
    let source = blob(1);
    let media = NewMedia {
        origin: "here.test".into(),
        media_id: "m1".into(),
        user_id: Some("@u:here.test".into()),
        media_type: "image/png".into(),
        upload_name: None,
        created_ts: 1,
        authenticated: true,
    };
    db.insert_media(&media, &source).await.unwrap();
    Some((pg, db, source))
}

#[tokio::test]
async fn thumbnails_never_outlive_a_source_deleted_meanwhile() {
    let Some((pg, db, source)) = one_upload().await else {
        return;
    };

    // A deletion batch, up to the point where it has dropped the reference and deleted the
    // source's thumbnails but not yet its blob row.
    let mut deleter = PgConnection::connect(pg.url()).await.unwrap();
    let sha = source.sha256.as_str();
    let run = async |c: &mut PgConnection, sql: &str| {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(sha)
            .execute(c)
            .await
            .unwrap();
    };
    run(&mut deleter, "BEGIN").await;
    run(
        &mut deleter,
        "UPDATE blobs SET refcount = refcount - 1 WHERE sha256 = $1",
    )
    .await;
    run(
        &mut deleter,
        "DELETE FROM thumbnails WHERE source_sha256 = $1",
    )
    .await;

    let thumb = NewThumbnail {
        width: 32,
        height: 32,
        method: "scale".into(),
        media_type: "image/png".into(),
        blob: blob(2),
    };
    let writer = {
        let (db, sha) = (db.clone(), sha.to_owned());
        tokio::spawn(async move { db.insert_thumbnails(&sha, &[thumb], true, 2).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !writer.is_finished(),
        "recording thumbnails must wait for the deletion holding their source"
    );

    run(&mut deleter, "DELETE FROM blobs WHERE sha256 = $1").await;
    run(&mut deleter, "DELETE FROM media WHERE sha256 = $1").await;
    run(&mut deleter, "COMMIT").await;

    let unused = writer.await.unwrap().unwrap();
    assert_eq!(unused, vec!["key2".to_owned()], "nothing was recorded");
    let left = db
        .test_query_pairs("SELECT source_sha256, sha256 FROM thumbnails")
        .await;
    assert_eq!(left, Vec::<(String, String)>::new());
    assert_eq!(db.count_blobs().await.unwrap(), 0);
    db.close().await;
}

/// Pre-generations of one source at once (identical uploads) wait for each other: neither
/// holds a lock the other must upgrade, so none fails with a deadlock.
#[tokio::test]
async fn pregenerations_of_one_source_do_not_deadlock() {
    // `_pg` keeps the database until the end.
    let Some((_pg, db, source)) = one_upload().await else {
        return;
    };
    for round in 0..10u64 {
        let writers: Vec<_> = (0..6u64)
            .map(|i| {
                let (db, sha) = (db.clone(), source.sha256.clone());
                let thumb = NewThumbnail {
                    width: 32 + i as i64,
                    height: 32,
                    method: "scale".into(),
                    media_type: "image/png".into(),
                    blob: blob(100 + round * 10 + i),
                };
                tokio::spawn(async move { db.insert_thumbnails(&sha, &[thumb], true, 2).await })
            })
            .collect();
        for w in writers {
            w.await.unwrap().unwrap();
        }
    }
    let n = db
        .test_query_pairs("SELECT source_sha256, sha256 FROM thumbnails")
        .await;
    assert_eq!(
        n.len(),
        6,
        "one thumbnail per size, the first recorded kept"
    );
    db.close().await;
}
