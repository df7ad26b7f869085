//! `DELETE /_synapse/admin/v1/media/{server}/{id}` and delete-by-date (`POST …/media/delete`,
//! legacy `POST …/media/{server}/delete`): reference §1.11, §1.12, §3 and their Part 5 lines.

use mxcd_types::time::now_ms;
use reqwest::Method;
use serde_json::json;

use crate::{
    harness::{Backend, Res, Storage, TestServer},
    media::{fetch, upload},
};

crate::backend_tests!(
    auth_lines,
    delete_by_id,
    delete_by_id_ignores_quarantine_and_protection,
    routing_quirks
);
crate::storage_tests!(dedup_then_delete);

mod by_date;

pub(crate) const PNG: &[u8] = include_bytes!("../../../../tests/fixtures/palette.png");
const ADMIN_PATHS: [(&str, &str); 7] = [
    (
        "DELETE",
        "/_synapse/admin/v1/media/test.local/abcdefghijklmnopqrstuvwx",
    ),
    ("POST", "/_synapse/admin/v1/media/delete?before_ts=-1"),
    (
        "POST",
        "/_synapse/admin/v1/media/test.local/delete?before_ts=1",
    ),
    ("POST", "/_synapse/admin/v1/purge_media_cache?before_ts=-5"),
    (
        "GET",
        "/_synapse/admin/v1/users/@x:test.local/media?limit=-5",
    ),
    (
        "DELETE",
        "/_synapse/admin/v1/users/@x:test.local/media?order_by=bar",
    ),
    ("GET", "/_synapse/admin/v1/users/@nobody:elsewhere/media"),
];

/// Runs one SQL statement built at run time.
pub(crate) async fn exec(s: &TestServer, sql: String) {
    s.sql(Box::leak(sql.into_boxed_str())).await;
}

pub(crate) async fn count(s: &TestServer, sql: String) -> i64 {
    s.sql_i64(Box::leak(sql.into_boxed_str())).await
}

pub(crate) async fn call(s: &TestServer, method: &str, path: &str, token: Option<&str>) -> Res {
    let m = Method::from_bytes(method.as_bytes()).unwrap();
    s.req(m, path, token, None).await
}

/// The status of a client v1 download of a local item.
pub(crate) async fn download_status(s: &TestServer, token: &str, id: &str) -> u16 {
    let path = format!("/_matrix/client/v1/media/download/test.local/{id}");
    fetch(s, &path, Some(token), &[]).await.0.as_u16()
}

/// Distinct media uploads: `n` bytes of `fill` each, as text.
pub(crate) fn bytes_of(n: usize, fill: u8) -> &'static [u8] {
    Box::leak(vec![fill; n].into_boxed_slice())
}

/// No token, a bad token, a non-admin token (even with invalid parameters): every endpoint of
/// this part answers 401/401/403 before looking at its parameters.
async fn auth_lines(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, user) = s.register("plain", "pw", false).await;
    for (method, path) in ADMIN_PATHS {
        call(&s, method, path, None)
            .await
            .err(401, "M_MISSING_TOKEN");
        let r = call(&s, method, path, Some("mxcd_not_a_token")).await;
        r.err(401, "M_UNKNOWN_TOKEN");
        assert_eq!(r.body["soft_logout"], false);
        let r = call(&s, method, path, Some(&user)).await;
        assert_eq!(
            r.err(403, "M_FORBIDDEN"),
            "You are not a server admin",
            "{path}"
        );
    }
}

async fn delete_by_id(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let r = call(
        &s,
        "DELETE",
        "/_synapse/admin/v1/media/test.local/nosuchmedia",
        Some(&admin),
    )
    .await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), "Unknown media");
    let id = upload(&s, &admin, PNG, "image/png", "?filename=a.png").await;
    let path = format!("/_synapse/admin/v1/media/unknown_domain/{id}");
    let r = call(&s, "DELETE", &path, Some(&admin)).await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Can only delete local media");
    assert_eq!(
        download_status(&s, &admin, &id).await,
        200,
        "the check came first"
    );
    let thumb = format!("/_matrix/client/v1/media/thumbnail/test.local/{id}?width=32&height=32");
    assert_eq!(fetch(&s, &thumb, Some(&admin), &[]).await.0, 200);
    let keys = s.sql_strings("SELECT storage_key FROM blobs").await;
    assert!(keys.len() > 1, "content and thumbnails: {keys:?}");

    let path = format!("/_synapse/admin/v1/media/test.local/{id}");
    let r = call(&s, "DELETE", &path, Some(&admin)).await;
    assert_eq!(r.ok(), &json!({"deleted_media": [id], "total": 1}));
    // Gone at once on every path, through the download cache too.
    assert_eq!(download_status(&s, &admin, &id).await, 404);
    let legacy = format!("/_matrix/media/v3/download/test.local/{id}");
    assert_eq!(fetch(&s, &legacy, None, &[]).await.0, 404);
    assert_eq!(fetch(&s, &thumb, Some(&admin), &[]).await.0, 404);
    let r = call(&s, "DELETE", &path, Some(&admin)).await;
    r.err(404, "M_NOT_FOUND");
    // Bytes and thumbnails left the store.
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM blobs").await, 0);
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM thumbnails").await, 0);
    let store = s.blob_store().await;
    assert!(store.list().await.unwrap().is_empty());
}

async fn delete_by_id_ignores_quarantine_and_protection(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let q = upload(&s, &admin, b"quarantined", "text/plain", "").await;
    let p = upload(&s, &admin, b"protected", "text/plain", "").await;
    exec(
        &s,
        format!("UPDATE media SET quarantined_by = '@root:test.local' WHERE media_id = '{q}'"),
    )
    .await;
    exec(
        &s,
        format!("UPDATE media SET safe_from_quarantine = TRUE WHERE media_id = '{p}'"),
    )
    .await;
    for id in [&q, &p] {
        let path = format!("/_synapse/admin/v1/media/test.local/{id}");
        let r = call(&s, "DELETE", &path, Some(&admin)).await;
        assert_eq!(r.ok()["total"], 1);
    }
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM media").await, 0);
}

/// `GET`/`DELETE` on the legacy delete path hit its POST-only route: 405, as in Synapse.
async fn routing_quirks(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    for method in ["GET", "DELETE"] {
        let r = call(
            &s,
            method,
            "/_synapse/admin/v1/media/test.local/delete",
            Some(&admin),
        )
        .await;
        assert_eq!(r.err(405, "M_UNRECOGNIZED"), "Unrecognized request");
    }
}

/// Two identical uploads share one blob: deleting one leaves the other whole (download and
/// thumbnails); deleting the other removes the bytes and the thumbnails from the store.
async fn dedup_then_delete(b: Backend, st: Storage) {
    let s = crate::media::server(b, st, |_| {}).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let one = upload(&s, &admin, PNG, "image/png", "").await;
    let two = upload(&s, &admin, PNG, "image/png", "").await;
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM media").await, 2);
    // Both rows are now in the download cache; the bytes stay for `two`, so only the cache
    // invalidation makes `one` answer 404.
    for id in [&one, &two] {
        assert_eq!(download_status(&s, &admin, id).await, 200);
    }
    let objects = s.blob_store().await.list().await.unwrap().len();
    assert!(objects > 1, "the content and its thumbnails: {objects}");
    let thumb =
        |id: &str| format!("/_matrix/client/v1/media/thumbnail/test.local/{id}?width=32&height=32");
    let r = call(
        &s,
        "DELETE",
        &format!("/_synapse/admin/v1/media/test.local/{one}"),
        Some(&admin),
    )
    .await;
    assert_eq!(r.ok()["total"], 1);
    assert_eq!(download_status(&s, &admin, &one).await, 404);
    assert_eq!(fetch(&s, &thumb(&one), Some(&admin), &[]).await.0, 404);
    let (status, _, body) = fetch(
        &s,
        &format!("/_matrix/client/v1/media/download/test.local/{two}"),
        Some(&admin),
        &[],
    )
    .await;
    assert_eq!((status.as_u16(), &body[..]), (200, PNG));
    assert_eq!(fetch(&s, &thumb(&two), Some(&admin), &[]).await.0, 200);
    assert_eq!(s.blob_store().await.list().await.unwrap().len(), objects);

    let r = call(
        &s,
        "DELETE",
        &format!("/_synapse/admin/v1/media/test.local/{two}"),
        Some(&admin),
    )
    .await;
    assert_eq!(r.ok()["total"], 1);
    assert_eq!(fetch(&s, &thumb(&two), Some(&admin), &[]).await.0, 404);
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM blobs").await, 0);
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM thumbnails").await, 0);
    assert!(
        s.blob_store().await.list().await.unwrap().is_empty(),
        "objects left in the store"
    );
}

/// Two instances share one PostgreSQL database and one store: media deleted through one (by
/// ID and by date) stops being served by the other, whose download cache held it, well
/// within the cache's 10 s expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_instance_stops_serving_at_once() {
    let Some(b) = Backend::postgres() else {
        return eprintln!("skipped: MXCD_TEST_POSTGRES_URL is not set");
    };
    let a = TestServer::start(b).await;
    let media_dir = a.cfg.data_dir.join("media");
    let db_url = a.cfg.database.url.clone();
    let other = TestServer::start_with(Backend::Sqlite, |c| {
        c.database.url = db_url;
        c.storage.path = Some(media_dir);
    })
    .await;
    let (_, admin) = a.register("root", "pw", true).await;
    // Each victim has a twin with the same bytes that stays (protected from delete-by-date),
    // so the bytes remain: only the cache invalidation can make the other instance answer 404.
    let by_id = upload(&a, &admin, b"one", "text/plain", "").await;
    let mut twins = vec![upload(&a, &admin, b"one", "text/plain", "").await];
    let mut by_date = Vec::new();
    for i in 0..30 {
        by_date.push(upload(&a, &admin, bytes_of(i + 1, b'z'), "text/plain", "").await);
        twins.push(upload(&a, &admin, bytes_of(i + 1, b'z'), "text/plain", "").await);
    }
    let list = twins
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    exec(
        &a,
        format!("UPDATE media SET safe_from_quarantine = TRUE WHERE media_id IN ({list})"),
    )
    .await;
    for id in by_date.iter().chain([&by_id]) {
        assert_eq!(download_status(&other, &admin, id).await, 200);
    }
    let r = call(
        &a,
        "DELETE",
        &format!("/_synapse/admin/v1/media/test.local/{by_id}"),
        Some(&admin),
    )
    .await;
    r.ok();
    let path = format!("/_synapse/admin/v1/media/delete?before_ts={}", now_ms() + 1);
    assert_eq!(
        call(&a, "POST", &path, Some(&admin)).await.ok()["total"],
        30
    );
    let start = std::time::Instant::now();
    for id in by_date.iter().chain([&by_id]) {
        while download_status(&other, &admin, id).await != 404 {
            assert!(
                start.elapsed().as_secs() < 2,
                "{id} still served by the other instance"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    for id in &twins {
        assert_eq!(download_status(&other, &admin, id).await, 200);
    }
}
