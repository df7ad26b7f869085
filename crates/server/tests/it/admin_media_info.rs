//! Media info, protection and the quarantine change stream over HTTP (reference §1.8–1.10, §0.1
//! and their Part 5 lines).

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    admin_quarantine::{PHOTO, V1, admin_post, quarantined_by, setup},
    harness::{Backend, TestServer},
    media::upload,
};

crate::backend_tests!(
    local_media_info,
    remote_media_info,
    protect_and_unprotect,
    changes_of_an_empty_stream,
    changes_are_paged_by_100,
    bad_from_tokens
);

const KEYS: [&str; 14] = [
    "media_origin",
    "user_id",
    "media_id",
    "media_type",
    "media_length",
    "upload_name",
    "created_ts",
    "filesystem_id",
    "url_cache",
    "last_access_ts",
    "quarantined_by",
    "authenticated",
    "safe_from_quarantine",
    "sha256",
];

async fn info(s: &TestServer, admin: &str, server: &str, id: &str) -> Value {
    let r = s
        .get(&format!("{V1}/media/{server}/{id}"), Some(admin))
        .await;
    let info = r.ok()["media_info"].clone();
    let mut keys: Vec<&str> = info
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut expected = KEYS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    info
}

/// A local upload's info; unknown local and uncached remote media are 404 "Unknown media".
async fn local_media_info(b: Backend) {
    let (s, admin, admin_id, _) = setup(b).await;
    let id = upload(
        &s,
        &admin,
        b"{\"a\": 1}",
        "application/json",
        "?filename=test.png",
    )
    .await;
    let i = info(&s, &admin, "test.local", &id).await;
    assert_eq!(i["authenticated"], true);
    assert_eq!(i["safe_from_quarantine"], false);
    assert_eq!(i["media_id"], id.as_str());
    assert_eq!(i["media_length"], 8);
    assert_eq!(i["media_type"], "application/json");
    assert_eq!(i["upload_name"], "test.png");
    assert_eq!(i["user_id"], admin_id.as_str());
    assert_eq!(i["media_origin"], Value::Null);
    assert_eq!(i["filesystem_id"], Value::Null);
    assert_eq!(i["url_cache"], Value::Null);
    assert_eq!(i["quarantined_by"], Value::Null);
    assert_eq!(i["last_access_ts"], Value::Null);
    assert!(i["created_ts"].as_i64().unwrap() > 1_600_000_000_000);
    let sha = i["sha256"].as_str().unwrap();
    assert!(
        sha.len() == 64
            && sha
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    for path in ["test.local/nosuchmedia", "remote.example/notcached"] {
        let r = s.get(&format!("{V1}/media/{path}"), Some(&admin)).await;
        assert_eq!(r.err(404, "M_NOT_FOUND"), "Unknown media");
    }
}

/// A cached remote item: origin, type and name; no user, URL cache or protection.
async fn remote_media_info(b: Backend) {
    let (s, admin, _, _) = setup(b).await;
    s.sql(
        "INSERT INTO blobs (sha256, storage_key, size, refcount, created_ts) VALUES \
         ('0000000000000000000000000000000000000000000000000000000000000000', 'k-remote', 67, 1, 5)",
    )
    .await;
    s.sql(
        "INSERT INTO media (origin, media_id, media_type, media_length, upload_name, sha256, \
         created_ts, last_access_ts, authenticated) VALUES ('remote.com', 'remotemedia', \
         'image/png', 67, 'test.png', \
         '0000000000000000000000000000000000000000000000000000000000000000', 1000, 2000, TRUE)",
    )
    .await;
    let i = info(&s, &admin, "remote.com", "remotemedia").await;
    assert_eq!(i["authenticated"], true);
    assert_eq!(i["media_type"], "image/png");
    assert_eq!(i["upload_name"], "test.png");
    assert_eq!(i["media_origin"], "remote.com");
    assert_eq!(i["user_id"], Value::Null);
    assert_eq!(i["url_cache"], Value::Null);
    assert_eq!(i["safe_from_quarantine"], Value::Null);
    assert_eq!(i["filesystem_id"], "k-remote");
    assert_eq!(
        (i["created_ts"].clone(), i["last_access_ts"].clone()),
        (json!(1000), json!(2000))
    );
    // Quarantining the remote item by ID works on the cached copy.
    admin_post(&s, &admin, "/media/quarantine/remote.com/remotemedia").await;
    let i = info(&s, &admin, "remote.com", "remotemedia").await;
    assert_eq!(i["quarantined_by"], "@admin:test.local");
}

/// Protect and unprotect flip `safe_from_quarantine` and leave `quarantined_by` alone; unknown
/// media is 404 `M_UNKNOWN`; other methods on those paths are 405.
async fn protect_and_unprotect(b: Backend) {
    let (s, admin, admin_id, user) = setup(b).await;
    let id = upload(&s, &user, PHOTO, "image/jpeg", "").await;
    assert_eq!(
        admin_post(&s, &admin, &format!("/media/protect/{id}")).await,
        json!({})
    );
    assert_eq!(
        info(&s, &admin, "test.local", &id).await["safe_from_quarantine"],
        true
    );
    assert_eq!(
        admin_post(&s, &admin, &format!("/media/unprotect/{id}")).await,
        json!({})
    );
    assert_eq!(
        info(&s, &admin, "test.local", &id).await["safe_from_quarantine"],
        false
    );

    admin_post(&s, &admin, &format!("/media/quarantine/test.local/{id}")).await;
    admin_post(&s, &admin, &format!("/media/protect/{id}")).await;
    assert_eq!(quarantined_by(&s, &admin, &id).await, admin_id.as_str());

    for action in ["protect", "unprotect"] {
        let r = s
            .post(
                &format!("{V1}/media/{action}/nosuchmedia"),
                Some(&admin),
                json!({}),
            )
            .await;
        assert_eq!(
            r.err(404, "M_UNKNOWN"),
            "No row found (local_media_repository)"
        );
        for method in [Method::GET, Method::DELETE] {
            let r = s
                .req(
                    method,
                    &format!("{V1}/media/{action}/{id}"),
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(r.err(405, "M_UNRECOGNIZED"), "Unrecognized request");
        }
    }
}

async fn changes(s: &TestServer, admin: &str, query: &str) -> Value {
    s.get(
        &format!("{V1}/media/quarantine_changes{query}"),
        Some(admin),
    )
    .await
    .ok()
    .clone()
}

/// A fresh server: no changes, `next_batch` 1.
async fn changes_of_an_empty_stream(b: Backend) {
    let (s, admin, _, _) = setup(b).await;
    assert_eq!(
        changes(&s, &admin, "").await,
        json!({"next_batch": 1, "changes": []})
    );
    assert_eq!(
        changes(&s, &admin, "?from=1").await,
        json!({"next_batch": 1, "changes": []})
    );
}

/// Reference §1.8's test: 105 identical uploads quarantined at once, then an unquarantine.
async fn changes_are_paged_by_100(b: Backend) {
    let (s, admin, _, user) = setup(b).await;
    let mut first = String::new();
    for i in 0..105 {
        let id = upload(&s, &user, b"same bytes", "text/plain", "").await;
        if i == 0 {
            first = id;
        }
    }
    admin_post(&s, &admin, &format!("/media/quarantine/test.local/{first}")).await;
    let page = changes(&s, &admin, "").await;
    let list = page["changes"].as_array().unwrap();
    assert_eq!((list.len(), page["next_batch"].clone()), (100, json!(101)));
    for c in list {
        assert_eq!(
            (c["origin"].clone(), c["quarantined"].clone()),
            (json!("test.local"), json!(true))
        );
        assert_eq!(c["media_id"].as_str().unwrap().len(), 24);
    }
    let page = changes(&s, &admin, "?from=101").await;
    assert_eq!(page["changes"].as_array().unwrap().len(), 5);
    assert_eq!(page["next_batch"], 106);
    assert_eq!(
        changes(&s, &admin, "?from=106").await,
        json!({"next_batch": 106, "changes": []})
    );

    admin_post(
        &s,
        &admin,
        &format!("/media/unquarantine/test.local/{first}"),
    )
    .await;
    let page = changes(&s, &admin, "?from=106").await;
    let list = page["changes"].as_array().unwrap();
    assert_eq!((list.len(), page["next_batch"].clone()), (100, json!(206)));
    assert!(list.iter().all(|c| c["quarantined"] == false));
}

/// `from` beyond the stream, negative, or not an integer → 400 `M_INVALID_PARAM`.
async fn bad_from_tokens(b: Backend) {
    let (s, admin, _, _) = setup(b).await;
    for (query, message) in [
        ("?from=900000", None),
        ("?from=2", None),
        (
            "?from=-1",
            Some("Query parameter from must be a positive integer."),
        ),
        ("?from=abc", Some("Query parameter from must be an integer")),
        (
            "?from=99999999999999999999",
            Some("Query parameter from must be an integer"),
        ),
    ] {
        let r = s
            .get(
                &format!("{V1}/media/quarantine_changes{query}"),
                Some(&admin),
            )
            .await;
        let got = r.err(400, "M_INVALID_PARAM");
        if let Some(m) = message {
            assert_eq!(got, m, "{query}");
        }
    }
}
