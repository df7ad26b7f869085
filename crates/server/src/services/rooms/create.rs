//! `POST /createRoom`: the room's first events, in Synapse's order, persisted in one
//! transaction with the room.

use mxcd_db::NewRoom;
use mxcd_types::time::now_ms;
use serde_json::{Map, Value, json};

use super::{
    Service,
    auth::AuthState,
    error::{RoomsError, RoomsResult},
    pdu::{self, Draft},
    send::build,
};

/// The request body, as received.
pub struct CreateRoom(pub Map<String, Value>);

/// A state event to send: `(type, state_key, content)`.
type StateEntry = (String, String, Map<String, Value>);

struct Preset {
    join_rule: &'static str,
    guest_can_join: bool,
    invitees_have_ops: bool,
    pl_override: Value,
}

fn preset(name: &str) -> Option<Preset> {
    Some(match name {
        "private_chat" | "trusted_private_chat" => Preset {
            join_rule: "invite",
            guest_can_join: true,
            invitees_have_ops: name == "trusted_private_chat",
            pl_override: json!({"invite": 0}),
        },
        "public_chat" => Preset {
            join_rule: "public",
            guest_can_join: false,
            invitees_have_ops: false,
            pl_override: json!({"m.call.invite": 50}),
        },
        _ => return None,
    })
}

fn bad_json(msg: impl Into<String>) -> RoomsError {
    RoomsError::BadJson(msg.into())
}

/// A field that must be a string when present.
fn opt_str<'a>(c: &'a Map<String, Value>, key: &str) -> RoomsResult<Option<&'a str>> {
    match c.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad_json(format!("{key} must be a string"))),
    }
}

fn opt_object<'a>(
    c: &'a Map<String, Value>,
    key: &str,
) -> RoomsResult<Option<&'a Map<String, Value>>> {
    match c.get(key) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(bad_json(format!("{key} must be an object"))),
    }
}

/// `initial_state` as `(type, state_key, content)`, later entries replacing earlier ones with
/// the same key in place (Python's `OrderedDict` assignment).
fn initial_state(c: &Map<String, Value>) -> RoomsResult<Vec<StateEntry>> {
    let Some(v) = c.get("initial_state") else {
        return Ok(Vec::new());
    };
    let items = v
        .as_array()
        .ok_or_else(|| bad_json("initial_state must be a list"))?;
    let mut out: Vec<StateEntry> = Vec::new();
    for item in items {
        let (Some(t), Some(content)) = (
            item.get("type").and_then(Value::as_str),
            item.get("content").and_then(Value::as_object),
        ) else {
            return Err(bad_json(
                "initial_state events need a string 'type' and an object 'content'",
            ));
        };
        let key = match item.get("state_key") {
            None => "",
            Some(Value::String(s)) => s,
            Some(_) => return Err(bad_json("state_key must be a string")),
        };
        match out.iter_mut().find(|(ot, ok, _)| ot == t && ok == key) {
            Some(slot) => slot.2 = content.clone(),
            None => out.push((t.to_owned(), key.to_owned(), content.clone())),
        }
    }
    Ok(out)
}

impl Service {
    /// Creates a room as `creator` and returns its ID.
    pub async fn create_room(&self, creator: &str, req: CreateRoom) -> RoomsResult<String> {
        let c = &req.0;
        match c.get("room_version") {
            None => {}
            Some(Value::String(v)) if v == pdu::ROOM_VERSION.as_str() => {}
            Some(Value::String(_)) => return Err(RoomsError::UnsupportedRoomVersion),
            Some(_) => return Err(bad_json("room_version must be a string")),
        }
        let alias = match opt_str(c, "room_alias_name")? {
            None => None,
            Some(name) => Some(self.new_alias(name).await?),
        };
        let invites: Vec<String> = match c.get("invite") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|i| match i.as_str().map(ruma::UserId::parse) {
                    Some(Ok(u)) => Ok(u.to_string()),
                    _ => Err(RoomsError::BadRequest(format!("Invalid user_id: {i}"))),
                })
                .collect::<RoomsResult<_>>()?,
            Some(_) => return Err(bad_json("invite must be a list")),
        };
        let pl_override = opt_object(c, "power_level_content_override")?;
        if let Some(users) = pl_override.and_then(|o| o.get("users"))
            && users.get(creator).is_none()
        {
            return Err(RoomsError::BadRequest(format!(
                "Not a valid power_level_content_override: 'users' did not contain {creator}"
            )));
        }
        let visibility = opt_str(c, "visibility")?.unwrap_or("private");
        if !matches!(visibility, "public" | "private") {
            return Err(bad_json(format!(
                "'{visibility}' is not a valid visibility"
            )));
        }
        let preset_name = opt_str(c, "preset")?.unwrap_or(if visibility == "private" {
            "private_chat"
        } else {
            "public_chat"
        });
        let preset = preset(preset_name)
            .ok_or_else(|| bad_json(format!("'{preset_name}' is not a valid preset")))?;
        let mut initial = initial_state(c)?;
        let name = opt_str(c, "name")?;
        let topic = opt_str(c, "topic")?;
        let mut creation = opt_object(c, "creation_content")?
            .cloned()
            .unwrap_or_default();
        creation.insert("creator".into(), json!(creator));
        creation.insert("room_version".into(), json!(pdu::ROOM_VERSION.as_str()));

        let room_id = self.new_room_id();
        let mut states: Vec<(&str, String, Map<String, Value>)> = Vec::new();
        let obj = |v: Value| v.as_object().cloned().unwrap_or_default();
        states.push(("m.room.create", String::new(), creation.clone()));
        states.push((
            "m.room.member",
            creator.to_owned(),
            obj(json!({"membership": "join"})),
        ));
        let pl = match initial
            .iter()
            .position(|(t, k, _)| t == "m.room.power_levels" && k.is_empty())
        {
            Some(i) => initial.remove(i).2,
            None => {
                let mut pl = default_power_levels(creator);
                if preset.invitees_have_ops {
                    for i in &invites {
                        pl["users"][i] = json!(100);
                    }
                }
                let mut pl = obj(pl);
                pl.extend(obj(preset.pl_override.clone()));
                if let Some(o) = pl_override {
                    pl.extend(o.clone());
                }
                pl
            }
        };
        states.push(("m.room.power_levels", String::new(), pl));
        let has = |t: &str| initial.iter().any(|(it, k, _)| it == t && k.is_empty());
        if let Some(a) = &alias
            && !has("m.room.canonical_alias")
        {
            states.push((
                "m.room.canonical_alias",
                String::new(),
                obj(json!({"alias": a})),
            ));
        }
        if !has("m.room.join_rules") {
            states.push((
                "m.room.join_rules",
                String::new(),
                obj(json!({"join_rule": preset.join_rule})),
            ));
        }
        if !has("m.room.history_visibility") {
            states.push((
                "m.room.history_visibility",
                String::new(),
                obj(json!({"history_visibility": "shared"})),
            ));
        }
        if preset.guest_can_join && !has("m.room.guest_access") {
            states.push((
                "m.room.guest_access",
                String::new(),
                obj(json!({"guest_access": "can_join"})),
            ));
        }
        let mut owned: Vec<StateEntry> = states
            .into_iter()
            .map(|(t, k, c)| (t.to_owned(), k, c))
            .collect();
        owned.append(&mut initial);
        if let Some(n) = name {
            owned.push(("m.room.name".into(), String::new(), obj(json!({"name": n}))));
        }
        if let Some(t) = topic {
            owned.push((
                "m.room.topic".into(),
                String::new(),
                obj(json!({"topic": t, "m.topic": {"m.text": [{"body": t}]}})),
            ));
        }
        let is_direct = c.get("is_direct").filter(|d| truthy(d)).cloned();
        for i in &invites {
            let mut content = obj(json!({"membership": "invite"}));
            if let Some(d) = &is_direct {
                content.insert("is_direct".into(), d.clone());
            }
            owned.push(("m.room.member".into(), i.clone(), content));
        }
        self.persist_new_room(creator, &room_id, visibility == "public", &creation, owned)
            .await?;
        if let Some(a) = alias {
            self.db
                .create_alias(&a, &room_id, creator, now_ms())
                .await
                .map_err(|e| match e.kind() {
                    mxcd_db::ErrorKind::Conflict => {
                        RoomsError::RoomInUse("Room alias already taken".into())
                    }
                    _ => e.into(),
                })?;
        }
        Ok(room_id)
    }

    /// Checks a `room_alias_name` and returns the full alias, which must be free.
    async fn new_alias(&self, name: &str) -> RoomsResult<String> {
        if name.chars().any(|c| " \t\n\r\x0b\x0c".contains(c)) {
            return Err(RoomsError::BadRequest(
                "Invalid characters in room alias".into(),
            ));
        }
        if name.contains(':') {
            return Err(RoomsError::BadRequest(
                "':' is not permitted in the room alias name. Please note this expects a local \
                 part — 'wombat', not '#wombat:example.com'."
                    .into(),
            ));
        }
        let alias = format!("#{name}:{}", self.server_name);
        if ruma::RoomAliasId::parse(&alias).is_err() {
            return Err(RoomsError::BadRequest(
                "Invalid characters in room alias".into(),
            ));
        }
        if self.db.get_alias(&alias).await?.is_some() {
            return Err(RoomsError::RoomInUse("Room alias already taken".into()));
        }
        Ok(alias)
    }

    /// Authorises the first events one after another and persists them with the room.
    async fn persist_new_room(
        &self,
        creator: &str,
        room_id: &str,
        is_public: bool,
        creation: &Map<String, Value>,
        states: Vec<StateEntry>,
    ) -> RoomsResult<()> {
        let mut st = AuthState {
            room_id: room_id.to_owned(),
            ..Default::default()
        };
        let mut events = Vec::with_capacity(states.len());
        for (i, (event_type, key, mut content)) in states.into_iter().enumerate() {
            if event_type == "m.room.member"
                && let Some(u) = self.db.get_user(&key).await?
            {
                for (field, v) in [("displayname", u.displayname), ("avatar_url", u.avatar_url)] {
                    if let Some(v) = v
                        && !content.contains_key(field)
                    {
                        content.insert(field.into(), json!(v));
                    }
                }
            }
            if event_type == "m.room.power_levels" {
                super::auth::validate_power_levels(&content)?;
            }
            if i >= 2 {
                if event_type == "m.room.member" {
                    let m = content
                        .get("membership")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    st.check_membership(creator, &key, m)?;
                } else {
                    st.check_event(creator, &event_type, Some(&key), &content)?;
                }
            }
            let draft = Draft {
                room_id: room_id.to_owned(),
                event_type: event_type.clone(),
                state_key: Some(key.clone()),
                sender: creator.to_owned(),
                content,
                redacts: None,
                txn: None,
            };
            let prev: Option<&mxcd_db::NewEvent> = events.last();
            let ev = build(
                &draft,
                prev.map(|p| p.event_id.as_str()),
                i as i64 + 1,
                None,
            )?;
            st.apply(&event_type, &key, creator, &draft.content, &ev.event_id);
            events.push(ev);
        }
        let room = NewRoom {
            room_id: room_id.to_owned(),
            creator: creator.to_owned(),
            room_version: pdu::ROOM_VERSION.to_string(),
            is_public,
            created_ts: now_ms(),
            federatable: creation.get("m.federate") != Some(&json!(false)),
            room_type: creation
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
        let positions = self.db.persist_events(Some(&room), None, &events).await?;
        if let Some(p) = positions.last() {
            self.notifier.notify(*p);
        }
        Ok(())
    }
}

/// Python truthiness of a JSON value (Synapse reads `is_direct` with `if is_direct:`).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Synapse's default power levels for a new room.
fn default_power_levels(creator: &str) -> Value {
    json!({
        "users": {creator: 100},
        "users_default": 0,
        "events": {
            "m.room.name": 50,
            "m.room.power_levels": 100,
            "m.room.history_visibility": 100,
            "m.room.canonical_alias": 50,
            "m.room.avatar": 50,
            "m.room.tombstone": 100,
            "m.room.server_acl": 100,
            "m.room.encryption": 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": 50,
        "historical": 100,
    })
}
