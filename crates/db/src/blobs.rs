//! Reference counting of content: a blob row goes with its last reference, and with it the
//! thumbnails made from that content, whose own blobs lose a reference in turn.

/// Drops one reference to the blob with hash `$sha` inside the transaction `$tx` (of either
/// backend). Evaluates to the storage keys no row references any more once the transaction
/// commits: the blob's own when that was its last reference, and those of thumbnails that went
/// with it. The caller deletes those objects after the commit.
macro_rules! release_blob {
    ($tx:expr, $sha:expr) => {{
        let mut freed: Vec<String> = Vec::new();
        let mut pending: Vec<String> = vec![String::from($sha)];
        while let Some(sha) = pending.pop() {
            let (refs, key): (i64, String) = sqlx::query_as(
                "UPDATE blobs SET refcount = refcount - 1 WHERE sha256 = $1 \
                 RETURNING refcount, storage_key",
            )
            .bind(&sha)
            .fetch_one(&mut *$tx)
            .await?;
            if refs > 0 {
                continue;
            }
            // Thumbnails of content that is gone can never be asked for again.
            let thumbs: Vec<String> = sqlx::query_scalar(
                "DELETE FROM thumbnails WHERE source_sha256 = $1 RETURNING sha256",
            )
            .bind(&sha)
            .fetch_all(&mut *$tx)
            .await?;
            sqlx::query("DELETE FROM blobs WHERE sha256 = $1")
                .bind(&sha)
                .execute(&mut *$tx)
                .await?;
            freed.push(key);
            pending.extend(thumbs);
        }
        freed
    }};
}
pub(crate) use release_blob;
