//! Membership: join (by room ID or alias), invite, leave, kick, ban, unban, forget, and the
//! propagation of profile changes to the member events of joined rooms.

use serde_json::{Map, Value, json};

use super::{
    Service,
    auth::AuthState,
    error::{RoomsError, RoomsResult},
    pdu::Draft,
};

/// What a membership endpoint asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipAction {
    Join,
    Invite,
    Leave,
    Kick,
    Ban,
    Unban,
}

impl MembershipAction {
    fn name(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Invite => "invite",
            Self::Leave => "leave",
            Self::Kick => "kick",
            Self::Ban => "ban",
            Self::Unban => "unban",
        }
    }

    /// The membership the event records (kick and unban are leaves).
    fn membership(self) -> &'static str {
        match self {
            Self::Kick | Self::Unban => "leave",
            other => other.name(),
        }
    }
}

impl Service {
    /// Resolves a room ID or a local alias (`POST /join/{roomIdOrAlias}`).
    pub async fn resolve_room(&self, id_or_alias: &str) -> RoomsResult<String> {
        if id_or_alias.starts_with('#') {
            let alias = ruma::RoomAliasId::parse(id_or_alias)
                .map_err(|_| RoomsError::BadRequest(format!("Invalid alias: {id_or_alias}")))?;
            return Ok(self
                .db
                .get_alias(alias.as_str())
                .await?
                .ok_or_else(|| RoomsError::NotFound(format!("Room alias {alias} not found")))?
                .room_id);
        }
        if ruma::RoomId::parse(id_or_alias).is_err() {
            return Err(RoomsError::BadRequest(format!(
                "{id_or_alias} was not legal room ID or room alias"
            )));
        }
        Ok(id_or_alias.to_owned())
    }

    /// The membership endpoints. `target` is the user acted on (the sender for join/leave).
    pub async fn update_membership(
        &self,
        sender: &str,
        room_id: &str,
        action: MembershipAction,
        target: &str,
        reason: Option<Value>,
    ) -> RoomsResult<String> {
        if ruma::UserId::parse(target).is_err() {
            return Err(RoomsError::BadRequest(format!("Invalid user_id: {target}")));
        }
        let mut content = Map::new();
        if let Some(r) = reason {
            content.insert("reason".into(), r);
        }
        if self.db.get_room(room_id).await?.is_none() {
            return Err(RoomsError::NotFound(match action {
                MembershipAction::Join => "No known servers".into(),
                MembershipAction::Leave => "Not a known room".into(),
                _ => "Unknown room".into(),
            }));
        }
        let membership = action.membership();
        content.insert("membership".into(), json!(membership));
        self.change_membership(sender, room_id, target, membership, content, Some(action))
            .await
    }

    /// Sends a member event after Synapse's `update_membership` checks; a request that repeats
    /// the current membership with the same content is a no-op returning the current event.
    pub(crate) async fn change_membership(
        &self,
        sender: &str,
        room_id: &str,
        target: &str,
        membership: &str,
        mut content: Map<String, Value>,
        action: Option<MembershipAction>,
    ) -> RoomsResult<String> {
        content.remove("join_authorised_via_users_server");
        if !matches!(membership, "join" | "invite" | "leave" | "ban" | "knock") {
            return Err(RoomsError::BadRequest("Invalid membership key".into()));
        }
        if matches!(membership, "join" | "invite")
            && let Some(u) = self.db.get_user(target).await?
        {
            if !content.contains_key("displayname")
                && let Some(d) = u.displayname
            {
                content.insert("displayname".into(), json!(d));
            }
            if !content.contains_key("avatar_url")
                && let Some(a) = u.avatar_url
            {
                content.insert("avatar_url".into(), json!(a));
            }
        }
        let action_name: &str = match action {
            Some(a) => a.name(),
            None => membership,
        };
        let current = self
            .db
            .state_event(room_id, "m.room.member", target)
            .await?;
        let (s, c) = (sender.to_owned(), content.clone());
        let pre = move |st: &AuthState| -> RoomsResult<Option<String>> {
            let Some(old) = st.membership(target) else {
                if action_name == "kick" {
                    return Err(RoomsError::forbidden("The target user is not in the room"));
                }
                return Ok(None);
            };
            if action_name == "unban" && old != "ban" {
                return Err(RoomsError::BadState(format!(
                    "Cannot unban user who was not banned (membership={old})"
                )));
            }
            if old == "ban" && !matches!(action_name, "ban" | "unban" | "leave") {
                return Err(RoomsError::BadState(format!(
                    "Cannot {action_name} user who was banned"
                )));
            }
            if let Some(e) = &current
                && e.sender == s
                && old == membership
                && serde_json::from_str::<Map<String, Value>>(&e.content)
                    .ok()
                    .as_ref()
                    == Some(&c)
            {
                return Ok(Some(e.event_id.clone()));
            }
            if matches!(old, "ban" | "leave") && action_name == "kick" {
                return Err(RoomsError::forbidden("The target user is not in the room"));
            }
            Ok(None)
        };
        let draft = Draft {
            room_id: room_id.to_owned(),
            event_type: "m.room.member".into(),
            state_key: Some(target.to_owned()),
            sender: sender.to_owned(),
            content,
            redacts: None,
            txn: None,
        };
        self.send_draft(draft, &pre).await
    }

    /// `POST /rooms/{roomId}/forget`: only rooms the user left or was banned from.
    pub async fn forget(&self, user_id: &str, room_id: &str) -> RoomsResult<()> {
        match self.db.room_member(room_id, user_id).await? {
            Some(m) if !matches!(m.membership.as_str(), "leave" | "ban") => Err(
                RoomsError::BadRequest(format!("User {user_id} in room {room_id}")),
            ),
            Some(_) => Ok(self.db.forget_room(room_id, user_id).await?),
            None => Ok(()),
        }
    }

    /// Sends a new join event carrying the user's current profile into every joined room, as
    /// Synapse does after a profile change. Rooms where this fails are logged and skipped.
    pub async fn propagate_profile(&self, user_id: &str) -> RoomsResult<()> {
        for room_id in self.db.joined_rooms(user_id).await? {
            let content = Map::from_iter([("membership".to_owned(), json!("join"))]);
            if let Err(e) = self
                .change_membership(user_id, &room_id, user_id, "join", content, None)
                .await
            {
                tracing::warn!(error = %e, room_id, "could not update the member event");
            }
        }
        Ok(())
    }
}
