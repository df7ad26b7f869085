//! Statistics benchmark: seeds MEDIA local media rows for USERS users over a year, then times
//! `/statistics/users/media` queries served from the aggregates against the scan Synapse runs
//! (GROUP BY over every media row), and the cost the triggers add to each insert.
//!
//! `cargo run --release -p mxcd-db --example stats_bench [MEDIA] [USERS]`
//!
//! SQLite in a temporary directory; PostgreSQL too when `MXCD_BENCH_POSTGRES_URL` names a
//! server where a throw-away database may be created. Figures are printed, never asserted.

use std::time::{Duration, Instant};

use mxcd_db::{Db, NewBlob, NewMedia, UserMediaQuery, UserUsageOrder, testing::PgTestDb};

const DAY: i64 = 86_400_000;
const START: i64 = 1_700_000_000_000;
/// Concurrent writers while seeding (uploads arrive concurrently; SQLite groups them).
const WRITERS: usize = 64;

async fn seed(db: &Db, from: usize, to: usize, users: usize) -> Duration {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for i in (from + w..to).step_by(WRITERS) {
                let m = NewMedia {
                    origin: "bench.test".into(),
                    media_id: format!("m{i:08}"),
                    user_id: Some(format!("@user{:05}:bench.test", i % users)),
                    media_type: "image/png".into(),
                    upload_name: None,
                    created_ts: START + (i as i64 * 7_919_311) % (365 * DAY),
                    authenticated: true,
                };
                let b = NewBlob {
                    sha256: format!("{i:064x}"),
                    storage_key: format!("k{i}"),
                    size: 1_000 + (i as i64 % 5_000),
                };
                db.insert_media(&m, &b).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed()
}

/// The median of `runs` timings of `f`, in milliseconds.
async fn time<F, Fut>(runs: usize, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f().await;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    ms[runs / 2]
}

fn query(order: UserUsageOrder, from_ts: Option<i64>, until_ts: Option<i64>) -> UserMediaQuery {
    UserMediaQuery {
        order,
        descending: true,
        from: 0,
        limit: 100,
        from_ts,
        until_ts,
        search: None,
    }
}

/// What the statistics triggers cost each insert: the same inserts with and without them.
async fn trigger_cost(name: &str, url: &str, media: usize, users: usize) {
    let db = Db::connect(url, None).await.unwrap();
    let probe = (media / 10).max(1_000);
    let with = seed(&db, 0, probe, users).await;
    db.test_execute("DELETE FROM media").await;
    db.test_execute("DELETE FROM blobs").await;
    let drop = if url.starts_with("postgres") {
        "ALTER TABLE media DISABLE TRIGGER USER"
    } else {
        "DROP TRIGGER user_media_add"
    };
    db.test_execute(drop).await;
    let without = seed(&db, 0, probe, users).await;
    println!(
        "{name}: {probe} inserts by {WRITERS} writers: {:.0}/s with the triggers, {:.0}/s without",
        probe as f64 / with.as_secs_f64(),
        probe as f64 / without.as_secs_f64()
    );
    db.close().await;
}

async fn figures(name: &str, url: &str, media: usize, users: usize) {
    let db = Db::connect(url, None).await.unwrap();
    let took = seed(&db, 0, media, users).await;
    println!(
        "{name}: seeded {media} media rows of {users} users in {:.1} s ({:.0}/s)",
        took.as_secs_f64(),
        media as f64 / took.as_secs_f64()
    );
    let runs = 11;
    for (label, q) in [
        (
            "all time, by media_length",
            query(UserUsageOrder::MediaLength, None, None),
        ),
        (
            "all time, by user_id",
            query(UserUsageOrder::UserId, None, None),
        ),
        (
            "30-day window, ragged edges",
            query(
                UserUsageOrder::MediaLength,
                Some(START + 100 * DAY + 12_345),
                Some(START + 130 * DAY + 54_321),
            ),
        ),
        (
            "from_ts only (~8 months)",
            query(
                UserUsageOrder::MediaCount,
                Some(START + 120 * DAY + 1),
                None,
            ),
        ),
    ] {
        let ms = time(runs, || async {
            db.user_media_usage(&q).await.unwrap();
        })
        .await;
        println!("{name}: users/media {label}: {ms:.2} ms");
    }
    let scan = time(runs, || async {
        db.test_query_triples(
            "SELECT user_id, CAST(COUNT(*) AS BIGINT), CAST(SUM(media_length) AS BIGINT) \
             FROM media WHERE user_id IS NOT NULL GROUP BY user_id \
             ORDER BY 3 DESC LIMIT 100",
        )
        .await;
    })
    .await;
    println!("{name}: the scan Synapse runs (GROUP BY over all media rows): {scan:.2} ms");
    let totals = time(runs, || async {
        db.media_totals("bench.test").await.unwrap();
    })
    .await;
    println!("{name}: server-wide totals: {totals:.2} ms");
    let rooms = time(runs, || async {
        db.largest_rooms(10).await.unwrap();
    })
    .await;
    println!("{name}: largest rooms: {rooms:.2} ms");
    db.close().await;
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let media: usize = args.next().map_or(100_000, |a| a.parse().unwrap());
    let users: usize = args.next().map_or(1_000, |a| a.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let sqlite = |n: &str| format!("sqlite://{}", dir.path().join(n).display());
    trigger_cost("sqlite", &sqlite("probe.db"), media, users).await;
    figures("sqlite", &sqlite("figures.db"), media, users).await;
    if let Ok(admin) = std::env::var("MXCD_BENCH_POSTGRES_URL") {
        let probe = PgTestDb::create(&admin).await;
        trigger_cost("postgres", probe.url(), media, users).await;
        let pg = PgTestDb::create(&admin).await;
        figures("postgres", pg.url(), media, users).await;
    }
}
