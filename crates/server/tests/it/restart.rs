//! Restarting keeps users and valid tokens; logged-out tokens stay invalid.

use serde_json::json;

use crate::harness::{Backend, TestServer, uid};

crate::backend_tests!(restart_keeps_accounts_and_tokens);

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
