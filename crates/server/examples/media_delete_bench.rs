//! Deletion benchmark: 10,000 old local media deleted with `POST /_synapse/admin/v1/media/delete`
//! while clients keep downloading (and one keeps uploading); prints the deletion time and the
//! longest wait the concurrent requests saw.
//!
//! `cargo run --release -p mxcd --example media_delete_bench [COUNT]`
//!
//! `MXCD_BENCH_DOWNLOADERS` sets the number of concurrent downloaders (default 2; 0 runs the
//! deletion alone, without the uploader either).
//!
//! Runs on SQLite in a temporary directory, or on PostgreSQL when `MXCD_BENCH_POSTGRES_URL`
//! names a server where a throw-away database may be created. The media are uploaded over HTTP
//! (distinct bytes, so each has its own blob and object). Figures are printed, never asserted.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{StreamExt as _, stream};
use serde_json::Value;

async fn upload(http: &reqwest::Client, base: &str, tok: &str, body: Vec<u8>) -> String {
    let r: Value = http
        .post(format!("{base}/_matrix/media/v3/upload"))
        .bearer_auth(tok)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["content_uri"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// Repeats `f` until `stop`, returning the longest single call and the number of calls.
async fn hammer<F: AsyncFnMut()>(stop: Arc<AtomicBool>, mut f: F) -> (Duration, u64) {
    let (mut worst, mut n) = (Duration::ZERO, 0);
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        f().await;
        worst = worst.max(t.elapsed());
        n += 1;
    }
    (worst, n)
}

/// Concurrent downloaders: `MXCD_BENCH_DOWNLOADERS`, default 2; 0 also stops the uploader.
fn downloaders_wanted() -> usize {
    std::env::var("MXCD_BENCH_DOWNLOADERS").map_or(2, |v| v.parse().expect("a number"))
}

/// Downloaders and one uploader run until `stop`; returns (download worst, downloads, upload
/// worst, uploads).
fn load(
    http: &reqwest::Client,
    base: &str,
    tok: &str,
    probe: &str,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(Duration, u64, Duration, u64)> {
    let url = format!("{base}/_matrix/client/v1/media/download/bench.local/{probe}");
    let mut downloaders = Vec::new();
    for _ in 0..downloaders_wanted() {
        let (http, url, tok, stop) = (http.clone(), url.clone(), tok.to_owned(), stop.clone());
        downloaders.push(tokio::spawn(hammer(stop, async move || {
            let r = http.get(&url).bearer_auth(&tok).send().await.unwrap();
            assert!(r.status().is_success());
            r.bytes().await.unwrap();
        })));
    }
    let (http, base, tok, stop) = (http.clone(), base.to_owned(), tok.to_owned(), stop.clone());
    let uploads = downloaders_wanted() > 0;
    let uploader = tokio::spawn(async move {
        if !uploads {
            return (Duration::ZERO, 0);
        }
        let mut i = 0u64;
        hammer(stop, async move || {
            i += 1;
            upload(&http, &base, &tok, format!("during {i}").into_bytes()).await;
        })
        .await
    });
    tokio::spawn(async move {
        let (mut worst, mut n) = (Duration::ZERO, 0);
        for d in downloaders {
            let (w, c) = d.await.unwrap();
            worst = worst.max(w);
            n += c;
        }
        let (uw, un) = uploader.await.unwrap();
        (worst, n, uw, un)
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    if std::env::var("RUST_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let count: usize = std::env::args().nth(1).map_or(Ok(10_000), |a| a.parse())?;
    let common::Bench {
        server,
        base,
        backend,
        pg: _pg,
        dir: _dir,
        ..
    } = common::start().await?;
    let http = reqwest::Client::new();
    let tok = common::register(&http, &base, "root", true).await?;

    let seed = Instant::now();
    stream::iter(0..count)
        .for_each_concurrent(8, |i| {
            let (http, base, tok) = (&http, &base, &tok);
            async move {
                upload(
                    http,
                    base,
                    tok,
                    format!("old media number {i}").into_bytes(),
                )
                .await;
            }
        })
        .await;
    println!(
        "{backend}: {count} media uploaded in {:.1?}",
        seed.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let before_ts = mxcd_types::time::now_ms();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let probe = upload(&http, &base, &tok, vec![42; 64 * 1024]).await;

    // Baseline: the same load with nothing else happening.
    let stop = Arc::new(AtomicBool::new(false));
    let baseline = load(&http, &base, &tok, &probe, &stop);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let (bw, bn, buw, bun) = baseline.await?;
    println!(
        "baseline (2 s):     downloads {bn:>6}, longest {bw:>9.2?}; uploads {bun:>5}, longest {buw:>9.2?}"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let during = load(&http, &base, &tok, &probe, &stop);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    let r: Value = http
        .post(format!(
            "{base}/_synapse/admin/v1/media/delete?before_ts={before_ts}"
        ))
        .bearer_auth(&tok)
        .send()
        .await?
        .json()
        .await?;
    let took = t.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let (dw, dn, uw, un) = during.await?;
    assert_eq!(r["total"].as_u64(), Some(count as u64), "{}", r["total"]);
    println!("delete by date:     {count} media deleted in {took:.2?}");
    println!(
        "during deletion:    downloads {dn:>6}, longest {dw:>9.2?}; uploads {un:>5}, longest {uw:>9.2?}"
    );
    server.stop().await?;
    Ok(())
}
