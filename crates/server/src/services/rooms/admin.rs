//! What the admin room API (`/_synapse/admin/v1/rooms…`) reads.

use mxcd_db::{RoomFilter, RoomRow};
use serde_json::Value;

use super::{
    Service,
    error::{RoomsError, RoomsResult},
};

/// One room as `GET /_synapse/admin/v1/rooms/{roomId}` shows it.
#[derive(Debug)]
pub struct AdminRoom {
    pub room: RoomRow,
    pub joined_local_devices: i64,
    pub forgotten: bool,
    pub replacement_room: Option<Option<String>>,
}

impl Service {
    pub async fn admin_list_rooms(&self, f: &RoomFilter) -> RoomsResult<(Vec<RoomRow>, i64)> {
        Ok(self.db.list_rooms(f).await?)
    }

    pub async fn admin_room(&self, room_id: &str) -> RoomsResult<AdminRoom> {
        let room = self.room(room_id, "Room not found").await?;
        let members: Vec<String> = self
            .db
            .room_members(room_id, Some("join"))
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        let tombstone = self.db.state_event(room_id, "m.room.tombstone", "").await?;
        Ok(AdminRoom {
            joined_local_devices: self.db.count_devices(&members).await?,
            forgotten: self.db.room_forgotten(room_id).await?,
            replacement_room: tombstone.map(|t| {
                serde_json::from_str::<Value>(&t.content)
                    .ok()
                    .and_then(|c| c.get("replacement_room")?.as_str().map(str::to_owned))
            }),
            room,
        })
    }

    /// Joined members of a room, by user ID; 404 for an unknown room.
    pub async fn admin_room_members(&self, room_id: &str) -> RoomsResult<Vec<String>> {
        if self.db.get_room(room_id).await?.is_none() {
            return Err(RoomsError::NotFound("Room not found".into()));
        }
        Ok(self
            .db
            .room_members(room_id, Some("join"))
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect())
    }
}
