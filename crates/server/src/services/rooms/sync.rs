//! `/sync`: initial and incremental, with long-polling.
//!
//! A sync token is a stream position (`sN`). An incremental sync first compares `since` with
//! the newest position, so a sync with nothing new anywhere reads one row; otherwise it asks
//! which of the user's rooms have events after `since` (a range scan of the stream index, not
//! of each room) and which memberships changed.

use std::{collections::BTreeMap, time::Duration};

use futures_util::{StreamExt as _, TryStreamExt as _};
use mxcd_db::{AccountDataRow, EventRow, MemberRow};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::{Service, Viewer, error::RoomsResult, format::stripped, read::token};

/// What a `/sync` request asks for.
#[derive(Clone, Debug)]
pub struct SyncRequest {
    pub since: Option<i64>,
    pub timeout: Duration,
    pub full_state: bool,
    /// `room.timeline.limit` of the filter (default 10).
    pub timeline_limit: i64,
    /// `room.include_leave` of the filter.
    pub include_leave: bool,
}

/// How many per-room queries an initial sync runs at once.
const CONCURRENT_QUERIES: usize = 8;

/// State types shown to invited users (Synapse's `room_prejoin_state` defaults).
const INVITE_STATE: [&str; 7] = [
    "m.room.create",
    "m.room.join_rules",
    "m.room.canonical_alias",
    "m.room.avatar",
    "m.room.encryption",
    "m.room.name",
    "m.room.topic",
];

#[derive(Default)]
struct Sections {
    join: Map<String, Value>,
    invite: Map<String, Value>,
    leave: Map<String, Value>,
    account_data: Vec<Value>,
}

impl Sections {
    fn is_empty(&self) -> bool {
        self.join.is_empty()
            && self.invite.is_empty()
            && self.leave.is_empty()
            && self.account_data.is_empty()
    }
}

impl Service {
    /// Answers a `/sync`, waiting up to `timeout` for something new when `since` is given.
    pub async fn sync(&self, viewer: Viewer<'_>, req: &SyncRequest) -> RoomsResult<Value> {
        let deadline = Instant::now() + req.timeout;
        let mut rx = self.notifier.subscribe();
        loop {
            rx.borrow_and_update();
            let upto = self.db.stream_position().await?;
            self.notifier.notify(upto);
            let since = req.since.map(|s| s.min(upto));
            let nothing_new = since.is_some_and(|s| s >= upto) && !req.full_state;
            let sections = if nothing_new {
                Sections::default()
            } else {
                self.sections(viewer, req, since, upto).await?
            };
            let waiting = since.is_some() && !req.full_state && sections.is_empty();
            if !waiting || Instant::now() >= deadline {
                return Ok(response(sections, upto));
            }
            // Woken by any new position; a timeout ends the wait with an empty answer.
            let _ = tokio::time::timeout_at(deadline, rx.changed()).await;
        }
    }

    async fn sections(
        &self,
        viewer: Viewer<'_>,
        req: &SyncRequest,
        since: Option<i64>,
        upto: i64,
    ) -> RoomsResult<Sections> {
        let user = viewer.user_id;
        let mut out = Sections::default();
        let after = if req.full_state { None } else { since };
        let mut room_data: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for AccountDataRow {
            room_id,
            data_type,
            content,
            ..
        } in self
            .db
            .account_data_since(user, after.unwrap_or(0), upto)
            .await?
        {
            let ev = json!({"type": data_type, "content": parse(&content)});
            if room_id.is_empty() {
                out.account_data.push(ev);
            } else {
                room_data.entry(room_id).or_default().push(ev);
            }
        }
        let limit = req.timeline_limit;
        let (full, incremental, invites, leaves) = match after {
            None => {
                let mut full = Vec::new();
                let (mut invites, mut leaves) = (Vec::new(), Vec::new());
                for m in self.db.user_memberships(user).await? {
                    match m.membership.as_str() {
                        "join" => full.push(m.room_id),
                        "invite" => invites.push(m),
                        "leave" | "ban" if req.include_leave && !m.forgotten => leaves.push(m),
                        _ => {}
                    }
                }
                (full, Vec::new(), invites, leaves)
            }
            Some(since) => {
                let (mut full, mut invites, mut leaves) = (Vec::new(), Vec::new(), Vec::new());
                for m in self.db.membership_changes(user, since, upto).await? {
                    match m.membership.as_str() {
                        "join" if self.newly_joined(&m).await? => full.push(m.room_id),
                        "invite" => invites.push(m),
                        "leave" | "ban" => leaves.push(m),
                        _ => {}
                    }
                }
                let mut incremental: Vec<String> = self
                    .db
                    .joined_rooms_with_events(user, since, upto)
                    .await?
                    .into_iter()
                    .filter(|r| !full.contains(r))
                    .collect();
                for r in room_data.keys() {
                    if !incremental.contains(r)
                        && !full.contains(r)
                        && self
                            .db
                            .room_member(r, user)
                            .await?
                            .is_some_and(|m| m.membership == "join")
                    {
                        incremental.push(r.clone());
                    }
                }
                incremental.sort();
                full.sort();
                (full, incremental, invites, leaves)
            }
        };
        let mut state_by_room: BTreeMap<String, Vec<EventRow>> = BTreeMap::new();
        let states = match after {
            None => self.db.joined_rooms_state(user).await?,
            Some(_) => self.db.current_state_of_rooms(&full).await?,
        };
        for e in states {
            state_by_room.entry(e.room_id.clone()).or_default().push(e);
        }
        // One indexed query per room; several at once, as the pools allow.
        let timelines: Vec<(Vec<EventRow>, bool)> = futures_util::stream::iter(full.clone())
            .map(|room_id| async move { self.timeline(&room_id, 0, upto, limit).await })
            .buffered(CONCURRENT_QUERIES)
            .try_collect()
            .await?;
        for (room_id, (timeline, limited)) in full.into_iter().zip(timelines) {
            let start = timeline.first().map_or(upto + 1, |e| e.stream_ordering);
            let state: Vec<EventRow> = state_by_room
                .remove(&room_id)
                .unwrap_or_default()
                .into_iter()
                .filter(|e| e.stream_ordering < start)
                .collect();
            let data = room_data.remove(&room_id).unwrap_or_default();
            let entry = self
                .room_entry(viewer, &timeline, limited, &state, data, 0)
                .await?;
            out.join.insert(room_id, entry);
        }
        for room_id in incremental {
            let since = after.unwrap_or(0);
            let (timeline, limited) = self.timeline(&room_id, since, upto, limit).await?;
            let start = timeline.first().map_or(upto + 1, |e| e.stream_ordering);
            let state = if limited {
                self.db.state_changes(&room_id, since, start).await?
            } else {
                Vec::new()
            };
            let data = room_data.remove(&room_id).unwrap_or_default();
            let entry = self
                .room_entry(viewer, &timeline, limited, &state, data, since)
                .await?;
            out.join.insert(room_id, entry);
        }
        for m in invites {
            out.invite
                .insert(m.room_id.clone(), self.invite_entry(&m).await?);
        }
        for m in leaves {
            let since = after.unwrap_or(0);
            let (timeline, limited) = self
                .timeline(&m.room_id, since, m.stream_ordering, limit)
                .await?;
            let start = timeline
                .first()
                .map_or(m.stream_ordering + 1, |e| e.stream_ordering);
            let state = if limited || after.is_none() {
                self.db.state_changes(&m.room_id, since, start).await?
            } else {
                Vec::new()
            };
            let data = room_data.remove(&m.room_id).unwrap_or_default();
            let entry = self
                .room_entry(viewer, &timeline, limited, &state, data, since)
                .await?;
            out.leave.insert(m.room_id, entry);
        }
        Ok(out)
    }

    /// Whether a join membership is new, rather than a profile change of a joined member.
    async fn newly_joined(&self, m: &MemberRow) -> RoomsResult<bool> {
        let Some(e) = self.db.get_event(&m.event_id).await? else {
            return Ok(true);
        };
        let prev = e.prev_content.as_deref().map(parse);
        Ok(prev.as_ref().and_then(|p| p.get("membership")?.as_str()) != Some("join"))
    }

    /// The newest `limit` events with `after < stream <= upto`, oldest first, and whether
    /// older ones were left out.
    async fn timeline(
        &self,
        room_id: &str,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> RoomsResult<(Vec<EventRow>, bool)> {
        let mut events = self
            .db
            .room_events(room_id, (after, upto), limit + 1, true)
            .await?;
        let limited = events.len() as i64 > limit;
        events.truncate(limit as usize);
        events.reverse();
        Ok((events, limited))
    }

    async fn room_entry(
        &self,
        viewer: Viewer<'_>,
        timeline: &[EventRow],
        limited: bool,
        state: &[EventRow],
        account_data: Vec<Value>,
        since: i64,
    ) -> RoomsResult<Value> {
        let f = self.formatter(viewer, &[timeline, state]).await?;
        let prev_batch = timeline
            .first()
            .map_or(token(since), |e| token(e.stream_ordering - 1));
        Ok(json!({
            "timeline": {
                "events": f.events(timeline, false),
                "limited": limited,
                "prev_batch": prev_batch,
            },
            "state": {"events": f.events(state, false)},
            "account_data": {"events": account_data},
            "ephemeral": {"events": []},
            "unread_notifications": {"notification_count": 0, "highlight_count": 0},
        }))
    }

    async fn invite_entry(&self, m: &MemberRow) -> RoomsResult<Value> {
        let mut events: Vec<Value> = self
            .db
            .current_state(&m.room_id)
            .await?
            .iter()
            .filter(|e| INVITE_STATE.contains(&e.event_type.as_str()))
            .map(stripped)
            .collect();
        if let Some(invite) = self.db.get_event(&m.event_id).await? {
            events.push(stripped(&invite));
        }
        Ok(json!({"invite_state": {"events": events}}))
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| json!({}))
}

fn response(s: Sections, upto: i64) -> Value {
    json!({
        "next_batch": token(upto),
        "account_data": {"events": s.account_data},
        "rooms": {"join": s.join, "invite": s.invite, "leave": s.leave},
        "presence": {"events": []},
        "to_device": {"events": []},
        "device_lists": {"changed": [], "left": []},
        "device_one_time_keys_count": {},
    })
}
