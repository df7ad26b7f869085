//! Thumbnails: rows keyed by the content they were made from, each holding one reference to the
//! blob of its own bytes. They go when their source content goes (see `blobs.rs`).

use crate::{
    Backend, Db, DbError, NewBlob,
    blobs::release_blob,
    media::{UPSERT_BLOB, unused_new_key},
    read, transaction,
};

/// A stored thumbnail and where its bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThumbnailRow {
    pub width: i64,
    pub height: i64,
    pub method: String,
    pub media_type: String,
    pub sha256: String,
    pub length: i64,
    pub storage_key: String,
}
crate::row::from_row!(ThumbnailRow {
    width,
    height,
    method,
    media_type,
    sha256,
    length,
    storage_key
});

/// The thumbnails of one content, and whether pre-generation ran for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThumbnailSet {
    pub pregenerated: bool,
    pub thumbnails: Vec<ThumbnailRow>,
}

/// A thumbnail whose bytes were just written to the store.
#[derive(Clone, Debug)]
pub struct NewThumbnail {
    pub width: i64,
    pub height: i64,
    pub method: String,
    pub media_type: String,
    pub blob: NewBlob,
}

impl Db {
    /// The thumbnails made from the content `source_sha256`, in a stable order.
    pub async fn thumbnails(&self, source_sha256: &str) -> Result<ThumbnailSet, DbError> {
        let (marker, thumbnails): (Option<Option<i64>>, Vec<ThumbnailRow>) = read!(self, |p| {
            let marker = sqlx::query_scalar("SELECT thumbnailed_ts FROM blobs WHERE sha256 = $1")
                .bind(source_sha256)
                .fetch_optional(p)
                .await?;
            let rows = sqlx::query_as(
                "SELECT t.width, t.height, t.method, t.media_type, t.sha256, t.length, \
                 b.storage_key FROM thumbnails t JOIN blobs b ON b.sha256 = t.sha256 \
                 WHERE t.source_sha256 = $1 ORDER BY t.width, t.height, t.method, t.media_type",
            )
            .bind(source_sha256)
            .fetch_all(p)
            .await?;
            (marker, rows)
        });
        Ok(ThumbnailSet {
            pregenerated: marker.flatten().is_some(),
            thumbnails,
        })
    }

    /// Records thumbnails of `source_sha256` (and, with `pregenerated`, that pre-generation ran
    /// for it). A thumbnail that already exists is kept as it is, and nothing is recorded when
    /// the source content is gone (deleted while its thumbnails were made). Returns the storage
    /// keys just written that ended up unused (identical bytes stored already, a thumbnail
    /// recorded meanwhile, or no source); the caller deletes them.
    pub async fn insert_thumbnails(
        &self,
        source_sha256: &str,
        thumbs: &[NewThumbnail],
        pregenerated: bool,
        now: i64,
    ) -> Result<Vec<String>, DbError> {
        // On PostgreSQL (no foreign keys to `blobs`, see migration 0010) the source's row stays
        // locked until the commit, in the mode of the reference-count update a deletion makes
        // before it deletes a source's thumbnails and then its row: either the deletion waits and
        // then sees these thumbnails, or this waits and then finds no source. (A share lock would
        // do for that, but two of them could not both upgrade to the `thumbnailed_ts` update
        // below.) SQLite has one writer.
        let source = match self.backend {
            Backend::Postgres(_) => "SELECT sha256 FROM blobs WHERE sha256 = $1 FOR NO KEY UPDATE",
            Backend::Sqlite { .. } => "SELECT sha256 FROM blobs WHERE sha256 = $1",
        };
        let unused = transaction!(self, |tx| {
            let mut unused = Vec::new();
            let present = sqlx::query_scalar::<_, String>(source)
                .bind(source_sha256)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            let thumbs = if present {
                thumbs
            } else {
                unused.extend(thumbs.iter().map(|t| t.blob.storage_key.clone()));
                &[]
            };
            for t in thumbs {
                let key: String = sqlx::query_scalar(UPSERT_BLOB)
                    .bind(&t.blob.sha256)
                    .bind(&t.blob.storage_key)
                    .bind(t.blob.size)
                    .bind(now)
                    .bind(false)
                    .fetch_one(&mut *tx)
                    .await?;
                let inserted = sqlx::query(
                    "INSERT INTO thumbnails (source_sha256, width, height, method, media_type, \
                     sha256, length, created_ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(source_sha256)
                .bind(t.width)
                .bind(t.height)
                .bind(&t.method)
                .bind(&t.media_type)
                .bind(&t.blob.sha256)
                .bind(t.blob.size)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    // Another request recorded this thumbnail first: give the reference back.
                    unused.extend(release_blob!(tx, t.blob.sha256.as_str()));
                }
                unused.extend(unused_new_key(key, &t.blob));
            }
            if pregenerated {
                sqlx::query("UPDATE blobs SET thumbnailed_ts = $2 WHERE sha256 = $1")
                    .bind(source_sha256)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            unused.sort();
            unused.dedup();
            unused
        });
        Ok(unused)
    }

    /// Points a thumbnail whose stored bytes went missing at bytes made again. Returns the
    /// storage keys no longer referenced (the lost object's among them).
    pub async fn replace_thumbnail(
        &self,
        source_sha256: &str,
        old: &ThumbnailRow,
        blob: &NewBlob,
        now: i64,
    ) -> Result<Vec<String>, DbError> {
        let unused = transaction!(self, |tx| {
            if blob.sha256 == old.sha256 {
                // The same bytes again: the blob row, and everything using it, is repaired.
                sqlx::query("UPDATE blobs SET storage_key = $2 WHERE sha256 = $1")
                    .bind(&blob.sha256)
                    .bind(&blob.storage_key)
                    .execute(&mut *tx)
                    .await?;
                vec![old.storage_key.clone()]
            } else {
                let key: String = sqlx::query_scalar(UPSERT_BLOB)
                    .bind(&blob.sha256)
                    .bind(&blob.storage_key)
                    .bind(blob.size)
                    .bind(now)
                    .bind(false)
                    .fetch_one(&mut *tx)
                    .await?;
                let updated = sqlx::query(
                    "UPDATE thumbnails SET sha256 = $6, length = $7 WHERE source_sha256 = $1 \
                     AND width = $2 AND height = $3 AND method = $4 AND media_type = $5",
                )
                .bind(source_sha256)
                .bind(old.width)
                .bind(old.height)
                .bind(&old.method)
                .bind(&old.media_type)
                .bind(&blob.sha256)
                .bind(blob.size)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                // The row holds the new bytes' reference instead of the old ones'; if the row
                // went meanwhile (its source was deleted), nothing holds either.
                let dropped = if updated == 0 {
                    &blob.sha256
                } else {
                    &old.sha256
                };
                let mut unused = release_blob!(tx, dropped.as_str());
                unused.extend(unused_new_key(key, blob));
                unused
            }
        });
        Ok(unused)
    }
}
