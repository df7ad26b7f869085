//! Quarantine benchmark: quarantines a room with 10,000 media references (10,000 media items of
//! distinct content) over HTTP, while downloads of another file run, and prints how long the
//! quarantine took and the longest download seen before and during it.
//!
//! `cargo run --release -p mxcd --example quarantine_bench [REFERENCES]`
//!
//! Runs on SQLite in a temporary directory, or on PostgreSQL when `MXCD_BENCH_POSTGRES_URL`
//! names a server where a throw-away database may be created. The room's references (and their
//! media and blob rows) are seeded with bulk SQL, since 10,000 HTTP uploads and sends would
//! measure the seeding. Figures are printed, never asserted.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use sqlx::Connection as _;

const DOWNLOADERS: usize = 4;

/// The seeding SQL: `n` blobs, media rows and `content.url` references in `room`.
fn seed_sql(room: &str, n: usize, now: i64) -> String {
    let mut sql = String::from("BEGIN;\n");
    for start in (0..n).step_by(500) {
        let ids = start..(start + 500).min(n);
        let rows = |f: &dyn Fn(usize) -> String| ids.clone().map(f).collect::<Vec<_>>().join(",");
        sql += &format!(
            "INSERT INTO blobs (sha256, storage_key, size, refcount, created_ts) VALUES {};\n",
            rows(&|i| format!("('{i:064x}', 'bench-{i}', 100, 1, {now})"))
        );
        sql += &format!(
            "INSERT INTO media (origin, media_id, user_id, media_type, media_length, sha256, \
             created_ts) VALUES {};\n",
            rows(&|i| format!(
                "('bench.local', 'm{i:023}', '@bench:bench.local', 'image/png', 100, '{i:064x}', {now})"
            ))
        );
        sql += &format!(
            "INSERT INTO room_media (room_id, event_id, event_type, stream_ordering, field, \
             origin, media_id) VALUES {};\n",
            rows(&|i| format!(
                "('{room}', '$bench{i}', 'm.room.message', {}, 'content.url', 'bench.local', \
                 'm{i:023}')",
                1_000_000 + i
            ))
        );
    }
    sql + "COMMIT;\n"
}

/// Downloads `url` in a loop until `stop`; returns the longest request.
async fn download_loop(
    http: reqwest::Client,
    url: String,
    tok: String,
    stop: Arc<AtomicBool>,
) -> (Duration, usize) {
    let (mut longest, mut count) = (Duration::ZERO, 0);
    while !stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        let r = http
            .get(&url)
            .bearer_auth(&tok)
            .send()
            .await
            .expect("download");
        assert!(r.status().is_success(), "{}", r.status());
        r.bytes().await.expect("body");
        longest = longest.max(start.elapsed());
        count += 1;
    }
    (longest, count)
}

/// Runs downloaders while `work` runs; returns its output, the longest download and the count.
async fn with_downloads<T>(
    http: &reqwest::Client,
    url: &str,
    tok: &str,
    work: impl Future<Output = T>,
) -> (T, Duration, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..DOWNLOADERS)
        .map(|_| {
            let f = download_loop(http.clone(), url.into(), tok.into(), stop.clone());
            tokio::spawn(f)
        })
        .collect();
    // Let the downloaders warm up first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = work.await;
    stop.store(true, Ordering::Relaxed);
    let (mut longest, mut count) = (Duration::ZERO, 0);
    for t in tasks {
        let (l, c) = t.await.expect("downloader");
        longest = longest.max(l);
        count += c;
    }
    (out, longest, count)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map_or(Ok(10_000), |a| a.parse())?;
    let common::Bench {
        server,
        base,
        cfg,
        backend,
        pg,
        dir: _dir,
        ..
    } = common::start().await?;
    let http = reqwest::Client::new();
    let tok = common::register(&http, &base, "bench", true).await?;

    let room: Value = http
        .post(format!("{base}/_matrix/client/v3/createRoom"))
        .bearer_auth(&tok)
        .json(&json!({}))
        .send()
        .await?
        .json()
        .await?;
    let room = room["room_id"].as_str().unwrap_or_default().to_owned();
    let probe: Value = http
        .post(format!("{base}/_matrix/media/v3/upload"))
        .bearer_auth(&tok)
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 64 * 1024])
        .send()
        .await?
        .json()
        .await?;
    let probe = probe["content_uri"].as_str().unwrap_or_default().to_owned();
    let probe_url = format!(
        "{base}/_matrix/client/v1/media/download/{}",
        probe.trim_start_matches("mxc://")
    );

    let seed = Instant::now();
    let sql = seed_sql(&room, n, mxcd_types::time::now_ms());
    let url = cfg.database_url();
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await?;
    } else {
        let mut c = sqlx::PgConnection::connect(&url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await?;
        sqlx::raw_sql("ANALYZE").execute(&mut c).await?;
    }
    println!("{backend}: {n} references seeded in {:.1?}", seed.elapsed());

    let (_, idle_longest, idle_count) = with_downloads(
        &http,
        &probe_url,
        &tok,
        tokio::time::sleep(Duration::from_secs(2)),
    )
    .await;
    println!("downloads alone, 2 s:      longest {idle_longest:>9.2?} of {idle_count}");
    let path = format!(
        "{base}/_synapse/admin/v1/room/{}/media/quarantine",
        room.replace('!', "%21").replace(':', "%3A")
    );
    for run in ["first", "again"] {
        let quarantine = async {
            let start = Instant::now();
            let r = http
                .post(&path)
                .bearer_auth(&tok)
                .json(&json!({}))
                .send()
                .await;
            let body: Value = r.expect("quarantine").json().await.expect("json");
            (start.elapsed(), body)
        };
        let ((took, body), longest, count) =
            with_downloads(&http, &probe_url, &tok, quarantine).await;
        println!(
            "quarantine ({run}): {took:>9.2?}  {body}  downloads meanwhile: longest {longest:>9.2?} of {count}"
        );
    }
    server.stop().await?;
    drop(pg);
    Ok(())
}
