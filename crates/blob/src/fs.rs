//! The local-filesystem store: `<root>/blobs/ab/cd/<key>`, uploads in flight under `<root>/tmp`.
//!
//! A put writes a temporary file while hashing, `fsync`s it, renames it into place and
//! `fsync`s the directory, so a blob that `put` reported is on disk and a crash never leaves a
//! partial blob under `blobs/`.

use std::{
    io::SeekFrom,
    ops::Range,
    path::{Path, PathBuf},
    time::SystemTime,
};

use async_trait::async_trait;
use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};
use tokio_util::io::ReaderStream;

use crate::{BlobError, BlobKey, BlobStore, ByteStream, Meter, Stored, check_range};

const READ_CHUNK: usize = 256 * 1024;

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

/// `fsync`s a directory so a rename into it survives a crash.
async fn sync_dir(dir: &Path) -> Result<(), BlobError> {
    tokio::fs::File::open(dir).await?.sync_all().await?;
    Ok(())
}

#[async_trait]
impl BlobStore for FsStore {
    async fn put(&self, mut body: ByteStream, limit: u64) -> Result<Stored, BlobError> {
        let key = BlobKey::generate();
        let tmp = self.tmp.join(key.as_str());
        let mut file = tokio::fs::File::create(&tmp).await?;
        let mut meter = Meter::new(limit);
        let written: Result<(), BlobError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(BlobError::Body)?;
                meter.update(&chunk)?;
                file.write_all(&chunk).await?;
            }
            file.sync_all().await?;
            Ok(())
        }
        .await;
        if let Err(e) = written {
            drop(file);
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        drop(file);
        let dest = self.path(&key);
        let parent = dest.parent().expect("sharded path has a parent");
        tokio::fs::create_dir_all(parent).await?;
        tokio::fs::rename(&tmp, &dest).await?;
        sync_dir(parent).await?;
        Ok(meter.finish(key))
    }

    async fn get(&self, key: &BlobKey, range: Option<Range<u64>>) -> Result<ByteStream, BlobError> {
        let mut file = tokio::fs::File::open(self.path(key)).await?;
        let Some(range) = range else {
            return Ok(ReaderStream::with_capacity(file, READ_CHUNK).boxed());
        };
        check_range(&range, file.metadata().await?.len())?;
        file.seek(SeekFrom::Start(range.start)).await?;
        Ok(ReaderStream::with_capacity(file.take(range.end - range.start), READ_CHUNK).boxed())
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
