//! Events in the client-server API's format (`ClientEvent`), with `unsigned` filled in.

use std::collections::BTreeMap;

use mxcd_db::EventRow;
use serde_json::{Map, Value, json};

/// Who is looking: `transaction_id` is shown only to the device that sent the event.
#[derive(Clone, Copy, Debug)]
pub struct Viewer<'a> {
    pub user_id: &'a str,
    pub device_id: &'a str,
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| json!({}))
}

/// Formats events; `redactions` holds the redaction events referenced by `redacted_by`.
pub(crate) struct Formatter<'a> {
    pub(crate) viewer: Viewer<'a>,
    pub(crate) now: i64,
    pub(crate) redactions: BTreeMap<String, EventRow>,
}

impl Formatter<'_> {
    /// The client format of `e`; `with_room_id` is false inside `/sync` room sections.
    pub(crate) fn event(&self, e: &EventRow, with_room_id: bool) -> Value {
        let mut unsigned = Map::new();
        unsigned.insert("age".into(), json!((self.now - e.origin_server_ts).max(0)));
        if e.sender == self.viewer.user_id
            && e.txn_device.as_deref() == Some(self.viewer.device_id)
            && let Some(t) = &e.txn_id
        {
            unsigned.insert("transaction_id".into(), json!(t));
        }
        if let Some(prev) = &e.prev_content {
            unsigned.insert("prev_content".into(), parse(prev));
        }
        if let Some(r) = &e.replaces_state {
            unsigned.insert("replaces_state".into(), json!(r));
        }
        if let Some(by) = &e.redacted_by
            && let Some(r) = self.redactions.get(by)
        {
            unsigned.insert("redacted_because".into(), self.event(r, true));
        }
        let mut v = json!({
            "type": e.event_type,
            "content": parse(&e.content),
            "sender": e.sender,
            "origin_server_ts": e.origin_server_ts,
            "event_id": e.event_id,
            "unsigned": unsigned,
        });
        if with_room_id {
            v["room_id"] = json!(e.room_id);
        }
        if let Some(k) = &e.state_key {
            v["state_key"] = json!(k);
        }
        if let Some(r) = &e.redacts {
            v["redacts"] = json!(r);
        }
        v
    }

    pub(crate) fn events(&self, events: &[EventRow], with_room_id: bool) -> Vec<Value> {
        events.iter().map(|e| self.event(e, with_room_id)).collect()
    }
}

/// The state-event shape of invite state ("stripped state").
pub(crate) fn stripped(e: &EventRow) -> Value {
    json!({
        "type": e.event_type,
        "state_key": e.state_key.clone().unwrap_or_default(),
        "content": parse(&e.content),
        "sender": e.sender,
    })
}
