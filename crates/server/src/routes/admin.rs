//! Synapse's admin API (`/_synapse/admin/…`): registration, users, whois, rooms.

mod media;
mod media_delete;
pub(crate) mod register;
mod registration_tokens;
mod rooms;
mod statistics;
mod user_json;
mod user_media;
mod users;
mod whois;

use axum::Router;
use serde_json::Value;

use crate::{error::ApiError, state::AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .merge(media_delete::router())
        .merge(register::router())
        .merge(media::router())
        .merge(registration_tokens::router())
        .merge(rooms::router())
        .merge(statistics::router())
        .merge(user_media::router())
        .merge(users::router())
        .merge(whois::router())
}

/// A user ID split as Synapse's `UserID.from_string` does (only `@` and `:` are checked).
pub(crate) struct ParsedUserId<'a> {
    pub(crate) full: &'a str,
    pub(crate) domain: &'a str,
}

pub(crate) fn parse_user_id(s: &str) -> Result<ParsedUserId<'_>, ApiError> {
    let Some(rest) = s.strip_prefix('@') else {
        return Err(ApiError::invalid_param(
            "Expected UserID string to start with '@'",
        ));
    };
    let Some((_, domain)) = rest.split_once(':') else {
        return Err(ApiError::invalid_param(
            "Expected UserID of the form '@localname:domain'",
        ));
    };
    Ok(ParsedUserId { full: s, domain })
}

impl ParsedUserId<'_> {
    pub(crate) fn localpart(&self) -> &str {
        &self.full[1..self.full.len() - self.domain.len() - 1]
    }
}

/// `next_token` of Synapse's offset pagination: present when more rows follow. Never on an
/// empty page (`limit=0`), where Synapse's would equal `from` and make clients loop.
pub(crate) fn next_token(from: i64, limit: i64, returned: usize, total: i64) -> Option<i64> {
    (limit > 0 && from.saturating_add(limit) < total).then(|| from + returned as i64)
}

/// Python truthiness of a JSON value, for fields Synapse reads with `bool(...)`.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn user_id_parsing() {
        let p = parse_user_id("@alice:example.org:8448").ok().unwrap();
        assert_eq!((p.localpart(), p.domain), ("alice", "example.org:8448"));
        assert_eq!(
            parse_user_id("alice").err().unwrap().message,
            "Expected UserID string to start with '@'"
        );
        assert_eq!(
            parse_user_id("@alice").err().unwrap().message,
            "Expected UserID of the form '@localname:domain'"
        );
    }

    #[test]
    fn python_truthiness() {
        for v in [
            json!(true),
            json!(1),
            json!("x"),
            json!([0]),
            json!({"a": 1}),
        ] {
            assert!(truthy(&v), "{v}");
        }
        for v in [
            json!(false),
            json!(0),
            json!(0.0),
            json!(""),
            json!([]),
            json!({}),
            json!(null),
        ] {
            assert!(!truthy(&v), "{v}");
        }
    }
}
