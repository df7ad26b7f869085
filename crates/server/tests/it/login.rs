//! Password login, whoami, logout.

use serde_json::json;

use crate::harness::{Backend, TestServer, uid};

crate::backend_tests!(
    login_and_logout,
    login_failures,
    login_request_validation,
    deactivated_and_locked_users,
    historical_user_ids
);

async fn login_and_logout(b: Backend) {
    let s = TestServer::start(b).await;
    s.register("alice", "correct horse", false).await;
    assert_eq!(
        s.get("/_matrix/client/v3/login", None).await.ok(),
        &json!({"flows": [{"type": "m.login.password"}]})
    );

    // identifier with a localpart, with a full ID, with other case, and the legacy `user` field.
    let r = s.login("alice", "correct horse").await;
    let b1 = r.ok();
    assert_eq!(b1["user_id"], uid("alice"));
    assert_eq!(b1["home_server"], "test.local");
    let t1 = b1["access_token"].as_str().unwrap().to_owned();
    assert_eq!(b1["device_id"].as_str().unwrap().len(), 10);
    let t2 = s.login(&uid("alice"), "correct horse").await.ok()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let t3 = s.login("ALICE", "correct horse").await.ok()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let legacy = json!({"type": "m.login.password", "user": "alice", "password": "correct horse", "device_id": "MYDEVICE"});
    let r = s.post("/_matrix/client/r0/login", None, legacy).await;
    assert_eq!(r.ok()["device_id"], "MYDEVICE");

    let who = s.get("/_matrix/client/v3/account/whoami", Some(&t1)).await;
    assert_eq!(
        who.ok(),
        &json!({"user_id": uid("alice"), "device_id": b1["device_id"], "is_guest": false})
    );
    // The token may also come as a query parameter.
    let who = s
        .get(
            &format!("/_matrix/client/v3/account/whoami?access_token={t2}"),
            None,
        )
        .await;
    assert_eq!(who.ok()["user_id"], uid("alice"));

    assert_eq!(
        s.post("/_matrix/client/v3/logout", Some(&t1), json!({}))
            .await
            .ok(),
        &json!({})
    );
    let r = s.get("/_matrix/client/v3/account/whoami", Some(&t1)).await;
    r.err(401, "M_UNKNOWN_TOKEN");
    assert_eq!(r.body["soft_logout"], false);
    s.get("/_matrix/client/v3/account/whoami", Some(&t2))
        .await
        .ok();

    assert_eq!(
        s.post("/_matrix/client/v3/logout/all", Some(&t2), json!({}))
            .await
            .ok(),
        &json!({})
    );
    for t in [&t2, &t3] {
        s.get("/_matrix/client/v3/account/whoami", Some(t))
            .await
            .err(401, "M_UNKNOWN_TOKEN");
    }
}

async fn login_failures(b: Backend) {
    let s = TestServer::start(b).await;
    s.register("bob", "right", false).await;
    let wrong = s.login("bob", "wrong").await;
    assert_eq!(
        wrong.err(403, "M_FORBIDDEN"),
        "Invalid username or password"
    );
    let unknown = s.login("nobody", "right").await;
    assert_eq!(
        unknown.err(403, "M_FORBIDDEN"),
        "Invalid username or password",
        "unknown users look like wrong passwords"
    );
    let remote = s.login("@bob:elsewhere.example", "right").await;
    remote.err(403, "M_FORBIDDEN");
}

async fn login_request_validation(b: Backend) {
    let s = TestServer::start(b).await;
    let cases = [
        (
            json!({"identifier": {"type": "m.id.user", "user": "x"}, "password": "p"}),
            400,
            "M_UNKNOWN",
            "Missing JSON keys.",
        ),
        (
            json!({"type": 5, "password": "p"}),
            400,
            "M_INVALID_PARAM",
            "Bad parameter: type",
        ),
        (
            json!({"type": "m.login.password", "user": "x"}),
            400,
            "M_INVALID_PARAM",
            "Bad parameter: password",
        ),
        (
            json!({"type": "m.login.password", "password": "p"}),
            400,
            "M_INVALID_PARAM",
            "Invalid login submission",
        ),
        (
            json!({"type": "m.login.password", "password": "p", "identifier": {"user": "x"}}),
            400,
            "M_MISSING_PARAM",
            "'identifier' dict has no key 'type'",
        ),
        (
            json!({"type": "m.login.password", "password": "p", "identifier": {"type": "m.id.foo"}}),
            400,
            "M_UNKNOWN",
            "Unknown login identifier type",
        ),
        (
            json!({"type": "m.login.password", "password": "p", "identifier": {"type": "m.id.user"}}),
            400,
            "M_UNKNOWN",
            "User identifier is missing 'user' key",
        ),
        (
            json!({"type": "m.login.token", "user": "x"}),
            400,
            "M_UNKNOWN",
            "Unknown login type m.login.token",
        ),
        (
            json!({"type": "m.login.password", "user": "x", "password": "p", "initial_device_display_name": "d".repeat(101)}),
            400,
            "M_TOO_LARGE",
            "Device display name is too long (max 100)",
        ),
        (
            json!({"type": "m.login.password", "user": "x", "password": "p", "refresh_token": "yes"}),
            400,
            "M_UNKNOWN",
            "`refresh_token` should be true or false.",
        ),
    ];
    for (body, status, code, msg) in cases {
        let r = s.post("/_matrix/client/v3/login", None, body.clone()).await;
        assert_eq!(r.err(status, code), msg, "{body}");
    }
}

async fn deactivated_and_locked_users(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let (carol, carol_tok) = s.register("carol", "pw", false).await;
    let path = format!("/_synapse/admin/v2/users/{}", crate::harness::enc(&carol));
    s.put(&path, Some(&admin), json!({"deactivated": true}))
        .await
        .ok();
    s.get("/_matrix/client/v3/account/whoami", Some(&carol_tok))
        .await
        .err(401, "M_UNKNOWN_TOKEN");
    // Deactivation also removes the password, so the login fails as a wrong password would.
    s.login("carol", "pw").await.err(403, "M_FORBIDDEN");
    // Reactivated with a new password: the deactivated flag is what login checks last.
    s.put(
        &path,
        Some(&admin),
        json!({"deactivated": false, "password": "new"}),
    )
    .await
    .ok();
    s.login("carol", "new").await.ok();
    s.sql("UPDATE users SET deactivated = TRUE WHERE user_id = '@carol:test.local'")
        .await;
    let r = s.login("carol", "new").await;
    assert_eq!(
        r.err(403, "M_USER_DEACTIVATED"),
        "This account has been deactivated"
    );

    let (dave, dave_tok) = s.register("dave", "pw", false).await;
    let path = format!("/_synapse/admin/v2/users/{}", crate::harness::enc(&dave));
    s.put(&path, Some(&admin), json!({"locked": true}))
        .await
        .ok();
    let r = s
        .get("/_matrix/client/v3/account/whoami", Some(&dave_tok))
        .await;
    assert_eq!(r.err(401, "M_USER_LOCKED"), "User account has been locked");
    assert_eq!(r.body["soft_logout"], true);
    s.login("dave", "pw").await.err(401, "M_USER_LOCKED");
}

/// User IDs from before the spec's grammar was tightened still work for existing accounts,
/// though no new account may take such an ID.
async fn historical_user_ids(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    s.register("template", "oldpw", false).await;
    s.sql(
        "INSERT INTO users (user_id, password_hash, admin, created_ts) \
         SELECT '@Old Name!:test.local', password_hash, FALSE, created_ts FROM users \
         WHERE user_id = '@template:test.local'",
    )
    .await;
    s.sql("INSERT INTO profiles (user_id) VALUES ('@Old Name!:test.local')")
        .await;
    let r = s.login("@Old Name!:test.local", "oldpw").await;
    let token = r.ok()["access_token"].as_str().unwrap().to_owned();
    let who = s
        .get("/_matrix/client/v3/account/whoami", Some(&token))
        .await;
    assert_eq!(who.ok()["user_id"], "@Old Name!:test.local");
    let r = s
        .get(
            "/_synapse/admin/v2/users/%40Old%20Name%21%3Atest.local",
            Some(&admin),
        )
        .await;
    assert_eq!(r.ok()["name"], "@Old Name!:test.local");
    // New accounts must still be valid lowercase.
    let r = s
        .put(
            "/_synapse/admin/v2/users/%40New%20Name%3Atest.local",
            Some(&admin),
            json!({}),
        )
        .await;
    r.err(400, "M_INVALID_USERNAME");
}
