//! Versions, well-known, CORS, OPTIONS, 404/405, server version, media config.

use reqwest::Method;
use serde_json::json;

use crate::harness::{Backend, TestServer};

crate::backend_tests!(
    versions_and_cors,
    unknown_paths_and_methods,
    well_known_configurable,
    media_config,
    url_previews_disabled
);

async fn versions_and_cors(b: Backend) {
    let s = TestServer::start(b).await;
    let r = s.get("/_matrix/client/versions", None).await;
    let versions = r.ok()["versions"].as_array().unwrap();
    assert!(versions.iter().any(|v| v == "v1.12") && versions.iter().any(|v| v == "r0.6.1"));
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    assert_eq!(
        r.headers["access-control-allow-methods"],
        "GET, HEAD, POST, PUT, DELETE, OPTIONS"
    );
    assert_eq!(
        r.headers["access-control-allow-headers"],
        "X-Requested-With, Content-Type, Authorization, Date"
    );

    let r = s
        .req(Method::OPTIONS, "/_matrix/client/v3/login", None, None)
        .await;
    assert_eq!(r.status.as_u16(), 204);
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    // OPTIONS is answered on any path, as Synapse's OptionsResource does.
    assert_eq!(
        s.req(Method::OPTIONS, "/no/such/path", None, None)
            .await
            .status
            .as_u16(),
        204
    );

    let r = s.get("/_synapse/admin/v1/server_version", None).await;
    assert!(r.ok()["server_version"].is_string());
}

async fn unknown_paths_and_methods(b: Backend) {
    let s = TestServer::start(b).await;
    let r = s.get("/_matrix/client/v3/nothing/here", None).await;
    assert_eq!(r.err(404, "M_UNRECOGNIZED"), "Unrecognized request");
    assert_eq!(
        r.headers["access-control-allow-origin"], "*",
        "errors carry CORS headers too"
    );
    let r = s
        .req(Method::DELETE, "/_matrix/client/versions", None, None)
        .await;
    assert_eq!(r.err(405, "M_UNRECOGNIZED"), "Unrecognized request");
    let r = s
        .req(Method::GET, "/_matrix/client/v3/logout", None, None)
        .await;
    r.err(405, "M_UNRECOGNIZED");
    // Body errors on a JSON endpoint.
    let r = s
        .raw(Method::POST, "/_matrix/client/v3/login", "this is not json")
        .await;
    assert_eq!(r.err(400, "M_NOT_JSON"), "Content not JSON.");
    let r = s
        .raw(Method::POST, "/_matrix/client/v3/login", "[1, 2]")
        .await;
    assert_eq!(r.err(400, "M_BAD_JSON"), "Content must be a JSON object.");
    let r = s.raw(Method::POST, "/_matrix/client/v3/login", "").await;
    r.err(400, "M_NOT_JSON");
    // Path segments that do not decode to UTF-8 get a Matrix error, not a plain-text one.
    let r = s
        .get("/_matrix/media/v3/download/test.local/%FF%FE", None)
        .await;
    r.err(400, "M_INVALID_PARAM");
    let (_, admin) = s.register("root", "pw", true).await;
    let r = s
        .get("/_synapse/admin/v2/users/%40%FF%3Atest.local", Some(&admin))
        .await;
    r.err(400, "M_INVALID_PARAM");
}

async fn well_known_configurable(b: Backend) {
    let s = TestServer::start(b.clone()).await;
    let r = s.get("/.well-known/matrix/client", None).await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), ".well-known not available");
    s.get("/.well-known/matrix/server", None)
        .await
        .err(404, "M_NOT_FOUND");

    let s = TestServer::start_with(b, |c| {
        c.public_baseurl = Some("https://matrix.example.org/".into());
        c.serve_server_wellknown = true;
        c.extra_well_known_client_content
            .insert("org.example".into(), json!({"k": 1}));
    })
    .await;
    let r = s.get("/.well-known/matrix/client", None).await;
    assert_eq!(
        r.ok(),
        &json!({"m.homeserver": {"base_url": "https://matrix.example.org/"}, "org.example": {"k": 1}})
    );
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    let r = s.get("/.well-known/matrix/server", None).await;
    assert_eq!(r.ok(), &json!({"m.server": "test.local:443"}));
    // Login responses carry the client well-known too.
    s.register("wk", "pw", false).await;
    let r = s.login("wk", "pw").await;
    assert_eq!(
        r.ok()["well_known"]["m.homeserver"]["base_url"],
        "https://matrix.example.org/"
    );
}

/// URL previews are not offered: the endpoints are unknown paths, as in Synapse with
/// `url_preview_enabled: false`.
async fn url_previews_disabled(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, tok) = s.register("pv", "pw", false).await;
    for path in [
        "/_matrix/client/v1/media/preview_url?url=https://example.org",
        "/_matrix/media/v3/preview_url?url=https://example.org",
    ] {
        let r = s.get(path, Some(&tok)).await;
        assert_eq!(
            r.err(404, "M_UNRECOGNIZED"),
            "Unrecognized request",
            "{path}"
        );
    }
}

async fn media_config(b: Backend) {
    let s = TestServer::start_with(b, |c| c.max_upload_size = mxcd_types::ByteSize(10 << 20)).await;
    s.get("/_matrix/client/v1/media/config", None)
        .await
        .err(401, "M_MISSING_TOKEN");
    let (_, tok) = s.register("cfg", "pw", false).await;
    for path in [
        "/_matrix/client/v1/media/config",
        "/_matrix/media/v3/config",
        "/_matrix/media/r0/config",
    ] {
        assert_eq!(
            s.get(path, Some(&tok)).await.ok(),
            &json!({"m.upload.size": 10 << 20}),
            "{path}"
        );
    }
}
