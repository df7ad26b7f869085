//! Synapse's admin user API subset: create/modify/get/list users, admin flag, whois.

use serde_json::{Value, json};

use crate::harness::{Backend, TestServer, enc, uid};

crate::backend_tests!(create_get_modify, list_users_paginates, admin_flag, whois);

fn user_path(id: &str) -> String {
    format!("/_synapse/admin/v2/users/{}", enc(id))
}

async fn create_get_modify(b: Backend) {
    let s = TestServer::start(b).await;
    let (root, admin) = s.register("root", "pw", true).await;
    let lee = uid("lee");
    let r = s
        .put(
            &user_path(&lee),
            Some(&admin),
            json!({"password": "pw1", "displayname": "Lee", "admin": false}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201);
    let u = r.body.clone();
    assert_eq!(
        (
            u["name"].as_str(),
            u["displayname"].as_str(),
            u["admin"].as_bool()
        ),
        (Some(lee.as_str()), Some("Lee"), Some(false))
    );
    assert!(u.get("password_hash").is_none());
    let created = u["creation_ts"].as_i64().unwrap();
    assert!(
        created > 1_600_000_000 && created < 10_000_000_000,
        "creation_ts is in seconds: {created}"
    );
    let lee_tok = s.login("lee", "pw1").await.ok()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let got = s.get(&user_path(&lee), Some(&admin)).await;
    assert_eq!(got.ok(), &u);
    s.get(&user_path(&uid("ghost")), Some(&admin))
        .await
        .err(404, "M_NOT_FOUND");
    let r = s.get(&user_path("@x:elsewhere"), Some(&admin)).await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Can only look up local users");
    let r = s.get(&user_path("nobody"), Some(&admin)).await;
    assert_eq!(
        r.err(400, "M_INVALID_PARAM"),
        "Expected UserID string to start with '@'"
    );

    // Modify: 200; a password change logs the user out everywhere.
    let r = s
        .put(
            &user_path(&lee),
            Some(&admin),
            json!({"displayname": "Lee Two", "password": "pw2", "user_type": "bot"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(
        (r.body["displayname"].as_str(), r.body["user_type"].as_str()),
        (Some("Lee Two"), Some("bot"))
    );
    s.get("/_matrix/client/v3/account/whoami", Some(&lee_tok))
        .await
        .err(401, "M_UNKNOWN_TOKEN");
    s.login("lee", "pw1").await.err(403, "M_FORBIDDEN");
    s.login("lee", "pw2").await.ok();

    for (body, code, msg) in [
        (
            json!({"admin": "yes"}),
            "M_BAD_JSON",
            "Param 'admin' must be a boolean, if given",
        ),
        (json!({"password": 5}), "M_UNKNOWN", "Invalid password"),
        (
            json!({"deactivated": 1}),
            "M_UNKNOWN",
            "'deactivated' parameter is not of type boolean",
        ),
        (
            json!({"user_type": "wizard"}),
            "M_UNKNOWN",
            "Invalid user type",
        ),
        (
            json!({"deactivated": true, "locked": true}),
            "M_UNKNOWN",
            "An user can't be deactivated and locked",
        ),
        (
            json!({"displayname": 5}),
            "M_INVALID_PARAM",
            "'displayname' must be a string",
        ),
    ] {
        let r = s.put(&user_path(&lee), Some(&admin), body.clone()).await;
        assert_eq!(r.err(400, code), msg, "{body}");
    }
    let r = s
        .put(&user_path(&root), Some(&admin), json!({"admin": false}))
        .await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "You may not demote yourself.");
    let r = s
        .put(&user_path("@x:elsewhere"), Some(&admin), json!({}))
        .await;
    assert_eq!(
        r.err(400, "M_UNKNOWN"),
        "This endpoint can only be used with local users"
    );
    let r = s
        .put(&user_path(&uid("Upper")), Some(&admin), json!({}))
        .await;
    r.err(400, "M_INVALID_USERNAME");
    // Created without a display name: the localpart, as Synapse.
    let r = s
        .put(&user_path(&uid("plain")), Some(&admin), json!({}))
        .await;
    assert_eq!(r.body["displayname"], "plain");
}

async fn list_users_paginates(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("admin", "pw", true).await;
    for u in ["user1", "user2", "user3", "user4"] {
        s.register(u, "pw", false).await;
    }
    s.put(
        &user_path(&uid("user4")),
        Some(&admin),
        json!({"deactivated": true}),
    )
    .await
    .ok();
    let names = |v: &Value| {
        v["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };

    let r = s
        .get("/_synapse/admin/v2/users?limit=2", Some(&admin))
        .await;
    let page = r.ok();
    assert_eq!(
        (
            names(page),
            page["total"].as_i64(),
            page["next_token"].as_str()
        ),
        (vec![uid("admin"), uid("user1")], Some(4), Some("2"))
    );
    let entry = &page["users"][0];
    for key in [
        "name",
        "user_type",
        "is_guest",
        "admin",
        "deactivated",
        "shadow_banned",
        "displayname",
        "avatar_url",
        "creation_ts",
        "approved",
        "erased",
        "last_seen_ts",
        "locked",
    ] {
        assert!(entry.get(key).is_some(), "list entries carry {key}");
    }
    assert!(
        entry["creation_ts"].as_i64().unwrap() > 1_000_000_000_000,
        "list creation_ts is in milliseconds"
    );
    let r = s
        .get("/_synapse/admin/v2/users?from=2&limit=2", Some(&admin))
        .await;
    assert_eq!(names(r.ok()), vec![uid("user2"), uid("user3")]);
    assert!(r.body.get("next_token").is_none());

    let r = s
        .get(
            "/_synapse/admin/v2/users?deactivated=true&dir=b&order_by=name",
            Some(&admin),
        )
        .await;
    assert_eq!(names(r.ok())[0], uid("user4"));
    assert_eq!(r.body["total"], 5);
    let r = s
        .get("/_synapse/admin/v2/users?name=USER2", Some(&admin))
        .await;
    assert_eq!(names(r.ok()), vec![uid("user2")]);
    let r = s
        .get("/_synapse/admin/v2/users?admins=true", Some(&admin))
        .await;
    assert_eq!(names(r.ok()), vec![uid("admin")]);
    let r = s
        .get("/_synapse/admin/v2/users?order_by=size", Some(&admin))
        .await;
    assert!(
        r.err(400, "M_INVALID_PARAM")
            .starts_with("Query parameter 'order_by' must be one of ['name', ")
    );
    let r = s
        .get("/_synapse/admin/v2/users?guests=1", Some(&admin))
        .await;
    assert_eq!(
        r.err(400, "M_INVALID_PARAM"),
        "Boolean query parameter 'guests' must be one of ['true', 'false']"
    );
}

async fn admin_flag(b: Backend) {
    let s = TestServer::start(b).await;
    let (root, admin) = s.register("root", "pw", true).await;
    let (mia, mia_tok) = s.register("mia", "pw", false).await;
    let path = |u: &str| format!("/_synapse/admin/v1/users/{}/admin", enc(u));
    assert_eq!(
        s.get(&path(&mia), Some(&admin)).await.ok(),
        &json!({"admin": false})
    );
    assert_eq!(
        s.get(&path(&uid("ghost")), Some(&admin)).await.ok(),
        &json!({"admin": false})
    );
    s.get("/_synapse/admin/v2/users", Some(&mia_tok))
        .await
        .err(403, "M_FORBIDDEN");
    assert_eq!(
        s.put(&path(&mia), Some(&admin), json!({"admin": true}))
            .await
            .ok(),
        &json!({})
    );
    s.get("/_synapse/admin/v2/users", Some(&mia_tok)).await.ok();
    let r = s.put(&path(&mia), Some(&admin), json!({})).await;
    assert_eq!(r.err(400, "M_MISSING_PARAM"), "Missing params: ['admin']");
    let r = s
        .put(&path(&root), Some(&admin), json!({"admin": false}))
        .await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "You may not demote yourself.");
    let r = s
        .put(&path("@x:elsewhere"), Some(&admin), json!({"admin": true}))
        .await;
    assert_eq!(
        r.err(400, "M_UNKNOWN"),
        "Only local users can be admins of this homeserver"
    );
    let r = s
        .put(&path(&uid("ghost")), Some(&admin), json!({"admin": true}))
        .await;
    r.err(404, "M_UNKNOWN");
}

async fn whois(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let (nia, nia_tok) = s.register("nia", "pw", false).await;
    let (_, other) = s.register("other", "pw", false).await;
    // Using a token records where from; the first use is recorded at once.
    s.get("/_matrix/client/v3/account/whoami", Some(&nia_tok))
        .await
        .ok();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let path = format!("/_synapse/admin/v1/whois/{}", enc(&nia));
    let r = s.get(&path, Some(&admin)).await;
    let conns = &r.ok()["devices"][""]["sessions"][0]["connections"];
    assert_eq!(r.body["user_id"], nia);
    assert_eq!(conns[0]["ip"], "127.0.0.1");
    assert!(conns[0]["last_seen"].as_i64().unwrap() > 0);
    s.get(&path, Some(&nia_tok)).await.ok();
    s.get(&path, Some(&other)).await.err(403, "M_FORBIDDEN");
    // The user ID is checked before authentication.
    s.get("/_synapse/admin/v1/whois/nobody", None)
        .await
        .err(400, "M_INVALID_PARAM");
    let r = s
        .get("/_synapse/admin/v1/whois/%40x%3Aelsewhere", Some(&admin))
        .await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Can only whois a local user");
    s.get(
        &format!("/_matrix/client/v3/admin/whois/{}", enc(&nia)),
        Some(&admin),
    )
    .await
    .ok();
}
