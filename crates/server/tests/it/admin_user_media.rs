//! `GET` and `DELETE /_synapse/admin/v1/users/{userId}/media`: reference §1.14, §1.15 and their
//! Part 5 lines (the auth lines are in `admin_media_delete::auth_lines`).

use serde_json::{Value, json};

use crate::{
    admin_media_delete::{PNG, bytes_of, call, download_status, exec},
    harness::{Backend, TestServer},
    media::upload,
};

crate::backend_tests!(
    user_checks_and_parameters,
    pagination,
    item_fields,
    orderings,
    null_order_and_tie_breaker,
    delete_pages
);

const ME: &str = "/_synapse/admin/v1/users/@root:test.local/media";

fn ids(v: &Value) -> Vec<String> {
    v["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["media_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn user_checks_and_parameters(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    for method in ["GET", "DELETE"] {
        let r = call(
            &s,
            method,
            "/_synapse/admin/v1/users/@unknown_person:test.local/media",
            Some(&admin),
        )
        .await;
        assert_eq!(r.err(404, "M_NOT_FOUND"), "Unknown user");
        let r = call(
            &s,
            method,
            "/_synapse/admin/v1/users/@unknown_person:unknown_domain/media",
            Some(&admin),
        )
        .await;
        assert_eq!(r.err(400, "M_UNKNOWN"), "Can only look up local users");
        for bad in ["nobody", "@nocolon"] {
            let r = call(
                &s,
                method,
                &format!("/_synapse/admin/v1/users/{bad}/media"),
                Some(&admin),
            )
            .await;
            r.err(400, "M_INVALID_PARAM");
        }
        let r = call(&s, method, &format!("{ME}?order_by=bar"), Some(&admin)).await;
        let msg = r.err(400, "M_INVALID_PARAM");
        assert!(
            msg.starts_with("Query parameter 'order_by' must be one of ['media_id', "),
            "{msg}"
        );
        let r = call(&s, method, &format!("{ME}?dir=bar"), Some(&admin)).await;
        assert_eq!(
            r.err(400, "M_INVALID_PARAM"),
            "Query parameter 'dir' must be one of ['b', 'f']"
        );
        let r = call(&s, method, &format!("{ME}?limit=-5"), Some(&admin)).await;
        assert_eq!(
            r.err(400, "M_INVALID_PARAM"),
            "Query parameter limit must be a positive integer."
        );
        let r = call(&s, method, &format!("{ME}?from=-5"), Some(&admin)).await;
        assert_eq!(
            r.err(400, "M_INVALID_PARAM"),
            "Query parameter from must be a positive integer."
        );
        let r = call(
            &s,
            method,
            &format!("{ME}?from=99999999999999999999"),
            Some(&admin),
        )
        .await;
        assert_eq!(
            r.err(400, "M_INVALID_PARAM"),
            "Query parameter from must be an integer"
        );
    }
    // No media: empty answers.
    let r = call(&s, "GET", ME, Some(&admin)).await;
    assert_eq!(r.ok(), &json!({"media": [], "total": 0}));
    let r = call(&s, "DELETE", ME, Some(&admin)).await;
    assert_eq!(r.ok(), &json!({"deleted_media": [], "total": 0}));
}

async fn pagination(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    for i in 0..20 {
        upload(&s, &admin, bytes_of(i + 1, b'x'), "text/plain", "").await;
    }
    let page = |q: &'static str| {
        let (s, admin) = (&s, &admin);
        async move {
            call(s, "GET", &format!("{ME}?{q}"), Some(admin))
                .await
                .ok()
                .clone()
        }
    };
    for (q, items, next) in [
        ("limit=5", 5, Some(5)),
        ("from=5", 15, None),
        ("from=5&limit=10", 10, Some(15)),
        ("limit=20", 20, None),
        ("limit=21", 20, None),
        ("limit=19", 19, Some(19)),
        ("from=19", 1, None),
        ("from=25", 0, None),
        // Synapse would answer next_token == from here; mxcd sends none.
        ("from=3&limit=0", 0, None),
        ("limit=99999999999", 20, None),
    ] {
        let v = page(q).await;
        assert_eq!(v["total"], 20, "{q}");
        assert_eq!(v["media"].as_array().unwrap().len(), items, "{q}");
        assert_eq!(v.get("next_token").and_then(Value::as_i64), next, "{q}");
    }
}

async fn item_fields(b: Backend) {
    let s = TestServer::start(b).await;
    let (admin_id, admin) = s.register("root", "pw", true).await;
    let id = upload(&s, &admin, PNG, "image/png", "?filename=image.png").await;
    let v = call(&s, "GET", ME, Some(&admin)).await.ok().clone();
    let m = &v["media"][0];
    let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 12, "{m}");
    assert_eq!(m["media_id"], id.as_str());
    assert_eq!(m["media_type"], "image/png");
    assert_eq!(m["media_length"], PNG.len());
    assert_eq!(m["upload_name"], "image.png");
    assert!(m["created_ts"].as_i64().unwrap() > 0);
    assert_eq!(m["last_access_ts"], Value::Null);
    assert_eq!(m["quarantined_by"], Value::Null);
    assert_eq!(m["url_cache"], Value::Null);
    assert_eq!(m["user_id"], admin_id.as_str());
    // JSON booleans on both backends.
    assert_eq!(m["safe_from_quarantine"], false);
    assert_eq!(m["authenticated"], true);
    assert_eq!(m["sha256"].as_str().unwrap().len(), 64);
    // Pending uploads are listed, with null type and length.
    s.post("/_matrix/media/v1/create", Some(&admin), json!({}))
        .await
        .ok();
    let v = call(&s, "GET", ME, Some(&admin)).await.ok().clone();
    assert_eq!(v["total"], 2);
    assert_eq!(v["media"][0]["media_length"], Value::Null, "newest first");
}

/// Synapse's order test: a (67-byte PNG "image.png"), b (35 bytes "image.gif", protected),
/// c (54 bytes "image.bmp", quarantined), created and accessed in that order.
async fn orderings(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let a = upload(
        &s,
        &admin,
        bytes_of(67, b'a'),
        "application/json",
        "?filename=image.png",
    )
    .await;
    let bb = upload(
        &s,
        &admin,
        bytes_of(35, b'b'),
        "application/json",
        "?filename=image.gif",
    )
    .await;
    let c = upload(
        &s,
        &admin,
        bytes_of(54, b'c'),
        "application/json",
        "?filename=image.bmp",
    )
    .await;
    for (i, id) in [&a, &bb, &c].iter().enumerate() {
        exec(
            &s,
            format!(
                "UPDATE media SET created_ts = {}, last_access_ts = {} WHERE media_id = '{id}'",
                1000 + i,
                5000 + i
            ),
        )
        .await;
    }
    exec(
        &s,
        format!("UPDATE media SET safe_from_quarantine = TRUE WHERE media_id = '{bb}'"),
    )
    .await;
    exec(
        &s,
        format!("UPDATE media SET quarantined_by = '@root:test.local' WHERE media_id = '{c}'"),
    )
    .await;
    let (a, b_, c) = (a.as_str(), bb.as_str(), c.as_str());
    let mut sorted = vec![a, b_, c];
    sorted.sort();
    let rev: Vec<&str> = sorted.iter().rev().copied().collect();
    let mut ac = vec![a, c];
    ac.sort();
    let prot_f = [ac.clone(), vec![b_]].concat();
    let prot_b = [vec![b_], ac].concat();
    for (q, want) in [
        ("", vec![c, b_, a]),
        ("dir=f", vec![a, b_, c]),
        ("dir=b", vec![c, b_, a]),
        ("order_by=media_id", sorted.clone()),
        ("order_by=media_id&dir=b", rev),
        ("order_by=upload_name", vec![c, b_, a]),
        ("order_by=upload_name&dir=b", vec![a, b_, c]),
        ("order_by=media_type", sorted.clone()),
        ("order_by=media_type&dir=b", sorted.clone()),
        ("order_by=media_length", vec![b_, c, a]),
        ("order_by=media_length&dir=b", vec![a, c, b_]),
        ("order_by=created_ts", vec![a, b_, c]),
        ("order_by=created_ts&dir=b", vec![c, b_, a]),
        ("order_by=last_access_ts", vec![a, b_, c]),
        ("order_by=last_access_ts&dir=b", vec![c, b_, a]),
        ("order_by=safe_from_quarantine", prot_f),
        ("order_by=safe_from_quarantine&dir=b", prot_b),
    ] {
        let v = call(&s, "GET", &format!("{ME}?{q}"), Some(&admin))
            .await
            .ok()
            .clone();
        assert_eq!(ids(&v), want, "{q}");
    }
}

/// NULLs sort last ascending and first descending on both backends; ties by media ID
/// ascending in both directions.
async fn null_order_and_tie_breaker(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let mut all = Vec::new();
    for i in 0..4 {
        all.push(upload(&s, &admin, bytes_of(3, b'0' + i), "text/plain", "").await);
    }
    exec(
        &s,
        format!(
            "UPDATE media SET quarantined_by = '@z:test.local' WHERE media_id = '{}'",
            all[0]
        ),
    )
    .await;
    exec(&s, "UPDATE media SET created_ts = 7".into()).await;
    let mut nulls = all[1..].to_vec();
    nulls.sort();
    let v = call(
        &s,
        "GET",
        &format!("{ME}?order_by=quarantined_by"),
        Some(&admin),
    )
    .await
    .ok()
    .clone();
    assert_eq!(ids(&v), [vec![all[0].clone()], nulls.clone()].concat());
    let v = call(
        &s,
        "GET",
        &format!("{ME}?order_by=quarantined_by&dir=b"),
        Some(&admin),
    )
    .await
    .ok()
    .clone();
    assert_eq!(ids(&v), [nulls, vec![all[0].clone()]].concat());
    let mut sorted = all.clone();
    sorted.sort();
    for q in ["order_by=created_ts&dir=f", "order_by=created_ts&dir=b"] {
        let v = call(&s, "GET", &format!("{ME}?{q}"), Some(&admin))
            .await
            .ok()
            .clone();
        assert_eq!(ids(&v), sorted, "{q}");
    }
}

async fn delete_pages(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let mut all = Vec::new();
    for i in 0..20 {
        all.push(upload(&s, &admin, bytes_of(i + 1, b'y'), "text/plain", "").await);
    }
    // Quarantined and protected media go too.
    exec(&s, format!("UPDATE media SET quarantined_by = 'x', safe_from_quarantine = TRUE WHERE media_id = '{}'", all[19])).await;
    let r = call(&s, "DELETE", &format!("{ME}?limit=5"), Some(&admin)).await;
    let v = r.ok().clone();
    assert_eq!(v["total"], 5);
    assert!(v.get("next_token").is_none());
    // Newest first by default: the last five uploads.
    let got: Vec<String> = serde_json::from_value(v["deleted_media"].clone()).unwrap();
    let mut want: Vec<String> = all[15..].iter().rev().cloned().collect();
    let mut sorted_got = got.clone();
    sorted_got.sort();
    want.sort();
    assert_eq!(sorted_got, want);
    for id in &got {
        assert_eq!(download_status(&s, &admin, id).await, 404);
    }
    let r = call(&s, "DELETE", &format!("{ME}?from=5&limit=10"), Some(&admin)).await;
    assert_eq!(r.ok()["total"], 10);
    let r = call(&s, "DELETE", &format!("{ME}?from=2"), Some(&admin)).await;
    assert_eq!(r.ok()["total"], 3);
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM media").await, 2);
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM blobs").await,
        2,
        "bytes go with their media"
    );
}
