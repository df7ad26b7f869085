//! Rooms on this server: creation, membership, sending events, reading them, aliases and the
//! room directory. Events are authorised against the current state (room version 10 rules) and
//! persisted with optimistic concurrency: an event is built on the room's newest event, and if
//! another writer got there first it is rebuilt and retried.

mod admin;
mod auth;
mod create;
pub(crate) mod derive;
mod directory;
mod error;
mod format;
mod membership;
mod pdu;
mod read;
mod send;
mod sync;

use std::{collections::BTreeMap, sync::Arc};

use mxcd_db::{Db, EventRow, RoomRow};
use mxcd_types::{random_string, time::now_ms};

pub use admin::AdminRoom;
pub use create::CreateRoom;
pub use error::{RoomsError, RoomsResult};
pub use format::Viewer;
pub use membership::MembershipAction;
pub use read::{Direction, Messages, parse_token, token};
pub use sync::SyncRequest;

use self::{auth::AuthState, format::Formatter};
use super::{flights::Flights, notifier::Notifier};

pub struct Service {
    db: Db,
    server_name: String,
    notifier: Arc<Notifier>,
    /// One sender at a time per room in this process (see [`Service::send_draft`]).
    sending: Flights,
}

impl Service {
    pub fn new(db: Db, server_name: &str, notifier: Arc<Notifier>) -> Self {
        Self {
            db,
            server_name: server_name.to_owned(),
            notifier,
            sending: Flights::default(),
        }
    }

    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// A new room ID in Synapse's style: 18 random letters.
    fn new_room_id(&self) -> String {
        let letters: String = random_string(18)
            .chars()
            .map(|c| if c.is_ascii_digit() { 'x' } else { c })
            .collect();
        format!("!{letters}:{}", self.server_name)
    }

    /// The room, or 404 with `missing` as the message.
    async fn room(&self, room_id: &str, missing: &str) -> RoomsResult<RoomRow> {
        self.db
            .get_room(room_id)
            .await?
            .ok_or_else(|| RoomsError::NotFound(missing.to_owned()))
    }

    /// The authorisation state of a room, with the member events of `users`.
    async fn auth_state(&self, room_id: &str, users: &[&str]) -> RoomsResult<AuthState> {
        let rows = self.db.auth_state(room_id, users).await?;
        Ok(auth_state_of(room_id, &rows))
    }

    /// A formatter for `viewer` that knows the redactions of `events`.
    async fn formatter<'a>(
        &self,
        viewer: Viewer<'a>,
        events: &[&[EventRow]],
    ) -> RoomsResult<Formatter<'a>> {
        let ids: Vec<String> = events
            .iter()
            .flat_map(|es| es.iter())
            .filter_map(|e| e.redacted_by.clone())
            .collect();
        let redactions: BTreeMap<String, EventRow> = if ids.is_empty() {
            BTreeMap::new()
        } else {
            self.db
                .get_events(&ids)
                .await?
                .into_iter()
                .map(|e| (e.event_id.clone(), e))
                .collect()
        };
        Ok(Formatter {
            viewer,
            now: now_ms(),
            redactions,
        })
    }
}

/// Builds an [`AuthState`] from state event rows.
fn auth_state_of(room_id: &str, rows: &[EventRow]) -> AuthState {
    let mut st = AuthState {
        room_id: room_id.to_owned(),
        ..Default::default()
    };
    for e in rows {
        let content: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&e.content).unwrap_or_default();
        st.apply(
            &e.event_type,
            e.state_key.as_deref().unwrap_or(""),
            &e.sender,
            &content,
            &e.event_id,
        );
    }
    st
}
