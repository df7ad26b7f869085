//! `POST /_matrix/client/v3/register`: disabled by default; UIA with m.login.dummy; tokens.

use serde_json::{Value, json};

use crate::harness::{Backend, TestServer, uid};

crate::backend_tests!(
    registration_disabled_by_default,
    dummy_flow,
    username_errors,
    registration_token_flow
);

const PATH: &str = "/_matrix/client/v3/register";

async fn registration_disabled_by_default(b: Backend) {
    let s = TestServer::start(b).await;
    let r = s
        .post(
            PATH,
            None,
            json!({"username": "eve", "password": "pw", "auth": {"type": "m.login.dummy"}}),
        )
        .await;
    assert_eq!(r.err(403, "M_FORBIDDEN"), "Registration has been disabled");
    let r = s
        .get("/_matrix/client/v3/register/available?username=x", None)
        .await;
    r.err(403, "M_FORBIDDEN");
}

async fn open(b: Backend) -> TestServer {
    TestServer::start_with(b, |c| {
        c.enable_registration = true;
        c.enable_registration_without_verification = true;
    })
    .await
}

async fn dummy_flow(b: Backend) {
    let s = open(b).await;
    let first = s
        .post(PATH, None, json!({"username": "Frank", "password": "pw"}))
        .await;
    assert_eq!(first.status.as_u16(), 401);
    assert_eq!(first.body["flows"], json!([{"stages": ["m.login.dummy"]}]));
    assert_eq!(first.body["completed"], json!([]));
    let session = first.body["session"].as_str().unwrap().to_owned();
    let body = json!({"username": "Frank", "password": "pw", "initial_device_display_name": "laptop",
                      "auth": {"type": "m.login.dummy", "session": session}});
    let r = s.post(PATH, None, body).await;
    let b = r.ok();
    assert_eq!(b["user_id"], uid("frank"));
    let token = b["access_token"].as_str().unwrap();
    assert_eq!(
        s.get("/_matrix/client/v3/account/whoami", Some(token))
            .await
            .ok()["user_id"],
        uid("frank")
    );
    s.login("frank", "pw").await.ok();

    // Dummy auth in the first request, and inhibit_login.
    let r = s.post(PATH, None, json!({"username": "gina", "password": "pw", "inhibit_login": true, "auth": {"type": "m.login.dummy"}})).await;
    let b = r.ok();
    assert_eq!(b["user_id"], uid("gina"));
    assert!(b.get("access_token").is_none());
    // Unknown sessions are refused.
    let r = s.post(PATH, None, json!({"username": "hal", "password": "pw", "auth": {"type": "m.login.dummy", "session": "nope"}})).await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Unknown session ID: nope");
    // A completed flow without a password.
    let r = s
        .post(
            PATH,
            None,
            json!({"username": "ian", "auth": {"type": "m.login.dummy"}}),
        )
        .await;
    assert_eq!(r.err(400, "M_MISSING_PARAM"), "Missing params: password");
}

async fn username_errors(b: Backend) {
    let s = open(b).await;
    s.register("taken", "pw", false).await;
    let r = s
        .post(PATH, None, json!({"username": "no way", "password": "pw"}))
        .await;
    assert_eq!(
        r.err(400, "M_INVALID_USERNAME"),
        "User ID can only contain characters a-z, 0-9, or '=_-./+'"
    );
    let r = s
        .post(
            PATH,
            None,
            json!({"username": "taken", "password": "pw", "auth": {"type": "m.login.dummy"}}),
        )
        .await;
    assert_eq!(r.err(400, "M_USER_IN_USE"), "User ID already taken.");
    let r = s
        .post(PATH, None, json!({"username": 7, "password": "pw"}))
        .await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Invalid username");
    let r = s.post(&format!("{PATH}?kind=guest"), None, json!({})).await;
    r.err(403, "M_UNKNOWN");

    let avail = |u: &str| format!("/_matrix/client/v3/register/available?username={u}");
    assert_eq!(
        s.get(&avail("free"), None).await.ok(),
        &json!({"available": true})
    );
    s.get(&avail("taken"), None).await.err(400, "M_USER_IN_USE");
    s.get(&avail("Taken"), None)
        .await
        .err(400, "M_INVALID_USERNAME");
    let r = s.get("/_matrix/client/v3/register/available", None).await;
    r.err(400, "M_MISSING_PARAM");
}

async fn registration_token_flow(b: Backend) {
    let s = TestServer::start_with(b, |c| {
        c.enable_registration = true;
        c.registration_requires_token = true;
    })
    .await;
    let (_, admin) = s.register("root", "pw", true).await;
    let created = s
        .post(
            "/_synapse/admin/v1/registration_tokens/new",
            Some(&admin),
            json!({"token": "abc", "uses_allowed": 1}),
        )
        .await;
    assert_eq!(
        created.ok(),
        &json!({"token": "abc", "uses_allowed": 1, "pending": 0, "completed": 0, "expiry_time": null})
    );
    let dup = s
        .post(
            "/_synapse/admin/v1/registration_tokens/new",
            Some(&admin),
            json!({"token": "abc"}),
        )
        .await;
    dup.err(400, "M_INVALID_PARAM");
    let valid = |t: &str| {
        format!("/_matrix/client/v1/register/m.login.registration_token/validity?token={t}")
    };
    assert_eq!(
        s.get(&valid("abc"), None).await.ok(),
        &json!({"valid": true})
    );
    assert_eq!(
        s.get(&valid("zzz"), None).await.ok(),
        &json!({"valid": false})
    );

    let first = s
        .post(PATH, None, json!({"username": "jo", "password": "pw"}))
        .await;
    assert_eq!(
        first.body["flows"],
        json!([{"stages": ["m.login.registration_token", "m.login.dummy"]}])
    );
    let session = first.body["session"].as_str().unwrap().to_owned();
    let attempt = |auth: Value| json!({"username": "jo", "password": "pw", "auth": auth});
    let r = s
        .post(
            PATH,
            None,
            attempt(json!({"type": "m.login.dummy", "session": session})),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), &r.body["completed"]),
        (401, &json!(["m.login.dummy"])),
        "the token is still needed"
    );
    let r = s
        .post(
            PATH,
            None,
            attempt(
                json!({"type": "m.login.registration_token", "token": "wrong", "session": session}),
            ),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["errcode"].as_str()),
        (401, Some("M_UNAUTHORIZED"))
    );
    let r = s
        .post(
            PATH,
            None,
            attempt(
                json!({"type": "m.login.registration_token", "token": "abc", "session": session}),
            ),
        )
        .await;
    assert_eq!(r.ok()["user_id"], uid("jo"));
    // The single use is spent.
    assert_eq!(
        s.get(&valid("abc"), None).await.ok(),
        &json!({"valid": false})
    );
    let tokens = s
        .get("/_synapse/admin/v1/registration_tokens", Some(&admin))
        .await;
    assert_eq!(tokens.ok()["registration_tokens"][0]["completed"], 1);
}
