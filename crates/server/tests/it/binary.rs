//! The README's run command: the real `mxcd` binary with no configuration file.

use std::{
    io::{BufRead as _, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

use crate::harness::{TestServer, mac};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mxcd serve` in `dir` and returns it with the address it logs.
fn spawn_serve(dir: &std::path::Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mxcd"))
        .arg("serve")
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
            let all = lines.join("\n");
            assert!(
                all.contains("mxcd-data"),
                "start-up lines say where data is: {all}"
            );
            assert!(
                all.contains("register-user"),
                "start-up lines say how to create an admin: {all}"
            );
            return (server, addr.trim().to_owned());
        }
        lines.push(line);
    }
}

#[tokio::test]
async fn readme_run_command_with_no_config() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = spawn_serve(dir.path());
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
