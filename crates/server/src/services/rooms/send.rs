//! Sending events: message events, state events and redactions, idempotent per device and
//! transaction ID.

use mxcd_db::{ErrorKind, NewEvent, Redaction};
use mxcd_types::time::now_ms;
use serde_json::{Map, Value};

use super::{
    Service,
    auth::AuthState,
    derive,
    error::{RoomsError, RoomsResult},
    pdu::{self, Draft},
};

/// How many times an event is rebuilt when other writers keep moving the room on.
const ATTEMPTS: usize = 20;

/// A check run against the fresh state before an event is built; `Some(event_id)` means the
/// request is already satisfied by that event and nothing is sent.
pub(crate) type Precheck<'a> = &'a (dyn Fn(&AuthState) -> RoomsResult<Option<String>> + Sync);

/// Turns a draft into an event placed after `prev` at `depth`, with everything derived from it.
pub(crate) fn build(
    draft: &Draft,
    prev: Option<&str>,
    depth: i64,
    redaction: Option<Redaction>,
) -> RoomsResult<NewEvent> {
    let ts = now_ms();
    let event_id = pdu::event_id(draft, prev, depth, ts)?;
    let content = Value::Object(draft.content.clone()).to_string();
    Ok(NewEvent {
        event_id,
        room_id: draft.room_id.clone(),
        event_type: draft.event_type.clone(),
        state_key: draft.state_key.clone(),
        sender: draft.sender.clone(),
        origin_server_ts: ts,
        depth,
        content,
        redacts: draft.redacts.clone(),
        txn: draft.txn.clone(),
        member: derive::member_fields(&draft.event_type, &draft.content),
        room_fields: derive::room_fields(
            &draft.event_type,
            draft.state_key.as_deref(),
            &draft.content,
        ),
        media: derive::media_refs(&draft.event_type, &draft.content),
        redaction,
    })
}

impl Service {
    /// Authorises and persists one event, retrying when the room moved on meanwhile.
    ///
    /// Senders to one room take turns within this process (Synapse also queues event creation
    /// per room, in a linearizer). Otherwise each of many concurrent senders would rebuild its
    /// event after every other one's, and some would run out of attempts (503). The attempts
    /// remain for other instances sharing the database.
    pub(crate) async fn send_draft(&self, draft: Draft, pre: Precheck<'_>) -> RoomsResult<String> {
        let _turn = self.sending.hold(&draft.room_id).await;
        for _ in 0..ATTEMPTS {
            if let Some((device, txn)) = &draft.txn
                && let Some(id) = self.db.event_by_txn(&draft.sender, device, txn).await?
            {
                return Ok(id);
            }
            let room = self.room(&draft.room_id, "Unknown room").await?;
            let target = match (&draft.state_key, draft.event_type.as_str()) {
                (Some(k), "m.room.member") => k.as_str(),
                _ => draft.sender.as_str(),
            };
            let state = self
                .auth_state(&draft.room_id, &[&draft.sender, target])
                .await?;
            if let Some(existing) = pre(&state)? {
                return Ok(existing);
            }
            let redaction = self.authorise(&state, &draft).await?;
            let ev = build(
                &draft,
                room.last_event_id.as_deref(),
                room.last_depth + 1,
                redaction,
            )?;
            match self
                .db
                .persist_events(
                    None,
                    room.last_event_id.as_deref(),
                    std::slice::from_ref(&ev),
                )
                .await
            {
                Ok(positions) => {
                    if let Some(p) = positions.last() {
                        self.notifier.notify(*p);
                    }
                    return Ok(ev.event_id);
                }
                Err(e) if e.kind() == ErrorKind::Conflict => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(RoomsError::Contention)
    }

    /// Applies the authorisation rules; for a redaction, also works out what it changes.
    async fn authorise(&self, state: &AuthState, d: &Draft) -> RoomsResult<Option<Redaction>> {
        if d.event_type == "m.room.member" && d.state_key.is_some() {
            let target = d.state_key.as_deref().unwrap_or_default();
            let membership = d
                .content
                .get("membership")
                .and_then(Value::as_str)
                .unwrap_or_default();
            state.check_membership(&d.sender, target, membership)?;
            return Ok(None);
        }
        let own_only =
            state.check_event(&d.sender, &d.event_type, d.state_key.as_deref(), &d.content)?;
        let Some(target_id) = &d.redacts else {
            return Ok(None);
        };
        let Some(target) = self
            .db
            .get_event(target_id)
            .await?
            .filter(|t| t.room_id == d.room_id)
        else {
            // As Synapse: a redaction of an unknown event is accepted and changes nothing.
            return Ok(None);
        };
        if own_only && target.sender != d.sender {
            return Err(RoomsError::forbidden(
                "You don't have permission to redact events",
            ));
        }
        let pruned = pdu::pruned_content(&target.event_type, &target.content);
        let pruned_map: Map<String, Value> = serde_json::from_str(&pruned).unwrap_or_default();
        Ok(Some(Redaction {
            room_fields: derive::room_fields(
                &target.event_type,
                target.state_key.as_deref(),
                &pruned_map,
            ),
            target: target.event_id,
            pruned_content: pruned,
        }))
    }

    /// `PUT /rooms/{roomId}/send/{eventType}/{txnId}`.
    pub async fn send_message(
        &self,
        sender: &str,
        device: &str,
        room_id: &str,
        event_type: &str,
        txn_id: Option<&str>,
        content: Map<String, Value>,
    ) -> RoomsResult<String> {
        let draft = Draft {
            room_id: room_id.to_owned(),
            event_type: event_type.to_owned(),
            state_key: None,
            sender: sender.to_owned(),
            content,
            redacts: None,
            txn: txn_id.map(|t| (device.to_owned(), t.to_owned())),
        };
        self.send_draft(draft, &|_| Ok(None)).await
    }

    /// `PUT /rooms/{roomId}/state/{eventType}/{stateKey}`. Member events go through the
    /// membership rules like the membership endpoints.
    pub async fn send_state(
        &self,
        sender: &str,
        room_id: &str,
        event_type: &str,
        state_key: &str,
        content: Map<String, Value>,
    ) -> RoomsResult<String> {
        if event_type == "m.room.member" {
            let Some(membership) = content.get("membership").and_then(Value::as_str) else {
                return Err(RoomsError::BadRequest(
                    "Invalid membership (must be a string)".into(),
                ));
            };
            if ruma::UserId::parse(state_key).is_err() {
                return Err(RoomsError::BadRequest(format!(
                    "Invalid user_id: {state_key}"
                )));
            }
            let membership = membership.to_owned();
            return self
                .change_membership(sender, room_id, state_key, &membership, content, None)
                .await;
        }
        if event_type == "m.room.power_levels" {
            super::auth::validate_power_levels(&content)?;
        }
        let draft = Draft {
            room_id: room_id.to_owned(),
            event_type: event_type.to_owned(),
            state_key: Some(state_key.to_owned()),
            sender: sender.to_owned(),
            content,
            redacts: None,
            txn: None,
        };
        // As Synapse: re-sending the current content of a state key is a no-op.
        let (sender_owned, et, sk, c) = (
            sender.to_owned(),
            event_type.to_owned(),
            state_key.to_owned(),
            draft.content.clone(),
        );
        let current = self.db.state_event(room_id, &et, &sk).await?;
        let pre = move |_: &AuthState| {
            Ok(current.as_ref().and_then(|e| {
                let same = e.sender == sender_owned
                    && serde_json::from_str::<Map<String, Value>>(&e.content).ok()
                        == Some(c.clone());
                same.then(|| e.event_id.clone())
            }))
        };
        self.send_draft(draft, &pre).await
    }

    /// `PUT /rooms/{roomId}/redact/{eventId}/{txnId}`.
    pub async fn redact(
        &self,
        sender: &str,
        device: &str,
        room_id: &str,
        event_id: &str,
        txn_id: Option<&str>,
        content: Map<String, Value>,
    ) -> RoomsResult<String> {
        if content
            .get("redacts")
            .is_some_and(|r| r.as_str() != Some(event_id))
        {
            return Err(RoomsError::BadRequest(
                "Cannot provide a redacts value incoherent with the event_id of the URL parameter"
                    .into(),
            ));
        }
        let draft = Draft {
            room_id: room_id.to_owned(),
            event_type: "m.room.redaction".into(),
            state_key: None,
            sender: sender.to_owned(),
            content,
            redacts: Some(event_id.to_owned()),
            txn: txn_id.map(|t| (device.to_owned(), t.to_owned())),
        };
        self.send_draft(draft, &|_| Ok(None)).await
    }
}
