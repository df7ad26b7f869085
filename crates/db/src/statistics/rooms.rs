//! Rooms: the database space each takes, and the media their events reference.

use sqlx::AssertSqlSafe;

use crate::{Db, DbError, read};

/// A room and the bytes its rows take (see migration 0009 for what is counted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomSize {
    pub room_id: String,
    pub bytes: i64,
}
crate::row::from_row!(RoomSize { room_id, bytes });

/// The distinct media a room's events reference (`content.url` and `content.info.thumbnail_url`
/// of events not redacted), split by origin, counting only media this server has a row for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomMediaUsage {
    pub room_id: String,
    pub media_count: i64,
    pub media_length: i64,
    pub local_media_count: i64,
    pub local_media_length: i64,
    pub remote_media_count: i64,
    pub remote_media_length: i64,
}
crate::row::from_row!(RoomMediaUsage {
    room_id,
    media_count,
    media_length,
    local_media_count,
    local_media_length,
    remote_media_count,
    remote_media_length
});

/// The keys rooms' media usage sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomMediaOrder {
    MediaLength,
    MediaCount,
    LocalMediaLength,
    RemoteMediaLength,
    RoomId,
}

impl RoomMediaOrder {
    fn column(self) -> &'static str {
        match self {
            Self::MediaLength => "media_length",
            Self::MediaCount => "media_count",
            Self::LocalMediaLength => "local_media_length",
            Self::RemoteMediaLength => "remote_media_length",
            Self::RoomId => "room_id",
        }
    }
}

impl Db {
    /// The `limit` rooms taking the most space, largest first (ties by room ID).
    pub async fn largest_rooms(&self, limit: i64) -> Result<Vec<RoomSize>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_as(
                "SELECT room_id, bytes FROM room_sizes WHERE bytes > 0 \
                 ORDER BY bytes DESC, room_id ASC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(p)
            .await?
        }))
    }

    /// One page of rooms by the media they reference, and the number of such rooms.
    /// `server_name` tells local media from remote.
    pub async fn room_media_usage(
        &self,
        server_name: &str,
        order: RoomMediaOrder,
        descending: bool,
        from: i64,
        limit: i64,
    ) -> Result<(Vec<RoomMediaUsage>, i64), DbError> {
        const USAGE: &str = "SELECT r.room_id, CAST(COUNT(*) AS BIGINT) AS media_count, \
             CAST(COALESCE(SUM(m.media_length), 0) AS BIGINT) AS media_length, \
             CAST(SUM(CASE WHEN r.origin = $1 THEN 1 ELSE 0 END) AS BIGINT) AS local_media_count, \
             CAST(COALESCE(SUM(CASE WHEN r.origin = $1 THEN m.media_length END), 0) AS BIGINT) \
               AS local_media_length, \
             CAST(SUM(CASE WHEN r.origin = $1 THEN 0 ELSE 1 END) AS BIGINT) AS remote_media_count, \
             CAST(COALESCE(SUM(CASE WHEN r.origin = $1 THEN NULL ELSE m.media_length END), 0) \
               AS BIGINT) AS remote_media_length \
             FROM (SELECT DISTINCT room_id, origin, media_id FROM room_media WHERE NOT redacted \
                   AND field IN ('content.url', 'content.info.thumbnail_url')) r \
             JOIN media m ON m.origin = r.origin AND m.media_id = r.media_id \
             GROUP BY r.room_id";
        let key = order.column();
        let dir = if descending { "DESC" } else { "ASC" };
        let page = format!(
            "SELECT * FROM ({USAGE}) u ORDER BY u.{key} {dir}, u.room_id ASC LIMIT $2 OFFSET $3"
        );
        let count = format!("SELECT COUNT(*) FROM ({USAGE}) u");
        Ok(read!(self, |p| {
            let total: i64 = sqlx::query_scalar(AssertSqlSafe(count))
                .bind(server_name)
                .fetch_one(p)
                .await?;
            let rows = sqlx::query_as(AssertSqlSafe(page))
                .bind(server_name)
                .bind(limit)
                .bind(from)
                .fetch_all(p)
                .await?;
            (rows, total)
        }))
    }
}
