//! Asynchronous upload: `POST /_matrix/media/v1/create`, `PUT /_matrix/media/v3/upload/…`,
//! and downloads that wait for pending content.

use serde_json::json;

use crate::harness::{Backend, Storage, TestServer};

crate::storage_tests!(create_then_put, put_errors_and_pending_limit);
crate::backend_tests!(create_is_rate_limited);

async fn server(b: Backend, st: Storage) -> TestServer {
    TestServer::start_with(b, |c| {
        st.apply(c);
        c.max_upload_size = mxcd_types::ByteSize(1000);
    })
    .await
}

async fn create(s: &TestServer, tok: &str) -> String {
    let r = s
        .post("/_matrix/media/v1/create", Some(tok), json!({}))
        .await;
    let b = r.ok();
    let expires = b["unused_expires_at"].as_i64().unwrap();
    let day = 24 * 3_600_000;
    let now = mxcd_types::time::now_ms();
    assert!(
        (now + day - 60_000..=now + day).contains(&expires),
        "expires in 24 h: {expires}"
    );
    b["content_uri"]
        .as_str()
        .unwrap()
        .strip_prefix("mxc://test.local/")
        .unwrap()
        .to_owned()
}

async fn put(
    s: &TestServer,
    tok: &str,
    server: &str,
    id: &str,
    body: &'static [u8],
) -> crate::harness::Res {
    let url = format!(
        "{}/_matrix/media/v3/upload/{server}/{id}?filename=late.txt",
        s.base
    );
    let r = s
        .client
        .put(url)
        .bearer_auth(tok)
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    TestServer::read(r).await
}

async fn create_then_put(b: Backend, st: Storage) {
    let s = server(b, st).await;
    let (_, tok) = s.register("up", "pw", false).await;
    let id = create(&s, &tok).await;
    let path = format!("/_matrix/client/v1/media/download/test.local/{id}");

    let started = std::time::Instant::now();
    let r = s.get(&format!("{path}?timeout_ms=700"), Some(&tok)).await;
    assert_eq!(
        r.err(504, "M_NOT_YET_UPLOADED"),
        "Media has not been uploaded yet"
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(700),
        "the download waited for the whole timeout"
    );
    s.get(&format!("{path}?timeout_ms=-1"), Some(&tok))
        .await
        .err(400, "M_INVALID_PARAM");

    // A download already waiting receives the content once it arrives (at its next look, as
    // in Synapse: every 500 ms).
    let waiting = {
        let (client, url, tok) = (
            s.client.clone(),
            format!("{}{path}?timeout_ms=10000", s.base),
            tok.clone(),
        );
        tokio::spawn(async move { client.get(url).bearer_auth(tok).send().await.unwrap() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        put(&s, &tok, "test.local", &id, b"late content").await.ok(),
        &json!({})
    );
    let got = waiting.await.unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(
        got.headers()["content-disposition"],
        "inline; filename=late.txt"
    );
    assert_eq!(&got.bytes().await.unwrap()[..], b"late content");

    let again = put(&s, &tok, "test.local", &id, b"other").await;
    assert_eq!(
        again.err(409, "M_CANNOT_OVERWRITE_MEDIA"),
        "Media ID already has content"
    );
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM blobs").await,
        1,
        "the refused copy is not kept"
    );
}

async fn put_errors_and_pending_limit(b: Backend, st: Storage) {
    let s = server(b, st).await;
    let (_, tok) = s.register("up", "pw", false).await;
    let (_, other) = s.register("other", "pw", false).await;
    let id = create(&s, &tok).await;
    let r = put(&s, &tok, "elsewhere.example", &id, b"x").await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "Non-local server name specified");
    let r = put(&s, &tok, "test.local", "NoSuchMediaIdAtAllxxxxxx", b"x").await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "Unknown media ID");
    let r = put(&s, &other, "test.local", &id, b"x").await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "Only the creator of the media ID can upload to it"
    );
    let url = format!("{}/_matrix/media/v3/upload/test.local/{id}", s.base);
    let r = s
        .client
        .put(url)
        .bearer_auth(&tok)
        .body(vec![0u8; 1001])
        .send()
        .await
        .unwrap();
    TestServer::read(r).await.err(413, "M_TOO_LARGE");
    put(&s, &tok, "elsewhere.example", &id, b"x")
        .await
        .err(404, "M_NOT_FOUND");

    // Expired IDs can be neither filled nor downloaded.
    s.sql("UPDATE media SET unused_expires_at = 1").await;
    let r = put(&s, &tok, "test.local", &id, b"x").await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "Media ID has expired");
    s.get(
        &format!("/_matrix/client/v1/media/download/test.local/{id}"),
        Some(&tok),
    )
    .await
    .err(404, "M_NOT_FOUND");

    // At most five unexpired pending IDs per user (the expired one does not count).
    for _ in 0..5 {
        create(&s, &tok).await;
    }
    let r = s
        .post("/_matrix/media/v1/create", Some(&tok), json!({}))
        .await;
    r.err(429, "M_LIMIT_EXCEEDED");
    let retry = r.body["retry_after_ms"].as_i64().unwrap();
    assert!(retry > 23 * 3_600_000 && retry <= 24 * 3_600_000, "{retry}");
    create(&s, &other).await;
}

/// `rc_media_create`: a burst, then 429 with `retry_after_ms` and `Retry-After`, per user; the
/// limiter is checked before the pending-uploads limit, as in Synapse.
async fn create_is_rate_limited(b: Backend) {
    let s = TestServer::start_with(b, |c| {
        c.max_pending_media_uploads = 100;
        c.rc_media_create = mxcd_server::ratelimit::Rate {
            per_second: 0.1,
            burst_count: 3.0,
        };
    })
    .await;
    let (_, tok) = s.register("up", "pw", false).await;
    let (_, other) = s.register("other", "pw", false).await;
    for _ in 0..3 {
        create(&s, &tok).await;
    }
    let r = s
        .post("/_matrix/media/v1/create", Some(&tok), json!({}))
        .await;
    assert_eq!(r.err(429, "M_LIMIT_EXCEEDED"), "Too Many Requests");
    let retry = r.body["retry_after_ms"].as_i64().unwrap();
    assert!((9_000..=10_000).contains(&retry), "{retry}");
    assert_eq!(r.headers["retry-after"], "10");
    // Refused requests create nothing, and other users have their own allowance.
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM media").await, 3);
    create(&s, &other).await;
}
