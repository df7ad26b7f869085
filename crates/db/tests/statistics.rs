//! The statistics aggregates (kept by triggers) against a brute-force recomputation from the rows
//! they summarise, and the blob reference counts against the references, after random sequences
//! of every kind of write (see `random_world`). On SQLite always and on PostgreSQL when
//! `MXCD_TEST_POSTGRES_URL` is set.

mod random_world;

use std::collections::{BTreeMap, BTreeSet};

use mxcd_db::{
    Db, NewUser, RoomMediaOrder, UserMediaQuery, UserUsageOrder,
    testing::{PgTestDb, postgres_admin_url},
};
use random_world::{DAY, HS, World};

/// Per user, over `[from, until]`: (count, summed known lengths, whether any length is known).
async fn brute_users(
    db: &Db,
    from: Option<i64>,
    until: Option<i64>,
) -> Vec<(String, i64, Option<i64>)> {
    let rows = db
        .test_query_triples(
            "SELECT user_id, created_ts, media_length FROM media WHERE user_id IS NOT NULL",
        )
        .await;
    let mut by: BTreeMap<String, (i64, i64, bool)> = BTreeMap::new();
    for (u, ts, len) in rows {
        if from.is_some_and(|f| ts < f) || until.is_some_and(|t| ts > t) {
            continue;
        }
        let e = by.entry(u).or_default();
        e.0 += 1;
        if let Some(l) = len {
            e.1 += l;
            e.2 = true;
        }
    }
    by.into_iter()
        .map(|(u, (c, l, known))| (u, c, known.then_some(l)))
        .collect()
}

async fn check(w: &mut World) {
    let db = &w.db;
    for _ in 0..12 {
        let from = match w.rng.below(3) {
            0 => None,
            _ => Some(20_000 * DAY + w.rng.below(6 * DAY as u64) as i64 - DAY / 2),
        };
        let until = match w.rng.below(3) {
            0 => None,
            _ => Some(from.unwrap_or(20_000 * DAY) + w.rng.below(4 * DAY as u64) as i64 + 1),
        };
        let q = UserMediaQuery {
            order: UserUsageOrder::UserId,
            descending: false,
            from: 0,
            limit: 1000,
            from_ts: from,
            until_ts: until,
            search: None,
        };
        let (rows, total) = db.user_media_usage(&q).await.unwrap();
        let got: Vec<_> = rows
            .into_iter()
            .map(|r| (r.user_id, r.media_count, r.media_length))
            .collect();
        let want = brute_users(db, from, until).await;
        assert_eq!(got, want, "window {from:?}..={until:?}");
        assert_eq!(total, want.len() as i64);
    }

    // Room sizes: the same definition, recomputed from scratch.
    let want: BTreeMap<String, i64> = db
        .test_room_sizes_from_scratch()
        .await
        .into_iter()
        .collect();
    let mut got: BTreeMap<String, i64> = BTreeMap::new();
    for r in db.largest_rooms(1000).await.unwrap() {
        got.insert(r.room_id, r.bytes);
    }
    assert_eq!(got, want);

    // Rooms' media: distinct references of unredacted events, joined to the media rows.
    let refs = db
        .test_query_pairs(
            "SELECT room_id, origin || '/' || media_id FROM room_media WHERE NOT redacted",
        )
        .await;
    let lengths: BTreeMap<String, Option<i64>> = db
        .test_query_triples(
            "SELECT origin || '/' || media_id, CAST(0 AS BIGINT), media_length FROM media",
        )
        .await
        .into_iter()
        .map(|(k, _, l)| (k, l))
        .collect();
    let mut want: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    for (room, key) in refs.into_iter().collect::<BTreeSet<_>>() {
        let Some(len) = lengths.get(&key) else {
            continue;
        };
        let e = want.entry(room).or_default();
        let local = key.starts_with(&format!("{HS}/"));
        let i = if local { 0 } else { 2 };
        e[i] += 1;
        e[i + 1] += len.unwrap_or(0);
    }
    let (rows, total) = db
        .room_media_usage(HS, RoomMediaOrder::RoomId, false, 0, 1000)
        .await
        .unwrap();
    assert_eq!(total, want.len() as i64);
    let got: BTreeMap<String, [i64; 4]> = rows
        .into_iter()
        .map(|r| {
            assert_eq!(r.media_count, r.local_media_count + r.remote_media_count);
            assert_eq!(r.media_length, r.local_media_length + r.remote_media_length);
            (
                r.room_id,
                [
                    r.local_media_count,
                    r.local_media_length,
                    r.remote_media_count,
                    r.remote_media_length,
                ],
            )
        })
        .collect();
    assert_eq!(got, want);

    // Totals: local and remote rows, physical bytes once per distinct blob.
    let t = db.media_totals(HS).await.unwrap();
    let all = db
        .test_query_triples("SELECT origin, CAST(0 AS BIGINT), media_length FROM media")
        .await;
    let local: Vec<_> = all.iter().filter(|r| r.0 == HS).collect();
    assert_eq!(t.local.count, local.len() as i64);
    assert_eq!(
        t.local.bytes,
        local.iter().map(|r| r.2.unwrap_or(0)).sum::<i64>()
    );
    assert_eq!(t.remote.count, (all.len() - local.len()) as i64);
    let blobs = db
        .test_query_triples("SELECT sha256, CAST(0 AS BIGINT), size FROM blobs")
        .await;
    assert_eq!(t.blobs.count, blobs.len() as i64);
    assert_eq!(
        t.blobs.bytes,
        blobs.iter().map(|b| b.2.unwrap()).sum::<i64>()
    );
}

/// Every blob's count is the number of media rows and thumbnails holding it, and every hash a
/// row names has its blob (PostgreSQL has no foreign keys to `blobs` since migration 0010).
async fn check_blob_references(db: &Db) {
    let counts = db
        .test_query_triples(
            "SELECT b.sha256, b.refcount, (SELECT COUNT(*) FROM media m WHERE m.sha256 = b.sha256) \
             + (SELECT COUNT(*) FROM thumbnails t WHERE t.sha256 = b.sha256) FROM blobs b",
        )
        .await;
    for (sha, refcount, refs) in &counts {
        assert_eq!(Some(*refcount), *refs, "blob {sha}");
        assert!(
            *refcount > 0,
            "blob {sha} has no reference and should be gone"
        );
    }
    let dangling = db
        .test_query_pairs(
            "SELECT 'media', media_id FROM media WHERE sha256 IS NOT NULL \
               AND sha256 NOT IN (SELECT sha256 FROM blobs) \
             UNION ALL SELECT 'thumbnail', sha256 FROM thumbnails \
               WHERE sha256 NOT IN (SELECT sha256 FROM blobs) \
             UNION ALL SELECT 'thumbnail source', source_sha256 FROM thumbnails \
               WHERE source_sha256 NOT IN (SELECT sha256 FROM blobs)",
        )
        .await;
    assert_eq!(dangling, Vec::<(String, String)>::new());
    let thumbnails = db
        .test_query_pairs("SELECT source_sha256, sha256 FROM thumbnails")
        .await;
    eprintln!("{} blobs, {} thumbnails", counts.len(), thumbnails.len());
}

async fn suite(url: &str) {
    let db = Db::connect(url, None).await.unwrap();
    for u in 0..6 {
        db.create_user(&NewUser {
            user_id: format!("@u{u}:{HS}"),
            password_hash: None,
            admin: false,
            user_type: None,
            displayname: Some(format!("User {u}")),
            created_ts: 1,
        })
        .await
        .unwrap();
    }
    let mut w = World::new(db, 0x9e37_79b9_7f4a_7c15);
    for round in 0..6 {
        for _ in 0..60 {
            w.step().await;
        }
        check(&mut w).await;
        check_blob_references(&w.db).await;
        eprintln!("round {round}: consistent");
    }
    w.db.close().await;
}

#[tokio::test]
async fn aggregates_match_recomputation_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    suite(&format!("sqlite://{}/db.sqlite", dir.path().display())).await;
}

#[tokio::test]
async fn aggregates_match_recomputation_postgres() {
    let Some(admin) = postgres_admin_url() else {
        eprintln!("skipped: MXCD_TEST_POSTGRES_URL is not set");
        return;
    };
    let pg = PgTestDb::create(&admin).await;
    suite(pg.url()).await;
}
