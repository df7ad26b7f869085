//! The S3 store (any S3-compatible service) through OpenDAL.
//!
//! Objects live at `<prefix>blobs/ab/cd/<key>`. A put is a multipart upload written while
//! hashing; past the cap or on any error it is aborted, and an unfinished upload is never
//! visible as an object. A multipart upload left behind by a crashed process is invisible but
//! still billed: OpenDAL cannot list those, so [`BlobStore::sweep_incomplete`] is a no-op here
//! and operators set the bucket lifecycle rule `AbortIncompleteMultipartUpload` (see
//! docs/deployment.md).

use std::{ops::Range, sync::Once, time::SystemTime};

use async_trait::async_trait;
use futures_util::{StreamExt as _, TryStreamExt as _};
use opendal::{Operator, Writer, layers::RetryLayer, services::S3};

use crate::{
    BlobError, BlobKey, BlobStore, ByteStream, Meter, OnPublished, Publish, Received, SyncFuture,
    check_range,
};

/// Multipart part size: S3 requires at least 5 MiB for every part but the last.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// Where and how to reach the bucket.
#[derive(Clone, Debug, Default)]
pub struct S3Config {
    /// For example `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`.
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// Prepended to every object name, e.g. `mxcd/`.
    pub prefix: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

#[derive(Debug, Clone)]
pub struct S3Store {
    op: Operator,
}

static INSTALL: Once = Once::new();

impl S3Store {
    pub fn new(cfg: &S3Config) -> Result<Self, BlobError> {
        // With default features off OpenDAL needs its HTTP transport installed once.
        INSTALL.call_once(opendal::install_default);
        let root = format!("/{}", cfg.prefix.trim_matches('/'));
        let builder = S3::default()
            .endpoint(&cfg.endpoint)
            .region(&cfg.region)
            .bucket(&cfg.bucket)
            .root(&root)
            .access_key_id(&cfg.access_key_id)
            .secret_access_key(&cfg.secret_access_key)
            .disable_config_load()
            .disable_ec2_metadata();
        let op = Operator::new(builder)?.layer(RetryLayer::new().with_max_times(3));
        Ok(Self { op })
    }

    fn path(key: &BlobKey) -> String {
        format!("blobs/{}", key.sharded())
    }
}

/// A received upload: the object's writer, not yet closed (nothing is visible before).
struct S3Received(Writer);

#[async_trait]
impl Publish for S3Received {
    fn needs_sync(&self) -> bool {
        false
    }

    /// Completes the upload; a completed S3 upload is durable.
    async fn publish(
        self: Box<Self>,
        then: Option<OnPublished>,
    ) -> Result<Option<SyncFuture>, BlobError> {
        let mut writer = self.0;
        if let Err(e) = writer.close().await {
            abort(writer).await;
            return Err(e.into());
        }
        if let Some(then) = then {
            then();
        }
        Ok(None)
    }

    async fn abort(self: Box<Self>) {
        abort(self.0).await;
    }
}

/// Aborts the multipart upload behind `writer`; a failure leaves its parts to the bucket's
/// lifecycle rules.
async fn abort(mut writer: Writer) {
    if let Err(e) = writer.abort().await {
        tracing::warn!(error = %e, "could not abort an S3 upload");
    }
}

#[async_trait]
impl BlobStore for S3Store {
    async fn receive(&self, mut body: ByteStream, limit: u64) -> Result<Received, BlobError> {
        let key = BlobKey::generate();
        let mut writer = self
            .op
            .writer_with(&Self::path(&key))
            .chunk(PART_SIZE)
            .await?;
        let mut meter = Meter::new(limit);
        let written: Result<(), BlobError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(BlobError::Body)?;
                meter.update(&chunk)?;
                writer.write(chunk).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = written {
            abort(writer).await;
            return Err(e);
        }
        Ok(Received::new(
            meter.finish(key),
            Box::new(S3Received(writer)),
        ))
    }

    async fn get(&self, key: &BlobKey, range: Option<Range<u64>>) -> Result<ByteStream, BlobError> {
        let path = Self::path(key);
        let size = self.op.stat(&path).await?.content_length();
        let range = range.unwrap_or(0..size);
        check_range(&range, size)?;
        if range.is_empty() {
            return Ok(futures_util::stream::empty().boxed());
        }
        let stream = self
            .op
            .reader(&path)
            .await?
            .into_bytes_stream(range)
            .await?;
        Ok(stream.map_err(std::io::Error::other).boxed())
    }

    async fn size(&self, key: &BlobKey) -> Result<u64, BlobError> {
        Ok(self.op.stat(&Self::path(key)).await?.content_length())
    }

    async fn modified(&self, key: &BlobKey) -> Result<SystemTime, BlobError> {
        let meta = self.op.stat(&Self::path(key)).await?;
        // Without a date the object counts as new, so a sweep never removes it by mistake.
        Ok(meta
            .last_modified()
            .map_or_else(SystemTime::now, SystemTime::from))
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        Ok(self.op.delete(&Self::path(key)).await?)
    }

    async fn list(&self) -> Result<Vec<BlobKey>, BlobError> {
        let mut lister = self.op.lister_with("blobs/").recursive(true).await?;
        let mut keys = Vec::new();
        while let Some(entry) = lister.try_next().await? {
            if let Some(k) = entry.path().rsplit('/').next().and_then(BlobKey::parse) {
                keys.push(k);
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn sweep_incomplete(&self, _before: SystemTime) -> Result<u64, BlobError> {
        Ok(0)
    }
}
