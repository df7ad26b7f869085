//! `last_access_ts`, batched: downloads note the time in memory and a flusher writes all of
//! them in one transaction every few seconds (and at shutdown), never once per download.
//! Losing a few seconds of access times in a crash only makes media look slightly older.

use std::collections::BTreeMap;

use mxcd_types::time::now_ms;

use super::{MediaError, Service};

/// Accesses noted since the last flush, by (origin, media ID).
pub(super) type Pending = BTreeMap<(String, String), i64>;

impl Service {
    /// Notes a download of `origin/media_id` now.
    pub fn record_access(&self, origin: &str, media_id: &str) {
        let mut pending = self.accessed.lock().unwrap_or_else(|p| p.into_inner());
        pending.insert((origin.to_owned(), media_id.to_owned()), now_ms());
    }

    /// Writes the noted accesses; on failure they are kept for the next flush.
    pub async fn flush_access_times(&self) -> Result<usize, MediaError> {
        let batch = std::mem::take(&mut *self.accessed.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() {
            return Ok(0);
        }
        let rows: Vec<(String, String, i64)> = batch
            .iter()
            .map(|((o, m), t)| (o.clone(), m.clone(), *t))
            .collect();
        if let Err(e) = self.db.update_last_access(&rows).await {
            let mut pending = self.accessed.lock().unwrap_or_else(|p| p.into_inner());
            for (k, t) in batch {
                let e = pending.entry(k).or_insert(t);
                *e = (*e).max(t);
            }
            return Err(e.into());
        }
        Ok(rows.len())
    }
}
