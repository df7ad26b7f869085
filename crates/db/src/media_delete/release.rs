//! Dropping many blob references in one transaction: the bulk form of `release_blob!`, a few
//! statements per round instead of three per reference.

/// Rows per `IN (…)` list: far below SQLite's and PostgreSQL's limits on bound parameters.
pub(crate) const CHUNK: usize = 500;

/// `$start, $start+1, …` for `n` parameters.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Drops one reference per entry of `$shas` (a `Vec<String>`, a hash repeated once per
/// reference) inside the transaction `$tx`. Blobs left without references go, with the
/// thumbnails made from them, whose own references are dropped in the next round. Evaluates to
/// the storage keys no row references once the transaction commits.
macro_rules! release_blobs {
    ($tx:expr, $shas:expr) => {{
        use $crate::media_delete::release::{CHUNK, placeholders};
        let mut freed: Vec<String> = Vec::new();
        let mut pending: Vec<String> = $shas;
        while !pending.is_empty() {
            let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
            for sha in pending.drain(..) {
                *counts.entry(sha).or_default() += 1;
            }
            let mut by_count: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
            for (sha, n) in counts {
                by_count.entry(n).or_default().push(sha);
            }
            let mut gone: Vec<String> = Vec::new();
            for (n, shas) in by_count {
                for chunk in shas.chunks(CHUNK) {
                    let sql = format!(
                        "UPDATE blobs SET refcount = refcount - $1 WHERE sha256 IN ({}) \
                         RETURNING sha256, refcount, storage_key",
                        placeholders(2, chunk.len())
                    );
                    let mut q =
                        sqlx::query_as::<_, (String, i64, String)>(sqlx::AssertSqlSafe(sql))
                            .bind(n);
                    for sha in chunk {
                        q = q.bind(sha);
                    }
                    for (sha, refs, key) in q.fetch_all(&mut *$tx).await? {
                        if refs <= 0 {
                            gone.push(sha);
                            freed.push(key);
                        }
                    }
                }
            }
            for chunk in gone.chunks(CHUNK) {
                let list = placeholders(1, chunk.len());
                // Thumbnails of content that is gone can never be asked for again.
                let sql = format!(
                    "DELETE FROM thumbnails WHERE source_sha256 IN ({list}) RETURNING sha256"
                );
                let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
                for sha in chunk {
                    q = q.bind(sha);
                }
                pending.extend(q.fetch_all(&mut *$tx).await?);
                let sql = format!("DELETE FROM blobs WHERE sha256 IN ({list})");
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for sha in chunk {
                    q = q.bind(sha);
                }
                q.execute(&mut *$tx).await?;
            }
        }
        freed
    }};
}
pub(crate) use release_blobs;

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_count_from_start() {
        assert_eq!(super::placeholders(2, 3), "$2, $3, $4");
        assert_eq!(super::placeholders(1, 1), "$1");
    }
}
