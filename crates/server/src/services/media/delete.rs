//! Deleting media for the admin API: one local item, local media by age and size, the remote
//! cache by age, and a user's media. Rows go first (committed in short batches, announced to the
//! read caches), then the objects no row references any more, several at a time. An object
//! whose deletion fails or is interrupted is unreferenced, so the orphan sweep removes it later.

use futures_util::{StreamExt as _, stream};
use mxcd_blob::BlobKey;
use mxcd_db::{AgeCriteria, DELETE_BATCH, Deleted, UserMediaOrder, UserMediaRow};

use super::{MediaError, Service};

/// Object deletions in flight at once.
const PARALLEL_DELETES: usize = 16;

/// A page of a user's media.
#[derive(Clone, Copy, Debug)]
pub struct UserMediaPage {
    pub order: UserMediaOrder,
    pub descending: bool,
    pub from: i64,
    pub limit: i64,
}

impl Service {
    /// Deletes one local media item, whatever its state. `false` when there is no such item.
    #[tracing::instrument(skip_all, fields(media_id))]
    pub async fn delete_local_media(&self, media_id: &str) -> Result<bool, MediaError> {
        let deleted = self
            .db
            .delete_media_ids(&self.server_name, &[media_id.to_owned()])
            .await?;
        self.delete_objects(&deleted.freed_keys).await;
        Ok(!deleted.media.is_empty())
    }

    /// Deletes local media not accessed (or, never accessed, not created) since
    /// `c.before_ts`, larger than `c.size_gt`, neither quarantined nor protected, and with
    /// `c.keep_profiles` not used as an avatar. Returns the deleted media IDs.
    #[tracing::instrument(skip_all, fields(before_ts = c.before_ts))]
    pub async fn delete_old_local_media(&self, c: &AgeCriteria) -> Result<Vec<String>, MediaError> {
        self.delete_in_batches(|| self.db.delete_old_media_batch(&self.server_name, c))
            .await
    }

    /// Deletes cached remote media last accessed before `before_ts` and not quarantined; a
    /// later request fetches it again. Returns how many items went.
    #[tracing::instrument(skip_all, fields(before_ts))]
    pub async fn purge_remote_cache(&self, before_ts: i64) -> Result<usize, MediaError> {
        let ids = self
            .delete_in_batches(|| {
                self.db
                    .purge_remote_media_batch(&self.server_name, before_ts)
            })
            .await?;
        Ok(ids.len())
    }

    /// Runs `batch` until it deletes fewer than [`DELETE_BATCH`] rows; returns the deleted media
    /// IDs. On PostgreSQL the objects a batch freed are deleted while the next batch runs; on
    /// SQLite before it, because the unlinks would hold up the single writer's commit (and every
    /// upload queued behind it). See docs/benchmarks.md.
    async fn delete_in_batches<F, Fut>(&self, mut batch: F) -> Result<Vec<String>, MediaError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Deleted, mxcd_db::DbError>>,
    {
        let mut ids = Vec::new();
        let mut freed = Vec::new();
        loop {
            let t = std::time::Instant::now();
            let rows = if self.db.concurrent_writers() {
                tokio::join!(batch(), self.delete_objects(&freed)).0?
            } else {
                self.delete_objects(&freed).await;
                batch().await?
            };
            tracing::debug!(ms = t.elapsed().as_millis(), "deletion batch");
            freed = rows.freed_keys;
            let last = rows.media.len() < DELETE_BATCH;
            ids.extend(rows.media.into_iter().map(|(_, m)| m));
            if last {
                self.delete_objects(&freed).await;
                return Ok(ids);
            }
        }
    }

    /// A page of a local user's media and the number of their media in all.
    pub async fn user_media(
        &self,
        user_id: &str,
        page: UserMediaPage,
    ) -> Result<(Vec<UserMediaRow>, i64), MediaError> {
        Ok(self
            .db
            .user_media(
                &self.server_name,
                user_id,
                page.order,
                page.descending,
                page.from,
                page.limit,
            )
            .await?)
    }

    /// Deletes one page of a local user's media (whatever their state); returns their IDs in
    /// page order.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn delete_user_media(
        &self,
        user_id: &str,
        page: UserMediaPage,
    ) -> Result<Vec<String>, MediaError> {
        let (rows, _) = self.user_media(user_id, page).await?;
        let ids: Vec<String> = rows.into_iter().map(|r| r.media_id).collect();
        let deleted = self.db.delete_media_ids(&self.server_name, &ids).await?;
        self.delete_objects(&deleted.freed_keys).await;
        let gone: std::collections::BTreeSet<&str> =
            deleted.media.iter().map(|(_, m)| m.as_str()).collect();
        Ok(ids
            .iter()
            .filter(|id| gone.contains(id.as_str()))
            .cloned()
            .collect())
    }

    /// Deletes unreferenced objects, [`PARALLEL_DELETES`] at a time. Failures are logged and
    /// left to the orphan sweep.
    pub(super) async fn delete_objects(&self, keys: &[String]) {
        stream::iter(keys.iter().filter_map(|k| BlobKey::parse(k)))
            .for_each_concurrent(PARALLEL_DELETES, |key| async move {
                self.discard(&key).await;
            })
            .await;
    }
}
