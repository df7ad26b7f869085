//! Server-wide media totals: logical bytes (what the media rows say) against physical bytes
//! (distinct blobs after de-duplication).

use sqlx::AssertSqlSafe;

use crate::{Db, DbError, read};

/// A number of items and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: i64,
    pub bytes: i64,
}

/// See `docs/admin-api.md` for what each figure counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MediaTotals {
    /// Local media rows and the sum of their lengths (pending uploads count, with no bytes).
    pub local: Tally,
    /// Cached remote media rows.
    pub remote: Tally,
    /// Media rows (local and remote) in quarantine.
    pub quarantined: Tally,
    /// Distinct blobs holding local media content.
    pub local_blobs: Tally,
    /// Distinct blobs holding remote media content (a blob may also hold local content).
    pub remote_blobs: Tally,
    /// Distinct blobs holding thumbnails.
    pub thumbnail_blobs: Tally,
    /// Every blob in the store: what the bytes on disk or in the bucket come to.
    pub blobs: Tally,
}

impl Db {
    /// The server-wide totals; `server_name` tells local media from remote.
    pub async fn media_totals(&self, server_name: &str) -> Result<MediaTotals, DbError> {
        const ROWS: &str =
            "CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(media_length), 0) AS BIGINT)";
        const BLOBS: &str = "CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(size), 0) AS BIGINT)";
        let queries = [
            format!("SELECT {ROWS} FROM media WHERE origin = $1"),
            format!("SELECT {ROWS} FROM media WHERE origin <> $1"),
            format!("SELECT {ROWS} FROM media WHERE quarantined_by IS NOT NULL"),
            format!(
                "SELECT {BLOBS} FROM blobs WHERE sha256 IN \
                 (SELECT sha256 FROM media WHERE origin = $1)"
            ),
            format!(
                "SELECT {BLOBS} FROM blobs WHERE sha256 IN \
                 (SELECT sha256 FROM media WHERE origin <> $1)"
            ),
            format!("SELECT {BLOBS} FROM blobs WHERE sha256 IN (SELECT sha256 FROM thumbnails)"),
            format!("SELECT {BLOBS} FROM blobs"),
        ];
        let mut t = [Tally::default(); 7];
        read!(self, |p| {
            for (sql, slot) in queries.iter().zip(t.iter_mut()) {
                let mut q = sqlx::query_as(AssertSqlSafe(sql.as_str()));
                if sql.contains("$1") {
                    q = q.bind(server_name);
                }
                let (count, bytes): (i64, i64) = q.fetch_one(p).await?;
                *slot = Tally { count, bytes };
            }
        });
        let [
            local,
            remote,
            quarantined,
            local_blobs,
            remote_blobs,
            thumbnail_blobs,
            blobs,
        ] = t;
        Ok(MediaTotals {
            local,
            remote,
            quarantined,
            local_blobs,
            remote_blobs,
            thumbnail_blobs,
            blobs,
        })
    }
}
