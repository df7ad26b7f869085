//! Uploads that commit their metadata while their bytes are synced (SQLite), and the check at
//! startup that removes media whose bytes a crash lost (services/media/durable.rs).

use std::{ops::Range, sync::Arc, time::SystemTime};

use async_trait::async_trait;
use mxcd_blob::{
    BlobError, BlobKey, BlobStore, ByteStream, OnPublished, Publish, Received, SyncFuture,
};
use mxcd_db::{Db, NewBlob, NewMedia};
use mxcd_server::services::media::MediaError;
use serde_json::Value;

use crate::{
    harness::{Backend, Storage, TestServer},
    media_service::{body, read_all, setup, setup_with, upload},
};

crate::storage_tests!(
    uploads_overlap_commit_and_sync_on_sqlite,
    recovery_keeps_intact_content_and_removes_lost,
    a_failed_sync_leaves_nothing,
    a_duplicate_syncs_content_still_flagged,
    startup_removes_media_whose_bytes_were_lost
);

fn id(mxc: &str) -> String {
    mxc.rsplit('/').next().unwrap().to_owned()
}

/// Records `data` as media `media_id` the way an overlapping upload does before its sync:
/// stored, and committed with its blob flagged.
async fn flagged(
    db: &Db,
    store: &Arc<dyn BlobStore>,
    media_id: &str,
    data: &'static [u8],
) -> BlobKey {
    let stored = store.put(body(data), 1 << 20).await.unwrap();
    let media = NewMedia {
        origin: "test.local".into(),
        media_id: media_id.into(),
        user_id: Some("@u:test.local".into()),
        media_type: "text/plain".into(),
        upload_name: None,
        created_ts: 1,
        authenticated: true,
    };
    let blob = NewBlob {
        sha256: stored.sha256,
        storage_key: stored.key.to_string(),
        size: stored.size as i64,
    };
    db.insert_media_unsynced(&media, &blob).await.unwrap();
    stored.key
}

async fn flagged_keys(db: &Db) -> Vec<String> {
    let blobs = db.unsynced_blobs().await.unwrap();
    blobs.into_iter().map(|b| b.storage_key).collect()
}

async fn uploads_overlap_commit_and_sync_on_sqlite(b: Backend, st: Storage) {
    let overlaps = matches!((&b, &st), (Backend::Sqlite, Storage::Fs));
    let (svc, db, store, _dir, _pg) = setup(b, st).await;
    svc.upload(upload(), body(b"first")).await.unwrap();
    let first = store.list().await.unwrap();
    assert_eq!(
        flagged_keys(&db).await.len(),
        usize::from(overlaps),
        "only SQLite with a filesystem store commits before the sync, flagged"
    );
    svc.upload(upload(), body(b"second")).await.unwrap();
    let flagged = flagged_keys(&db).await;
    assert!(
        !flagged.contains(&first[0].to_string()),
        "the next batch cleared the first upload's flag"
    );
    assert_eq!(flagged.len(), usize::from(overlaps));
    db.close().await;
}

async fn recovery_keeps_intact_content_and_removes_lost(b: Backend, st: Storage) {
    let fs = matches!(st, Storage::Fs);
    let (svc, db, store, dir, _pg) = setup(b, st).await;
    let plain = id(&svc.upload(upload(), body(b"plain")).await.unwrap());
    flagged(&db, &store, "intact", b"intact").await;
    let lost = flagged(&db, &store, "lost", b"lost").await;
    // A twin of the lost content, uploaded while it was flagged: it shares the lost bytes.
    let twin = id(&svc.upload(upload(), body(b"lost")).await.unwrap());
    store.delete(&lost).await.unwrap();
    if fs {
        let cut = flagged(&db, &store, "cut", b"cut short").await;
        let shards = std::fs::read_dir(dir.path().join("media/blobs")).unwrap();
        let path = shards
            .map(|d| d.unwrap().path().join(cut.as_str()))
            .find(|p| p.exists())
            .unwrap();
        std::fs::write(path, b"cut").unwrap();
    }

    let report = svc.recover_unsynced().await.unwrap();
    let mut removed: Vec<String> = report.removed_media.into_iter().map(|(_, m)| m).collect();
    removed.sort();
    let mut expected = vec!["lost".to_owned(), twin.clone()];
    if fs {
        expected.push("cut".into());
    }
    expected.sort();
    assert_eq!(removed, expected);
    assert!(flagged_keys(&db).await.is_empty(), "every flag settled");
    for gone in &expected {
        assert!(matches!(
            svc.find("test.local", gone, true).await,
            Err(MediaError::NotFound)
        ));
    }
    assert_eq!(read_all(&svc, "intact").await, b"intact");
    assert_eq!(read_all(&svc, &plain).await, b"plain");
    assert_eq!(db.count_blobs().await.unwrap(), 2, "intact and plain");
    assert_eq!(
        store.list().await.unwrap().len(),
        2,
        "the cut file went too"
    );
    db.close().await;
}

/// A store whose staged bytes never become durable.
#[derive(Debug)]
struct FailingSync(Arc<dyn BlobStore>);

#[async_trait]
impl BlobStore for FailingSync {
    async fn receive(&self, body: ByteStream, limit: u64) -> Result<Received, BlobError> {
        let received = self.0.receive(body, limit).await?;
        Ok(Received::new(
            received.stored.clone(),
            Box::new(FailingPublish(received)),
        ))
    }
    async fn get(&self, key: &BlobKey, range: Option<Range<u64>>) -> Result<ByteStream, BlobError> {
        self.0.get(key, range).await
    }
    async fn size(&self, key: &BlobKey) -> Result<u64, BlobError> {
        self.0.size(key).await
    }
    async fn modified(&self, key: &BlobKey) -> Result<SystemTime, BlobError> {
        self.0.modified(key).await
    }
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.0.delete(key).await
    }
    async fn list(&self) -> Result<Vec<BlobKey>, BlobError> {
        self.0.list().await
    }
    async fn sweep_incomplete(&self, before: SystemTime) -> Result<u64, BlobError> {
        self.0.sweep_incomplete(before).await
    }
}

/// Publishes through the wrapped store, then fails the sync.
struct FailingPublish(Received);

#[async_trait]
impl Publish for FailingPublish {
    fn needs_sync(&self) -> bool {
        true
    }
    async fn publish(
        self: Box<Self>,
        then: Option<OnPublished>,
    ) -> Result<Option<SyncFuture>, BlobError> {
        self.0.publish(then).await?;
        Ok(Some(Box::pin(async {
            Err(BlobError::Backend("injected sync failure".into()))
        })))
    }
    async fn abort(self: Box<Self>) {
        self.0.abort().await;
    }
}

async fn a_failed_sync_leaves_nothing(b: Backend, st: Storage) {
    let wrap = |s: Arc<dyn BlobStore>| Arc::new(FailingSync(s)) as Arc<dyn BlobStore>;
    let (svc, db, store, _dir, _pg) = setup_with(b, st, wrap).await;
    let failed = svc.upload(upload(), body(b"never durable")).await;
    assert!(matches!(failed, Err(MediaError::Blob(_))), "{failed:?}");
    let bytes = db.uploaded_bytes_since("@u:test.local", 0).await.unwrap();
    assert_eq!(bytes, 0, "the row committed beside the sync was taken back");
    assert_eq!(db.count_blobs().await.unwrap(), 0);
    assert!(store.list().await.unwrap().is_empty(), "and the bytes");
    db.close().await;
}

async fn a_duplicate_syncs_content_still_flagged(b: Backend, st: Storage) {
    let fs = matches!(st, Storage::Fs);
    let (svc, db, store, _dir, _pg) = setup(b, st).await;
    let key = flagged(&db, &store, "first", b"shared").await;
    // The first upload's object vanished before its sync: syncing it now fails on a filesystem
    // (S3 objects are durable once written; there is nothing to sync).
    store.delete(&key).await.unwrap();
    let dup = svc.upload(upload(), body(b"shared")).await;
    if fs {
        assert!(
            dup.is_err(),
            "a duplicate is answered only once the content is durable"
        );
        let bytes = db.uploaded_bytes_since("@u:test.local", 0).await.unwrap();
        assert_eq!(bytes, 6, "only the first row");
    } else {
        dup.unwrap();
    }
    db.close().await;
}

async fn startup_removes_media_whose_bytes_were_lost(b: Backend, st: Storage) {
    let mut s = TestServer::start_with(b, |c| st.apply(c)).await;
    let (_, token) = s.register("alice", "pw-alice-1", false).await;
    let up = |data: &'static str| {
        let (s, token) = (&s, token.clone());
        async move {
            let r = s
                .client
                .post(format!("{}/_matrix/media/v3/upload", s.base))
                .bearer_auth(token)
                .body(data)
                .send()
                .await
                .unwrap();
            let v: Value = r.json().await.unwrap();
            id(v["content_uri"].as_str().unwrap())
        }
    };
    let (kept, lost) = (up("kept bytes").await, up("lost bytes").await);
    // The state a power cut during two overlapping uploads can leave: both rows committed and
    // flagged, one object gone.
    s.sql("UPDATE blobs SET unsynced = TRUE").await;
    let row = s.running().media().find("test.local", &lost, true).await;
    let key = BlobKey::parse(&row.unwrap().storage_key.unwrap()).unwrap();
    s.blob_store().await.delete(&key).await.unwrap();

    s.restart().await;
    let download = |m: &str| format!("/_matrix/client/v1/media/download/test.local/{m}");
    s.get(&download(&lost), Some(&token))
        .await
        .err(404, "M_NOT_FOUND");
    let r = s.client.get(format!("{}{}", s.base, download(&kept)));
    let r = r.bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), "kept bytes".as_bytes());
    let flags = s.sql_i64("SELECT COUNT(*) FROM blobs WHERE unsynced").await;
    assert_eq!(flags, 0, "the intact blob's flag was cleared at startup");
    s.stop().await;
}
