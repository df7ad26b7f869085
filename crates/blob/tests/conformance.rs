//! One conformance suite for every blob store: the filesystem always, S3 when
//! `MXCD_TEST_S3_ENDPOINT` names an S3-compatible server (required under `CI=true`).

use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::SystemTime,
};

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _, stream};
use mxcd_blob::{BlobError, BlobKey, BlobStore, ByteStream, FsStore, S3Config, S3Store};

fn body(data: &[u8], chunk: usize) -> ByteStream {
    let chunks: Vec<io::Result<Bytes>> = data
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(chunks).boxed()
}

async fn read(
    store: &dyn BlobStore,
    key: &BlobKey,
    range: Option<std::ops::Range<u64>>,
) -> Vec<u8> {
    let s = store.get(key, range).await.unwrap();
    s.try_fold(Vec::new(), |mut acc, b| async move {
        acc.extend_from_slice(&b);
        Ok(acc)
    })
    .await
    .unwrap()
}

fn sample(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

async fn suite(store: &dyn BlobStore) {
    assert!(
        store.list().await.unwrap().is_empty(),
        "a new store is empty"
    );

    // Round trip with hash and size; multi-part sized on S3 (over one 8 MiB part).
    let data = sample(9 * 1024 * 1024 + 123);
    let put = store.put(body(&data, 256 * 1024), 50 << 20).await.unwrap();
    assert_eq!(put.size, data.len() as u64);
    use sha2::Digest as _;
    assert_eq!(put.sha256, hex::encode(sha2::Sha256::digest(&data)));
    assert_eq!(store.size(&put.key).await.unwrap(), data.len() as u64);
    let age = SystemTime::now()
        .duration_since(store.modified(&put.key).await.unwrap())
        .unwrap_or_default();
    assert!(
        age < std::time::Duration::from_secs(120),
        "modified is about now: {age:?}"
    );
    assert!(read(store, &put.key, None).await == data);

    // Ranges: first bytes, middle slice, the last bytes, empty.
    let n = data.len() as u64;
    assert_eq!(read(store, &put.key, Some(0..10)).await, &data[..10]);
    assert_eq!(
        read(store, &put.key, Some(1000..5000)).await,
        &data[1000..5000]
    );
    assert_eq!(
        read(store, &put.key, Some(n - 7..n)).await,
        &data[data.len() - 7..]
    );
    assert!(read(store, &put.key, Some(5..5)).await.is_empty());
    // A range across several read chunks, starting and ending inside one.
    assert!(read(store, &put.key, Some(500_001..2_600_003)).await == data[500_001..2_600_003]);
    assert!(matches!(
        store.get(&put.key, Some(0..n + 1)).await,
        Err(BlobError::BadRange { .. })
    ));

    // Sizes around the filesystem store's read sizes (512 KiB chunks, whole up to 1 MiB).
    for n in [512 * 1024 + 1, 1024 * 1024, 1024 * 1024 + 1] {
        let put = store
            .put(body(&data[..n], 64 * 1024), 50 << 20)
            .await
            .unwrap();
        assert!(read(store, &put.key, None).await == data[..n]);
        assert!(read(store, &put.key, Some(1..n as u64)).await == data[1..n]);
        store.delete(&put.key).await.unwrap();
    }

    // Sizes around 4 KiB blocks and the filesystem store's 1 MiB write batches, in odd-sized
    // chunks that straddle every boundary, and in one chunk.
    let mib = 1024 * 1024;
    for (n, chunk) in [
        (1, 1),
        (4095, 1000),
        (4096, 1000),
        (4097, 4096),
        (3 * 4096 + 5, 3 * 4096 + 5),
        (mib - 1, 1000),
        (mib, 65_536),
        (mib + 4097, 7_777),
        (2 * mib + 1, mib + 3),
    ] {
        let put = store.put(body(&data[..n], chunk), 50 << 20).await.unwrap();
        assert_eq!(put.size, n as u64);
        assert!(read(store, &put.key, None).await == data[..n], "{n} bytes");
        store.delete(&put.key).await.unwrap();
    }

    // Identical bytes give a new key: de-duplication is the metadata layer's job.
    let small = store.put(body(b"hello", 2), 5).await.unwrap();
    assert_eq!(small.size, 5);
    let empty = store.put(body(b"", 1), 5).await.unwrap();
    assert_eq!(
        (empty.size, read(store, &empty.key, None).await.len()),
        (0, 0)
    );

    // Over the cap: refused and nothing stored, even with the cap crossed mid-chunk.
    let before = store.list().await.unwrap();
    assert!(matches!(
        store.put(body(&sample(100), 30), 99).await,
        Err(BlobError::TooLarge { limit: 99 })
    ));
    assert!(matches!(
        store.put(body(&sample(20 << 20), 1 << 20), 10 << 20).await,
        Err(BlobError::TooLarge { .. })
    ));
    // A body that fails half-way is not stored either.
    let failing = stream::iter(vec![
        Ok(Bytes::from_static(b"abc")),
        Err(io::Error::other("client went away")),
    ])
    .boxed();
    assert!(matches!(
        store.put(failing, 100).await,
        Err(BlobError::Body(_))
    ));
    assert_eq!(store.list().await.unwrap(), before);

    // Received bytes may be aborted instead of published: nothing under the key, nothing left
    // in flight (9 MiB: the file is partly written, or an S3 part uploaded, by then).
    let received = store
        .receive(body(&sample(9 << 20), 1 << 20), 50 << 20)
        .await
        .unwrap();
    assert_eq!(received.stored.size, 9 << 20);
    let aborted = received.stored.key.clone();
    received.abort().await;
    assert!(matches!(
        store.get(&aborted, None).await,
        Err(BlobError::NotFound)
    ));
    assert_eq!(store.list().await.unwrap(), before);
    let later = SystemTime::now() + std::time::Duration::from_secs(1);
    assert_eq!(store.sweep_incomplete(later).await.unwrap(), 0);

    // Publishing runs `then` (once, before the sync is done), and the bytes are there.
    let ran = Arc::new(AtomicUsize::new(0));
    let received = store.receive(body(b"published", 4), 100).await.unwrap();
    let counter = ran.clone();
    let then = Box::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let published = received.publish(Some(then)).await.unwrap().sync().await;
    let published = published.unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(read(store, &published.key, None).await, b"published");
    store.delete(&published.key).await.unwrap();

    // Listing, deleting (idempotent), missing keys.
    let mut want = vec![put.key.clone(), small.key.clone(), empty.key.clone()];
    want.sort();
    assert_eq!(store.list().await.unwrap(), want);
    store.delete(&small.key).await.unwrap();
    store.delete(&small.key).await.unwrap();
    assert!(matches!(
        store.size(&small.key).await,
        Err(BlobError::NotFound)
    ));
    assert!(matches!(
        store.get(&small.key, None).await,
        Err(BlobError::NotFound)
    ));
    assert!(matches!(
        store.get(&BlobKey::generate(), Some(0..1)).await,
        Err(BlobError::NotFound)
    ));
    assert_eq!(store.list().await.unwrap().len(), 2);
    assert_eq!(store.sweep_incomplete(SystemTime::now()).await.unwrap(), 0);
}

#[tokio::test]
async fn conformance_fs() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    suite(&store).await;
    // Leftovers of crashed uploads are swept, fresh ones kept: a part file beside the blobs, and
    // one in the `tmp` directory of earlier versions.
    let kept = store.list().await.unwrap();
    std::fs::create_dir_all(dir.path().join("blobs/zz")).unwrap();
    std::fs::write(dir.path().join("blobs/zz/abandoned.part"), b"partial").unwrap();
    std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
    std::fs::write(dir.path().join("tmp/abandoned"), b"partial").unwrap();
    assert_eq!(
        store.list().await.unwrap(),
        kept,
        "part files are not blobs"
    );
    assert_eq!(
        store
            .sweep_incomplete(SystemTime::UNIX_EPOCH)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .sweep_incomplete(SystemTime::now() + std::time::Duration::from_secs(1))
            .await
            .unwrap(),
        2
    );
    assert!(!dir.path().join("blobs/zz/abandoned.part").exists());
    assert!(!dir.path().join("tmp/abandoned").exists());
    assert_eq!(store.list().await.unwrap(), kept, "blobs are not swept");
}

/// Blobs are stored one directory level deep, `blobs/ab/<key>`, and put leaves only the blob.
#[tokio::test]
async fn fs_layout() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    let put = store.put(body(b"bytes", 2), 100).await.unwrap();
    let k = put.key.as_str();
    let shard = dir.path().join("blobs").join(&k[..2]);
    assert_eq!(std::fs::read(shard.join(k)).unwrap(), b"bytes");
    assert_eq!(
        std::fs::read_dir(&shard).unwrap().count(),
        1,
        "no part file left"
    );
    assert!(!dir.path().join("tmp").exists());
}

/// `then` runs once the blob is readable under its final name, with no part file beside it,
/// and before the sync is awaited.
#[tokio::test]
async fn fs_publish_runs_then_once_readable() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    let received = store.receive(body(b"bytes", 2), 100).await.unwrap();
    let k = received.stored.key.as_str().to_owned();
    let shard = dir.path().join("blobs").join(&k[..2]);
    let (seen_tx, seen) = std::sync::mpsc::channel();
    let then = Box::new(move || {
        let names: Vec<String> = std::fs::read_dir(&shard)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        seen_tx
            .send((names, std::fs::read(shard.join(&k)).ok()))
            .unwrap();
    });
    let staged = received.publish(Some(then)).await.unwrap();
    let (names, bytes) = seen.recv().unwrap();
    assert_eq!(names, vec![staged.stored.key.as_str().to_owned()]);
    assert_eq!(bytes.as_deref(), Some(&b"bytes"[..]));
    staged.sync().await.unwrap();
}

/// Bytes of `path` resident in the page cache, from util-linux's `fincore`.
fn resident(path: &std::path::Path) -> u64 {
    let out = std::process::Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES"])
        .arg(path)
        .output()
        .expect("fincore (util-linux) is needed by this test");
    assert!(out.status.success(), "fincore failed: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A synced blob leaves the page cache, unless the store is told to keep it there.
#[tokio::test]
async fn fs_drops_synced_blobs_from_the_page_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = |key: &BlobKey| {
        let k = key.as_str();
        dir.path().join("blobs").join(&k[..2]).join(k)
    };
    let data = sample(1 << 20);
    let store = FsStore::open(dir.path()).await.unwrap();
    let dropped = store.put(body(&data, 64 << 10), 2 << 20).await.unwrap().key;
    assert_eq!(resident(&path(&dropped)), 0, "dropped once synced");
    assert_eq!(
        read(&store, &dropped, None).await,
        data,
        "and still reads whole"
    );

    let keeping = FsStore::open(dir.path())
        .await
        .unwrap()
        .keep_written_in_page_cache(true);
    let other = sample(1 << 20)
        .into_iter()
        .map(|b| b ^ 1)
        .collect::<Vec<_>>();
    let kept = keeping
        .put(body(&other, 64 << 10), 2 << 20)
        .await
        .unwrap()
        .key;
    assert!(resident(&path(&kept)) > 0, "kept when asked");
}

/// A store written by earlier versions (32-character keys at `blobs/ab/cd/<key>`, uploads in
/// flight under `tmp/`) still reads, lists, deletes and sweeps, beside new blobs.
#[tokio::test]
async fn fs_reads_the_old_layout() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    let new = store.put(body(b"new bytes", 4), 100).await.unwrap().key;
    let same_shard = store.put(body(b"neighbour", 4), 100).await.unwrap().key;
    // An old blob in the same top-level directory as that new one, written as earlier versions
    // did.
    let prefix = &same_shard.as_str()[..2];
    let old = format!("{prefix}23456789abcdefghijklmnopqrstuv");
    let old_dir = dir.path().join("blobs").join(prefix).join(&old[2..4]);
    std::fs::create_dir_all(&old_dir).unwrap();
    std::fs::write(old_dir.join(&old), b"old bytes").unwrap();
    let old = BlobKey::parse(&old).unwrap();
    let mut want = vec![old.clone(), new.clone(), same_shard.clone()];
    want.sort();
    assert_eq!(store.list().await.unwrap(), want);
    assert_eq!(read(&store, &old, None).await, b"old bytes");
    assert_eq!(read(&store, &old, Some(4..9)).await, b"bytes");
    assert_eq!(store.size(&old).await.unwrap(), 9);
    assert!(store.modified(&old).await.is_ok());
    assert_eq!(read(&store, &same_shard, None).await, b"neighbour");
    assert_eq!(
        store
            .sweep_incomplete(SystemTime::now() + std::time::Duration::from_secs(1))
            .await
            .unwrap(),
        0,
        "an old blob is not an incomplete upload"
    );
    store.delete(&old).await.unwrap();
    assert!(!old_dir.join(old.as_str()).exists());
    let mut want = vec![new, same_shard];
    want.sort();
    assert_eq!(store.list().await.unwrap(), want);
}

#[tokio::test]
async fn conformance_s3() {
    let Some(endpoint) = std::env::var("MXCD_TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but MXCD_TEST_S3_ENDPOINT is not set"
        );
        eprintln!("skipped: MXCD_TEST_S3_ENDPOINT is not set");
        return;
    };
    let cfg = S3Config {
        endpoint,
        region: "us-east-1".into(),
        bucket: std::env::var("MXCD_TEST_S3_BUCKET").unwrap_or_else(|_| "mxcd-test".into()),
        prefix: format!("conformance-{}/", BlobKey::generate()),
        access_key_id: "test".into(),
        secret_access_key: "testtesttest".into(),
    };
    suite(&S3Store::new(&cfg).unwrap()).await;
}
