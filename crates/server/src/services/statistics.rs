//! Statistics for operators, read from the aggregates the database keeps exact (migration 0009):
//! Synapse's users' media usage and largest rooms, and mxcd's per-room and server-wide media.

use mxcd_db::{
    Db, DbError, MediaTotals, RoomMediaOrder, RoomMediaUsage, RoomSize, UserMediaQuery,
    UserMediaUsage,
};

/// How many rooms `/statistics/database/rooms` lists (Synapse's fixed 10).
const LARGEST_ROOMS: i64 = 10;

pub struct Service {
    db: Db,
    server_name: String,
}

impl Service {
    pub fn new(db: Db, server_name: &str) -> Self {
        Self {
            db,
            server_name: server_name.to_owned(),
        }
    }

    pub async fn users_media(
        &self,
        q: &UserMediaQuery,
    ) -> Result<(Vec<UserMediaUsage>, i64), DbError> {
        self.db.user_media_usage(q).await
    }

    pub async fn largest_rooms(&self) -> Result<Vec<RoomSize>, DbError> {
        self.db.largest_rooms(LARGEST_ROOMS).await
    }

    pub async fn rooms_media(
        &self,
        order: RoomMediaOrder,
        descending: bool,
        from: i64,
        limit: i64,
    ) -> Result<(Vec<RoomMediaUsage>, i64), DbError> {
        self.db
            .room_media_usage(&self.server_name, order, descending, from, limit)
            .await
    }

    pub async fn media_totals(&self) -> Result<MediaTotals, DbError> {
        self.db.media_totals(&self.server_name).await
    }
}
