//! Deleting media rows in bulk: by ID, by age and size (local), and the remote cache by age.
//!
//! Each batch is one short transaction: the rows go, their blob references are dropped (see
//! `release.rs`), and the commit is followed by one announcement for the read caches. The
//! storage keys freed by the batch are returned for the caller to delete *after* the commit; an
//! object whose deletion fails or never happens is unreferenced and goes with the orphan sweep.

pub(crate) mod release;
mod user_media;

pub use user_media::{UserMediaOrder, UserMediaRow};

use std::collections::BTreeMap;

use sqlx::AssertSqlSafe;

use crate::{
    Backend, Db, DbError, cache::Change, media_delete::release::placeholders, transaction,
};

/// Rows deleted per transaction, so that other writers (uploads) never wait long.
pub const BATCH: usize = 500;

/// What a deletion removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    /// `(origin, media_id)` of every row deleted, in the order deleted.
    pub media: Vec<(String, String)>,
    /// Storage keys no row references any more: delete these objects.
    pub freed_keys: Vec<String>,
}

/// Which local media `POST /_synapse/admin/v1/media/delete` removes.
#[derive(Clone, Copy, Debug)]
pub struct AgeCriteria {
    /// Last accessed (or, never accessed, created) strictly before this, in ms.
    pub before_ts: i64,
    /// Strictly larger than this many bytes.
    pub size_gt: i64,
    /// Spare media used as an avatar: profiles, membership events ever stored, current room
    /// avatars.
    pub keep_profiles: bool,
}

/// A bound parameter of a batch statement.
enum Arg {
    Int(i64),
    Text(String),
}

/// The local media `AgeCriteria` select, up to `$5` rows. Binds: origin, before_ts, size_gt,
/// the avatar-URI prefix (`mxc://origin/`), limit.
fn by_age_sql(keep_profiles: bool) -> String {
    let avatars = if keep_profiles {
        "AND NOT EXISTS (SELECT 1 FROM room_media r WHERE r.origin = m.origin \
           AND r.media_id = m.media_id AND r.field = 'content.avatar_url') \
         AND ($4 || m.media_id) NOT IN (SELECT avatar_url FROM profiles \
           WHERE avatar_url IS NOT NULL UNION ALL SELECT avatar FROM rooms WHERE avatar IS NOT NULL)"
    } else {
        ""
    };
    format!(
        "SELECT m.origin, m.media_id, m.sha256 FROM media m WHERE m.origin = $1 \
         AND COALESCE(m.last_access_ts, m.created_ts) < $2 AND m.media_length > $3 \
         AND m.quarantined_by IS NULL AND m.safe_from_quarantine = FALSE {avatars} LIMIT $5"
    )
}

impl Db {
    /// Deletes the media `media_ids` of `origin` (whatever their state), in batches.
    /// IDs without a row are skipped.
    #[tracing::instrument(skip_all, fields(n = media_ids.len()))]
    pub async fn delete_media_ids(
        &self,
        origin: &str,
        media_ids: &[String],
    ) -> Result<Deleted, DbError> {
        let mut out = Deleted::default();
        for chunk in media_ids.chunks(BATCH) {
            let sql = format!(
                "SELECT origin, media_id, sha256 FROM media WHERE origin = $1 AND media_id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut args = vec![Arg::Text(origin.to_owned())];
            args.extend(chunk.iter().map(|id| Arg::Text(id.clone())));
            self.delete_batch(sql, args, &mut out).await?;
        }
        Ok(out)
    }

    /// Deletes one batch of the local media `c` selects; `Deleted::media` is shorter than
    /// [`BATCH`] once nothing is left. Call again until then (each call is one transaction).
    #[tracing::instrument(skip_all, fields(before_ts = c.before_ts))]
    pub async fn delete_old_media_batch(
        &self,
        origin: &str,
        c: &AgeCriteria,
    ) -> Result<Deleted, DbError> {
        let sql = by_age_sql(c.keep_profiles);
        let args = vec![
            Arg::Text(origin.to_owned()),
            Arg::Int(c.before_ts),
            Arg::Int(c.size_gt),
            Arg::Text(format!("mxc://{origin}/")),
            Arg::Int(BATCH as i64),
        ];
        let mut out = Deleted::default();
        self.delete_batch(sql, args, &mut out).await?;
        Ok(out)
    }

    /// Deletes one batch of cached remote media (any origin but `local_origin`) last accessed
    /// strictly before `before_ts` and not quarantined. Call again until a batch is short.
    #[tracing::instrument(skip_all, fields(before_ts))]
    pub async fn purge_remote_media_batch(
        &self,
        local_origin: &str,
        before_ts: i64,
    ) -> Result<Deleted, DbError> {
        // Remote rows always have content and a last-access time (set when cached).
        let sql = "SELECT origin, media_id, sha256 FROM media WHERE origin <> $1 \
                   AND last_access_ts < $2 AND quarantined_by IS NULL LIMIT $3"
            .to_owned();
        let args = vec![
            Arg::Text(local_origin.to_owned()),
            Arg::Int(before_ts),
            Arg::Int(BATCH as i64),
        ];
        let mut out = Deleted::default();
        self.delete_batch(sql, args, &mut out).await?;
        Ok(out)
    }

    /// Deletes the rows `select` yields (`origin, media_id, sha256`, at most [`BATCH`]) and
    /// drops their blob references, in one transaction; then announces the change to the read
    /// caches. The rows are selected (and on PostgreSQL locked) first and deleted last: the
    /// statistics rows their deletion updates (see migration 0010) then stay locked for one
    /// statement and the commit, so an upload by the same user never waits for a whole batch.
    async fn delete_batch(
        &self,
        select: String,
        args: Vec<Arg>,
        out: &mut Deleted,
    ) -> Result<(), DbError> {
        let (select, prelude) = match self.backend {
            Backend::Postgres(_) => (select + " FOR UPDATE", None),
            // SQLite keeps the foreign keys to `blobs`: check them at the commit, once the
            // rows that referenced the blobs deleted here are gone too.
            Backend::Sqlite { .. } => (select, Some("PRAGMA defer_foreign_keys = ON")),
        };
        let (rows, freed) = transaction!(self, |tx| {
            if let Some(sql) = prelude {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
            let mut q =
                sqlx::query_as::<_, (String, String, Option<String>)>(AssertSqlSafe(select));
            for a in &args {
                q = match a {
                    Arg::Int(n) => q.bind(*n),
                    Arg::Text(s) => q.bind(s.as_str()),
                };
            }
            let rows = q.fetch_all(&mut *tx).await?;
            let shas: Vec<String> = rows.iter().filter_map(|r| r.2.clone()).collect();
            let freed = release::release_blobs!(tx, shas);
            let mut by_origin: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (origin, media_id, _) in &rows {
                by_origin.entry(origin).or_default().push(media_id);
            }
            // At most BATCH rows, so one list per origin stays within the parameter limits.
            for (origin, ids) in by_origin {
                let sql = format!(
                    "DELETE FROM media WHERE origin = $1 AND media_id IN ({})",
                    placeholders(2, ids.len())
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).bind(origin);
                for id in ids {
                    q = q.bind(id);
                }
                q.execute(&mut *tx).await?;
            }
            (rows, freed)
        });
        let media: Vec<(String, String)> = rows.into_iter().map(|(o, m, _)| (o, m)).collect();
        self.announce_media(&media).await;
        out.media.extend(media);
        out.freed_keys.extend(freed);
        Ok(())
    }

    /// Tells the read caches (here and, on PostgreSQL, in every instance) that these rows
    /// changed, in notifications that stay under PostgreSQL's 8000-byte payload limit.
    async fn announce_media(&self, media: &[(String, String)]) {
        const PAYLOAD: usize = 7000;
        let mut batch: Vec<(String, String)> = Vec::new();
        let mut size = 0;
        for (origin, media_id) in media {
            let odd = |s: &str| s.contains(['\t', '\n']);
            if odd(origin) || odd(media_id) || origin.len() + media_id.len() > PAYLOAD / 2 {
                self.announce(Change::Media {
                    origin: origin.clone(),
                    media_id: media_id.clone(),
                })
                .await;
                continue;
            }
            size += origin.len() + media_id.len() + 2;
            batch.push((origin.clone(), media_id.clone()));
            if size > PAYLOAD {
                self.announce(Change::MediaBatch(std::mem::take(&mut batch)))
                    .await;
                size = 0;
            }
        }
        if !batch.is_empty() {
            self.announce(Change::MediaBatch(batch)).await;
        }
    }
}
