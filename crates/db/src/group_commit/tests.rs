//! A batch's writes on a real database: committed together, or each alone once one fails.

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{GroupCommit, Job, MAX_BATCH, commit, open};
use crate::{BlobOutcome, Db, ErrorKind, NewBlob, NewMedia, media::MediaWrite};

/// A database with mxcd's schema, and a committing connection to it of its own.
async fn database() -> (tempfile::TempDir, Db, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mxcd.db");
    let db = Db::connect(&format!("sqlite://{}", path.display()), None)
        .await
        .unwrap();
    let (conn, _log) = open(&path).unwrap();
    (dir, db, conn)
}

/// An upload of `content` (a number standing for its bytes) as media `media_id`.
fn upload(media_id: &str, content: u32, unsynced: bool) -> Job {
    let (reply, _) = oneshot::channel();
    let write = MediaWrite::Insert {
        media: NewMedia {
            origin: "example.org".into(),
            media_id: media_id.into(),
            user_id: Some("@alice:example.org".into()),
            media_type: "text/plain".into(),
            upload_name: None,
            created_ts: 1,
            authenticated: false,
        },
        blob: NewBlob {
            sha256: format!("{content:064}"),
            storage_key: format!("key-{media_id}-{content}"),
            size: 1,
        },
        unsynced,
    };
    Job { write, reply }
}

fn kinds(
    outcomes: Vec<Result<BlobOutcome, crate::DbError>>,
) -> Vec<Result<BlobOutcome, ErrorKind>> {
    outcomes
        .into_iter()
        .map(|o| o.map_err(|e| e.kind()))
        .collect()
}

#[tokio::test]
async fn a_failing_write_is_rolled_back_alone_and_the_others_commit() {
    let (_dir, db, mut conn) = database().await;
    commit(&mut conn, &[upload("old", 9, true)], &[]).unwrap();
    assert!(db.blob_is_unsynced("key-old-9").await.unwrap());

    // The second write takes a media ID the first took; the fourth has the first's content.
    let batch = [
        upload("a", 1, false),
        upload("a", 2, false),
        upload("b", 3, false),
        upload("c", 1, false),
    ];
    let outcomes = commit(&mut conn, &batch, &["key-old-9".into()]).unwrap();
    assert_eq!(
        kinds(outcomes),
        [
            Ok(BlobOutcome::Stored),
            Err(ErrorKind::Conflict),
            Ok(BlobOutcome::Stored),
            Ok(BlobOutcome::Duplicate {
                existing: "key-a-1".into()
            }),
        ]
    );
    let a = db.get_media("example.org", "a").await.unwrap().unwrap();
    assert_eq!(a.sha256.as_deref(), Some(format!("{:064}", 1).as_str()));
    assert!(db.get_media("example.org", "c").await.unwrap().is_some());
    // The failed write's blob row was rolled back with it: contents 9, 1 and 3 remain.
    assert_eq!(db.count_blobs().await.unwrap(), 3);
    assert!(!db.blob_is_unsynced("key-old-9").await.unwrap());
}

#[tokio::test]
async fn a_clean_batch_commits_every_write_and_clears_the_flags() {
    let (_dir, db, mut conn) = database().await;
    commit(&mut conn, &[upload("old", 9, true)], &[]).unwrap();

    let batch = [upload("a", 1, true), upload("b", 2, false)];
    let outcomes = commit(&mut conn, &batch, &["key-old-9".into()]).unwrap();
    assert_eq!(
        kinds(outcomes),
        [Ok(BlobOutcome::Stored), Ok(BlobOutcome::Stored)]
    );
    assert!(db.get_media("example.org", "b").await.unwrap().is_some());
    assert_eq!(db.count_blobs().await.unwrap(), 3);
    assert!(!db.blob_is_unsynced("key-old-9").await.unwrap());
    assert!(db.blob_is_unsynced("key-a-1").await.unwrap());
}

/// `count` uploads committed with their blobs flagged unsynced; returns their storage keys.
fn flagged_uploads(conn: &mut Connection, count: u32) -> Vec<String> {
    let batch: Vec<Job> = (0..count)
        .map(|i| upload(&format!("f{i}"), 1000 + i, true))
        .collect();
    commit(conn, &batch, &[]).unwrap();
    (0..count)
        .map(|i| format!("key-f{i}-{}", 1000 + i))
        .collect()
}

async fn flagged_count(db: &Db) -> usize {
    db.unsynced_blobs().await.unwrap().len()
}

#[tokio::test]
async fn flags_wait_for_a_batch_until_enough_of_them_wait() {
    let (dir, db, mut conn) = database().await;
    let keys = flagged_uploads(&mut conn, MAX_BATCH as u32);
    let group = GroupCommit::start(&dir.path().join("mxcd.db"), Default::default())
        .await
        .unwrap();
    for key in &keys[1..] {
        group.synced_later(key.clone()).await.unwrap();
    }
    // One flag short of a commit of their own, and no write to carry them.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(flagged_count(&db).await, MAX_BATCH);

    group.synced_later(keys[0].clone()).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while flagged_count(&db).await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the flags were never cleared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    group.close().await;
}

#[tokio::test]
async fn a_write_or_a_close_carries_the_flags_waiting() {
    let (dir, db, mut conn) = database().await;
    let keys = flagged_uploads(&mut conn, 2);
    let group = GroupCommit::start(&dir.path().join("mxcd.db"), Default::default())
        .await
        .unwrap();
    group.synced_later(keys[0].clone()).await.unwrap();
    let job = upload("w", 7, false);
    group.submit(job.write).await.unwrap();
    assert_eq!(flagged_count(&db).await, 1);

    group.synced_later(keys[1].clone()).await.unwrap();
    group.close().await;
    assert_eq!(flagged_count(&db).await, 0);
    assert!(matches!(
        group.synced_later("late".into()).await,
        Err(crate::DbError::Closed)
    ));
}
