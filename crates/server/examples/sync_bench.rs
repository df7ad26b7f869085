//! Sync benchmark: one user in 1,000 rooms of 100 events each; times the initial `/sync` and
//! incremental ones (nothing new; one new message).
//!
//! `cargo run --release -p mxcd --example sync_bench [ROOMS] [EVENTS_PER_ROOM]`
//!
//! Runs on SQLite in a temporary directory, or on PostgreSQL when `MXCD_BENCH_POSTGRES_URL`
//! names a server where a throw-away database may be created. Rooms are created over HTTP;
//! messages are seeded in bulk through the database layer (one transaction per room), since
//! 100,000 HTTP sends would measure the seeding rather than sync. Figures are printed, never
//! asserted.

mod common;

use std::time::{Duration, Instant};

use mxcd_db::{Db, NewEvent};
use serde_json::{Value, json};

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        tok: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = tok {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("request");
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }
}

/// Registers `user` through the shared-secret API and returns an access token.
async fn register(c: &Client, user: &str) -> String {
    common::register(&c.http, &c.base, user, false)
        .await
        .expect("registration")
}

/// Median and spread of `runs` timings of `f`.
async fn time<F: AsyncFnMut() -> usize>(
    runs: usize,
    mut f: F,
) -> (Duration, Duration, Duration, usize) {
    let mut t = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let start = Instant::now();
        bytes = f().await;
        t.push(start.elapsed());
    }
    t.sort();
    (t[0], t[runs / 2], t[runs - 1], bytes)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let rooms: usize = args.next().map_or(Ok(1000), |a| a.parse())?;
    let per_room: usize = args.next().map_or(Ok(100), |a| a.parse())?;
    let common::Bench {
        server,
        base,
        cfg,
        backend,
        pg: _pg,
        dir: _dir,
        ..
    } = common::start().await?;
    let c = Client {
        http: reqwest::Client::new(),
        base,
    };
    let tok = register(&c, "bench").await;
    let user = "@bench:bench.local";

    let seed = Instant::now();
    let mut room_ids = Vec::with_capacity(rooms);
    for i in 0..rooms {
        let r = c
            .call(
                reqwest::Method::POST,
                "/_matrix/client/v3/createRoom",
                Some(&tok),
                Some(json!({"name": format!("room {i}")})),
            )
            .await;
        room_ids.push(r["room_id"].as_str().unwrap().to_owned());
    }
    let created = seed.elapsed();
    let db = Db::connect(&cfg.database_url(), None).await?;
    let now = mxcd_types::time::now_ms();
    for room_id in &room_ids {
        let room = db.get_room(room_id).await?.expect("room");
        let events: Vec<NewEvent> = (0..per_room)
            .map(|i| NewEvent {
                event_id: format!("${}", mxcd_types::random_string(43)),
                room_id: room_id.clone(),
                event_type: "m.room.message".into(),
                state_key: None,
                sender: user.into(),
                origin_server_ts: now + i as i64,
                depth: room.last_depth + 1 + i as i64,
                content:
                    json!({"msgtype": "m.text", "body": format!("message {i} of a benchmark room")})
                        .to_string(),
                redacts: None,
                txn: None,
                member: None,
                room_fields: Vec::new(),
                media: Vec::new(),
                redaction: None,
            })
            .collect();
        db.persist_events(None, room.last_event_id.as_deref(), &events)
            .await?;
    }
    db.close().await;
    println!(
        "{backend}: {rooms} rooms × {per_room} messages (+ 7 state events each) seeded in {:.1?} (rooms over HTTP: {created:.1?})",
        seed.elapsed()
    );

    let sync = |q: String| {
        let (c, tok) = (&c, &tok);
        async move {
            let r = c
                .http
                .get(format!("{}/_matrix/client/v3/sync{q}", c.base))
                .bearer_auth(tok)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            r.bytes().await.unwrap()
        }
    };
    let first = sync(String::new()).await;
    let first: Value = serde_json::from_slice(&first)?;
    assert_eq!(
        first["rooms"]["join"].as_object().map(|o| o.len()),
        Some(rooms)
    );
    let next = first["next_batch"].as_str().unwrap().to_owned();

    let report = |what: &str, (min, med, max, bytes): (Duration, Duration, Duration, usize)| {
        println!(
            "{what:<48} median {med:>9.2?}  min {min:>9.2?}  max {max:>9.2?}  ({bytes} bytes)"
        );
    };
    report(
        "initial sync (timeline limit 10), 5 runs",
        time(5, async || sync(String::new()).await.len()).await,
    );
    report(
        "initial sync, filter timeline limit 1, 5 runs",
        time(5, async || {
            sync("?filter=%7B%22room%22%3A%7B%22timeline%22%3A%7B%22limit%22%3A1%7D%7D%7D".into())
                .await
                .len()
        })
        .await,
    );
    report(
        "incremental sync, nothing new, 200 runs",
        time(200, async || {
            sync(format!("?since={next}&timeout=0")).await.len()
        })
        .await,
    );
    // One new message in one room, then the incremental sync that picks it up (only the sync
    // is timed).
    let mut since = next.clone();
    let mut timings = Vec::new();
    let mut bytes = 0;
    for n in 0..50 {
        let room = &room_ids[n * 17 % room_ids.len()];
        let path = format!(
            "/_matrix/client/v3/rooms/{}/send/m.room.message/b{n}",
            room.replace('!', "%21").replace(':', "%3A")
        );
        let body = json!({"msgtype": "m.text", "body": "new"});
        c.call(reqwest::Method::PUT, &path, Some(&tok), Some(body))
            .await;
        let start = Instant::now();
        let body = sync(format!("?since={since}&timeout=0")).await;
        timings.push(start.elapsed());
        let v: Value = serde_json::from_slice(&body)?;
        assert_eq!(v["rooms"]["join"].as_object().map(|o| o.len()), Some(1));
        since = v["next_batch"].as_str().unwrap().to_owned();
        bytes = body.len();
    }
    timings.sort();
    report(
        "incremental sync, one new message, 50 runs",
        (timings[0], timings[25], timings[49], bytes),
    );
    server.stop().await?;
    Ok(())
}
