//! The README's run command: the real `mxcd` binary with no configuration file.

use std::{
    io::{BufRead as _, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use futures_util::StreamExt as _;
use serde_json::{Value, json};

use crate::harness::{TestServer, mac};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mxcd serve [args]` in `dir` and returns it with the address it logs and its first
/// log lines.
fn spawn_serve(dir: &std::path::Path, args: &[&str]) -> (Server, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mxcd"))
        .arg("serve")
        .args(args)
        .current_dir(dir)
        // Only the port differs from the README command, so that tests can run in parallel.
        .env("MXCD__LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("mxcd binary runs");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let server = Server(child);
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no address logged: {lines:#?}"));
        if let Some(addr) = line.split("listening on ").nth(1) {
            // Read the rest of the start-up lines too.
            while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
                lines.push(l);
            }
            return (server, addr.trim().to_owned(), lines.join("\n"));
        }
        lines.push(line);
    }
}

#[tokio::test]
async fn readme_run_command_with_no_config() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base, log) = spawn_serve(dir.path(), &[]);
    assert!(
        log.contains("mxcd-data"),
        "start-up lines say where data is: {log}"
    );
    assert!(
        log.contains("register-user"),
        "start-up lines say how to create an admin: {log}"
    );
    for f in [
        "mxcd-data/mxcd.db",
        "mxcd-data/media",
        "mxcd-data/signing.key",
        "mxcd-data/registration_shared_secret",
    ] {
        assert!(
            dir.path().join(f).exists(),
            "{f} is created under ./mxcd-data"
        );
    }
    let key = std::fs::read_to_string(dir.path().join("mxcd-data/signing.key")).unwrap();
    assert!(
        key.starts_with("ed25519 a_"),
        "Synapse signing-key format: {key}"
    );
    let secret =
        std::fs::read_to_string(dir.path().join("mxcd-data/registration_shared_secret")).unwrap();
    let c = reqwest::Client::new();
    let get = |p: &str, tok: Option<&str>| {
        let mut rb = c.get(format!("{base}{p}"));
        if let Some(t) = tok {
            rb = rb.bearer_auth(t);
        }
        async move { TestServer::read(rb.send().await.unwrap()).await }
    };
    get("/_matrix/client/versions", None).await.ok();

    // Shared-secret registration, the MAC computed here.
    let nonce = get("/_synapse/admin/v1/register", None).await.ok()["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"nonce": nonce, "username": "boss", "password": "pw", "admin": true,
                      "mac": mac(secret.trim(), &nonce, "boss", "pw", true)});
    let r = TestServer::read(
        c.post(format!("{base}/_synapse/admin/v1/register"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        r.ok()["user_id"],
        "@boss:localhost:8008",
        "default server_name"
    );

    let login = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "boss"}, "password": "pw"});
    let r = TestServer::read(
        c.post(format!("{base}/_matrix/client/v3/login"))
            .json(&login)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = r.ok()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        get("/_matrix/client/v3/account/whoami", Some(&token))
            .await
            .ok()["user_id"],
        "@boss:localhost:8008"
    );
    let users: Value = get("/_synapse/admin/v2/users", Some(&token))
        .await
        .ok()
        .clone();
    assert_eq!(users["total"], 1);
    let r = TestServer::read(
        c.post(format!("{base}/_matrix/client/v3/logout"))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.ok();
    get("/_matrix/client/v3/account/whoami", Some(&token))
        .await
        .err(401, "M_UNKNOWN_TOKEN");

    // `mxcd register-user`, run from the same directory, finds the generated secret itself.
    let out = Command::new(env!("CARGO_BIN_EXE_mxcd"))
        .args([
            "register-user",
            "-u",
            "helper",
            "-p",
            "pw2",
            "--no-admin",
            &base,
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Success!"));
    let again = Command::new(env!("CARGO_BIN_EXE_mxcd"))
        .args([
            "register-user",
            "-u",
            "helper",
            "-p",
            "pw2",
            "--no-admin",
            "--exists-ok",
            &base,
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("User already exists. Skipping."));
    let fail = Command::new(env!("CARGO_BIN_EXE_mxcd"))
        .args([
            "register-user",
            "-u",
            "helper",
            "-p",
            "pw2",
            "--no-admin",
            &base,
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!fail.status.success());
}

#[test]
fn invalid_config_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "max_upload_size = \"lots\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mxcd"))
        .args(["serve", "--config", "bad.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_upload_size"), "{err}");
}

/// Files directly under `dir` (none if it does not exist).
fn files_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// The files in the shard directories of a filesystem store (`blobs/ab/*`) whose names end
/// with `suffix`: `.part` for uploads in flight, `""` for all of them.
fn stored_files(root: &std::path::Path, suffix: &str) -> usize {
    files_in(root)
        .iter()
        .flat_map(|shard| files_in(shard))
        .filter(|f| f.to_string_lossy().ends_with(suffix))
        .count()
}

fn count_blobs(root: &std::path::Path) -> usize {
    stored_files(root, "") - stored_files(root, ".part")
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..100 {
        if ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_upload_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mxcd.toml"),
        "listen = \"127.0.0.1:0\"\nregistration_shared_secret = \"s3cret\"\n[storage]\nsweep_grace = \"0ms\"\n",
    )
    .unwrap();
    let args = ["--config", "mxcd.toml"];
    let (mut server, base, _) = spawn_serve(dir.path(), &args);
    let c = reqwest::Client::new();
    let nonce = TestServer::read(
        c.get(format!("{base}/_synapse/admin/v1/register"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .ok()["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"nonce": nonce, "username": "u", "password": "pw", "admin": false, "mac": mac("s3cret", &nonce, "u", "pw", false)});
    let r = TestServer::read(
        c.post(format!("{base}/_synapse/admin/v1/register"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = r.ok()["access_token"].as_str().unwrap().to_owned();

    let a: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let b: Vec<u8> = (0..70_000u32).map(|i| (i % 7) as u8).collect();
    let mut ids = Vec::new();
    for data in [&a, &b] {
        let r = c
            .post(format!("{base}/_matrix/media/v3/upload"))
            .bearer_auth(&token)
            .body(data.clone())
            .send()
            .await
            .unwrap();
        let uri = TestServer::read(r).await.ok()["content_uri"]
            .as_str()
            .unwrap()
            .to_owned();
        ids.push(uri.rsplit('/').next().unwrap().to_owned());
    }

    // A large upload that sends 1 MiB and then stalls; the server is killed while it is in flight.
    let first = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(vec![
            1u8;
            1 << 20
        ]))]);
    let stalled = first.chain(futures_util::stream::pending());
    let in_flight = {
        let (c, url, token) = (
            c.clone(),
            format!("{base}/_matrix/media/v3/upload"),
            token.clone(),
        );
        tokio::spawn(async move {
            c.post(url)
                .bearer_auth(token)
                .body(reqwest::Body::wrap_stream(stalled))
                .send()
                .await
        })
    };
    let media = dir.path().join("mxcd-data/media");
    let blobs = media.join("blobs");
    wait_for("the upload's part file", || {
        stored_files(&blobs, ".part") == 1
    })
    .await;
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    assert!(
        in_flight.await.unwrap().is_err(),
        "the client sees the connection die"
    );
    assert_eq!(
        stored_files(&blobs, ".part"),
        1,
        "the crash left a partial upload"
    );
    assert_eq!(count_blobs(&blobs), 2);

    let (_server, base, _) = spawn_serve(dir.path(), &args);
    wait_for("the sweep to remove the part file", || {
        stored_files(&blobs, ".part") == 0
    })
    .await;
    assert_eq!(
        count_blobs(&blobs),
        2,
        "no blob of the killed upload, none lost"
    );
    for (id, want) in ids.iter().zip([&a, &b]) {
        let r = c
            .get(format!(
                "{base}/_matrix/client/v1/media/download/localhost:8008/{id}"
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(
            r.bytes().await.unwrap()[..] == want[..],
            "earlier media downloads byte-identical"
        );
    }
}
