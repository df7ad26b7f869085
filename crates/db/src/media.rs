//! Media rows and the content-addressed blobs they reference.

use crate::{Backend, Db, DbError, read, transaction};

/// A media item as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRow {
    pub origin: String,
    pub media_id: String,
    pub user_id: Option<String>,
    pub media_type: Option<String>,
    pub media_length: Option<i64>,
    pub upload_name: Option<String>,
    pub sha256: Option<String>,
    pub created_ts: i64,
    pub last_access_ts: Option<i64>,
    pub quarantined_by: Option<String>,
    pub safe_from_quarantine: bool,
    pub authenticated: bool,
    pub unused_expires_at: Option<i64>,
    /// Always `NULL` here (mxcd has no URL previews); shown by the admin media info.
    pub url_cache: Option<String>,
    /// The storage key of the content, when there is content.
    pub storage_key: Option<String>,
}
crate::row::from_row!(MediaRow {
    origin,
    media_id,
    user_id,
    media_type,
    media_length,
    upload_name,
    sha256,
    created_ts,
    last_access_ts,
    quarantined_by,
    safe_from_quarantine,
    authenticated,
    unused_expires_at,
    url_cache,
    storage_key
});

/// A media item with content, about to be recorded.
#[derive(Clone, Debug)]
pub struct NewMedia {
    pub origin: String,
    pub media_id: String,
    pub user_id: Option<String>,
    pub media_type: String,
    pub upload_name: Option<String>,
    pub created_ts: i64,
    pub authenticated: bool,
}

/// The content just written to the store.
#[derive(Clone, Debug)]
pub struct NewBlob {
    pub sha256: String,
    pub storage_key: String,
    pub size: i64,
}

/// What recording content decided about the freshly written bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobOutcome {
    /// The bytes are new: the written object is now referenced.
    Stored,
    /// Identical bytes were already stored under `existing`: the written object is unused and
    /// may be deleted.
    Duplicate { existing: String },
}

/// The freshly written key, if the upsert kept another key for the same content.
pub(crate) fn unused_new_key(key_holding_content: String, new: &NewBlob) -> Option<String> {
    (key_holding_content != new.storage_key).then(|| new.storage_key.clone())
}

impl BlobOutcome {
    pub(crate) fn of(key_holding_content: String, new: &NewBlob) -> Self {
        if key_holding_content == new.storage_key {
            Self::Stored
        } else {
            Self::Duplicate {
                existing: key_holding_content,
            }
        }
    }
}

/// Adds a reference to the blob with this hash, creating it with the new key if it is new;
/// returns the key that holds the content. Binds: sha256, storage_key, size, created_ts, unsynced
/// (for a new blob: recorded before its bytes are durable, see `unsynced.rs`).
pub(crate) const UPSERT_BLOB: &str = "INSERT INTO blobs (sha256, storage_key, size, refcount, \
     created_ts, unsynced) VALUES ($1, $2, $3, 1, $4, $5) \
     ON CONFLICT (sha256) DO UPDATE SET refcount = blobs.refcount + 1 RETURNING storage_key";

/// A new media row with content. Binds: origin, media_id, user_id, media_type, media_length,
/// upload_name, sha256, created_ts, authenticated.
pub(crate) const INSERT_MEDIA: &str = "INSERT INTO media (origin, media_id, user_id, media_type, \
     media_length, upload_name, sha256, created_ts, authenticated, quarantined_by) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
     (SELECT CAST('system' AS TEXT) FROM quarantined_hashes WHERE sha256 = $7))";

/// Content for a media row created without it; changes no row if it has content already.
/// Binds: origin, media_id, sha256, media_type, media_length, upload_name.
pub(crate) const FILL_MEDIA: &str = "UPDATE media SET sha256 = $3, media_type = $4, \
     media_length = $5, upload_name = $6, unused_expires_at = NULL, quarantined_by = COALESCE(\
     quarantined_by, (SELECT CAST('system' AS TEXT) FROM quarantined_hashes WHERE sha256 = $3)) \
     WHERE origin = $1 AND media_id = $2 AND sha256 IS NULL";

const MEDIA_COLUMNS: &str = "m.origin, m.media_id, m.user_id, m.media_type, m.media_length, \
     m.upload_name, m.sha256, m.created_ts, m.last_access_ts, m.quarantined_by, \
     m.safe_from_quarantine, m.authenticated, m.unused_expires_at, m.url_cache, b.storage_key";

/// A write that gives a media row its content, committed together with the blob reference.
/// On SQLite these go through the group commit; see `group_commit.rs`. Content whose hash is
/// in `quarantined_hashes` is recorded quarantined by `system` in the same statement (hash
/// auto-quarantine, for uploads and remote fetches alike; see `quarantine.rs`).
#[derive(Clone, Debug)]
pub(crate) enum MediaWrite {
    /// A new media row with content; `unsynced` while its bytes are not yet durable.
    Insert {
        media: NewMedia,
        blob: NewBlob,
        unsynced: bool,
    },
    /// Content for a media ID created ahead of it; `Conflict` if it got content meanwhile.
    Fill {
        origin: String,
        media_id: String,
        media_type: String,
        upload_name: Option<String>,
        blob: NewBlob,
        now: i64,
    },
}

impl MediaWrite {
    /// The content, the time its blob row is created with if it is new, and whether that row
    /// is flagged unsynced.
    pub(crate) fn blob(&self) -> (&NewBlob, i64, bool) {
        match self {
            Self::Insert {
                media,
                blob,
                unsynced,
            } => (blob, media.created_ts, *unsynced),
            Self::Fill { blob, now, .. } => (blob, *now, false),
        }
    }

    /// The outcome once the blob reference is taken (`key` holds the content) and the media
    /// statement changed `rows` rows: a fill that changed none found content there already
    /// (its caller rolls the reference back with the transaction or savepoint).
    pub(crate) fn outcome(&self, key: String, rows: u64) -> Result<BlobOutcome, DbError> {
        if rows != 1 {
            return Err(DbError::Conflict("media already has content".into()));
        }
        Ok(BlobOutcome::of(key, self.blob().0))
    }

    /// The statements of this write in `tx`, on PostgreSQL. SQLite applies the same SQL in its
    /// group commit (`group_commit.rs`). The blob row comes first: the media row points at it.
    async fn apply_postgres(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ) -> Result<BlobOutcome, DbError> {
        let (blob, created_ts, unsynced) = self.blob();
        let key: String = sqlx::query_scalar(UPSERT_BLOB)
            .bind(&blob.sha256)
            .bind(&blob.storage_key)
            .bind(blob.size)
            .bind(created_ts)
            .bind(unsynced)
            .fetch_one(&mut **tx)
            .await?;
        let query = match self {
            MediaWrite::Insert { media: m, .. } => sqlx::query(INSERT_MEDIA)
                .bind(&m.origin)
                .bind(&m.media_id)
                .bind(&m.user_id)
                .bind(&m.media_type)
                .bind(blob.size)
                .bind(&m.upload_name)
                .bind(&blob.sha256)
                .bind(m.created_ts)
                .bind(m.authenticated),
            MediaWrite::Fill {
                origin,
                media_id,
                media_type,
                upload_name,
                ..
            } => sqlx::query(FILL_MEDIA)
                .bind(origin)
                .bind(media_id)
                .bind(&blob.sha256)
                .bind(media_type)
                .bind(blob.size)
                .bind(upload_name),
        };
        let rows = query.execute(&mut **tx).await?.rows_affected();
        self.outcome(key, rows)
    }
}

impl Db {
    /// Applies a content write durably: through the group commit on SQLite, in a transaction of
    /// its own on PostgreSQL (whose concurrent commits already share log flushes).
    pub(crate) async fn write_media(&self, write: MediaWrite) -> Result<BlobOutcome, DbError> {
        match &self.backend {
            Backend::Sqlite { group, .. } => group.submit(write).await,
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let outcome = write.apply_postgres(&mut tx).await;
                // Dropping the transaction on error rolls the reference back.
                if outcome.is_ok() {
                    tx.commit().await?;
                }
                outcome
            }
        }
    }

    /// Records a media item and its content, durably. If a blob with the same hash exists it
    /// gains a reference and the new object is reported as a duplicate.
    pub async fn insert_media(&self, m: &NewMedia, blob: &NewBlob) -> Result<BlobOutcome, DbError> {
        self.write_media(MediaWrite::Insert {
            media: m.clone(),
            blob: blob.clone(),
            unsynced: false,
        })
        .await
    }

    /// Records a media ID created ahead of its content (`POST /_matrix/media/v1/create`).
    pub async fn create_pending_media(
        &self,
        origin: &str,
        media_id: &str,
        user_id: &str,
        created_ts: i64,
        expires_at: i64,
        authenticated: bool,
    ) -> Result<(), DbError> {
        crate::writer!(self, |p| {
            sqlx::query(
                "INSERT INTO media (origin, media_id, user_id, created_ts, unused_expires_at, authenticated) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(origin)
            .bind(media_id)
            .bind(user_id)
            .bind(created_ts)
            .bind(expires_at)
            .bind(authenticated)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// How many unexpired media IDs `user_id` created without content yet, and when the
    /// oldest of them expires.
    pub async fn pending_media(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<(i64, Option<i64>), DbError> {
        Ok(read!(self, |p| {
            sqlx::query_as(
                "SELECT COUNT(*), MIN(unused_expires_at) FROM media \
                 WHERE user_id = $1 AND sha256 IS NULL AND unused_expires_at > $2",
            )
            .bind(user_id)
            .bind(now)
            .fetch_one(p)
            .await?
        }))
    }

    /// Gives a pending media ID its content, together with the blob reference.
    /// [`DbError::Conflict`] when the ID got content meanwhile (another upload won).
    pub async fn fill_pending_media(
        &self,
        origin: &str,
        media_id: &str,
        media_type: &str,
        upload_name: Option<&str>,
        blob: &NewBlob,
        now: i64,
    ) -> Result<BlobOutcome, DbError> {
        // No cache to invalidate: rows without content are never cached.
        self.write_media(MediaWrite::Fill {
            origin: origin.to_owned(),
            media_id: media_id.to_owned(),
            media_type: media_type.to_owned(),
            upload_name: upload_name.map(str::to_owned),
            blob: blob.clone(),
            now,
        })
        .await
    }

    /// A media row with content, for serving it: from a short-lived cache that every change to
    /// the row invalidates (see `cache.rs`). Rows still waiting for content are never cached.
    /// `last_access_ts` may be stale here; [`Db::get_media`] reads the row as it is.
    pub async fn get_media_for_download(
        &self,
        origin: &str,
        media_id: &str,
    ) -> Result<Option<MediaRow>, DbError> {
        let key = (origin.to_owned(), media_id.to_owned());
        let epoch = match self.caches.media.get(&key) {
            Ok(row) => return Ok(Some(row)),
            Err(epoch) => epoch,
        };
        let row = self.get_media(origin, media_id).await?;
        if let Some(r) = row.as_ref().filter(|r| r.sha256.is_some()) {
            self.caches.media.insert(key, r.clone(), epoch);
        }
        Ok(row)
    }

    pub async fn get_media(
        &self,
        origin: &str,
        media_id: &str,
    ) -> Result<Option<MediaRow>, DbError> {
        let sql = format!(
            "SELECT {MEDIA_COLUMNS} FROM media m LEFT JOIN blobs b ON b.sha256 = m.sha256 \
             WHERE m.origin = $1 AND m.media_id = $2"
        );
        Ok(read!(self, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(origin)
                .bind(media_id)
                .fetch_optional(p)
                .await?
        }))
    }

    /// Deletes a media row and drops its blob reference. Returns the storage keys to delete
    /// physically (after this commit): the content's when that was its last reference, and
    /// those of its thumbnails then. It takes the path of the bulk deletions (`media_delete.rs`),
    /// which locks the row, then the blob, then (deleting) the statistics rows: the order in
    /// which an upload takes them, so a deletion and an upload by the same user cannot deadlock
    /// on PostgreSQL.
    pub async fn delete_media(&self, origin: &str, media_id: &str) -> Result<Vec<String>, DbError> {
        let deleted = self
            .delete_media_ids(origin, &[media_id.to_owned()])
            .await?;
        if deleted.media.is_empty() {
            return Err(DbError::NotFound);
        }
        Ok(deleted.freed_keys)
    }

    /// Every storage key a blob row references, for the orphan sweep.
    pub async fn storage_keys(&self) -> Result<Vec<String>, DbError> {
        Ok(read!(self, |p| sqlx::query_scalar(
            "SELECT storage_key FROM blobs"
        )
        .fetch_all(p)
        .await?))
    }

    /// Bytes of local media `user_id` uploaded at or after `since` (for upload limits).
    pub async fn uploaded_bytes_since(&self, user_id: &str, since: i64) -> Result<i64, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(media_length), 0) AS BIGINT) FROM media \
                 WHERE user_id = $1 AND created_ts >= $2",
            )
            .bind(user_id)
            .bind(since)
            .fetch_one(p)
            .await?
        }))
    }

    /// Records last-access times in one transaction (the batched flush of downloads).
    pub async fn update_last_access(
        &self,
        accesses: &[(String, String, i64)],
    ) -> Result<(), DbError> {
        if accesses.is_empty() {
            return Ok(());
        }
        transaction!(self, |tx| {
            for (origin, media_id, ts) in accesses {
                sqlx::query(
                    "UPDATE media SET last_access_ts = $3 WHERE origin = $1 AND media_id = $2 \
                     AND (last_access_ts IS NULL OR last_access_ts < $3)",
                )
                .bind(origin)
                .bind(media_id)
                .bind(ts)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    /// Whether a blob row references `storage_key`.
    pub async fn storage_key_exists(&self, storage_key: &str) -> Result<bool, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM blobs WHERE storage_key = $1")
                .bind(storage_key)
                .fetch_one(p)
                .await?
                > 0
        }))
    }

    /// The number of distinct stored contents; used by tests and statistics.
    pub async fn count_blobs(&self) -> Result<i64, DbError> {
        Ok(read!(self, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM blobs"
        )
        .fetch_one(p)
        .await?))
    }
}
