//! The local-filesystem store: `<root>/blobs/ab/<key>` (keys of earlier versions at
//! `<root>/blobs/ab/cd/<key>`, see [`BlobKey`]).
//!
//! A put writes `<key>.part` beside its final name while hashing (received), renames it into
//! place once the caller publishes it (published), then `fsync`s the file and the directory
//! (synced), so a blob that `put` reported is on disk. A crash before the sync may leave a
//! partial file under the key; nothing references it unless the caller recorded it after
//! publishing (see `Staged`), and otherwise the orphan sweep removes it. The rename stays
//! inside one directory: a rename across directories takes a lock on the whole filesystem, and
//! dirties two directories.
//! Shard directories are made when first needed, and their parent is synced then.
//!
//! Once a blob is synced its pages are dropped from the page cache (`POSIX_FADV_DONTNEED`)
//! unless [`FsStore::keep_written_in_page_cache`] says otherwise. Uploads are written once and
//! read later, if at all, so the cache is better left to what downloads read. It also saves the
//! kernel work of taking fresh pages for every upload: measured on a 2-core VM, the kernel time
//! of write + sync fell from 0.45 to 0.20 ms per 100 KiB file, and uploads no longer slow down
//! as the page cache fills (docs/benchmarks.md).

use std::{
    io::{Read as _, Seek as _, SeekFrom, Write as _},
    ops::Range,
    path::{Path, PathBuf},
    time::SystemTime,
};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt as _;

use crate::{
    BlobError, BlobKey, BlobStore, ByteStream, Meter, OnPublished, Publish, Received, SyncFuture,
    check_range,
};

/// Downloads are read in chunks of this size: small enough that many concurrent downloads stay
/// cheap in memory.
const READ_CHUNK: usize = 512 * 1024;
/// A download of at most this many bytes is read whole by the hop to the blocking pool that
/// opens the file: most media (images, short clips) then cost one hop and one read. Larger ones
/// go in [`READ_CHUNK`]s. Measured on 1 MiB downloads: 0.56 → 0.47–0.51 ms of server CPU each.
const WHOLE_READ: u64 = 1024 * 1024;

/// The suffix of an upload in flight.
const PART: &str = ".part";

#[derive(Debug, Clone)]
pub struct FsStore {
    blobs: PathBuf,
    /// Whether synced blobs stay in the page cache (see the module's documentation).
    keep_cached: bool,
    /// Where versions before the one-level layout kept uploads in flight; only swept now.
    legacy_tmp: PathBuf,
}

impl FsStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub async fn open(root: &Path) -> Result<Self, BlobError> {
        let blobs = root.join("blobs");
        tokio::fs::create_dir_all(&blobs).await?;
        Ok(Self {
            blobs,
            keep_cached: false,
            legacy_tmp: root.join("tmp"),
        })
    }

    /// Keeps the pages of blobs in the page cache once they are synced, instead of dropping
    /// them (the default).
    #[must_use]
    pub fn keep_written_in_page_cache(mut self, keep: bool) -> Self {
        self.keep_cached = keep;
        self
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        self.blobs.join(key.sharded())
    }
}

/// Chunks of an upload are gathered up to this size and written in one blocking call, so a
/// small upload costs one hop to the blocking pool, not one per chunk.
const WRITE_BATCH: usize = 1024 * 1024;

/// Runs file work on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BlobError::Backend(e.to_string()))?
}

/// Reads `body` into `tmp` through `meter`, writing every [`WRITE_BATCH`] bytes; returns the
/// file and the chunks not written yet.
async fn receive(
    mut body: ByteStream,
    meter: &mut Meter,
    mut tmp: TmpFile,
) -> Result<(TmpFile, Vec<Bytes>), BlobError> {
    let mut pending = Vec::new();
    let mut pending_len = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(BlobError::Body)?;
        meter.update(&chunk)?;
        pending_len += chunk.len();
        pending.push(chunk);
        if pending_len >= WRITE_BATCH {
            let batch = std::mem::take(&mut pending);
            tmp = blocking(move || tmp.append(&batch)).await?;
            pending_len = 0;
        }
    }
    Ok((tmp, pending))
}

/// The bytes of a download still to be read, read a chunk at a time on the blocking pool.
struct Chunks {
    file: std::fs::File,
    left: u64,
}

impl Chunks {
    /// The next chunk of at most `max` bytes; empty at the end.
    fn next_chunk(&mut self, max: usize) -> std::io::Result<Bytes> {
        let n = self.left.min(max as u64);
        let mut buf = Vec::with_capacity(n as usize);
        (&mut self.file).take(n).read_to_end(&mut buf)?;
        if (buf.len() as u64) < n {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "stored blob is shorter than its recorded size",
            ));
        }
        self.left -= n;
        Ok(Bytes::from(buf))
    }
}

/// An upload in flight, `<key>.part` beside its final name, created on its first write.
struct TmpFile {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl TmpFile {
    fn new(path: PathBuf) -> Self {
        Self { path, file: None }
    }

    /// The open file, created (and its shard directory with it) if this is the first write.
    fn file(&mut self) -> std::io::Result<&mut std::fs::File> {
        let file = match self.file.take() {
            Some(f) => f,
            None => create_part(&self.path)?,
        };
        Ok(self.file.insert(file))
    }

    fn append(mut self, chunks: &[Bytes]) -> Result<Self, BlobError> {
        let file = self.file()?;
        for chunk in chunks {
            file.write_all(chunk)?;
        }
        Ok(self)
    }

    /// Makes the complete bytes visible under `dest` (a rename in the same directory) and
    /// returns the open file, for [`sync`].
    fn publish(mut self, dest: &Path) -> Result<std::fs::File, BlobError> {
        self.file()?;
        let file = self.file.take().expect("just opened");
        std::fs::rename(&self.path, dest)?;
        Ok(file)
    }
}

/// Makes a published blob durable: `fsync` the file, then its directory, which holds the new
/// name. Then, unless `keep_cached`, its clean pages leave the page cache; that advice failing
/// changes nothing stored, so it is ignored.
fn sync(file: &std::fs::File, dest: &Path, keep_cached: bool) -> Result<(), BlobError> {
    file.sync_all()?;
    let parent = dest.parent().expect("sharded path has a parent");
    std::fs::File::open(parent)?.sync_all()?;
    if !keep_cached {
        let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed);
    }
    Ok(())
}

/// Creates the part file at `path`, making its shard directory first if there is none yet.
fn create_part(path: &Path) -> std::io::Result<std::fs::File> {
    match std::fs::File::create_new(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            make_shard(path.parent().expect("sharded path has a parent"))?;
            std::fs::File::create_new(path)
        }
        file => file,
    }
}

/// Makes the shard directory `dir` and syncs its parent, so that a blob stored in it stays
/// reachable after a crash. Another upload making it at the same time is fine: either way the
/// parent is synced before this upload goes on.
fn make_shard(dir: &Path) -> std::io::Result<()> {
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    std::fs::File::open(dir.parent().expect("a shard has a parent"))?.sync_all()
}

/// A received upload: its part file, and the chunks not yet written to it.
struct FsReceived {
    tmp: TmpFile,
    rest: Vec<Bytes>,
    dest: PathBuf,
    keep_cached: bool,
}

#[async_trait]
impl Publish for FsReceived {
    fn needs_sync(&self) -> bool {
        true
    }

    /// One hop to the blocking pool writes the rest, publishes, runs `then` and syncs. Without
    /// `then` this returns once the bytes are published; with it, at once (`then` tells).
    async fn publish(
        self: Box<Self>,
        then: Option<OnPublished>,
    ) -> Result<Option<SyncFuture>, BlobError> {
        let Self {
            tmp,
            rest,
            dest,
            keep_cached,
        } = *self;
        let tmp_path = tmp.path.clone();
        let wait = then.is_none();
        let (published_tx, published) = tokio::sync::oneshot::channel();
        let work = tokio::task::spawn_blocking(move || {
            let file = match tmp.append(&rest).and_then(|tmp| tmp.publish(&dest)) {
                Ok(file) => file,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp_path);
                    return Err(e);
                }
            };
            match then {
                Some(then) => then(),
                None => drop(published_tx.send(())),
            }
            sync(&file, &dest, keep_cached)
        });
        let synced = async move { work.await.map_err(|e| BlobError::Backend(e.to_string()))? };
        if wait && published.await.is_err() {
            // The work ended before publishing: it failed, and its error is the answer.
            let e = synced.await.err();
            return Err(e.unwrap_or_else(|| BlobError::Backend("publish ended silently".into())));
        }
        Ok(Some(Box::pin(synced)))
    }

    async fn abort(self: Box<Self>) {
        if self.tmp.file.is_some() {
            let _ = tokio::fs::remove_file(&self.tmp.path).await;
        }
    }
}

#[async_trait]
impl BlobStore for FsStore {
    async fn receive(&self, body: ByteStream, limit: u64) -> Result<Received, BlobError> {
        let key = BlobKey::generate();
        let dest = self.path(&key);
        let tmp_path = dest.with_file_name(format!("{key}{PART}"));
        let mut meter = Meter::new(limit);
        let (tmp, rest) = match receive(body, &mut meter, TmpFile::new(tmp_path.clone())).await {
            Ok(received) => received,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp_path).await;
                return Err(e);
            }
        };
        let rest = FsReceived {
            tmp,
            rest,
            dest,
            keep_cached: self.keep_cached,
        };
        Ok(Received::new(meter.finish(key), Box::new(rest)))
    }

    async fn sync_existing(&self, key: &BlobKey) -> Result<(), BlobError> {
        let path = self.path(key);
        let keep_cached = self.keep_cached;
        blocking(move || sync(&std::fs::File::open(&path)?, &path, keep_cached)).await
    }

    async fn get(&self, key: &BlobKey, range: Option<Range<u64>>) -> Result<ByteStream, BlobError> {
        let path = self.path(key);
        // One hop to the blocking pool opens, positions and reads the first chunk, which for
        // most media is all of it.
        let (first, reader) = blocking(move || {
            let mut file = std::fs::File::open(path)?;
            let size = file.metadata()?.len();
            let range = range.unwrap_or(0..size);
            check_range(&range, size)?;
            file.seek(SeekFrom::Start(range.start))?;
            let mut reader = Chunks {
                file,
                left: range.end - range.start,
            };
            let first = if reader.left <= WHOLE_READ {
                WHOLE_READ as usize
            } else {
                READ_CHUNK
            };
            Ok((reader.next_chunk(first)?, reader))
        })
        .await?;
        let rest = futures_util::stream::try_unfold(reader, |mut reader| async move {
            if reader.left == 0 {
                return Ok(None);
            }
            // The reader moves into the blocking call and back with each chunk.
            let next =
                tokio::task::spawn_blocking(move || Ok((reader.next_chunk(READ_CHUNK)?, reader)));
            next.await.map_err(std::io::Error::other)?.map(Some)
        });
        let first = futures_util::stream::iter((!first.is_empty()).then_some(Ok(first)));
        Ok(first.chain(rest).boxed())
    }

    async fn size(&self, key: &BlobKey) -> Result<u64, BlobError> {
        Ok(tokio::fs::metadata(self.path(key)).await?.len())
    }

    async fn modified(&self, key: &BlobKey) -> Result<SystemTime, BlobError> {
        Ok(tokio::fs::metadata(self.path(key)).await?.modified()?)
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn list(&self) -> Result<Vec<BlobKey>, BlobError> {
        let root = self.blobs.clone();
        blocking(move || {
            let mut keys = Vec::new();
            walk(&root, &mut |name, _| {
                keys.extend(name.to_str().and_then(BlobKey::parse));
                Ok(())
            })?;
            keys.sort();
            Ok(keys)
        })
        .await
    }

    async fn sweep_incomplete(&self, before: SystemTime) -> Result<u64, BlobError> {
        let (root, legacy_tmp) = (self.blobs.clone(), self.legacy_tmp.clone());
        blocking(move || {
            let mut removed = 0;
            let mut sweep = |path: &Path| -> std::io::Result<()> {
                if std::fs::metadata(path)?.modified()? < before
                    && std::fs::remove_file(path).is_ok()
                {
                    removed += 1;
                }
                Ok(())
            };
            walk(&root, &mut |name, path| {
                if name.to_str().is_some_and(|n| n.ends_with(PART)) {
                    sweep(path)?;
                }
                Ok(())
            })?;
            match std::fs::read_dir(&legacy_tmp) {
                Ok(dir) => {
                    for entry in dir {
                        sweep(&entry?.path()).or_else(skip_vanished)?;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            Ok(removed)
        })
        .await
    }
}

/// Calls `visit` with the name and path of every file in the shard directories under `root`:
/// `ab/<file>`, and `ab/cd/<file>` of the old layout. A file that vanishes meanwhile is skipped.
fn walk(
    root: &Path,
    visit: &mut dyn FnMut(&std::ffi::OsStr, &Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    for shard in std::fs::read_dir(root)? {
        let shard = shard?;
        if !shard.file_type()?.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(shard.path())? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                for old in std::fs::read_dir(entry.path())? {
                    let old = old?;
                    visit(&old.file_name(), &old.path()).or_else(skip_vanished)?;
                }
            } else {
                visit(&entry.file_name(), &entry.path()).or_else(skip_vanished)?;
            }
        }
    }
    Ok(())
}

fn skip_vanished(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}
