//! The media admin API's quarantine side (reference §1.3–1.10, §2): the room media listing,
//! quarantine by media, room and user, protection, the change stream, media info, and the
//! admin's download past a quarantine.

use mxcd_db::{MediaRow, QuarantineChange, QuarantineTarget};
use mxcd_types::time::now_ms;

use super::{MediaError, Service};

/// The fields of the room index that Synapse's room media scan reads, in its order.
const LISTED_FIELDS: [&str; 2] = ["content.url", "content.info.thumbnail_url"];

/// A page of the quarantine change stream.
#[derive(Debug)]
pub struct ChangesPage {
    pub changes: Vec<QuarantineChange>,
    pub next_batch: i64,
}

/// Page size of `quarantine_changes` (Synapse's, fixed).
const CHANGES_PAGE: i64 = 100;

impl Service {
    /// `GET /_synapse/admin/v1/room/{roomId}/media`: the MXC URIs the room's events reference,
    /// newest event first, `url` before `info.thumbnail_url`, duplicates kept; split into this
    /// server's and others' by exact server-name equality.
    pub async fn room_media_uris(
        &self,
        room_id: &str,
    ) -> Result<(Vec<String>, Vec<String>), MediaError> {
        let (mut local, mut remote) = (Vec::new(), Vec::new());
        for r in self.db.room_media(room_id).await? {
            if !LISTED_FIELDS.contains(&r.field.as_str()) {
                continue;
            }
            let uri = format!("mxc://{}/{}", r.origin, r.media_id);
            if r.origin == self.server_name {
                local.push(uri);
            } else {
                remote.push(uri);
            }
        }
        Ok((local, remote))
    }

    /// Quarantines (`by` = the admin) or releases (`None`) what `target` names and everything
    /// sharing its hashes; returns the count Synapse reports as `num_quarantined`.
    #[tracing::instrument(skip(self))]
    pub async fn set_quarantine(
        &self,
        target: QuarantineTarget<'_>,
        by: Option<&str>,
    ) -> Result<i64, MediaError> {
        Ok(self
            .db
            .set_quarantine(&self.server_name, target, by, now_ms())
            .await?)
    }

    /// Protects local media from quarantine, or not; `false` when there is no such local media.
    pub async fn set_protected(&self, media_id: &str, protected: bool) -> Result<bool, MediaError> {
        Ok(self
            .db
            .set_protected(&self.server_name, media_id, protected)
            .await?)
    }

    /// The changes after `from`; `None` when `from` is beyond the stream's position.
    pub async fn quarantine_changes(&self, from: i64) -> Result<Option<ChangesPage>, MediaError> {
        let pos = self.db.quarantine_stream_position().await?;
        if from > pos {
            return Ok(None);
        }
        let changes = self.db.quarantine_changes(from, pos, CHANGES_PAGE).await?;
        let next_batch = changes.last().map_or(pos, |c| c.stream_id);
        Ok(Some(ChangesPage {
            changes,
            next_batch,
        }))
    }

    /// The stored row of `mxc://server/media_id` (local or cached remote; never fetched).
    pub async fn media_info(
        &self,
        server: &str,
        media_id: &str,
    ) -> Result<Option<MediaRow>, MediaError> {
        Ok(self.db.get_media(server, media_id).await?)
    }

    /// For an admin's `admin_unsafely_bypass_quarantine=true`: the row with content, whether
    /// or not it is quarantined; `None` when there is nothing stored to serve (the normal path
    /// then decides: waiting for pending content, fetching remote media).
    pub async fn find_bypassing_quarantine(
        &self,
        origin: &str,
        media_id: &str,
    ) -> Result<Option<MediaRow>, MediaError> {
        Ok(self
            .db
            .get_media_for_download(origin, media_id)
            .await?
            .filter(|r| r.sha256.is_some()))
    }
}
