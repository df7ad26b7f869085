//! A batch of content writes as one SQL script, and reading its answers back. The statements
//! are those of `apply_media_write!` (media.rs), with literals in place of parameters.

use sqlx::{Row as _, sqlite::SqliteRow};

use crate::{
    BlobOutcome, DbError, NewBlob,
    media::{MediaWrite, UPSERT_BLOB},
};

/// A string as an SQL literal: its UTF-8 bytes in hex, as TEXT. Nothing in the string can end
/// the literal.
fn text(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len() * 2 + 20);
    out.push_str("CAST(X'");
    for b in s.bytes() {
        let _ = write!(out, "{b:02x}");
    }
    out.push_str("' AS TEXT)");
    out
}

fn opt_text(s: Option<&str>) -> String {
    s.map_or_else(|| "NULL".to_owned(), text)
}

/// The blob upsert with its literals; returns the key holding the content, tagged with `job`.
fn upsert(blob: &NewBlob, created_ts: i64, job: usize) -> String {
    let values = [
        text(&blob.sha256),
        text(&blob.storage_key),
        blob.size.to_string(),
        created_ts.to_string(),
    ];
    let mut sql = UPSERT_BLOB.to_owned();
    // Replace from the highest number down, so `$1` does not match the start of `$10`.
    for (i, v) in values.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", i + 1), v);
    }
    format!("{sql}, {job};\n")
}

/// The statements of one write, tagged with its number in the batch.
pub(super) fn statements(write: &MediaWrite, job: usize) -> String {
    match write {
        MediaWrite::Insert { media: m, blob } => format!(
            "{}INSERT INTO media (origin, media_id, user_id, media_type, media_length, \
             upload_name, sha256, created_ts, authenticated, quarantined_by) \
             VALUES ({}, {}, {}, {}, {}, {}, {sha}, {}, {}, \
             (SELECT CAST('system' AS TEXT) FROM quarantined_hashes WHERE sha256 = {sha}));\n",
            upsert(blob, m.created_ts, job),
            text(&m.origin),
            text(&m.media_id),
            opt_text(m.user_id.as_deref()),
            text(&m.media_type),
            blob.size,
            opt_text(m.upload_name.as_deref()),
            m.created_ts,
            i32::from(m.authenticated),
            sha = text(&blob.sha256),
        ),
        MediaWrite::Fill {
            origin,
            media_id,
            media_type,
            upload_name,
            blob,
            now,
        } => format!(
            "{}UPDATE media SET sha256 = {sha}, media_type = {}, media_length = {}, \
             upload_name = {}, unused_expires_at = NULL, quarantined_by = COALESCE(\
             quarantined_by, (SELECT CAST('system' AS TEXT) FROM quarantined_hashes \
             WHERE sha256 = {sha})) \
             WHERE origin = {} AND media_id = {} AND sha256 IS NULL RETURNING NULL, {job};\n",
            upsert(blob, *now, job),
            text(media_type),
            blob.size,
            opt_text(upload_name.as_deref()),
            text(origin),
            text(media_id),
            sha = text(&blob.sha256),
        ),
    }
}

/// Each write's outcome from the script's rows: the upsert's row gives the key holding the
/// content, and a fill must have its own row too. `Err` if any write did not apply, so the
/// batch is rolled back and retried write by write.
pub(super) fn outcomes<'a>(
    writes: impl Iterator<Item = &'a MediaWrite>,
    rows: &[SqliteRow],
) -> Result<Vec<BlobOutcome>, DbError> {
    let mut keys: Vec<Option<String>> = Vec::new();
    let mut filled: Vec<bool> = Vec::new();
    for row in rows {
        let job = usize::try_from(row.try_get::<i64, _>(1)?)
            .map_err(|_| DbError::Conflict("bad job number".into()))?;
        if keys.len() <= job {
            keys.resize(job + 1, None);
            filled.resize(job + 1, false);
        }
        match row.try_get::<Option<String>, _>(0)? {
            Some(key) => keys[job] = Some(key),
            None => filled[job] = true,
        }
    }
    writes
        .enumerate()
        .map(|(job, write)| {
            let (blob, must_fill) = match write {
                MediaWrite::Insert { blob, .. } => (blob, false),
                MediaWrite::Fill { blob, .. } => (blob, true),
            };
            match keys.get(job).cloned().flatten() {
                Some(key) if !must_fill || filled[job] => Ok(BlobOutcome::of(key, blob)),
                _ => Err(DbError::Conflict("media already has content".into())),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_cannot_leave_their_literal() {
        assert_eq!(text("a'b"), "CAST(X'612762' AS TEXT)");
        assert_eq!(text(""), "CAST(X'' AS TEXT)");
        assert_eq!(opt_text(None), "NULL");
    }

    #[test]
    fn the_upsert_gets_every_value() {
        let blob = NewBlob {
            sha256: "ab".into(),
            storage_key: "k".into(),
            size: 12,
        };
        let sql = upsert(&blob, 345, 7);
        assert!(!sql.contains('$'), "{sql}");
        assert!(sql.ends_with("RETURNING storage_key, 7;\n"), "{sql}");
        assert!(sql.contains("12, 1, 345)"), "{sql}");
    }
}
