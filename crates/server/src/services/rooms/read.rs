//! Reading rooms: state, members, single events and `/messages`, within what the viewer may see.

use mxcd_db::EventRow;
use serde_json::{Map, Value, json};

use super::{
    Service, Viewer,
    error::{RoomsError, RoomsResult},
};

/// `/messages` direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// A page of `/messages`.
#[derive(Debug)]
pub struct Messages {
    pub chunk: Vec<Value>,
    pub start: String,
    pub end: Option<String>,
}

/// The largest `/messages` page (Synapse's `MAX_LIMIT`).
const MAX_LIMIT: i64 = 1000;

/// A stream token as mxcd writes them: `s` followed by a stream position.
pub fn parse_token(t: &str) -> Option<i64> {
    t.strip_prefix('s')?.parse().ok().filter(|n: &i64| *n >= 0)
}

pub fn token(pos: i64) -> String {
    format!("s{pos}")
}

impl Service {
    /// The newest stream position the viewer may see in the room: everything while joined (or
    /// in a world-readable room), up to their departure after leaving or being banned.
    pub(crate) async fn visible_upto(&self, user_id: &str, room_id: &str) -> RoomsResult<i64> {
        let member = self.db.room_member(room_id, user_id).await?;
        match member.as_ref().map(|m| m.membership.as_str()) {
            Some("join") => return Ok(i64::MAX),
            Some("leave" | "ban") => return Ok(member.map_or(0, |m| m.stream_ordering)),
            _ => {}
        }
        let world_readable = self
            .db
            .get_room(room_id)
            .await?
            .is_some_and(|r| r.history_visibility.as_deref() == Some("world_readable"));
        if world_readable {
            return Ok(i64::MAX);
        }
        Err(RoomsError::Forbidden(format!(
            "User {user_id} not in room {room_id}, and room previews are disabled"
        )))
    }

    /// `GET /rooms/{roomId}/state`.
    pub async fn state(&self, viewer: Viewer<'_>, room_id: &str) -> RoomsResult<Vec<Value>> {
        let upto = self.visible_upto(viewer.user_id, room_id).await?;
        let events: Vec<EventRow> = self
            .db
            .current_state(room_id)
            .await?
            .into_iter()
            .filter(|e| e.stream_ordering <= upto)
            .collect();
        let f = self.formatter(viewer, &[&events]).await?;
        Ok(f.events(&events, true))
    }

    /// `GET /rooms/{roomId}/state/{eventType}/{stateKey}`: the event, formatted.
    pub async fn state_event(
        &self,
        viewer: Viewer<'_>,
        room_id: &str,
        event_type: &str,
        state_key: &str,
    ) -> RoomsResult<Value> {
        let upto = self.visible_upto(viewer.user_id, room_id).await?;
        let e = self
            .db
            .state_event(room_id, event_type, state_key)
            .await?
            .filter(|e| e.stream_ordering <= upto)
            .ok_or_else(|| RoomsError::NotFound("Event not found.".into()))?;
        let f = self.formatter(viewer, &[std::slice::from_ref(&e)]).await?;
        Ok(f.event(&e, true))
    }

    /// `GET /rooms/{roomId}/members`, filtered by `membership` / `not_membership`.
    pub async fn members(
        &self,
        viewer: Viewer<'_>,
        room_id: &str,
        membership: Option<&str>,
        not_membership: Option<&str>,
    ) -> RoomsResult<Vec<Value>> {
        let upto = self.visible_upto(viewer.user_id, room_id).await?;
        let events: Vec<EventRow> = self
            .db
            .current_state(room_id)
            .await?
            .into_iter()
            .filter(|e| e.event_type == "m.room.member" && e.stream_ordering <= upto)
            .filter(|e| {
                let c: Map<String, Value> = serde_json::from_str(&e.content).unwrap_or_default();
                let m = c.get("membership").and_then(Value::as_str);
                membership.is_none_or(|want| m == Some(want))
                    && not_membership.is_none_or(|not| m != Some(not))
            })
            .collect();
        let f = self.formatter(viewer, &[&events]).await?;
        Ok(f.events(&events, true))
    }

    /// `GET /rooms/{roomId}/joined_members`: only for current members.
    pub async fn joined_members(&self, user_id: &str, room_id: &str) -> RoomsResult<Value> {
        let me = self.db.room_member(room_id, user_id).await?;
        if me.is_none_or(|m| m.membership != "join") {
            return Err(RoomsError::forbidden(
                "Getting joined members while not being a current member of the room is forbidden.",
            ));
        }
        let mut joined = Map::new();
        for m in self.db.room_members(room_id, Some("join")).await? {
            joined.insert(
                m.user_id,
                json!({"display_name": m.displayname, "avatar_url": m.avatar_url}),
            );
        }
        Ok(Value::Object(joined))
    }

    /// `GET /joined_rooms`.
    pub async fn joined_rooms(&self, user_id: &str) -> RoomsResult<Vec<String>> {
        Ok(self.db.joined_rooms(user_id).await?)
    }

    /// `GET /rooms/{roomId}/event/{eventId}`.
    pub async fn event(
        &self,
        viewer: Viewer<'_>,
        room_id: &str,
        event_id: &str,
    ) -> RoomsResult<Value> {
        let not_found = || RoomsError::NotFound("Event not found.".into());
        let upto = self
            .visible_upto(viewer.user_id, room_id)
            .await
            .map_err(|_| not_found())?;
        let e = self
            .db
            .get_event(event_id)
            .await?
            .filter(|e| e.room_id == room_id && e.stream_ordering <= upto)
            .ok_or_else(not_found)?;
        let f = self.formatter(viewer, &[std::slice::from_ref(&e)]).await?;
        Ok(f.event(&e, true))
    }

    /// `GET /rooms/{roomId}/messages`. Tokens are positions between events: going backwards
    /// from `sN` returns events at or before N, going forwards events after N.
    pub async fn messages(
        &self,
        viewer: Viewer<'_>,
        room_id: &str,
        from: Option<i64>,
        to: Option<i64>,
        dir: Direction,
        limit: i64,
    ) -> RoomsResult<Messages> {
        let upto = self.visible_upto(viewer.user_id, room_id).await?;
        let current = self.db.stream_position().await?;
        let limit = limit.min(MAX_LIMIT);
        let (events, start, end) = match dir {
            Direction::Backward => {
                let from = from.unwrap_or(current).min(upto);
                let mut evs = self
                    .db
                    .room_events(room_id, (to.unwrap_or(0), from), limit, true)
                    .await?;
                evs.truncate(limit as usize);
                let end = (evs.len() as i64 == limit && limit > 0)
                    .then(|| evs.last().map(|e| token(e.stream_ordering - 1)))
                    .flatten();
                (evs, from, end)
            }
            Direction::Forward => {
                let from = from.unwrap_or(0);
                let bound = to.unwrap_or(current).min(upto);
                let evs = self
                    .db
                    .room_events(room_id, (from, bound), limit, false)
                    .await?;
                let end = evs.last().map(|e| token(e.stream_ordering));
                (evs, from, end)
            }
        };
        let f = self.formatter(viewer, &[&events]).await?;
        Ok(Messages {
            chunk: f.events(&events, true),
            start: token(start),
            end,
        })
    }
}
