//! Remote servers that misbehave: each case ends in a clean 502 (or the answer the protocol
//! gives), in bounded time, with nothing stored. The remote here is a small fake federation
//! server on a TLS loopback listener, which also counts the requests it gets.

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use bytes::Bytes;
use futures_util::stream;
use serde_json::json;

use crate::{
    federation::{certificate, free_port, start_federating},
    harness::{Backend, TestServer},
};

const BOUNDARY: &str = "0123456789abcdef0123456789abcdef";
/// The fetching server's `max_upload_size` in these tests.
const CAP: u64 = 64 * 1024;

#[derive(Clone, Default)]
struct Fake {
    requests: Arc<AtomicUsize>,
    /// Port of a second loopback address the fetching server may not reach.
    denied_port: u16,
}

fn multipart(file_headers: &str, file: &[u8]) -> Vec<u8> {
    [
        format!(
            "\r\n--{BOUNDARY}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n--{BOUNDARY}\r\n\
             {file_headers}\r\n\r\n"
        )
        .into_bytes(),
        file.to_vec(),
        format!("\r\n--{BOUNDARY}--\r\n").into_bytes(),
    ]
    .concat()
}

fn mixed(body: Body) -> Response {
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        format!("multipart/mixed; boundary={BOUNDARY}")
            .parse()
            .unwrap(),
    );
    r
}

async fn federation_download(
    State(f): State<Fake>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    f.requests.fetch_add(1, Ordering::SeqCst);
    assert!(
        headers
            .get(header::AUTHORIZATION)
            .is_some_and(|v| v.to_str().unwrap().starts_with("X-Matrix ")),
        "requests are signed"
    );
    match id.as_str() {
        "slow" => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            mixed(Body::from(multipart(
                "Content-Type: text/plain",
                b"slow but fine",
            )))
        }
        "endless" => {
            let head = Bytes::from(format!(
                "\r\n--{BOUNDARY}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n--{BOUNDARY}\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            ));
            let chunk = Bytes::from(vec![b'x'; 16 * 1024]);
            let s = stream::once(async move { Ok::<_, Infallible>(head) })
                .chain(stream::repeat_with(move || Ok(chunk.clone())));
            mixed(Body::from_stream(s))
        }
        "garbage" => mixed(Body::from("this is not a multipart body at all")),
        "not-multipart" => (StatusCode::OK, "plain bytes").into_response(),
        "short" => {
            // Declares more than it sends, then closes.
            let mut r = mixed(Body::from(multipart("Content-Type: text/plain", b"cut")));
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, "100000".parse().unwrap());
            r
        }
        "too-large" => {
            let file = vec![b'y'; (CAP + 1) as usize];
            mixed(Body::from(multipart("Content-Type: text/plain", &file)))
        }
        "to-private" => mixed(Body::from(multipart(
            &format!("Location: http://127.0.0.2:{}/file", f.denied_port),
            b"",
        ))),
        "located" => mixed(Body::from(multipart(
            &format!("Location: https://127.0.0.1:{}/cdn/file", f.denied_port),
            b"",
        ))),
        "legacy-only" => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})),
        )
            .into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"errcode": "M_NOT_FOUND", "error": "Not here"})),
        )
            .into_response(),
    }
}

async fn legacy_download(State(f): State<Fake>, Path((_, id)): Path<(String, String)>) -> Response {
    f.requests.fetch_add(1, Ordering::SeqCst);
    match id.as_str() {
        "legacy-only" => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (
                    header::CONTENT_DISPOSITION,
                    "inline; filename*=utf-8''%E2%98%83.png",
                ),
            ],
            "legacy bytes",
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The fake remote, on TLS at `127.0.0.1:<port>`; returns its server name.
async fn start_fake(f: Fake, dir: &std::path::Path) -> String {
    let port = free_port();
    let (cert, key) = certificate(dir);
    let app = Router::new()
        .route(
            "/_matrix/federation/v1/media/download/{id}",
            get(federation_download),
        )
        .route(
            "/_matrix/media/v3/download/{server}/{id}",
            get(legacy_download),
        )
        .route(
            "/cdn/file",
            get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "from the cdn") }),
        )
        .with_state(f);
    let tcp = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = mxcd_server::tls::server_config(&cert, &key).unwrap();
    let listener = mxcd_server::tls::TlsListener::new(tcp, tls).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("127.0.0.1:{port}")
}

use futures_util::StreamExt as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_remotes() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake {
        denied_port: 0,
        ..Fake::default()
    };
    // The CDN of "located" lives on the fake itself; its port is the fake's.
    let fake_name = start_fake(fake.clone(), dir.path()).await;
    let fake_port: u16 = fake_name.rsplit(':').next().unwrap().parse().unwrap();
    let fake = Fake {
        denied_port: fake_port,
        ..fake
    };
    let fake_name2 = start_fake(fake.clone(), dir.path()).await;
    let _ = fake_name;
    let (local, _) = start_federating(Backend::Sqlite, |cfg| {
        cfg.max_upload_size = mxcd_types::ByteSize(CAP);
        cfg.federation.request_timeout = mxcd_types::Duration::from_millis(3_000);
    })
    .await;
    let (_, token) = local.register("alice", "pw", false).await;
    let get = |id: &'static str| {
        let (local, token, name) = (&local, token.clone(), fake_name2.clone());
        async move {
            let start = Instant::now();
            let r = tokio::time::timeout(
                Duration::from_secs(30),
                local
                    .client
                    .get(format!(
                        "{}/_matrix/client/v1/media/download/{name}/{id}",
                        local.base
                    ))
                    .bearer_auth(token)
                    .send(),
            )
            .await
            .expect("no stuck request")
            .unwrap();
            let status = r.status();
            let body = r.bytes().await.unwrap();
            (status, body, start.elapsed())
        }
    };
    let blobs_before = local.sql_i64("SELECT COUNT(*) FROM blobs").await;
    for (id, errcode) in [
        ("endless", "M_TOO_LARGE"),
        ("garbage", "M_UNKNOWN"),
        ("not-multipart", "M_UNKNOWN"),
        ("short", "M_UNKNOWN"),
        ("too-large", "M_TOO_LARGE"),
        ("to-private", "M_UNKNOWN"),
    ] {
        let (status, body, took) = get(id).await;
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(
            (status.as_u16(), v["errcode"].as_str()),
            (502, Some(errcode)),
            "{id}: {v}"
        );
        assert!(took < Duration::from_secs(15), "{id} took {took:?}");
    }
    assert_eq!(
        local
            .sql_i64("SELECT COUNT(*) FROM media WHERE user_id IS NULL")
            .await,
        0,
        "nothing recorded"
    );
    assert_eq!(
        local.sql_i64("SELECT COUNT(*) FROM blobs").await,
        blobs_before,
        "nothing stored"
    );
    let store = local.blob_store().await;
    assert_eq!(
        store.list().await.map(|l| l.len()).unwrap_or(0) as i64,
        blobs_before,
        "no object left behind"
    );

    // A 404 that is not "unknown endpoint" is passed on, without a fallback.
    let (status, body, _) = get("unknown").await;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status.as_u16(), v["errcode"].as_str()),
        (404, Some("M_NOT_FOUND"))
    );

    // M_UNRECOGNIZED on the federation endpoint: the legacy endpoint is tried.
    let (status, body, _) = get("legacy-only").await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"legacy bytes"[..]));
    let r = local
        .client
        .get(format!(
            "{}/_matrix/client/v1/media/download/{fake_name2}/legacy-only",
            local.base
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-disposition"],
        "inline; filename*=utf-8''%E2%98%83.png"
    );

    // A Location part is followed.
    let (status, body, _) = get("located").await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"from the cdn"[..]));

    // Twenty concurrent requests for one slow file: one request reaches the remote.
    let before = fake.requests.load(Ordering::SeqCst);
    let all = futures_util::future::join_all((0..20).map(|_| get("slow"))).await;
    for (status, body, _) in all {
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"slow but fine"[..]));
    }
    assert_eq!(
        fake.requests.load(Ordering::SeqCst) - before,
        1,
        "single flight"
    );
    let _ = TestServer::read;
}

/// A server name that spells a loopback address another way (`2130706433`, `127.1`, ...) is
/// that address: the IP filter refuses it, and no connection is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_spellings_of_denied_addresses_are_refused() {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    // The default filter: loopback and private ranges are denied.
    let s = TestServer::start_with(Backend::Sqlite, |_| {}).await;
    let (_, token) = s.register("alice", "pw", false).await;
    for host in [
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "127.1",
        "0177.0.0.1",
    ] {
        let r = s
            .client
            .get(format!(
                "{}/_matrix/client/v1/media/download/{host}:{port}/abc",
                s.base
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            (status.as_u16(), v["errcode"].as_str()),
            (502, Some("M_UNKNOWN")),
            "{host}"
        );
        let accepted = listener.accept();
        assert!(
            matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{host} reached the loopback listener"
        );
    }
}
