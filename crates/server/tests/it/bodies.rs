//! Bodies that cannot be read: every handler that reads the raw body answers with a Matrix
//! error, never axum's plain-text rejection.

use std::io::{Read as _, Write as _};

use serde_json::Value;

use crate::harness::{Backend, TestServer, enc};

/// Every route whose handler parses the body itself (`BodyBytes`), as `(method, path)`.
fn raw_body_routes(user: &str) -> Vec<(&'static str, String)> {
    let (c, room, user) = ("/_matrix/client/v3", enc("!r:test.local"), enc(user));
    let mut routes = vec![
        ("POST", format!("{c}/join/{room}")),
        ("PUT", format!("{c}/profile/{user}/displayname")),
        ("PUT", format!("{c}/profile/{user}/avatar_url")),
        (
            "PUT",
            format!("{c}/directory/room/{}", enc("#a:test.local")),
        ),
        ("POST", "/_synapse/admin/v1/register".to_owned()),
        ("PUT", format!("/_synapse/admin/v2/users/{user}")),
        ("PUT", format!("/_synapse/admin/v1/users/{user}/admin")),
    ];
    for action in ["join", "invite", "leave", "kick", "ban", "unban"] {
        routes.push(("POST", format!("{c}/rooms/{room}/{action}")));
    }
    routes
}

/// Sends `head` then `body` as they are on a new connection, and reads the answer while the
/// body is being written (the server may answer, and close, before it has read it all).
/// Returns the status and the body of the answer.
fn raw_request(base: &str, head: String, body: Vec<u8>) -> (u16, Vec<u8>) {
    let mut tcp = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    let mut writer = tcp.try_clone().unwrap();
    let written = std::thread::spawn(move || {
        // A write may fail once the server has answered and closed: that is the case tested.
        let _ = writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(&body));
    });
    let mut answer = Vec::new();
    let mut buf = [0; 16 * 1024];
    while let Ok(n @ 1..) = tcp.read(&mut buf) {
        answer.extend_from_slice(&buf[..n]);
    }
    written.join().unwrap();
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1).expect("an answer").parse().unwrap();
    let start = text.find("\r\n\r\n").unwrap() + 4;
    (status, answer[start..].to_vec())
}

/// `method path` with `body`, through [`raw_request`]; the answer's status and errcode.
async fn send(
    s: &TestServer,
    token: &str,
    method: &str,
    path: &str,
    extra: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer \
         {token}\r\n{extra}\r\n"
    );
    let base = s.base.clone();
    let (status, body) = tokio::task::spawn_blocking(move || raw_request(&base, head, body))
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_bodies_are_matrix_errors() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (admin, token) = s.register("admin", "pw", true).await;
    let too_large = vec![b'a'; 3 * 1024 * 1024];
    let length = format!("Content-Length: {}\r\n", too_large.len());
    for (method, path) in raw_body_routes(&admin) {
        let (status, v) = send(&s, &token, method, &path, &length, too_large.clone()).await;
        assert_eq!(
            (status, v["errcode"].as_str()),
            (413, Some("M_TOO_LARGE")),
            "{method} {path}: {v}"
        );
        let chunked = "Transfer-Encoding: chunked\r\n";
        let broken = b"zz\r\n{}\r\n0\r\n\r\n".to_vec();
        let (status, v) = send(&s, &token, method, &path, chunked, broken).await;
        assert_eq!(
            (status, v["errcode"].as_str()),
            (400, Some("M_UNKNOWN")),
            "{method} {path} with a broken chunked body: {v}"
        );
    }
}
