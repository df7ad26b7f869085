//! Other servers' signing keys (fetched from their `/_matrix/key/v2/server`, kept in the
//! database for every instance) and the X-Matrix check of incoming requests.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use mxcd_db::{Db, ServerKeyRow};
use mxcd_types::time::now_ms;
use ruma::{
    CanonicalJsonObject, CanonicalJsonValue,
    api::federation::authentication::XMatrix,
    serde::Base64,
    signatures::{PublicKeyMap, verify_json},
};

use super::{Client, FederationError, SigningKey};
use crate::services::flights::Flights;

/// A key is trusted at most this long after it was fetched, whatever `valid_until_ts` says
/// (the spec's "lesser of valid_until_ts and 7 days into the future").
const MAX_VALIDITY_MS: i64 = 7 * 24 * 3_600_000;
/// After a fetch, a server's keys are not fetched again for this long, so requests naming
/// unknown keys cannot make us fetch over and over.
const REFETCH_AFTER: Duration = Duration::from_secs(30);

pub struct Keyring {
    db: Db,
    client: Arc<Client>,
    own: Arc<SigningKey>,
    /// `federation_domain_whitelist`: when set, only these servers may federate.
    whitelist: Option<BTreeSet<String>>,
    /// When this instance last fetched each server's keys.
    fetched: Mutex<BTreeMap<String, Instant>>,
    /// One fetch per server at a time.
    flights: Flights,
}

fn unauthorized(message: impl Into<String>) -> FederationError {
    FederationError::Unauthorized {
        status: 401,
        message: message.into(),
    }
}

impl Keyring {
    pub fn new(
        db: Db,
        client: Arc<Client>,
        own: Arc<SigningKey>,
        whitelist: Option<BTreeSet<String>>,
    ) -> Self {
        Self {
            db,
            client,
            own,
            whitelist,
            fetched: Mutex::new(BTreeMap::new()),
            flights: Flights::default(),
        }
    }

    /// Synapse's `authenticate_request`: the X-Matrix header names the origin, our name as
    /// destination, a key and a signature over method, URI, origin, destination and content.
    pub(super) async fn authenticate(
        &self,
        our_name: &str,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<String, FederationError> {
        let missing = || unauthorized("Missing Authorization headers");
        let mut found = None;
        for value in headers.get_all(http::header::AUTHORIZATION) {
            if value.as_bytes().starts_with(b"X-Matrix") {
                found =
                    Some(
                        XMatrix::try_from(value).map_err(|_| FederationError::Unauthorized {
                            status: 400,
                            message: "Malformed Authorization header".into(),
                        })?,
                    );
            }
        }
        let xm = found.ok_or_else(missing)?;
        if let Some(d) = &xm.destination
            && d.as_str() != our_name
        {
            return Err(unauthorized(format!(
                "Destination mismatch in auth header, received: {:?}",
                d.as_str()
            )));
        }
        let origin = xm.origin.as_str().to_owned();
        if let Some(w) = &self.whitelist
            && !w.contains(&origin)
        {
            return Err(FederationError::NotWhitelisted(origin));
        }
        let key_id = xm.key.as_str().to_owned();
        let key = self.verify_key(&origin, &key_id, now_ms()).await?;
        let public = Base64::parse(&key).map_err(|_| unauthorized("Invalid public key"))?;
        let map: PublicKeyMap =
            BTreeMap::from([(origin.clone(), BTreeMap::from([(key_id.clone(), public)]))]);
        let req = http::Request::builder()
            .method(method.clone())
            .uri(uri.clone())
            .body(body.to_vec())
            .map_err(|e| FederationError::Internal(e.to_string()))?;
        let destination = <&ruma::ServerName>::try_from(our_name)
            .map_err(|e| FederationError::Internal(e.to_string()))?;
        xm.verify_http_request(&req, destination, &map)
            .map_err(|e| {
                unauthorized(format!(
                    "Invalid signature for server {origin} with key {key_id}: {e}"
                ))
            })?;
        Ok(origin)
    }

    /// The public key `key_id` of `server`, valid at `at`; fetched if not known.
    pub async fn verify_key(
        &self,
        server: &str,
        key_id: &str,
        at: i64,
    ) -> Result<String, FederationError> {
        if server == self.client_origin() && key_id == self.own.key_id() {
            return Ok(self.own.public_key().to_owned());
        }
        if let Some(k) = self.stored_key(server, key_id, at).await? {
            return Ok(k);
        }
        let _flight = self.flights.hold(server).await;
        if let Some(k) = self.stored_key(server, key_id, at).await? {
            return Ok(k);
        }
        let recent = self
            .fetched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(server)
            .is_some_and(|t| t.elapsed() < REFETCH_AFTER);
        if !recent {
            self.fetched
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(server.to_owned(), Instant::now());
            if let Err(e) = self.fetch(server).await {
                tracing::info!(server, error = %e, "could not fetch server keys");
                return Err(unauthorized(format!(
                    "Failed to fetch the keys of {server}"
                )));
            }
        }
        self.stored_key(server, key_id, at).await?.ok_or_else(|| {
            unauthorized(format!(
                "Failed to find any key to satisfy {key_id} for {server}"
            ))
        })
    }

    fn client_origin(&self) -> &str {
        self.client.origin()
    }

    async fn stored_key(
        &self,
        server: &str,
        key_id: &str,
        at: i64,
    ) -> Result<Option<String>, FederationError> {
        let keys = self
            .db
            .server_keys(server)
            .await
            .map_err(|e| FederationError::Internal(e.to_string()))?;
        Ok(keys
            .into_iter()
            .find(|k| k.key_id == key_id && k.valid_until_ts > at)
            .map(|k| k.public_key))
    }

    /// Fetches `server`'s key document, checks it is its own and self-signed, and stores the
    /// keys: current ones valid until the lesser of `valid_until_ts` and a week from now, old
    /// ones until their `expired_ts`.
    async fn fetch(&self, server: &str) -> Result<(), FederationError> {
        let doc = self
            .client
            .get_json(server, "/_matrix/key/v2/server", false)
            .await?;
        let rows = parse_key_document(server, doc, now_ms())?;
        self.db
            .store_server_keys(&rows)
            .await
            .map_err(|e| FederationError::Internal(e.to_string()))
    }
}

/// The keys of a `/_matrix/key/v2/server` answer from `server`, fetched at `now`.
pub(super) fn parse_key_document(
    server: &str,
    doc: serde_json::Value,
    now: i64,
) -> Result<Vec<ServerKeyRow>, FederationError> {
    let bad = |m: &str| FederationError::Malformed(format!("key document of {server}: {m}"));
    let CanonicalJsonValue::Object(mut obj) =
        ruma::canonical_json::to_canonical_value(doc).map_err(|e| bad(&e.to_string()))?
    else {
        return Err(bad("not an object"));
    };
    if obj.get("server_name").and_then(as_str) != Some(server) {
        return Err(bad("server_name does not match"));
    }
    let valid_until = match obj.get("valid_until_ts") {
        Some(CanonicalJsonValue::Integer(i)) => i64::from(*i),
        _ => return Err(bad("no valid_until_ts")),
    };
    let verify_keys = keys_of(&obj, "verify_keys");
    if verify_keys.is_empty() {
        return Err(bad("no verify_keys"));
    }
    // Only the server's own signature counts (notaries' are not checked here).
    if let Some(CanonicalJsonValue::Object(sigs)) = obj.get_mut("signatures") {
        sigs.retain(|k, _| k == server);
    }
    let mut public = BTreeMap::new();
    for (id, key, _) in &verify_keys {
        public.insert(
            id.clone(),
            Base64::parse(key).map_err(|_| bad("a key is not base64"))?,
        );
    }
    let map: PublicKeyMap = BTreeMap::from([(server.to_owned(), public)]);
    verify_json(&map, &obj).map_err(|e| bad(&format!("bad signature: {e}")))?;
    let row = |key_id: String, public_key: String, valid_until_ts: i64| ServerKeyRow {
        server_name: server.to_owned(),
        key_id,
        public_key,
        valid_until_ts,
        fetched_ts: now,
    };
    let current_until = valid_until.min(now.saturating_add(MAX_VALIDITY_MS));
    let mut rows: Vec<ServerKeyRow> = verify_keys
        .into_iter()
        .map(|(id, key, _)| row(id, key, current_until))
        .collect();
    for (id, key, expired) in keys_of(&obj, "old_verify_keys") {
        if rows.iter().all(|r| r.key_id != id) {
            rows.push(row(id, key, expired.unwrap_or(0)));
        }
    }
    Ok(rows)
}

fn as_str(v: &CanonicalJsonValue) -> Option<&str> {
    match v {
        CanonicalJsonValue::String(s) => Some(s),
        _ => None,
    }
}

/// `(key_id, key, expired_ts)` of the ed25519 keys under `field`.
fn keys_of(obj: &CanonicalJsonObject, field: &str) -> Vec<(String, String, Option<i64>)> {
    let Some(CanonicalJsonValue::Object(keys)) = obj.get(field) else {
        return Vec::new();
    };
    keys.iter()
        .filter(|(id, _)| id.starts_with("ed25519:"))
        .filter_map(|(id, v)| {
            let CanonicalJsonValue::Object(v) = v else {
                return None;
            };
            let key = v.get("key").and_then(as_str)?.to_owned();
            let expired = match v.get("expired_ts") {
                Some(CanonicalJsonValue::Integer(i)) => Some(i64::from(*i)),
                _ => None,
            };
            Some((id.clone(), key, expired))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::federation::OldKey;

    #[test]
    fn key_documents_are_checked() {
        let k = SigningKey::parse("ed25519 a_abcd AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .unwrap();
        let old = [OldKey {
            key_id: "ed25519:old".into(),
            public_key: "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik".into(),
            expired_ts: 500,
        }];
        let now = 1_000;
        let doc = k.key_document("a.example", &old, i64::MAX / 2).unwrap();
        let json = serde_json::to_value(&doc).unwrap();
        let rows = parse_key_document("a.example", json.clone(), now).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].key_id, "ed25519:a_abcd");
        // Capped at a week after the fetch.
        assert_eq!(rows[0].valid_until_ts, now + MAX_VALIDITY_MS);
        assert_eq!(
            (rows[1].key_id.as_str(), rows[1].valid_until_ts),
            ("ed25519:old", 500)
        );
        // Someone else's document, or a tampered one, is refused.
        assert!(parse_key_document("b.example", json.clone(), now).is_err());
        let mut tampered = json;
        tampered["valid_until_ts"] = serde_json::json!(5);
        assert!(parse_key_document("a.example", tampered, now).is_err());
    }
}
