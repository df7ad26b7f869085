//! Room version 10 authorisation rules for events sent on this server, with Synapse's messages
//! (`synapse/event_auth.py`). Pure functions over the relevant part of the current state.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::{RoomsError, RoomsResult};

/// The state an event is authorised against: create, power levels, join rules and memberships.
#[derive(Clone, Debug, Default)]
pub(crate) struct AuthState {
    pub(crate) room_id: String,
    /// Sender of `m.room.create` (the creator), when the room exists.
    pub(crate) creator: Option<String>,
    pub(crate) power_levels: Option<Map<String, Value>>,
    pub(crate) join_rule: Option<String>,
    pub(crate) history_visibility: Option<String>,
    /// User → (membership, member event ID).
    pub(crate) members: BTreeMap<String, (String, String)>,
}

/// A Python-style `int(v)` of a power level; strings of digits count (older rooms have them).
fn level(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl AuthState {
    /// Applies a state event to this state (used while building a room's first events).
    pub(crate) fn apply(
        &mut self,
        event_type: &str,
        state_key: &str,
        sender: &str,
        content: &Map<String, Value>,
        event_id: &str,
    ) {
        let s = |k: &str| content.get(k).and_then(Value::as_str).map(str::to_owned);
        match (event_type, state_key) {
            ("m.room.create", "") => self.creator = Some(sender.to_owned()),
            ("m.room.power_levels", "") => self.power_levels = Some(content.clone()),
            ("m.room.join_rules", "") => self.join_rule = s("join_rule"),
            ("m.room.history_visibility", "") => self.history_visibility = s("history_visibility"),
            ("m.room.member", user) => {
                if let Some(m) = s("membership") {
                    self.members
                        .insert(user.to_owned(), (m, event_id.to_owned()));
                }
            }
            _ => {}
        }
    }

    pub(crate) fn membership(&self, user: &str) -> Option<&str> {
        self.members.get(user).map(|(m, _)| m.as_str())
    }

    pub(crate) fn user_level(&self, user: &str) -> i64 {
        match &self.power_levels {
            Some(pl) => pl
                .get("users")
                .and_then(|u| u.get(user))
                .and_then(level)
                .or_else(|| pl.get("users_default").and_then(level))
                .unwrap_or(0),
            None if self.creator.as_deref() == Some(user) => 100,
            None => 0,
        }
    }

    pub(crate) fn named_level(&self, name: &str, default: i64) -> i64 {
        self.power_levels
            .as_ref()
            .and_then(|pl| pl.get(name))
            .and_then(level)
            .unwrap_or(default)
    }

    pub(crate) fn send_level(&self, event_type: &str, is_state: bool) -> i64 {
        let pl = self.power_levels.as_ref();
        pl.and_then(|pl| pl.get("events"))
            .and_then(|e| e.get(event_type))
            .and_then(level)
            .unwrap_or_else(|| {
                if is_state {
                    self.named_level("state_default", 50)
                } else {
                    self.named_level("events_default", 0)
                }
            })
    }

    /// Synapse's `_check_joined_room` message, with `repr()` of the member event.
    fn require_joined(&self, user: &str) -> RoomsResult<()> {
        match self.members.get(user) {
            Some((m, _)) if m == "join" => Ok(()),
            Some((_, event_id)) => Err(RoomsError::forbidden(format!(
                "User {user} not in room {} (<FrozenEventV3 event_id={event_id}, \
                 type=m.room.member, state_key={user}, outlier=False>)",
                self.room_id
            ))),
            None => Err(RoomsError::forbidden(format!(
                "User {user} not in room {} (None)",
                self.room_id
            ))),
        }
    }

    /// Authorises a membership change of `target` to `membership`, sent by `sender`.
    pub(crate) fn check_membership(
        &self,
        sender: &str,
        target: &str,
        membership: &str,
    ) -> RoomsResult<()> {
        let caller = self.membership(sender);
        let caller_in_room = caller == Some("join");
        let caller_invited = caller == Some("invite");
        let target_m = self.membership(target);
        let target_in_room = target_m == Some("join");
        let target_banned = target_m == Some("ban");
        let join_rule = self.join_rule.as_deref().unwrap_or("invite");
        let user_level = self.user_level(sender);
        let target_level = self.user_level(target);
        let ban_level = self.named_level("ban", 50);
        let forbid = |m: String| Err(RoomsError::Forbidden(m));
        if membership != "join" && membership != "knock" {
            if caller_invited && membership == "leave" && target == sender {
                return Ok(());
            }
            if !caller_in_room {
                return forbid(format!("{sender} not in room {}.", self.room_id));
            }
        }
        match membership {
            "invite" => {
                if target_banned {
                    forbid(format!("{target} is banned from the room"))
                } else if target_in_room {
                    forbid(format!("{target} is already in the room."))
                } else if user_level < self.named_level("invite", 0) {
                    forbid("You don't have permission to invite users".into())
                } else {
                    Ok(())
                }
            }
            "join" => {
                if sender != target {
                    forbid("Cannot force another user to join.".into())
                } else if target_banned {
                    forbid("You are banned from this room".into())
                } else if join_rule == "public" {
                    Ok(())
                } else if matches!(
                    join_rule,
                    "invite" | "knock" | "restricted" | "knock_restricted"
                ) {
                    // Restricted rooms need an authorising server, which a single server without
                    // room-membership conditions cannot provide: only invited users may join.
                    if caller_in_room || caller_invited {
                        Ok(())
                    } else {
                        forbid("You are not invited to this room.".into())
                    }
                } else {
                    forbid("You are not allowed to join this room".into())
                }
            }
            "leave" => {
                if target_banned && user_level < ban_level {
                    forbid(format!("You cannot unban user {target}."))
                } else if target != sender
                    && (user_level < self.named_level("kick", 50) || user_level <= target_level)
                {
                    forbid(format!("You cannot kick user {target}."))
                } else {
                    Ok(())
                }
            }
            "ban" => {
                if user_level < ban_level {
                    forbid("You don't have permission to ban".into())
                } else if user_level <= target_level {
                    forbid("You don't have permission to ban this user".into())
                } else {
                    Ok(())
                }
            }
            "knock" => forbid("You don't have permission to knock".into()),
            other => Err(RoomsError::BadRequest(format!(
                "Unknown membership {other}"
            ))),
        }
    }

    /// Authorises a non-member event. Returns `true` when the sender may only redact their own
    /// events (a redaction below the `redact` level).
    pub(crate) fn check_event(
        &self,
        sender: &str,
        event_type: &str,
        state_key: Option<&str>,
        content: &Map<String, Value>,
    ) -> RoomsResult<bool> {
        if event_type == "m.room.create" {
            return Err(RoomsError::forbidden("Create event has prev events"));
        }
        if event_type == "m.room.member" {
            return Err(RoomsError::forbidden("Member events must be state events"));
        }
        self.require_joined(sender)?;
        let user_level = self.user_level(sender);
        let send_level = self.send_level(event_type, state_key.is_some());
        if user_level < send_level {
            return Err(RoomsError::forbidden(format!(
                "You don't have permission to post that to the room. \
                 user_level ({user_level}) < send_level ({send_level})"
            )));
        }
        if let Some(k) = state_key
            && k.starts_with('@')
            && k != sender
        {
            return Err(RoomsError::forbidden(
                "You are not allowed to set others state",
            ));
        }
        if event_type == "m.room.power_levels" {
            self.check_power_levels(sender, content)?;
        }
        if event_type == "m.room.redaction" {
            return Ok(user_level < self.named_level("redact", 50));
        }
        Ok(false)
    }

    /// Synapse's `_check_power_levels` for room version 10 (integers only).
    fn check_power_levels(&self, sender: &str, new: &Map<String, Value>) -> RoomsResult<()> {
        validate_power_levels(new)?;
        let Some(old) = &self.power_levels else {
            return Ok(());
        };
        let user_level = self.user_level(sender);
        let mut checks: Vec<(Option<&str>, String)> = [
            "users_default",
            "events_default",
            "state_default",
            "ban",
            "redact",
            "kick",
            "invite",
        ]
        .iter()
        .map(|k| (None, (*k).to_owned()))
        .collect();
        for dir in ["users", "events", "notifications"] {
            let mut keys: Vec<String> = Vec::new();
            for m in [old.get(dir), new.get(dir)].into_iter().flatten() {
                if let Some(o) = m.as_object() {
                    keys.extend(o.keys().cloned());
                }
            }
            keys.sort();
            keys.dedup();
            checks.extend(keys.into_iter().map(|k| (Some(dir), k)));
        }
        for (dir, key) in checks {
            let get = |m: &Map<String, Value>| match dir {
                Some(d) => m.get(d).and_then(|x| x.get(&key)).and_then(level),
                None => m.get(&key).and_then(level),
            };
            let (old_level, new_level) = (get(old), get(new));
            if old_level.is_some() && old_level == new_level {
                continue;
            }
            if dir == Some("users") && key != sender && old_level == Some(user_level) {
                return Err(RoomsError::forbidden(
                    "You don't have permission to remove ops level equal to your own",
                ));
            }
            if old_level.is_some_and(|l| l > user_level)
                || new_level.is_some_and(|l| l > user_level)
            {
                return Err(RoomsError::forbidden(
                    "You don't have permission to add ops level greater than your own",
                ));
            }
        }
        Ok(())
    }
}

/// Room version 10 requires integer power levels (Synapse's messages).
pub(crate) fn validate_power_levels(c: &Map<String, Value>) -> RoomsResult<()> {
    if let Some(Value::Object(users)) = c.get("users") {
        for k in users.keys() {
            if ruma::UserId::parse(k.as_str()).is_err() {
                return Err(RoomsError::BadRequest(format!("Not a valid user_id: {k}")));
            }
        }
    }
    for (k, v) in c {
        let scalar = matches!(
            k.as_str(),
            "users_default"
                | "events_default"
                | "state_default"
                | "ban"
                | "redact"
                | "kick"
                | "invite"
        );
        if scalar && !v.is_i64() {
            return Err(RoomsError::BadRequest(format!(
                "{} must be an integer.",
                py_repr(v)
            )));
        }
        if matches!(k.as_str(), "events" | "notifications" | "users")
            && !v.as_object().is_some_and(|o| o.values().all(Value::is_i64))
        {
            return Err(RoomsError::BadRequest(format!(
                "{} must be a dict wherein all the values are integers.",
                py_repr(v)
            )));
        }
    }
    Ok(())
}

/// An approximation of Python's `repr()` of a JSON value, for messages that quote one.
fn py_repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
