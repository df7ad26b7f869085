//! Profiles: display name and avatar URL, and their propagation into joined rooms.

use std::sync::Arc;

use mxcd_db::{Db, UserPatch};
use serde_json::Value;

use super::rooms::{self, RoomsError, RoomsResult};

/// Synapse's limits.
const MAX_DISPLAYNAME_LEN: usize = 256;
const MAX_AVATAR_URL_LEN: usize = 1000;

/// The profile field being read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Displayname,
    AvatarUrl,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Self::Displayname => "displayname",
            Self::AvatarUrl => "avatar_url",
        }
    }
}

pub struct Service {
    db: Db,
    rooms: Arc<rooms::Service>,
}

fn not_found() -> RoomsError {
    RoomsError::NotFound("Profile was not found".into())
}

impl Service {
    pub fn new(db: Db, rooms: Arc<rooms::Service>) -> Self {
        Self { db, rooms }
    }

    /// `GET /profile/{userId}`: the fields that are set; 404 when neither is.
    pub async fn get(&self, user_id: &str) -> RoomsResult<(Option<String>, Option<String>)> {
        let u = self.db.get_user(user_id).await?.ok_or_else(not_found)?;
        if u.displayname.is_none() && u.avatar_url.is_none() {
            return Err(not_found());
        }
        Ok((u.displayname, u.avatar_url))
    }

    /// `GET /profile/{userId}/{field}`.
    pub async fn get_field(&self, user_id: &str, field: Field) -> RoomsResult<Option<String>> {
        let u = self.db.get_user(user_id).await?.ok_or_else(not_found)?;
        Ok(match field {
            Field::Displayname => u.displayname,
            Field::AvatarUrl => u.avatar_url,
        })
    }

    /// `PUT /profile/{userId}/{field}` after Synapse's checks; then a new member event in every
    /// joined room.
    pub async fn set_field(
        &self,
        requester: &str,
        is_admin: bool,
        target: &str,
        field: Field,
        value: &Value,
    ) -> RoomsResult<()> {
        let local = target
            .split_once(':')
            .is_some_and(|(_, d)| d == self.rooms.server_name());
        if !local {
            return Err(RoomsError::BadRequest(
                "User is not hosted on this homeserver".into(),
            ));
        }
        if !is_admin && target != requester {
            return Err(RoomsError::ForbiddenBadRequest(format!(
                "Cannot set another user's {}",
                field.name()
            )));
        }
        let Value::String(v) = value else {
            return Err(RoomsError::InvalidParam(format!(
                "'{}' must be a string",
                field.name()
            )));
        };
        let (max, what) = match field {
            Field::Displayname => (MAX_DISPLAYNAME_LEN, "Displayname is too long"),
            Field::AvatarUrl => (MAX_AVATAR_URL_LEN, "Avatar URL is too long"),
        };
        if v.chars().count() > max {
            return Err(RoomsError::BadRequest(format!("{what} (max {max})")));
        }
        let new = match field {
            // As Synapse: stripped, and cleared only by an empty string.
            Field::Displayname => (!v.is_empty()).then(|| v.trim().to_owned()),
            Field::AvatarUrl => (!v.is_empty()).then(|| v.clone()),
        };
        let patch = match field {
            Field::Displayname => UserPatch {
                displayname: Some(new),
                ..Default::default()
            },
            Field::AvatarUrl => UserPatch {
                avatar_url: Some(new),
                ..Default::default()
            },
        };
        self.db
            .update_user(target, &patch)
            .await
            .map_err(|e| RoomsError::db_not_found(e, "Profile was not found"))?;
        self.rooms.propagate_profile(target).await
    }
}
