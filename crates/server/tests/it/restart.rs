//! Restarting keeps users and valid tokens; logged-out tokens stay invalid. A SQLite database
//! serves one process at a time.

use serde_json::json;

use crate::harness::{Backend, TestServer, uid};

crate::backend_tests!(
    restart_keeps_accounts_and_tokens,
    one_process_per_sqlite_database
);

async fn restart_keeps_accounts_and_tokens(b: Backend) {
    let mut s = TestServer::start(b).await;
    let (_, kept) = s.register("kim", "pw", true).await;
    let gone = s.login("kim", "pw").await.ok()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post("/_matrix/client/v3/logout", Some(&gone), json!({}))
        .await
        .ok();
    s.restart().await;
    let who = s
        .get("/_matrix/client/v3/account/whoami", Some(&kept))
        .await;
    assert_eq!(who.ok()["user_id"], uid("kim"));
    s.get("/_synapse/admin/v2/users", Some(&kept)).await.ok();
    s.get("/_matrix/client/v3/account/whoami", Some(&gone))
        .await
        .err(401, "M_UNKNOWN_TOKEN");
    s.login("kim", "pw").await.ok();
}

/// A second server on a SQLite database is refused while the first runs, and starts once the
/// first has stopped; on PostgreSQL, instances share the database.
async fn one_process_per_sqlite_database(b: Backend) {
    let sqlite = matches!(b, Backend::Sqlite);
    let mut s = TestServer::start(b).await;
    match mxcd_server::start(s.cfg.clone()).await {
        Ok(second) => {
            assert!(!sqlite, "a second process started on one SQLite database");
            second.stop().await.unwrap();
        }
        Err(e) => {
            assert!(sqlite, "{e:#}");
            assert!(
                format!("{e:#}").contains("in use by another mxcd process"),
                "{e:#}"
            );
        }
    }
    s.stop().await;
    let again = mxcd_server::start(s.cfg.clone())
        .await
        .expect("starts once the first has stopped");
    again.stop().await.unwrap();
}
