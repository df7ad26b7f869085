//! Building events: canonical-JSON validation, the size limit, and room-version-10 event IDs
//! (`$` + unpadded URL-safe base64 of the SHA-256 reference hash of the redacted event).

use base64::{
    Engine as _, engine::general_purpose::URL_SAFE_NO_PAD, prelude::BASE64_STANDARD_NO_PAD,
};
use ruma::{
    RoomVersionId,
    canonical_json::{CanonicalJsonObject, CanonicalJsonValue, redact, try_from_json_map},
    room_version_rules::RoomVersionRules,
};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use super::error::{RoomsError, RoomsResult};

/// The only room version mxcd creates (Synapse's default).
pub(crate) const ROOM_VERSION: RoomVersionId = RoomVersionId::V10;

/// The rules of [`ROOM_VERSION`].
pub(crate) fn rules() -> RoomVersionRules {
    RoomVersionRules::V10
}

/// The largest event accepted, in bytes of canonical JSON (the spec's PDU limit).
const MAX_EVENT_BYTES: usize = 65_536;
const CANONICAL_MAX_INT: i64 = (1 << 53) - 1;

/// An event to send, before it has an ID and a place in the room.
#[derive(Clone, Debug)]
pub(crate) struct Draft {
    pub(crate) room_id: String,
    pub(crate) event_type: String,
    pub(crate) state_key: Option<String>,
    pub(crate) sender: String,
    pub(crate) content: Map<String, Value>,
    pub(crate) redacts: Option<String>,
    /// `(device_id, txn_id)` of the request.
    pub(crate) txn: Option<(String, String)>,
}

/// Checks a value against the rules of canonical JSON, with Synapse's messages.
pub(crate) fn validate_canonical(v: &Value) -> RoomsResult<()> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) if (-CANONICAL_MAX_INT..=CANONICAL_MAX_INT).contains(&i) => Ok(()),
            Some(_) => Err(RoomsError::BadJson("JSON integer out of range".into())),
            None if n.is_u64() => Err(RoomsError::BadJson("JSON integer out of range".into())),
            None => Err(RoomsError::BadJson("Bad JSON value: float".into())),
        },
        Value::Array(a) => a.iter().try_for_each(validate_canonical),
        Value::Object(o) => o.values().try_for_each(validate_canonical),
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

fn canonical(map: Map<String, Value>) -> RoomsResult<CanonicalJsonObject> {
    try_from_json_map(map).map_err(|e| RoomsError::BadJson(e.to_string()))
}

fn sha256_of(obj: &CanonicalJsonObject) -> [u8; 32] {
    let text = CanonicalJsonValue::Object(obj.clone()).to_string();
    Sha256::digest(text.as_bytes()).into()
}

/// Computes the event ID of `draft` placed after `prev` at `depth` and `ts`; checks its size.
pub(crate) fn event_id(
    draft: &Draft,
    prev: Option<&str>,
    depth: i64,
    ts: i64,
) -> RoomsResult<String> {
    validate_canonical(&Value::Object(draft.content.clone()))?;
    let mut pdu = json!({
        "auth_events": [],
        "content": draft.content,
        "depth": depth,
        "origin_server_ts": ts,
        "prev_events": prev.map(|p| vec![p]).unwrap_or_default(),
        "room_id": draft.room_id,
        "sender": draft.sender,
        "type": draft.event_type,
    });
    if let Some(k) = &draft.state_key {
        pdu["state_key"] = json!(k);
    }
    if let Some(r) = &draft.redacts {
        pdu["redacts"] = json!(r);
    }
    let Value::Object(map) = pdu else {
        unreachable!("built as an object")
    };
    let mut obj = canonical(map)?;
    let content_hash = BASE64_STANDARD_NO_PAD.encode(sha256_of(&obj));
    obj.insert(
        "hashes".into(),
        CanonicalJsonValue::Object(CanonicalJsonObject::from([(
            "sha256".to_owned(),
            CanonicalJsonValue::String(content_hash),
        )])),
    );
    if CanonicalJsonValue::Object(obj.clone()).to_string().len() > MAX_EVENT_BYTES {
        return Err(RoomsError::TooLarge);
    }
    let redacted =
        redact(obj, &rules().redaction, None).map_err(|e| RoomsError::BadJson(e.to_string()))?;
    Ok(format!("${}", URL_SAFE_NO_PAD.encode(sha256_of(&redacted))))
}

/// The content of an event of `event_type` after redaction under room version 10's rules.
pub(crate) fn pruned_content(event_type: &str, content: &str) -> String {
    let map: Map<String, Value> = serde_json::from_str(content).unwrap_or_default();
    let Ok(mut obj) = try_from_json_map(map) else {
        return "{}".into();
    };
    ruma::canonical_json::redact_content_in_place(&mut obj, &rules().redaction, event_type);
    CanonicalJsonValue::Object(obj).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(body: &str) -> Draft {
        Draft {
            room_id: "!r:x".into(),
            event_type: "m.room.message".into(),
            state_key: None,
            sender: "@a:x".into(),
            content: json!({"body": body}).as_object().unwrap().clone(),
            redacts: None,
            txn: None,
        }
    }

    #[test]
    fn event_ids_are_well_formed_and_distinct() {
        let a = event_id(&draft("a"), Some("$p"), 2, 1).unwrap();
        let b = event_id(&draft("b"), Some("$p"), 2, 1).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 44);
        assert!(ruma::EventId::parse(&a).is_ok(), "{a}");
    }

    #[test]
    fn canonical_json_rules() {
        assert!(validate_canonical(&json!({"a": [1, "x", null, true]})).is_ok());
        let e = validate_canonical(&json!({"a": 1.5})).unwrap_err();
        assert_eq!(e.to_string(), "Bad JSON value: float");
        let e = validate_canonical(&json!({"a": 1u64 << 60})).unwrap_err();
        assert_eq!(e.to_string(), "JSON integer out of range");
    }

    #[test]
    fn too_large_events_are_refused() {
        let big = "x".repeat(MAX_EVENT_BYTES);
        assert!(matches!(
            event_id(&draft(&big), None, 1, 1),
            Err(RoomsError::TooLarge)
        ));
    }

    #[test]
    fn redaction_prunes_content() {
        let c = r#"{"membership":"join","displayname":"A","avatar_url":"mxc://x/y"}"#;
        assert_eq!(
            pruned_content("m.room.member", c),
            r#"{"membership":"join"}"#
        );
        assert_eq!(pruned_content("m.room.message", r#"{"body":"b"}"#), "{}");
    }
}
