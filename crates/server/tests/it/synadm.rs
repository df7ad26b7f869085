//! Admin-tool compatibility: a real synadm (installed from PyPI into a venv by `.ci/run`) runs its
//! media commands against a running mxcd, and what it prints is checked against what the server
//! did. synadm finds the server name itself, through `/_matrix/key/v2/server`.
//!
//! The venv is `MXCD_TEST_SYNADM_VENV` or `.ci-venv-synadm` at the workspace root. Outside CI the
//! test is skipped, saying why, when the venv is missing; under `CI=true` it fails.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    time::Duration,
};

use serde_json::{Value, json};

use crate::{
    harness::{Backend, SERVER_NAME, TestServer, uid},
    media::{fetch, upload},
    rooms::{create_room, send},
};

crate::backend_tests!(synadm_media_commands);

const VERSION: &str = "0.49.2";

/// The synadm executable, if its venv exists.
fn synadm() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = std::env::var_os("MXCD_TEST_SYNADM_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".ci-venv-synadm"));
    let exe = venv.join("bin/synadm");
    if exe.exists() {
        return Some(exe);
    }
    let why = format!(
        "no synadm venv at {} (create it with: python3 -m venv .ci-venv-synadm && \
         .ci-venv-synadm/bin/pip install synadm=={VERSION})",
        venv.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {why}");
    }
    eprintln!("skipped: {why}");
    None
}

/// One synadm invocation, non-interactive, printing minified JSON; returns what it printed.
struct Synadm {
    exe: PathBuf,
    config: PathBuf,
    _home: tempfile::TempDir,
}

impl Synadm {
    fn new(exe: PathBuf, s: &TestServer, admin: &str, token: &str) -> Self {
        let home = tempfile::tempdir().unwrap();
        let config = home.path().join("synadm.yaml");
        let yaml = format!(
            "user: '{admin}'\ntoken: '{token}'\nbase_url: '{}'\nadmin_path: /_synapse/admin\n\
             matrix_path: /_matrix\nformat: json\ntimeout: 30\nserver_discovery: well-known\n\
             homeserver: auto-retrieval\nssl_verify: false\n",
            s.base
        );
        std::fs::write(&config, yaml).unwrap();
        Self {
            exe,
            config,
            _home: home,
        }
    }

    async fn run(&self, args: &[&str]) -> Value {
        let home: &Path = self._home.path();
        let run = tokio::process::Command::new(&self.exe)
            .args(["-c"])
            .arg(&self.config)
            .args(["--batch", "-o", "minified"])
            .args(args)
            // synadm writes its log next to the user's config directory.
            .env("HOME", home)
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .expect("synadm finishes within 60 s")
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "synadm {args:?} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let last = stdout.lines().last().unwrap_or("");
        serde_json::from_str(last).unwrap_or_else(|e| panic!("synadm {args:?}: {e}: {stdout}"))
    }
}

fn ids(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

async fn status(s: &TestServer, id: &str, token: &str) -> u16 {
    let path = format!("/_matrix/client/v1/media/download/{SERVER_NAME}/{id}");
    fetch(s, &path, Some(token), &[]).await.0.as_u16()
}

async fn synadm_media_commands(b: Backend) {
    let Some(exe) = synadm() else { return };
    let s = TestServer::start(b).await;
    let (admin, admin_token) = s.register("admin", "admin-pw", true).await;
    let (alice, at) = s.register("alice", "alice-pw", false).await;
    let cat = upload(&s, &at, b"cat bytes", "image/png", "?filename=cat.png").await;
    let twin = upload(&s, &at, b"cat bytes", "image/png", "").await;
    let dog = upload(&s, &at, b"dog bytes", "image/png", "").await;
    let kept = upload(&s, &at, b"protected bytes", "text/plain", "").await;
    let gone = upload(&s, &at, b"to be deleted", "text/plain", "").await;
    let room = create_room(&s, &at, json!({})).await;
    let mxc = |id: &str| format!("mxc://{SERVER_NAME}/{id}");
    send(
        &s,
        &at,
        &room,
        "t1",
        json!({"msgtype": "m.image", "body": "cat", "url": mxc(&cat)}),
    )
    .await;
    send(
        &s,
        &at,
        &room,
        "t2",
        json!({"msgtype": "m.image", "body": "dog", "url": mxc(&dog)}),
    )
    .await;
    let sh = Synadm::new(exe, &s, &admin, &admin_token);

    // Listing: a user's media (newest first) and a room's.
    let listed = sh.run(&["media", "list", "-u", "alice", "--ts"]).await;
    assert_eq!(listed["total"], 5, "{listed}");
    let order: Vec<&str> = listed["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["media_id"].as_str().unwrap())
        .collect();
    assert_eq!(order, [&*gone, &*kept, &*dog, &*twin, &*cat]);
    assert_eq!(listed["media"][4]["upload_name"], "cat.png");
    let in_room = sh.run(&["media", "list", "-r", &room]).await;
    assert_eq!(
        in_room,
        json!({"local": [mxc(&dog), mxc(&cat)], "remote": []})
    );

    // Media info, through synadm's raw command.
    let info = sh
        .run(&["raw", "-m", "get", &format!("v1/media/{SERVER_NAME}/{cat}")])
        .await;
    assert_eq!(info["media_info"]["user_id"], json!(alice));
    assert_eq!(info["media_info"]["media_length"], 9);

    // Protect, then quarantine by ID (hash-wide: the twin goes too), then unquarantine.
    assert_eq!(sh.run(&["media", "protect", &kept]).await, json!({}));
    assert_eq!(
        sh.run(&["media", "quarantine", "-i", &cat]).await,
        json!({})
    );
    assert_eq!(status(&s, &cat, &at).await, 404);
    assert_eq!(status(&s, &twin, &at).await, 404);
    assert_eq!(
        sh.run(&["media", "unquarantine", "-i", &cat]).await,
        json!({})
    );
    assert_eq!(status(&s, &twin, &at).await, 200);

    // By room: cat, its twin (by hash) and dog.
    let r = sh.run(&["media", "quarantine", "-r", &room]).await;
    assert_eq!(r, json!({"num_quarantined": 3}));
    assert_eq!(status(&s, &dog, &at).await, 404);
    for id in [&cat, &dog] {
        sh.run(&["media", "unquarantine", "-i", id]).await;
    }
    // By user: everything of alice's except the protected one.
    let r = sh.run(&["media", "quarantine", "-u", &alice]).await;
    assert_eq!(r, json!({"num_quarantined": 4}));
    assert_eq!(status(&s, &kept, &at).await, 200);
    for id in [&cat, &dog, &gone] {
        sh.run(&["media", "unquarantine", "-i", id]).await;
    }
    assert_eq!(status(&s, &gone, &at).await, 200);

    // Delete by ID, then by date and size (the protected one stays).
    let r = sh.run(&["media", "delete", "-i", &gone]).await;
    assert_eq!(r, json!({"deleted_media": [gone], "total": 1}));
    assert_eq!(status(&s, &gone, &at).await, 404);
    let now = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 1)
    .to_string();
    let r = sh.run(&["media", "delete", "-t", &now]).await;
    assert_eq!(r["total"], 3, "{r}");
    assert_eq!(
        ids(&r["deleted_media"]),
        [&cat, &twin, &dog].into_iter().cloned().collect()
    );
    assert_eq!(status(&s, &kept, &at).await, 200);
    assert_eq!(status(&s, &twin, &at).await, 404);

    // Purge of the remote cache: one cached row, accessed long ago.
    s.sql(
        "INSERT INTO media (origin, media_id, media_type, media_length, created_ts, last_access_ts) \
         VALUES ('remote.example', 'cachedcopy', 'image/png', 10, 1000, 1000)",
    )
    .await;
    let r = sh.run(&["media", "purge", "-t", &now]).await;
    assert_eq!(r, json!({"deleted": 1}));
    let left = sh
        .run(&["media", "list", "-u", &uid("alice"), "--ts"])
        .await;
    assert_eq!(left["total"], 1);
    assert_eq!(left["media"][0]["safe_from_quarantine"], true);
}
