//! The local-filesystem store: `<root>/blobs/ab/cd/<key>`, uploads in flight under `<root>/tmp`.
//!
//! A put writes a temporary file while hashing, `fsync`s it, renames it into place and
//! `fsync`s the directory, so a blob that `put` reported is on disk and a crash never leaves a
//! partial blob under `blobs/`.

use std::{
    io::{Read as _, Seek as _, SeekFrom, Write as _},
    ops::Range,
    path::{Path, PathBuf},
    time::SystemTime,
};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt as _;

use crate::{BlobError, BlobKey, BlobStore, ByteStream, Meter, Stored, check_range};

/// Downloads are read in chunks of this size: big enough that a typical image is one read, small
/// enough that many concurrent downloads stay cheap in memory.
const READ_CHUNK: usize = 512 * 1024;

#[derive(Debug, Clone)]
pub struct FsStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl FsStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub async fn open(root: &Path) -> Result<Self, BlobError> {
        let (blobs, tmp) = (root.join("blobs"), root.join("tmp"));
        tokio::fs::create_dir_all(&blobs).await?;
        tokio::fs::create_dir_all(&tmp).await?;
        Ok(Self { blobs, tmp })
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
    /// The next chunk of at most [`READ_CHUNK`] bytes; empty at the end.
    fn next_chunk(&mut self) -> std::io::Result<Bytes> {
        let n = self.left.min(READ_CHUNK as u64);
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

/// An upload in flight under `tmp/`, created on its first write.
struct TmpFile {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl TmpFile {
    fn new(path: PathBuf) -> Self {
        Self { path, file: None }
    }

    fn append(mut self, chunks: &[Bytes]) -> Result<Self, BlobError> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(std::fs::File::create(&self.path)?),
        };
        for chunk in chunks {
            file.write_all(chunk)?;
        }
        Ok(self)
    }

    /// Makes the bytes durable and moves them to `dest`: `fsync` the file, rename it, `fsync`
    /// the directory it landed in.
    fn publish(self, dest: &Path) -> Result<(), BlobError> {
        let file = match self.file {
            Some(f) => f,
            None => std::fs::File::create(&self.path)?,
        };
        file.sync_all()?;
        drop(file);
        let parent = dest.parent().expect("sharded path has a parent");
        std::fs::create_dir_all(parent)?;
        std::fs::rename(&self.path, dest)?;
        std::fs::File::open(parent)?.sync_all()?;
        Ok(())
    }
}

#[async_trait]
impl BlobStore for FsStore {
    async fn put(&self, body: ByteStream, limit: u64) -> Result<Stored, BlobError> {
        let key = BlobKey::generate();
        let tmp_path = self.tmp.join(key.as_str());
        let mut meter = Meter::new(limit);
        let dest = self.path(&key);
        let outcome = match receive(body, &mut meter, TmpFile::new(tmp_path.clone())).await {
            Ok((tmp, rest)) => blocking(move || tmp.append(&rest)?.publish(&dest)).await,
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            let _ = tokio::fs::remove_file(&tmp_path).await;
            return Err(e);
        }
        Ok(meter.finish(key))
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
            Ok((reader.next_chunk()?, reader))
        })
        .await?;
        let rest = futures_util::stream::try_unfold(reader, |mut reader| async move {
            if reader.left == 0 {
                return Ok(None);
            }
            // The reader moves into the blocking call and back with each chunk.
            let next = tokio::task::spawn_blocking(move || Ok((reader.next_chunk()?, reader)));
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
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            for a in std::fs::read_dir(&root)? {
                for b in std::fs::read_dir(a?.path())? {
                    for f in std::fs::read_dir(b?.path())? {
                        if let Some(k) = f?.file_name().to_str().and_then(BlobKey::parse) {
                            keys.push(k);
                        }
                    }
                }
            }
            keys.sort();
            Ok(keys)
        })
        .await
        .map_err(|e| BlobError::Backend(e.to_string()))?
    }

    async fn sweep_incomplete(&self, before: SystemTime) -> Result<u64, BlobError> {
        let mut removed = 0;
        let mut dir = tokio::fs::read_dir(&self.tmp).await?;
        while let Some(entry) = dir.next_entry().await? {
            let modified = entry.metadata().await?.modified()?;
            if modified < before && tokio::fs::remove_file(entry.path()).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}
