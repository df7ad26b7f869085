//! Every row of the authentication table (reference §0.2), on an admin endpoint.

use reqwest::Method;

use crate::harness::{Backend, TestServer};

crate::backend_tests!(auth_table_rows, admin_check_precedes_validation);

const ADMIN_PATH: &str = "/_synapse/admin/v2/users";

async fn auth_table_rows(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let (_, user) = s.register("plain", "pw", false).await;
    let url = format!("{}{ADMIN_PATH}", s.base);
    let send = |rb: reqwest::RequestBuilder| async move {
        TestServer::read(rb.send().await.unwrap()).await
    };

    let r = send(s.client.get(&url)).await;
    assert_eq!(r.err(401, "M_MISSING_TOKEN"), "Missing access token");
    let r = send(
        s.client
            .get(format!("{url}?access_token={admin}"))
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(
        r.err(401, "M_MISSING_TOKEN"),
        "Mixing Authorization headers and access_token query parameters."
    );
    let r = send(
        s.client
            .get(&url)
            .header("Authorization", format!("Bearer {admin}"))
            .header("Authorization", format!("Bearer {admin}")),
    )
    .await;
    assert_eq!(
        r.err(401, "M_MISSING_TOKEN"),
        "Too many Authorization headers."
    );
    for bad in [
        format!("Basic {admin}"),
        format!("Bearer{admin}"),
        format!("Bearer {admin} x"),
        "Bearer".to_owned(),
    ] {
        let r = send(s.client.get(&url).header("Authorization", bad)).await;
        assert_eq!(
            r.err(401, "M_MISSING_TOKEN"),
            "Invalid Authorization header."
        );
    }
    let r = send(s.client.get(&url).bearer_auth("mxcd_not_a_real_token")).await;
    r.err(401, "M_UNKNOWN_TOKEN");
    assert_eq!(r.body["soft_logout"], false);
    let r = send(s.client.get(&url).bearer_auth(&user)).await;
    assert_eq!(r.err(403, "M_FORBIDDEN"), "You are not a server admin");
    send(s.client.get(&url).bearer_auth(&admin)).await.ok();
    send(s.client.get(format!("{url}?access_token={admin}")))
        .await
        .ok();

    // A guest's token (guests cannot register here, so the row is made directly).
    let (_, guest) = s.register("visitor", "pw", false).await;
    s.sql("UPDATE users SET is_guest = TRUE WHERE user_id = '@visitor:test.local'")
        .await;
    let r = send(s.client.get(&url).bearer_auth(&guest)).await;
    assert_eq!(
        r.err(403, "M_GUEST_ACCESS_FORBIDDEN"),
        "Guest access not allowed"
    );
    let r = s
        .get("/_matrix/client/v3/account/whoami", Some(&guest))
        .await;
    r.err(403, "M_GUEST_ACCESS_FORBIDDEN");
}

async fn admin_check_precedes_validation(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, user) = s.register("plain", "pw", false).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let bad = format!("{ADMIN_PATH}?from=abc&dir=x");
    s.get(&bad, None).await.err(401, "M_MISSING_TOKEN");
    s.get(&bad, Some(&user)).await.err(403, "M_FORBIDDEN");
    assert_eq!(
        s.get(&bad, Some(&admin)).await.err(400, "M_INVALID_PARAM"),
        "Query parameter from must be an integer"
    );
    // The same order holds for bodies: a non-admin never learns the body is bad.
    let path = "/_synapse/admin/v2/users/%40x%3Atest.local";
    let r = s.req(Method::PUT, path, Some(&user), None).await;
    r.err(403, "M_FORBIDDEN");
    let r = s
        .client
        .put(format!("{}{path}", s.base))
        .bearer_auth(&admin)
        .body("{")
        .send()
        .await
        .unwrap();
    TestServer::read(r).await.err(400, "M_NOT_JSON");
}
