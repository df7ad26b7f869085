//! The media repository over HTTP: upload, download, headers, ranges, caps, de-duplication.

use bytes::Bytes;
use futures_util::stream;
use reqwest::{Method, header};

use crate::harness::{Backend, Storage, TestServer};

crate::storage_tests!(
    upload_and_download,
    download_headers_and_legacy,
    ranges,
    upload_caps,
    dedup_and_hostile_ids,
    last_access_is_batched,
    upload_quotas
);

pub(crate) async fn server(
    b: Backend,
    st: Storage,
    tweak: impl FnOnce(&mut mxcd_server::Config),
) -> TestServer {
    TestServer::start_with(b, |c| {
        st.apply(c);
        tweak(c);
    })
    .await
}

/// Uploads `data` and returns the media ID.
pub(crate) async fn upload(
    s: &TestServer,
    token: &str,
    data: &'static [u8],
    ctype: &str,
    query: &str,
) -> String {
    let r = s
        .client
        .post(format!("{}/_matrix/media/v3/upload{query}", s.base))
        .bearer_auth(token)
        .header(header::CONTENT_TYPE, ctype)
        .body(data)
        .send()
        .await
        .unwrap();
    let r = TestServer::read(r).await;
    let uri = r.ok()["content_uri"].as_str().unwrap().to_owned();
    let id = uri
        .strip_prefix("mxc://test.local/")
        .unwrap_or_else(|| panic!("{uri}"))
        .to_owned();
    assert!(
        id.len() == 24 && id.bytes().all(|b| b.is_ascii_alphabetic()),
        "{id}"
    );
    id
}

/// Creates a media ID without content (`POST /_matrix/media/v1/create`) and returns it.
pub(crate) async fn create_pending(s: &TestServer, token: &str) -> String {
    let r = s
        .post(
            "/_matrix/media/v1/create",
            Some(token),
            serde_json::json!({}),
        )
        .await;
    let uri = r.ok()["content_uri"].as_str().unwrap();
    uri.rsplit('/').next().unwrap().to_owned()
}

pub(crate) async fn fetch(
    s: &TestServer,
    path: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
) -> (reqwest::StatusCode, header::HeaderMap, Bytes) {
    let mut rb = s.client.get(format!("{}{path}", s.base));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    for (k, v) in extra {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.unwrap();
    (r.status(), r.headers().clone(), r.bytes().await.unwrap())
}

const PNGISH: &[u8] = b"\x89PNG\r\n\x1a\n pretend image bytes";

async fn upload_and_download(b: Backend, st: Storage) {
    let s = server(b, st, |_| {}).await;
    let (_, tok) = s.register("up", "pw", false).await;
    let id = upload(&s, &tok, PNGISH, "image/png", "?filename=cat.png").await;
    let path = format!("/_matrix/client/v1/media/download/test.local/{id}");
    let (status, h, body) = fetch(&s, &path, Some(&tok), &[]).await;
    assert_eq!((status.as_u16(), &body[..]), (200, PNGISH));
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["content-disposition"], "inline; filename=cat.png");
    assert_eq!(h["content-length"], PNGISH.len().to_string().as_str());
    // The file name in the path overrides the stored one.
    let (_, h, _) = fetch(&s, &format!("{path}/☃.png"), Some(&tok), &[]).await;
    assert_eq!(
        h["content-disposition"],
        "inline; filename*=utf-8''%E2%98%83.png"
    );
    // Authentication is required on the client v1 endpoint; uploads need it too.
    let (status, _, _) = fetch(&s, &path, None, &[]).await;
    assert_eq!(status.as_u16(), 401);
    let r = s
        .client
        .post(format!("{}/_matrix/media/v3/upload", s.base))
        .body("x")
        .send()
        .await
        .unwrap();
    TestServer::read(r).await.err(401, "M_MISSING_TOKEN");
    // Defaults: no Content-Type → application/octet-stream (served as an attachment).
    let r = s
        .client
        .post(format!("{}/_matrix/media/r0/upload", s.base))
        .bearer_auth(&tok)
        .body("plain")
        .send()
        .await
        .unwrap();
    let uri = TestServer::read(r).await.ok()["content_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, h, body) = fetch(
        &s,
        &format!("/_matrix/client/v1/media/download/{}", &uri[6..]),
        Some(&tok),
        &[],
    )
    .await;
    assert_eq!(
        (
            h["content-type"].to_str().unwrap(),
            h["content-disposition"].to_str().unwrap(),
            &body[..]
        ),
        ("application/octet-stream", "attachment", &b"plain"[..])
    );
    // Unknown media, other servers' media.
    let r = s
        .get(
            "/_matrix/client/v1/media/download/test.local/NoSuchMediaIdHereAtAllxx",
            Some(&tok),
        )
        .await;
    assert_eq!(
        r.err(404, "M_NOT_FOUND"),
        "Not found '/_matrix/client/v1/media/download/test.local/NoSuchMediaIdHereAtAllxx'"
    );
    // Other servers' media is fetched over federation (see federation.rs); a server whose
    // address is refused (a private one, by default) is a 502 with nothing sent to it.
    s.get(
        &format!("/_matrix/client/v1/media/download/10.255.255.1:8448/{id}"),
        Some(&tok),
    )
    .await
    .err(502, "M_UNKNOWN");
}

async fn download_headers_and_legacy(b: Backend, st: Storage) {
    let s = server(b.clone(), st.clone(), |_| {}).await;
    let (_, tok) = s.register("up", "pw", false).await;
    let id = upload(&s, &tok, b"<b>hi</b>", "text/html", "?filename=page.html").await;
    let path = format!("/_matrix/client/v1/media/download/test.local/{id}");
    let (_, h, _) = fetch(&s, &path, Some(&tok), &[]).await;
    for (k, v) in [
        ("content-type", "text/html; charset=UTF-8"),
        ("content-disposition", "attachment; filename=page.html"),
        (
            "content-security-policy",
            "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';",
        ),
        ("x-content-security-policy", "sandbox;"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-resource-policy", "cross-origin"),
        (
            "cache-control",
            "public,max-age=86400,s-maxage=0,proxy-revalidate",
        ),
        ("x-robots-tag", "noindex, nofollow, noarchive, noimageindex"),
        ("etag", "1"),
        ("access-control-allow-origin", "*"),
    ] {
        assert_eq!(h.get(k).map(|v| v.to_str().unwrap()), Some(v), "{k}");
    }
    let (status, _, body) = fetch(&s, &path, Some(&tok), &[("If-None-Match", "1")]).await;
    assert_eq!((status.as_u16(), body.len()), (304, 0));
    let r = s
        .client
        .head(format!("{}{path}", s.base))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["content-length"].to_str().unwrap()
        ),
        (200, "9")
    );
    assert!(r.bytes().await.unwrap().is_empty());

    // Authenticated media is not on the legacy unauthenticated paths, not even for a 304.
    let legacy = format!("/_matrix/media/v3/download/test.local/{id}");
    s.get(&legacy, None).await.err(404, "M_NOT_FOUND");
    let (status, _, _) = fetch(&s, &legacy, None, &[("If-None-Match", "1")]).await;
    assert_eq!(status.as_u16(), 404);

    // Media stored while enable_authenticated_media was off is served on both.
    let s = server(b, st, |c| c.enable_authenticated_media = false).await;
    let (_, tok) = s.register("up", "pw", false).await;
    let id = upload(&s, &tok, b"open", "text/plain", "").await;
    for p in [
        "/_matrix/media/v3/download",
        "/_matrix/media/r0/download",
        "/_matrix/media/v1/download",
    ] {
        let (status, _, body) = fetch(&s, &format!("{p}/test.local/{id}/x.txt"), None, &[]).await;
        assert_eq!((status.as_u16(), &body[..]), (200, &b"open"[..]), "{p}");
    }
}

async fn ranges(b: Backend, st: Storage) {
    let s = server(b, st, |_| {}).await;
    let (_, tok) = s.register("up", "pw", false).await;
    const DATA: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let id = upload(&s, &tok, DATA, "video/mp4", "").await;
    let path = format!("/_matrix/client/v1/media/download/test.local/{id}");
    for (range, want, content_range) in [
        ("bytes=0-3", &DATA[0..4], "bytes 0-3/36"),
        ("bytes=10-15", &DATA[10..16], "bytes 10-15/36"),
        ("bytes=-5", &DATA[31..], "bytes 31-35/36"),
        ("bytes=30-", &DATA[30..], "bytes 30-35/36"),
        ("bytes=30-1000", &DATA[30..], "bytes 30-35/36"),
    ] {
        let (status, h, body) = fetch(&s, &path, Some(&tok), &[("Range", range)]).await;
        assert_eq!((status.as_u16(), &body[..]), (206, want), "{range}");
        assert_eq!(h["content-range"], content_range, "{range}");
        assert_eq!(h["content-length"], want.len().to_string().as_str());
    }
    let (status, h, _) = fetch(&s, &path, Some(&tok), &[("Range", "bytes=36-")]).await;
    assert_eq!(
        (status.as_u16(), h["content-range"].to_str().unwrap()),
        (416, "bytes */36")
    );
    let (status, _, body) = fetch(&s, &path, Some(&tok), &[("Range", "bytes=0-1,4-5")]).await;
    assert_eq!(
        (status.as_u16(), &body[..]),
        (200, DATA),
        "several ranges: the whole file"
    );
}

async fn upload_caps(b: Backend, st: Storage) {
    let s = server(b, st, |c| c.max_upload_size = mxcd_types::ByteSize(1000)).await;
    let (_, tok) = s.register("up", "pw", false).await;
    let url = format!("{}/_matrix/media/v3/upload", s.base);
    // Declared too large: refused before reading.
    let r = s
        .client
        .post(&url)
        .bearer_auth(&tok)
        .body(vec![0u8; 1001])
        .send()
        .await
        .unwrap();
    assert_eq!(
        TestServer::read(r).await.err(413, "M_TOO_LARGE"),
        "Upload request body is too large"
    );
    // Chunked with no Content-Length: cut off mid-stream at the cap, nothing stored.
    let chunks =
        || stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![7u8; 100]))));
    let r = s
        .client
        .post(&url)
        .bearer_auth(&tok)
        .body(reqwest::Body::wrap_stream(chunks()))
        .send()
        .await
        .unwrap();
    TestServer::read(r).await.err(413, "M_TOO_LARGE");
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM media").await, 0);
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM blobs").await, 0);
    // Chunked and within the cap: stored.
    let small =
        || stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![7u8; 100]))));
    let r = s
        .client
        .post(&url)
        .bearer_auth(&tok)
        .body(reqwest::Body::wrap_stream(small()))
        .send()
        .await
        .unwrap();
    TestServer::read(r).await.ok();
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM media").await, 1);
    assert_eq!(
        s.sql_i64("SELECT CAST(COALESCE(SUM(media_length), 0) AS BIGINT) FROM media")
            .await,
        1000
    );
}

async fn dedup_and_hostile_ids(b: Backend, st: Storage) {
    let s = server(b, st, |_| {}).await;
    let (_, tok) = s.register("up", "pw", false).await;
    let a = upload(&s, &tok, b"same bytes", "text/plain", "").await;
    let c = upload(
        &s,
        &tok,
        b"same bytes",
        "application/octet-stream",
        "?filename=copy",
    )
    .await;
    assert_ne!(a, c);
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM blobs").await,
        1,
        "identical uploads share one blob"
    );
    assert_eq!(s.sql_i64("SELECT MAX(refcount) FROM blobs").await, 2);
    for id in [&a, &c] {
        let (status, _, body) = fetch(
            &s,
            &format!("/_matrix/client/v1/media/download/test.local/{id}"),
            Some(&tok),
            &[],
        )
        .await;
        assert_eq!((status.as_u16(), &body[..]), (200, &b"same bytes"[..]));
    }
    // Path-like IDs and server names never reach storage: 404, never 500.
    for p in [
        "/_matrix/client/v1/media/download/test.local/..",
        "/_matrix/client/v1/media/download/test.local/..%2F..%2Fetc%2Fpasswd",
        "/_matrix/client/v1/media/download/..%2F../x",
        "/_matrix/client/v1/media/download/test.local/%2e%2e",
        "/_matrix/client/v1/media/download/%2F/x",
        "/_matrix/media/v3/download/test.local/../../x",
    ] {
        let r = s.req(Method::GET, p, Some(&tok), None).await;
        assert!(matches!(r.status.as_u16(), 400 | 404), "{p}: {}", r.status);
        assert!(r.body["errcode"].is_string(), "{p}: Matrix error body");
    }
    let r = s
        .req(
            Method::GET,
            "/_matrix/client/v1/media/download/test.local/",
            Some(&tok),
            None,
        )
        .await;
    assert!(
        matches!(r.status.as_u16(), 400 | 404),
        "empty id: {}",
        r.status
    );
}

async fn last_access_is_batched(b: Backend, st: Storage) {
    let hour = mxcd_types::Duration::from_millis(3_600_000);
    let mut s = server(b, st, |c| c.storage.access_flush_interval = hour).await;
    let (_, tok) = s.register("up", "pw", false).await;
    let id = upload(&s, &tok, b"seen", "text/plain", "").await;
    const ACCESSED: &str = "SELECT COUNT(*) FROM media WHERE last_access_ts IS NOT NULL";
    assert_eq!(s.sql_i64(ACCESSED).await, 0, "uploads are not accesses");
    for _ in 0..3 {
        let (status, _, _) = fetch(
            &s,
            &format!("/_matrix/client/v1/media/download/test.local/{id}"),
            Some(&tok),
            &[],
        )
        .await;
        assert_eq!(status.as_u16(), 200);
    }
    assert_eq!(
        s.sql_i64(ACCESSED).await,
        0,
        "no database write per download"
    );
    let before = mxcd_types::time::now_ms();
    s.restart().await; // stopping flushes what is pending
    assert_eq!(s.sql_i64(ACCESSED).await, 1);
    let ts = s.sql_i64("SELECT MAX(last_access_ts) FROM media").await;
    assert!(ts <= before && ts > before - 60_000, "{ts} vs {before}");
}

/// Synapse's scenario: 1 KiB a day and 3 KiB a week.
async fn upload_quotas(b: Backend, st: Storage) {
    use mxcd_server::config::UploadLimit;
    use mxcd_types::{ByteSize, Duration};
    let s = server(b, st, |c| {
        c.media_upload_limits = vec![
            UploadLimit {
                time_period: "1d".parse::<Duration>().unwrap(),
                max_size: ByteSize(1024),
            },
            UploadLimit {
                time_period: "1w".parse::<Duration>().unwrap(),
                max_size: ByteSize(3072),
            },
        ];
    })
    .await;
    let (_, tok) = s.register("up", "pw", false).await;
    let (_, other) = s.register("other", "pw", false).await;
    const K: &[u8] = &[1u8; 1024];
    let send = |tok: String, data: &'static [u8]| {
        let (c, url) = (
            s.client.clone(),
            format!("{}/_matrix/media/v3/upload", s.base),
        );
        async move {
            TestServer::read(
                c.post(url)
                    .bearer_auth(tok)
                    .body(data)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    send(tok.clone(), &K[..1000]).await.ok();
    let r = send(tok.clone(), &K[..25]).await;
    assert_eq!(
        r.err(400, "M_RESOURCE_LIMIT_EXCEEDED"),
        "Media upload limit exceeded"
    );
    send(other.clone(), K).await.ok();
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM media").await,
        2,
        "the refused upload is not kept"
    );
    let store = s.blob_store().await;
    assert_eq!(store.list().await.unwrap().len(), 2, "nor its bytes");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(1);
    assert_eq!(
        store.sweep_incomplete(later).await.unwrap(),
        0,
        "nor a part file"
    );
    // Two days later the daily window is clear, the weekly one is not.
    let two_days_back = "UPDATE media SET created_ts = created_ts - 172800000";
    s.sql(two_days_back).await;
    send(tok.clone(), K).await.ok();
    s.sql(two_days_back).await;
    send(tok.clone(), K).await.ok(); // 1000 + 1024 + 1024 = 3048 this week
    s.sql(two_days_back).await;
    let r = send(tok.clone(), &K[..25]).await;
    r.err(400, "M_RESOURCE_LIMIT_EXCEEDED");
    send(tok.clone(), &K[..24]).await.ok();
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM media").await,
        5,
        "refused uploads are not recorded"
    );
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM blobs").await,
        3,
        "identical 1 KiB uploads share a blob"
    );
}
