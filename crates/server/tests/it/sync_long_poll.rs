//! The `/sync` long poll: it waits while nothing concerns the user, and wakes at once on a
//! message, on the same instance or (PostgreSQL) on another one.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    harness::{Backend, TestServer, enc},
    rooms::{V3, create_room, send},
    sync::{sync, timeline_bodies},
};

crate::backend_tests!(long_poll_wakes_on_a_message);

async fn long_poll_wakes_on_a_message(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, at) = s.register("alice", "pw", false).await;
    let (bob, bt) = s.register("bob", "pw", false).await;
    let room = create_room(&s, &at, json!({"invite": [bob]})).await;
    s.post(
        &format!("{V3}/rooms/{}/join", enc(&room)),
        Some(&bt),
        json!({}),
    )
    .await
    .ok();
    let next = sync(&s, &bt, "").await["next_batch"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{}{V3}/sync?since={next}&timeout=30000", s.base);
    let client = s.client.clone();
    let bt2 = bt.clone();
    let started = Instant::now();
    let poll = tokio::spawn(async move {
        let r = client.get(url).bearer_auth(bt2).send().await.unwrap();
        (r.json::<Value>().await.unwrap(), started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!poll.is_finished(), "the sync waits while nothing happens");
    // Activity elsewhere (another user's account data) does not end the wait.
    s.put(
        &format!("{V3}/user/{}/account_data/x", enc("@alice:test.local")),
        Some(&at),
        json!({}),
    )
    .await
    .ok();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!poll.is_finished());
    let sent_at = started.elapsed();
    send(&s, &at, &room, "wake", json!({"body": "wake up"})).await;
    let (body, elapsed) = poll.await.unwrap();
    assert_eq!(timeline_bodies(&body["rooms"]["join"][&room]), ["wake up"]);
    assert!(
        elapsed < Duration::from_secs(5),
        "returned after {elapsed:?}"
    );
    assert!(
        elapsed - sent_at < Duration::from_secs(2),
        "woke {:?} after the message",
        elapsed - sent_at
    );
}

/// Two instances on one PostgreSQL database: a `/sync` waiting on one wakes for a message sent
/// through the other (`LISTEN`/`NOTIFY`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_wakes_across_instances() {
    let Some(b) = Backend::postgres() else {
        eprintln!("skipped: MXCD_TEST_POSTGRES_URL is not set");
        return;
    };
    let s = TestServer::start(b).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = s.cfg.clone();
    cfg.data_dir = dir.path().join("data");
    let other = mxcd_server::start(cfg).await.unwrap();
    let (_, at) = s.register("alice", "pw", false).await;
    let (bob, bt) = s.register("bob", "pw", false).await;
    let room = create_room(&s, &at, json!({"invite": [bob]})).await;
    s.post(
        &format!("{V3}/rooms/{}/join", enc(&room)),
        Some(&bt),
        json!({}),
    )
    .await
    .ok();
    let next = sync(&s, &bt, "").await["next_batch"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("http://{}{V3}/sync?since={next}&timeout=30000", other.addr);
    let client = s.client.clone();
    let started = Instant::now();
    let poll = tokio::spawn(async move {
        let r = client.get(url).bearer_auth(bt).send().await.unwrap();
        (r.json::<Value>().await.unwrap(), started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!poll.is_finished());
    send(
        &s,
        &at,
        &room,
        "x",
        json!({"body": "from the other instance"}),
    )
    .await;
    let (body, elapsed) = poll.await.unwrap();
    assert_eq!(
        timeline_bodies(&body["rooms"]["join"][&room]),
        ["from the other instance"]
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "returned after {elapsed:?}"
    );
    other.stop().await.unwrap();
}
