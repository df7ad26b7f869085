//! Client compatibility: a real matrix-nio (installed from PyPI into a venv by `.ci/run`)
//! drives mxcd through a whole flow (`tests/clients/nio_flow.py`); then the room↔media index is
//! checked for exactly the references that flow made.
//!
//! The venv is `MXCD_TEST_CLIENTS_VENV` or `.ci-venv-clients` at the workspace root. Outside CI
//! the test is skipped, saying why, when the venv is missing; under `CI=true` it fails.

use std::{path::PathBuf, time::Duration};

use mxcd_db::Db;
use serde_json::Value;

use crate::harness::{Backend, TestServer};

crate::backend_tests!(matrix_nio_flow);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's Python, if the venv exists.
fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("MXCD_TEST_CLIENTS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".ci-venv-clients"));
    let py = venv.join("bin/python");
    if py.exists() {
        return Some(py);
    }
    let why = format!(
        "no client venv at {} (create it with: python3 -m venv .ci-venv-clients && \
         .ci-venv-clients/bin/pip install matrix-nio==0.26.0)",
        venv.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {why}");
    }
    eprintln!("skipped: {why}");
    None
}

async fn matrix_nio_flow(b: Backend) {
    let Some(py) = python() else { return };
    let s = TestServer::start(b).await;
    let (alice, _) = s.register("alice", "alice-pw", false).await;
    let (bob, _) = s.register("bob", "bob-pw", false).await;
    let dir = root().join("tests/clients");
    let run = tokio::process::Command::new(py)
        .arg(dir.join("nio_flow.py"))
        .args([&s.base, &alice, "alice-pw", &bob, "bob-pw"])
        .arg(dir.join("cat.png"))
        .arg(dir.join("cat-thumb.png"))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the nio flow finishes within 120 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "nio flow failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // nio logs what it cannot parse (a sync response failing its schema, an unknown event) as
    // warnings on stderr: a clean run prints nothing there.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "nio complained:\n{stderr}");
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    assert!(
        summary["download_path"]
            .as_str()
            .unwrap()
            .starts_with("/_matrix/client/v1/media/download/"),
        "{summary}"
    );
    let room = summary["room_id"].as_str().unwrap();
    let media_id = |k: &str| {
        summary[k]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    let db = Db::connect(&s.database_url(), None).await.unwrap();
    let rows: Vec<(String, String, bool)> = db
        .room_media(room)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.field, r.media_id, r.redacted))
        .collect();
    db.close().await;
    assert_eq!(
        rows,
        [
            ("content.avatar_url".to_owned(), media_id("url"), false),
            ("content.url".to_owned(), media_id("url"), true),
            (
                "content.info.thumbnail_url".to_owned(),
                media_id("thumbnail_url"),
                true
            ),
        ]
    );
}
