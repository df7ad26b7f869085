//! Request extractors whose failures are Matrix errors with Synapse's codes and messages.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{StatusCode, request::Parts},
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// Path parameters, percent-decoded; a segment that cannot be decoded (not UTF-8, say) is a
/// 400 `M_INVALID_PARAM` with a Matrix body instead of axum's plain-text rejection.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        ApiError::invalid_param(format!("Invalid path parameter: {}", r.body_text()))
    }
}

/// The whole body, for handlers that parse it themselves. A body over the router's limit is
/// 413 `M_TOO_LARGE`, one that cannot be read (a broken chunked encoding, say) 400 `M_UNKNOWN`,
/// both with Matrix bodies instead of axum's plain-text rejections.
pub struct BodyBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for BodyBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "M_TOO_LARGE",
                        "Request body too large",
                    )
                } else {
                    ApiError::unknown(StatusCode::BAD_REQUEST, "Error reading JSON content.")
                }
            })
    }
}

/// The body as a JSON object, whatever the Content-Type (Synapse does not look at it).
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let BodyBytes(bytes) = BodyBytes::from_request(req, state).await?;
        parse_object(&bytes).map(Self)
    }
}

/// Parses a request body the way Synapse's `parse_json_object_from_request` does.
pub fn parse_object(bytes: &[u8]) -> ApiResult<Map<String, Value>> {
    let value: Value = std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "M_NOT_JSON", "Content not JSON."))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad_json("Content must be a JSON object.")),
    }
}

/// A body deserialised into `T`; a JSON object of the wrong shape is 400 `M_BAD_JSON`.
pub struct MatrixJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for MatrixJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let JsonObject(map) = JsonObject::from_request(req, state).await?;
        serde_json::from_value(Value::Object(map))
            .map(Self)
            .map_err(|e| ApiError::bad_json(e.to_string()))
    }
}

/// Typed access to a field of a JSON object, with Synapse-style errors.
pub trait JsonFields {
    /// A string field, absent → `None`; present but not a string → 400 `M_INVALID_PARAM`.
    fn opt_str(&self, key: &str) -> ApiResult<Option<&str>>;
    /// A boolean field, absent → `None`; present but not a boolean → 400 `M_INVALID_PARAM`.
    fn opt_bool(&self, key: &str) -> ApiResult<Option<bool>>;
}

impl JsonFields for Map<String, Value> {
    fn opt_str(&self, key: &str) -> ApiResult<Option<&str>> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid_param(format!(
                "Invalid {key}: must be a string"
            ))),
        }
    }

    fn opt_bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid_param(format!(
                "'{key}' parameter is not of type boolean"
            ))),
        }
    }
}

/// The query string's parameters in order; only the first of a repeated name counts.
#[derive(Debug, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Self::parse(parts.uri.query().unwrap_or("")))
    }
}

impl QueryParams {
    pub fn parse(query: &str) -> Self {
        Self(
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A non-negative integer, parsed as Python's `int()` would (Synapse's `parse_integer`).
    pub fn int(&self, name: &str) -> ApiResult<Option<i64>> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        let n = python_int(raw).ok_or_else(|| {
            ApiError::invalid_param(format!("Query parameter {name} must be an integer"))
        })?;
        if n < 0 {
            return Err(ApiError::invalid_param(format!(
                "Query parameter {name} must be a positive integer."
            )));
        }
        Ok(Some(n))
    }

    pub fn required_int(&self, name: &str) -> ApiResult<i64> {
        self.int(name)?.ok_or_else(|| {
            ApiError::missing_param(format!("Missing required integer query parameter {name}"))
        })
    }

    /// `true` or `false`, exactly (Synapse's `parse_boolean`).
    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid_param(format!(
                "Boolean query parameter '{name}' must be one of ['true', 'false']"
            ))),
        }
    }

    /// One of `allowed` (Synapse's `parse_string` with `allowed_values`).
    pub fn choice(&self, name: &str, allowed: &[&str]) -> ApiResult<Option<&str>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v)),
            Some(_) => {
                let list = allowed
                    .iter()
                    .map(|a| format!("'{a}'"))
                    .collect::<Vec<_>>()
                    .join(", ");
                Err(ApiError::invalid_param(format!(
                    "Query parameter '{name}' must be one of [{list}]"
                )))
            }
        }
    }
}

/// Parses an integer as Python's `int(str)`: surrounding whitespace, a sign, and single
/// underscores between digits are accepted.
fn python_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first()? {
        b'+' => (false, &t[1..]),
        b'-' => (true, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if !clean.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = clean.parse().ok()?;
    Some(if neg { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int_matches_python() {
        for (s, want) in [
            ("10", Some(10)),
            (" 7 ", Some(7)),
            ("+3", Some(3)),
            ("-2", Some(-2)),
            ("1_000", Some(1000)),
        ] {
            assert_eq!(python_int(s), want, "{s:?}");
        }
        for s in ["", "a", "1.5", "_1", "1_", "1__0", "0x10", "+", "1 0"] {
            assert_eq!(python_int(s), None, "{s:?}");
        }
    }

    #[test]
    fn query_errors_are_synapses() {
        let q = QueryParams::parse("from=abc&limit=-1&dir=x&guests=yes&from=5");
        assert_eq!(
            q.int("from").unwrap_err().message,
            "Query parameter from must be an integer"
        );
        assert_eq!(
            q.int("limit").unwrap_err().message,
            "Query parameter limit must be a positive integer."
        );
        assert_eq!(
            q.choice("dir", &["b", "f"]).unwrap_err().message,
            "Query parameter 'dir' must be one of ['b', 'f']"
        );
        assert_eq!(
            q.bool("guests").unwrap_err().message,
            "Boolean query parameter 'guests' must be one of ['true', 'false']"
        );
        let e = q.required_int("size").unwrap_err();
        assert_eq!(
            (e.errcode, e.message.as_ref()),
            (
                "M_MISSING_PARAM",
                "Missing required integer query parameter size"
            )
        );
    }

    #[test]
    fn body_parsing() {
        assert_eq!(parse_object(b"nope").unwrap_err().errcode, "M_NOT_JSON");
        assert_eq!(parse_object(b"[1]").unwrap_err().errcode, "M_BAD_JSON");
        assert_eq!(parse_object(b"{\"a\":1}").unwrap().len(), 1);
    }
}
