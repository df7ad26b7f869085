//! Federation between two mxcd instances over real TLS listeners (self-signed certificates
//! made here): keys, X-Matrix both ways, the multipart federation endpoints, and remote media
//! fetched, cached, thumbnailed, purged and quarantined (through the admin API).

use std::time::Duration;

use futures_util::future::join_all;
use mxcd_server::{Config, services::federation::SigningKey};
use reqwest::StatusCode;

use crate::{
    backend_tests,
    harness::{Backend, TestServer},
};

backend_tests!(
    mxcd_fetches_from_mxcd,
    federation_requests_need_x_matrix,
    federation_policies
);

const PHOTO: &[u8] = include_bytes!("../../../../tests/fixtures/photo-exif6.jpg");
/// A's `max_upload_size` in `mxcd_fetches_from_mxcd`: more than the photo, less than `BIG`.
const LOCAL_CAP: u64 = 100 * 1024;
static BIG: [u8; 150 * 1024] = [7; 150 * 1024];

/// A self-signed certificate for 127.0.0.1 and localhost, written into `dir`.
pub(crate) fn certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("certificate");
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// A loopback port free right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Makes `cfg` a federating server named `127.0.0.1:<port>`, with a TLS listener on that
/// port, that trusts self-signed certificates and may reach loopback.
pub(crate) fn federating(cfg: &mut Config) -> String {
    let port = free_port();
    let name = format!("127.0.0.1:{port}");
    // In the data directory, so they are there for a restart.
    std::fs::create_dir_all(&cfg.data_dir).unwrap();
    let (cert, key) = certificate(&cfg.data_dir);
    cfg.server_name = name.clone();
    cfg.federation.listen = Some(name.clone());
    cfg.federation.tls_certificate_path = Some(cert);
    cfg.federation.tls_private_key_path = Some(key);
    cfg.federation.verify_certificates = false;
    cfg.federation.ip_range_whitelist = vec!["127.0.0.1/32".into()];
    cfg.federation.request_timeout = mxcd_types::Duration::from_millis(10_000);
    name
}

pub(crate) async fn start_federating(
    b: Backend,
    tweak: impl FnOnce(&mut Config),
) -> (TestServer, String) {
    let mut name = String::new();
    let s = TestServer::start_with(b, |cfg| {
        name = federating(cfg);
        tweak(cfg);
    })
    .await;
    (s, name)
}

async fn upload(
    s: &TestServer,
    token: &str,
    bytes: &'static [u8],
    ctype: &str,
    name: &str,
) -> String {
    let r = s
        .client
        .post(format!(
            "{}/_matrix/media/v3/upload?filename={name}",
            s.base
        ))
        .bearer_auth(token)
        .header("content-type", ctype)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let r = TestServer::read(r).await;
    let uri = r.ok()["content_uri"].as_str().unwrap().to_owned();
    uri.rsplit('/').next().unwrap().to_owned()
}

async fn download(
    s: &TestServer,
    token: &str,
    server: &str,
    id: &str,
) -> (StatusCode, reqwest::header::HeaderMap, bytes::Bytes) {
    let r = s
        .client
        .get(format!(
            "{}/_matrix/client/v1/media/download/{server}/{id}",
            s.base
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, headers, r.bytes().await.unwrap())
}

async fn mxcd_fetches_from_mxcd(b: Backend) {
    let (mut remote, b_name) = start_federating(b.clone(), |_| {}).await;
    let (local, a_name) = start_federating(b, |cfg| {
        cfg.max_upload_size = mxcd_types::ByteSize(LOCAL_CAP);
    })
    .await;
    let (_, b_token) = remote.register("bob", "pw", false).await;
    let (_, a_token) = local.register("alice", "pw", true).await;

    // B's key document is self-signed and names B.
    let keys = remote.get("/_matrix/key/v2/server", None).await;
    assert_eq!(keys.ok()["server_name"], b_name.as_str());
    assert!(keys.body["verify_keys"].as_object().unwrap().len() == 1);
    assert!(keys.body["signatures"][&b_name].is_object());

    // Download through A: the bytes, type and name B has.
    let id = upload(
        &remote,
        &b_token,
        b"hello federation",
        "text/plain",
        "hello.txt",
    )
    .await;
    let (status, headers, body) = download(&local, &a_token, &b_name, &id).await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(&body[..], b"hello federation");
    assert_eq!(headers["content-type"], "text/plain; charset=UTF-8");
    assert_eq!(headers["content-disposition"], "inline; filename=hello.txt");
    let media = local.running().media().clone();
    assert_eq!(media.remote_fetches(), 1);
    // Cached: served again without fetching, and recorded as remote media.
    let (status, _, body) = download(&local, &a_token, &b_name, &id).await;
    assert_eq!(
        (status, &body[..]),
        (StatusCode::OK, &b"hello federation"[..])
    );
    assert_eq!(media.remote_fetches(), 1);
    assert_eq!(
        local
            .sql_i64(
                "SELECT COUNT(*) FROM media WHERE user_id IS NULL AND last_access_ts IS NOT NULL"
            )
            .await,
        1
    );

    // 20 concurrent requests for an image not cached yet: one fetch; thumbnails made here.
    let photo = upload(&remote, &b_token, PHOTO, "image/jpeg", "photo.jpg").await;
    let gets = (0..20).map(|_| download(&local, &a_token, &b_name, &photo));
    for (status, _, body) in join_all(gets).await {
        assert_eq!(status, 200);
        assert_eq!(&body[..], PHOTO, "identical bytes");
    }
    assert_eq!(media.remote_fetches(), 2, "one fetch for 20 requests");
    let t = local
        .client
        .get(format!(
            "{}/_matrix/client/v1/media/thumbnail/{b_name}/{photo}?width=32&height=32&method=crop",
            local.base
        ))
        .bearer_auth(&a_token)
        .send()
        .await
        .unwrap();
    assert_eq!(t.status(), 200);
    assert_eq!(t.headers()["content-type"], "image/jpeg");
    assert!(!t.bytes().await.unwrap().is_empty());

    // Unknown media on B: 404 from B passed on.
    let (status, _, body) = download(&local, &a_token, &b_name, "NoSuchMediaHere").await;
    assert_eq!(status, 404, "{body:?}");
    let err: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["errcode"], "M_NOT_FOUND");
    // Legacy endpoints with allow_remote=false serve only what is cached.
    let r = local
        .get(
            &format!("/_matrix/media/v3/download/{b_name}/{id}?allow_remote=false"),
            None,
        )
        .await;
    r.err(404, "M_NOT_FOUND");

    // A file on B above A's cap: 502 M_TOO_LARGE, nothing stored on A.
    let blobs = local.sql_i64("SELECT COUNT(*) FROM blobs").await;
    let big = upload(
        &remote,
        &b_token,
        &BIG,
        "application/octet-stream",
        "big.bin",
    )
    .await;
    let (status, _, body) = download(&local, &a_token, &b_name, &big).await;
    assert_eq!(status, 502, "{body:?}");
    let err: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["errcode"], "M_TOO_LARGE");
    assert_eq!(local.sql_i64("SELECT COUNT(*) FROM blobs").await, blobs);

    // A's admin purges the cached copy: a later request fetches it again.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let purge = format!(
        "/_synapse/admin/v1/purge_media_cache?before_ts={}",
        now + 1_000
    );
    let r = local
        .post(&purge, Some(&a_token), serde_json::json!({}))
        .await;
    assert!(r.ok()["deleted"].as_i64().unwrap() >= 1, "{}", r.body);
    let (status, _, body) = download(&local, &a_token, &b_name, &id).await;
    assert_eq!(
        (status, &body[..]),
        (StatusCode::OK, &b"hello federation"[..])
    );
    assert_eq!(
        media.remote_fetches(),
        5,
        "the 404 and the 502 above were fetches too"
    );

    // A's admin quarantines the cached copy: 404 on A at once, still 200 on B.
    let r = local
        .post(
            &format!("/_synapse/admin/v1/media/quarantine/{b_name}/{id}"),
            Some(&a_token),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(*r.ok(), serde_json::json!({}));
    let (status, _, _) = download(&local, &a_token, &b_name, &id).await;
    assert_eq!(status, 404);
    let (status, _, _) = download(&remote, &b_token, &b_name, &id).await;
    assert_eq!(status, 200);
    let _ = a_name;

    // B stopped: 502 for what A has not cached.
    let late = upload(&remote, &b_token, b"too late", "text/plain", "late.txt").await;
    remote.stop().await;
    let (status, _, body) = download(&local, &a_token, &b_name, &late).await;
    assert_eq!(status, 502, "{body:?}");
    let err: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (err["errcode"].as_str(), err["error"].as_str()),
        (Some("M_UNKNOWN"), Some("Failed to fetch remote media"))
    );
}

/// B's signing key, to sign requests as B.
fn key_of(s: &TestServer) -> SigningKey {
    SigningKey::load(&s.cfg.data_dir.join("signing.key")).unwrap()
}

async fn federation_requests_need_x_matrix(b: Backend) {
    let (remote, b_name) = start_federating(b.clone(), |_| {}).await;
    let (local, a_name) = start_federating(b, |_| {}).await;
    let (_, a_token) = local.register("alice", "pw", false).await;
    let id = upload(
        &local,
        &a_token,
        b"file_to_stream",
        "text/plain",
        "test_upload",
    )
    .await;
    let path = format!("/_matrix/federation/v1/media/download/{id}");
    let tls = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let url = format!("https://{a_name}{path}");
    let get = |auth: Option<String>| {
        let mut rb = tls.get(&url);
        if let Some(a) = auth {
            rb = rb.header("authorization", a);
        }
        rb.send()
    };

    // Missing, malformed, wrong destination, bad signature.
    let r = TestServer::read(get(None).await.unwrap()).await;
    r.err(401, "M_UNAUTHORIZED");
    let r = TestServer::read(get(Some("X-Matrix nonsense".into())).await.unwrap()).await;
    assert_eq!(r.body["errcode"], "M_UNAUTHORIZED");
    let key = key_of(&remote);
    let good = key
        .x_matrix(&b_name, &a_name, &http::Method::GET, &path, b"")
        .unwrap();
    let elsewhere = key
        .x_matrix(&b_name, "other.example", &http::Method::GET, &path, b"")
        .unwrap();
    let r = TestServer::read(get(Some(elsewhere)).await.unwrap()).await;
    r.err(401, "M_UNAUTHORIZED");
    let other_path = key
        .x_matrix(&b_name, &a_name, &http::Method::GET, "/elsewhere", b"")
        .unwrap();
    let r = TestServer::read(get(Some(other_path)).await.unwrap()).await;
    r.err(401, "M_UNAUTHORIZED");
    let forged = SigningKey::parse(&format!(
        "ed25519 {} AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        key.key_id().trim_start_matches("ed25519:")
    ))
    .unwrap()
    .x_matrix(&b_name, &a_name, &http::Method::GET, &path, b"")
    .unwrap();
    let r = TestServer::read(get(Some(forged)).await.unwrap()).await;
    r.err(401, "M_UNAUTHORIZED");

    // Signed by B: the multipart body of Synapse, byte for byte.
    let r = get(Some(good.clone())).await.unwrap();
    assert_eq!(r.status(), 200);
    let ctype = r.headers()["content-type"].to_str().unwrap().to_owned();
    let boundary = ctype
        .strip_prefix("multipart/mixed; boundary=")
        .expect("multipart")
        .to_owned();
    assert_eq!(boundary.len(), 32);
    let length: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), length);
    let ct = "Content-Type: text/plain";
    let cd = "Content-Disposition: inline; filename=test_upload";
    assert_eq!(
        length,
        14 + 2 + ct.len() + cd.len() + 156,
        "Synapse's length formula"
    );
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        format!(
            "\r\n--{boundary}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n--{boundary}\r\n\
             {ct}\r\n{cd}\r\n\r\nfile_to_stream\r\n--{boundary}--\r\n"
        )
    );
    // Conditional request, unknown media.
    let r = tls
        .get(&url)
        .header("authorization", &good)
        .header("if-none-match", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let unknown = "/_matrix/federation/v1/media/download/NoSuchMedia";
    let auth = key
        .x_matrix(&b_name, &a_name, &http::Method::GET, unknown, b"")
        .unwrap();
    let r = tls
        .get(format!("https://{a_name}{unknown}"))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    TestServer::read(r).await.err(404, "M_NOT_FOUND");
    // A fetched and stored B's keys.
    assert_eq!(local.sql_i64("SELECT COUNT(*) FROM server_keys").await, 1);
    // The plain listener serves the same endpoints (for a reverse proxy in front).
    let r = local
        .client
        .get(format!("{}{path}", local.base))
        .header("authorization", &good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// `federation_domain_whitelist` and `prevent_media_downloads_from`, both ways; nothing here
/// reaches another server.
async fn federation_policies(b: Backend) {
    let (s, name) = start_federating(b, |cfg| {
        cfg.federation_domain_whitelist = Some(vec!["allowed.example".into()]);
        cfg.prevent_media_downloads_from = vec!["allowed.example".into()];
    })
    .await;
    let (_, token) = s.register("alice", "pw", false).await;
    let r = s
        .get(
            "/_matrix/client/v1/media/download/other.example/abc",
            Some(&token),
        )
        .await;
    assert_eq!(
        r.err(403, "M_FORBIDDEN"),
        "Federation denied with other.example."
    );
    s.get(
        "/_matrix/client/v1/media/download/allowed.example/abc",
        Some(&token),
    )
    .await
    .err(404, "M_NOT_FOUND");
    // A request from a server outside the whitelist is refused before its keys are fetched.
    let path = "/_matrix/federation/v1/media/download/abc";
    let auth = SigningKey::parse("ed25519 a_x AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .unwrap()
        .x_matrix("other.example", &name, &http::Method::GET, path, b"")
        .unwrap();
    let r = s
        .client
        .get(format!("{}{path}", s.base))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    TestServer::read(r).await.err(403, "M_FORBIDDEN");
}
