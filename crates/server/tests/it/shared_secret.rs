//! Synapse shared-secret registration (`/_synapse/admin/v1/register`).

use serde_json::json;

use crate::harness::{Backend, SECRET, TestServer, mac, shared_secret_body, uid};

crate::backend_tests!(
    nonce_and_admin_registration,
    nonce_rules,
    field_errors,
    username_rules
);

const PATH: &str = "/_synapse/admin/v1/register";

async fn nonce_and_admin_registration(b: Backend) {
    let s = TestServer::start(b).await;
    let nonce = s.nonce().await;
    assert_eq!(nonce.len(), 128);
    assert!(
        nonce
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_ne!(nonce, s.nonce().await);

    let r = s
        .post(
            PATH,
            None,
            shared_secret_body(&nonce, "Admin", "pw", true, SECRET),
        )
        .await;
    let body = r.ok();
    assert_eq!(
        body["user_id"],
        uid("admin"),
        "the username is lower-cased, as Synapse does"
    );
    assert_eq!(body["home_server"], "test.local");
    let token = body["access_token"].as_str().unwrap();
    let who = s
        .get("/_matrix/client/v3/account/whoami", Some(token))
        .await;
    assert_eq!(who.ok()["device_id"], body["device_id"]);
    let r = s
        .get(
            &format!(
                "/_synapse/admin/v1/users/{}/admin",
                crate::harness::enc(&uid("admin"))
            ),
            Some(token),
        )
        .await;
    assert_eq!(r.ok(), &json!({"admin": true}));
    assert!(s.login("admin", "pw").await.ok()["access_token"].is_string());
}

async fn nonce_rules(b: Backend) {
    let s = TestServer::start(b).await;
    let nonce = s.nonce().await;
    s.post(
        PATH,
        None,
        shared_secret_body(&nonce, "one", "pw", false, SECRET),
    )
    .await
    .ok();
    let reuse = s
        .post(
            PATH,
            None,
            shared_secret_body(&nonce, "two", "pw", false, SECRET),
        )
        .await;
    assert_eq!(reuse.err(400, "M_UNKNOWN"), "unrecognised nonce");
    let unknown = s
        .post(
            PATH,
            None,
            shared_secret_body("abcd", "three", "pw", false, SECRET),
        )
        .await;
    assert_eq!(unknown.err(400, "M_UNKNOWN"), "unrecognised nonce");

    // A bad MAC uses the nonce up too.
    let nonce = s.nonce().await;
    let bad = s
        .post(
            PATH,
            None,
            shared_secret_body(&nonce, "four", "pw", false, "wrong secret"),
        )
        .await;
    assert_eq!(bad.err(403, "M_UNKNOWN"), "HMAC incorrect");
    let again = s
        .post(
            PATH,
            None,
            shared_secret_body(&nonce, "four", "pw", false, SECRET),
        )
        .await;
    again.err(400, "M_UNKNOWN");
    // The MAC covers the admin flag: claiming admin with a non-admin MAC fails.
    let nonce = s.nonce().await;
    let mut body = shared_secret_body(&nonce, "five", "pw", false, SECRET);
    body["admin"] = json!(true);
    s.post(PATH, None, body).await.err(403, "M_UNKNOWN");
    // Upper-case hex is not Synapse's MAC form.
    let nonce = s.nonce().await;
    let mut body = shared_secret_body(&nonce, "six", "pw", false, SECRET);
    body["mac"] = json!(mac(SECRET, &nonce, "six", "pw", false).to_uppercase());
    s.post(PATH, None, body).await.err(403, "M_UNKNOWN");

    // Nonces expire after 60 seconds.
    let nonce = s.nonce().await;
    s.sql("UPDATE registration_nonces SET created_ts = created_ts - 61000")
        .await;
    let expired = s
        .post(
            PATH,
            None,
            shared_secret_body(&nonce, "seven", "pw", false, SECRET),
        )
        .await;
    assert_eq!(expired.err(400, "M_UNKNOWN"), "unrecognised nonce");
}

async fn field_errors(b: Backend) {
    let s = TestServer::start(b).await;
    let r = s.post(PATH, None, json!({})).await;
    assert_eq!(r.err(400, "M_BAD_JSON"), "nonce must be specified");
    let cases = [
        (json!({}), "M_BAD_JSON", "username must be specified"),
        (json!({"username": 5}), "M_UNKNOWN", "Invalid username"),
        (
            json!({"username": "a\u{0}b"}),
            "M_UNKNOWN",
            "Invalid username",
        ),
        (
            json!({"username": "a".repeat(513)}),
            "M_UNKNOWN",
            "Invalid username",
        ),
        (
            json!({"username": "u"}),
            "M_BAD_JSON",
            "password must be specified",
        ),
        (
            json!({"username": "u", "password": 1}),
            "M_UNKNOWN",
            "Invalid password",
        ),
        (
            json!({"username": "u", "password": "p", "user_type": "wizard"}),
            "M_UNKNOWN",
            "Invalid user type",
        ),
        (
            json!({"username": "u", "password": "p"}),
            "M_BAD_JSON",
            "mac must be specified",
        ),
    ];
    for (mut body, code, msg) in cases {
        body["nonce"] = json!(s.nonce().await);
        let r = s.post(PATH, None, body.clone()).await;
        assert_eq!(r.err(400, code), msg, "{body}");
    }
}

async fn username_rules(b: Backend) {
    let s = TestServer::start(b).await;
    s.register("taken", "pw", false).await;
    for (user, code, msg) in [
        ("taken", "M_USER_IN_USE", "User ID already taken."),
        ("TAKEN", "M_USER_IN_USE", "User ID already taken."),
        (
            "bad name",
            "M_INVALID_USERNAME",
            "User ID can only contain characters a-z, 0-9, or '=_-./+'",
        ),
        (
            "bad!",
            "M_INVALID_USERNAME",
            "User ID can only contain characters a-z, 0-9, or '=_-./+'",
        ),
        ("", "M_INVALID_USERNAME", "User ID cannot be empty"),
        (
            "_bridge",
            "M_INVALID_USERNAME",
            "User ID may not begin with _",
        ),
        (
            "12345",
            "M_INVALID_USERNAME",
            "Numeric user IDs are reserved for guest users.",
        ),
    ] {
        let r = s
            .post(
                PATH,
                None,
                shared_secret_body(&s.nonce().await, user, "pw", false, SECRET),
            )
            .await;
        assert_eq!(r.err(400, code), msg, "{user:?}");
    }
    let long = "a".repeat(250);
    let r = s
        .post(
            PATH,
            None,
            shared_secret_body(&s.nonce().await, &long, "pw", false, SECRET),
        )
        .await;
    assert_eq!(
        r.err(400, "M_INVALID_USERNAME"),
        "User ID may not be longer than 255 characters"
    );
}
