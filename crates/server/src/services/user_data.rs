//! Per-user data the client stores on the server: account data and sync filters.

use mxcd_db::Db;
use serde_json::{Map, Value};

use super::rooms::{RoomsError, RoomsResult};

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

    fn check_room_id(room_id: &str) -> RoomsResult<()> {
        if ruma::RoomId::parse(room_id).is_err() {
            return Err(RoomsError::InvalidParam(format!(
                "{room_id} is not a valid room ID"
            )));
        }
        Ok(())
    }

    /// `PUT /user/{userId}[/rooms/{roomId}]/account_data/{type}`.
    pub async fn put_account_data(
        &self,
        requester: &str,
        user_id: &str,
        room_id: Option<&str>,
        data_type: &str,
        content: &Map<String, Value>,
    ) -> RoomsResult<()> {
        if user_id != requester {
            return Err(RoomsError::forbidden(
                "Cannot add account data for other users.",
            ));
        }
        if let Some(r) = room_id {
            Self::check_room_id(r)?;
        }
        match data_type {
            "m.fully_read" if room_id.is_some() => Err(RoomsError::NotAllowed(
                "Cannot set m.fully_read through this API. Use /rooms/!roomId:server.name/read_markers"
                    .into(),
            )),
            "m.push_rules" => Err(RoomsError::NotAllowed(
                "Cannot set m.push_rules through this API. Use /pushrules".into(),
            )),
            _ => {
                let text = Value::Object(content.clone()).to_string();
                self.db
                    .put_account_data(user_id, room_id.unwrap_or(""), data_type, &text)
                    .await?;
                Ok(())
            }
        }
    }

    /// `GET /user/{userId}[/rooms/{roomId}]/account_data/{type}`.
    pub async fn get_account_data(
        &self,
        requester: &str,
        user_id: &str,
        room_id: Option<&str>,
        data_type: &str,
    ) -> RoomsResult<Value> {
        if user_id != requester {
            return Err(RoomsError::forbidden(
                "Cannot get account data for other users.",
            ));
        }
        if let Some(r) = room_id {
            Self::check_room_id(r)?;
        }
        let text = self
            .db
            .get_account_data(user_id, room_id.unwrap_or(""), data_type)
            .await?
            .ok_or_else(|| RoomsError::NotFound("Account data not found".into()))?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    }

    fn check_filter_owner(&self, requester: &str, user_id: &str, verb: &str) -> RoomsResult<()> {
        if user_id != requester {
            return Err(RoomsError::Forbidden(format!(
                "Cannot {verb} filters for other users"
            )));
        }
        if user_id.split_once(':').map(|(_, d)| d) != Some(self.server_name.as_str()) {
            return Err(RoomsError::Forbidden(format!(
                "Can only {verb} filters for local users"
            )));
        }
        Ok(())
    }

    /// `POST /user/{userId}/filter`: stores the filter and returns its ID.
    pub async fn create_filter(
        &self,
        requester: &str,
        user_id: &str,
        filter: &Map<String, Value>,
    ) -> RoomsResult<String> {
        self.check_filter_owner(requester, user_id, "create")?;
        if let Some(l) = filter
            .get("room")
            .and_then(|r| r.get("timeline")?.get("limit"))
            && !l.is_i64()
        {
            return Err(RoomsError::BadJson(format!("{l} is not of type 'integer'")));
        }
        let id = self
            .db
            .create_filter(user_id, &Value::Object(filter.clone()).to_string())
            .await?;
        Ok(id.to_string())
    }

    /// `GET /user/{userId}/filter/{filterId}`.
    pub async fn get_filter(
        &self,
        requester: &str,
        user_id: &str,
        filter_id: &str,
    ) -> RoomsResult<Value> {
        self.check_filter_owner(requester, user_id, "get")?;
        let id: i64 = filter_id
            .parse()
            .map_err(|_| RoomsError::BadRequest("Invalid filter_id".into()))?;
        let text = self
            .db
            .get_filter(user_id, id)
            .await?
            .ok_or_else(|| RoomsError::NotFound("No such filter".into()))?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    }
}
