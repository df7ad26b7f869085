//! De-duplication through the service layer: shared blobs survive until the last reference.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _, stream};
use mxcd_blob::{BlobStore, FsStore, S3Store};
use mxcd_db::{Db, testing::PgTestDb};
use mxcd_server::services::media::{
    MediaError, Service, ThumbnailRequest, ThumbnailSettings, Upload,
};

use crate::harness::{Backend, Storage};

crate::storage_tests!(
    last_reference_frees_the_blob,
    sweep_removes_only_old_orphans,
    thumbnails_go_with_the_last_reference,
    one_render_for_concurrent_requests
);

const PHOTO: &[u8] = include_bytes!("../../../../tests/fixtures/photo-exif6.jpg");

fn image_upload() -> Upload {
    Upload {
        media_type: "image/jpeg".into(),
        ..upload()
    }
}

pub(crate) fn body(data: &'static [u8]) -> mxcd_blob::ByteStream {
    stream::iter([Ok(Bytes::from_static(data))]).boxed()
}

pub(crate) fn upload() -> Upload {
    Upload {
        user_id: "@u:test.local".into(),
        media_type: "text/plain".into(),
        upload_name: None,
    }
}

pub(crate) async fn read_all(svc: &Service, id: &str) -> Vec<u8> {
    let row = svc.find("test.local", id, true).await.unwrap();
    let s = svc.open(&row, None).await.unwrap();
    let chunks: Vec<Bytes> = s.try_collect().await.unwrap();
    chunks.concat()
}

/// A service on a fresh database and store; the guards keep them alive.
pub(crate) async fn setup(b: Backend, st: Storage) -> Setup {
    setup_with(b, st, |s| s).await
}

pub(crate) type Setup = (
    Service,
    Db,
    Arc<dyn BlobStore>,
    tempfile::TempDir,
    Option<PgTestDb>,
);

/// [`setup`] with the service's store wrapped by `wrap` (the plain store is returned).
pub(crate) async fn setup_with(
    b: Backend,
    st: Storage,
    wrap: impl FnOnce(Arc<dyn BlobStore>) -> Arc<dyn BlobStore>,
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (url, _pg) = match b {
        Backend::Sqlite => (
            format!("sqlite://{}", dir.path().join("db").display()),
            None,
        ),
        Backend::Postgres(admin) => {
            let pg = PgTestDb::create(&admin).await;
            (pg.url().to_owned(), Some(pg))
        }
    };
    let db = Db::connect(&url, None).await.unwrap();
    let store: Arc<dyn BlobStore> = match st {
        Storage::Fs => Arc::new(FsStore::open(&dir.path().join("media")).await.unwrap()),
        Storage::S3(_) => {
            let mut cfg = mxcd_server::Config::default();
            st.apply(&mut cfg);
            Arc::new(S3Store::new(&cfg.s3().unwrap().unwrap()).unwrap())
        }
    };
    let svc = Service::new(db.clone(), wrap(store.clone()), "test.local", 1 << 20, true);
    (svc, db, store, dir, _pg)
}

async fn sweep_removes_only_old_orphans(b: Backend, st: Storage) {
    let (svc, db, store, _dir, _pg) = setup(b, st).await;
    let kept = svc.upload(upload(), body(b"referenced")).await.unwrap();
    // Bytes stored with no row: what a crash between storing and committing leaves.
    let orphan = store.put(body(b"orphan"), 100).await.unwrap();
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(
        svc.sweep(hour).await.unwrap(),
        Default::default(),
        "recent objects are left alone"
    );
    assert_eq!(store.list().await.unwrap().len(), 2);
    let report = svc.sweep(std::time::Duration::ZERO).await.unwrap();
    assert_eq!(report.orphaned_blobs, 1);
    assert_eq!(store.list().await.unwrap().len(), 1);
    assert!(matches!(
        store.size(&orphan.key).await,
        Err(mxcd_blob::BlobError::NotFound)
    ));
    let id = kept.rsplit('/').next().unwrap();
    assert_eq!(read_all(&svc, id).await, b"referenced");
    db.close().await;
}

async fn last_reference_frees_the_blob(b: Backend, st: Storage) {
    let (svc, db, store, _dir, _pg) = setup(b, st).await;
    let a = svc.upload(upload(), body(b"shared")).await.unwrap();
    let c = svc.upload(upload(), body(b"shared")).await.unwrap();
    let other = svc.upload(upload(), body(b"other")).await.unwrap();
    let id = |mxc: &str| mxc.rsplit('/').next().unwrap().to_owned();
    let (a, c, other) = (id(&a), id(&c), id(&other));
    assert_eq!(
        store.list().await.unwrap().len(),
        2,
        "two distinct contents, two objects"
    );

    svc.delete("test.local", &a).await.unwrap();
    assert!(matches!(
        svc.find("test.local", &a, true).await,
        Err(MediaError::NotFound)
    ));
    assert_eq!(
        read_all(&svc, &c).await,
        b"shared",
        "the other reference still downloads"
    );
    assert_eq!(store.list().await.unwrap().len(), 2);

    svc.delete("test.local", &c).await.unwrap();
    assert_eq!(
        store.list().await.unwrap().len(),
        1,
        "the last reference takes the bytes"
    );
    assert_eq!(db.count_blobs().await.unwrap(), 1);
    assert_eq!(read_all(&svc, &other).await, b"other");
    db.close().await;
}

async fn thumbnails_go_with_the_last_reference(b: Backend, st: Storage) {
    let (svc, db, store, _dir, _pg) = setup(b, st).await;
    let id = |mxc: String| mxc.rsplit('/').next().unwrap().to_owned();
    let a = id(svc.upload(image_upload(), body(PHOTO)).await.unwrap());
    let c = id(svc.upload(image_upload(), body(PHOTO)).await.unwrap());
    // One original and its four pre-generated thumbnails, shared by both uploads.
    assert_eq!(store.list().await.unwrap().len(), 5);
    svc.delete("test.local", &a).await.unwrap();
    assert_eq!(store.list().await.unwrap().len(), 5, "the twin keeps them");
    let row = svc.find("test.local", &c, true).await.unwrap();
    let req = ThumbnailRequest {
        width: 32,
        height: 32,
        method: "crop".into(),
        animated: false,
    };
    assert_eq!(
        svc.thumbnail(&row, &req).await.ok().unwrap().media_type,
        "image/jpeg"
    );
    svc.delete("test.local", &c).await.unwrap();
    assert!(
        store.list().await.unwrap().is_empty(),
        "bytes and thumbnails are gone"
    );
    assert_eq!(db.count_blobs().await.unwrap(), 0);
    db.close().await;
}

async fn one_render_for_concurrent_requests(b: Backend, st: Storage) {
    let (svc, db, _store, _dir, _pg) = setup(b, st).await;
    let svc = Arc::new(svc.with_thumbnails(ThumbnailSettings {
        dynamic: true,
        ..ThumbnailSettings::default()
    }));
    let mxc = svc.upload(image_upload(), body(PHOTO)).await.unwrap();
    let row = svc
        .find("test.local", mxc.rsplit('/').next().unwrap(), true)
        .await
        .unwrap();
    let before = svc.thumbnail_renders();
    let req = ThumbnailRequest {
        width: 123,
        height: 77,
        method: "crop".into(),
        animated: false,
    };
    let requests = (0..8).map(|_| {
        let (svc, row, req) = (svc.clone(), row.clone(), req.clone());
        tokio::spawn(async move {
            let t = svc.thumbnail(&row, &req).await.ok().unwrap();
            let chunks: Vec<Bytes> = t.body.try_collect().await.unwrap();
            chunks.concat()
        })
    });
    let mut answers = Vec::new();
    for r in requests.collect::<Vec<_>>() {
        answers.push(r.await.unwrap());
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "one thumbnail for all"
    );
    assert_eq!(svc.thumbnail_renders() - before, 1, "made once");
    db.close().await;
}
