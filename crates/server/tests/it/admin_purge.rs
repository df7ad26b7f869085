//! `POST /_synapse/admin/v1/purge_media_cache`: reference §1.13 and its Part 5 lines (the auth
//! lines are in `admin_media_delete::auth_lines`). Remote rows are made through the db layer,
//! and once end to end with two federating instances.

use bytes::Bytes;
use futures_util::stream;
use mxcd_db::{Db, NewBlob, NewMedia};
use mxcd_types::time::now_ms;

use crate::{
    admin_media_delete::{call, download_status, exec},
    federation::start_federating,
    harness::{Backend, TestServer},
    media::upload,
};

crate::backend_tests!(purge_parameters, purge_selection, purge_then_refetch);

const PURGE: &str = "/_synapse/admin/v1/purge_media_cache";

async fn purge_parameters(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let r = call(&s, "POST", PURGE, Some(&admin)).await;
    assert_eq!(
        r.err(400, "M_MISSING_PARAM"),
        "Missing required integer query parameter before_ts"
    );
    let r = call(
        &s,
        "POST",
        &format!("{PURGE}?before_ts=-1234"),
        Some(&admin),
    )
    .await;
    assert_eq!(
        r.err(400, "M_INVALID_PARAM"),
        "Query parameter before_ts must be a positive integer."
    );
    for ts in ["1893456000", "0"] {
        let r = call(&s, "POST", &format!("{PURGE}?before_ts={ts}"), Some(&admin)).await;
        assert!(
            r.err(400, "M_INVALID_PARAM")
                .contains("is from the year 1970")
        );
    }
    let r = call(
        &s,
        "POST",
        &format!("{PURGE}?before_ts=1_000_000_000_000_000_000_000"),
        Some(&admin),
    )
    .await;
    r.err(400, "M_INVALID_PARAM");
    let r = call(
        &s,
        "POST",
        &format!("{PURGE}?before_ts={}", now_ms()),
        Some(&admin),
    )
    .await;
    assert_eq!(r.ok(), &serde_json::json!({"deleted": 0}));
}

/// Caches `bytes` as remote media `origin/media_id` through the store and the db layer.
async fn cache_remote(s: &TestServer, db: &Db, origin: &str, media_id: &str, bytes: &'static [u8]) {
    let store = s.blob_store().await;
    let body = Box::pin(stream::iter([Ok(Bytes::from_static(bytes))]));
    let stored = store.put(body, 1 << 20).await.unwrap();
    let media = NewMedia {
        origin: origin.into(),
        media_id: media_id.into(),
        user_id: None,
        media_type: "text/plain".into(),
        upload_name: None,
        created_ts: 1000,
        authenticated: true,
    };
    let blob = NewBlob {
        sha256: stored.sha256,
        storage_key: stored.key.to_string(),
        size: stored.size as i64,
    };
    if db.insert_media(&media, &blob).await.unwrap() != mxcd_db::BlobOutcome::Stored {
        store.delete(&stored.key).await.unwrap();
    }
}

async fn purge_selection(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let db = Db::connect(&s.database_url(), None).await.unwrap();
    let local = upload(&s, &admin, b"shared bytes", "text/plain", "").await;
    let local_old = upload(&s, &admin, b"local, old", "text/plain", "").await;
    exec(
        &s,
        format!(
            "UPDATE media SET created_ts = 1, last_access_ts = 1 WHERE media_id = '{local_old}'"
        ),
    )
    .await;
    cache_remote(&s, &db, "remote.example", "old", b"remote old").await;
    cache_remote(&s, &db, "remote.example", "shared", b"shared bytes").await;
    cache_remote(&s, &db, "remote.example", "boundary", b"remote boundary").await;
    cache_remote(
        &s,
        &db,
        "other.example:8448",
        "quarantined",
        b"remote quarantined",
    )
    .await;
    cache_remote(&s, &db, "remote.example", "fresh", b"remote fresh").await;
    exec(
        &s,
        "UPDATE media SET last_access_ts = 40000000000 WHERE origin <> 'test.local'".into(),
    )
    .await;
    exec(
        &s,
        "UPDATE media SET last_access_ts = 40000000005 WHERE media_id IN ('boundary', 'fresh')"
            .into(),
    )
    .await;
    exec(
        &s,
        "UPDATE media SET quarantined_by = '@root:test.local' WHERE media_id = 'quarantined'"
            .into(),
    )
    .await;
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM blobs").await, 6);

    let r = call(
        &s,
        "POST",
        &format!("{PURGE}?before_ts=40000000005"),
        Some(&admin),
    )
    .await;
    assert_eq!(r.ok(), &serde_json::json!({"deleted": 2}));
    let left = s
        .sql_strings("SELECT media_id FROM media WHERE origin <> 'test.local' ORDER BY media_id")
        .await;
    assert_eq!(
        left,
        ["boundary", "fresh", "quarantined"],
        "strict bound; quarantine kept"
    );
    // Local media is never touched, and bytes shared with it stay.
    assert_eq!(download_status(&s, &admin, &local).await, 200);
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM media WHERE origin = 'test.local'")
            .await,
        2
    );
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM blobs").await, 5);
    assert_eq!(
        s.blob_store().await.list().await.unwrap().len(),
        5,
        "the purged object left the store"
    );
    db.close().await;
}

/// End to end: a purged remote item is fetched again on the next request.
async fn purge_then_refetch(b: Backend) {
    let (remote, remote_name) = start_federating(b.clone(), |_| {}).await;
    let (local, _) = start_federating(b, |_| {}).await;
    let (_, bob) = remote.register("bob", "pw", false).await;
    let (_, admin) = local.register("root", "pw", true).await;
    let r = remote
        .client
        .post(format!("{}/_matrix/media/v3/upload", remote.base))
        .bearer_auth(&bob)
        .header("content-type", "text/plain")
        .body("from afar")
        .send()
        .await
        .unwrap();
    let uri = TestServer::read(r).await.ok()["content_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = uri.rsplit('/').next().unwrap().to_owned();
    let path = format!("/_matrix/client/v1/media/download/{remote_name}/{id}");
    let get = || async {
        local
            .client
            .get(format!("{}{path}", local.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(get().await.text().await.unwrap(), "from afar");
    let media = local.running().media().clone();
    assert_eq!(media.remote_fetches(), 1);
    let r = call(
        &local,
        "POST",
        &format!("{PURGE}?before_ts={}", now_ms() + 1),
        Some(&admin),
    )
    .await;
    assert_eq!(r.ok()["deleted"], 1);
    assert_eq!(local.sql_i64("SELECT COUNT(*) FROM blobs").await, 0);
    assert_eq!(get().await.text().await.unwrap(), "from afar");
    assert_eq!(media.remote_fetches(), 2, "fetched again");
}
