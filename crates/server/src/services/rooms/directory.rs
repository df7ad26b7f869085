//! Room aliases (`/directory/room/{alias}`), the published room list and `/publicRooms`.

use mxcd_db::{ErrorKind, RoomRow};
use mxcd_types::time::now_ms;

use super::{
    Service,
    error::{RoomsError, RoomsResult},
};

const MAX_ALIAS_LENGTH: usize = 255;

impl Service {
    /// `GET /directory/room/{roomAlias}`: the room ID and the servers (only this one).
    pub async fn get_alias(&self, alias: &str) -> RoomsResult<(String, Vec<String>)> {
        let row = self
            .db
            .get_alias(alias)
            .await?
            .ok_or_else(|| RoomsError::NotFound(format!("Room alias {alias} not found")))?;
        Ok((row.room_id, vec![self.server_name.clone()]))
    }

    /// `PUT /directory/room/{roomAlias}`, after Synapse's checks.
    pub async fn create_alias(
        &self,
        user_id: &str,
        is_admin: bool,
        alias: &ruma::RoomAliasId,
        room_id: &str,
    ) -> RoomsResult<()> {
        if self.db.get_room(room_id).await?.is_none() {
            return Err(RoomsError::BadRequest("Room does not exist".into()));
        }
        if alias.as_str().len() > MAX_ALIAS_LENGTH {
            return Err(RoomsError::InvalidParam(format!(
                "Can't create aliases longer than {MAX_ALIAS_LENGTH} characters"
            )));
        }
        if !is_admin {
            let joined = self
                .db
                .room_member(room_id, user_id)
                .await?
                .is_some_and(|m| m.membership == "join");
            if !joined {
                return Err(RoomsError::forbidden(
                    "You must be in the room to create an alias for it",
                ));
            }
        }
        let local = alias.alias();
        if local.chars().any(|c| " \t\n\r\x0b\x0c".contains(c)) {
            return Err(RoomsError::BadRequest(
                "Invalid characters in room alias".into(),
            ));
        }
        if alias.server_name().as_str() != self.server_name {
            return Err(RoomsError::BadRequest("Room alias must be local".into()));
        }
        self.db
            .create_alias(alias.as_str(), room_id, user_id, now_ms())
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::Conflict => {
                    RoomsError::Conflict(format!("Room alias {alias} already exists"))
                }
                _ => e.into(),
            })
    }

    /// `DELETE /directory/room/{roomAlias}`: by its creator, an admin, or a member allowed to
    /// send `m.room.canonical_alias`.
    pub async fn delete_alias(
        &self,
        user_id: &str,
        is_admin: bool,
        alias: &ruma::RoomAliasId,
    ) -> RoomsResult<()> {
        if alias.server_name().as_str() != self.server_name {
            return Err(RoomsError::BadRequest("Room alias must be local".into()));
        }
        let row = self
            .db
            .get_alias(alias.as_str())
            .await?
            .ok_or_else(|| RoomsError::NotFound("Unknown room alias".into()))?;
        if !(row.creator == user_id
            || self
                .can_change_room_list(user_id, is_admin, &row.room_id)
                .await?)
        {
            return Err(RoomsError::forbidden(
                "You don't have permission to delete the alias.",
            ));
        }
        self.db
            .delete_alias(alias.as_str())
            .await
            .map_err(|e| RoomsError::db_not_found(e, "Unknown room alias"))
    }

    /// Synapse's `check_can_change_room_list`: admins, and members whose power level allows
    /// `m.room.canonical_alias`.
    async fn can_change_room_list(
        &self,
        user_id: &str,
        is_admin: bool,
        room_id: &str,
    ) -> RoomsResult<bool> {
        if is_admin {
            return Ok(true);
        }
        let st = self.auth_state(room_id, &[user_id]).await?;
        if st.membership(user_id) != Some("join") {
            return Ok(false);
        }
        Ok(st.user_level(user_id) >= st.send_level("m.room.canonical_alias", true))
    }

    /// `GET /directory/list/room/{roomId}`.
    pub async fn room_visibility(&self, room_id: &str) -> RoomsResult<&'static str> {
        let room = self.room(room_id, "Unknown room").await?;
        Ok(if room.is_public { "public" } else { "private" })
    }

    /// `PUT /directory/list/room/{roomId}`.
    pub async fn set_room_visibility(
        &self,
        user_id: &str,
        is_admin: bool,
        room_id: &str,
        public: bool,
    ) -> RoomsResult<()> {
        self.room(room_id, "Unknown room").await?;
        if !self
            .can_change_room_list(user_id, is_admin, room_id)
            .await?
        {
            return Err(RoomsError::forbidden(
                "This user is not permitted to edit the room directory",
            ));
        }
        Ok(self.db.set_room_public(room_id, public).await?)
    }

    /// `/publicRooms`: published, joinable rooms, largest first; `since` is an offset.
    pub async fn public_rooms(
        &self,
        search: Option<&str>,
        since: i64,
        limit: i64,
    ) -> RoomsResult<(Vec<RoomRow>, i64)> {
        Ok(self.db.public_rooms(search, since, limit).await?)
    }
}
