//! The room↔media index: which events of which rooms reference which media.

use crate::{Db, DbError, read};

/// One MXC reference made by an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomMediaRow {
    pub room_id: String,
    pub event_id: String,
    pub event_type: String,
    pub stream_ordering: i64,
    pub field: String,
    pub origin: String,
    pub media_id: String,
    pub redacted: bool,
}
crate::row::from_row!(RoomMediaRow {
    room_id,
    event_id,
    event_type,
    stream_ordering,
    field,
    origin,
    media_id,
    redacted
});

impl Db {
    /// Every reference recorded for a room, newest event first, and in each event `content.url`
    /// before `content.info.thumbnail_url` (the order of Synapse's room media listing).
    pub async fn room_media(&self, room_id: &str) -> Result<Vec<RoomMediaRow>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_as(
                "SELECT room_id, event_id, event_type, stream_ordering, field, origin, media_id, redacted \
                 FROM room_media WHERE room_id = $1 ORDER BY stream_ordering DESC, \
                 CASE field WHEN 'content.url' THEN 0 WHEN 'content.info.thumbnail_url' THEN 1 \
                 ELSE 2 END, field",
            )
            .bind(room_id)
            .fetch_all(p)
            .await?
        }))
    }
}
