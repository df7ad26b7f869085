//! Registration helpers shared by the Synapse shared-secret endpoint and the client
//! `/register` flow: nonces, the HMAC check, and user-interactive-auth sessions.
//! All state lives in the database so several instances behind one load balancer agree.

use hmac::{Hmac, KeyInit as _, Mac as _};
use mxcd_db::{Db, DbError, UiaSession};
use mxcd_types::{random_string, time::now_ms};
use rand::RngExt as _;
use sha1::Sha1;

use crate::config::Secret;

/// How long a shared-secret nonce stays valid (Synapse's `NONCE_TIMEOUT`, 60 s).
pub const NONCE_TIMEOUT_MS: i64 = 60_000;

/// How long a UIA session of the client registration flow stays valid.
const UIA_SESSION_TIMEOUT_MS: i64 = 24 * 3_600_000;

/// Whether and how clients may register themselves.
#[derive(Clone, Copy, Debug, Default)]
pub struct Policy {
    pub enabled: bool,
    pub requires_token: bool,
}

pub struct Service {
    db: Db,
    shared_secret: Option<Secret>,
    policy: Policy,
}

/// The fields the shared-secret MAC covers.
pub struct MacInput<'a> {
    pub nonce: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub admin: bool,
    pub user_type: Option<&'a str>,
}

/// Computes Synapse's registration MAC: HMAC-SHA1 over
/// `nonce \0 username \0 password \0 admin|notadmin [\0 user_type]`, as lowercase hex.
pub fn registration_mac(secret: &str, m: &MacInput<'_>) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(m.nonce.as_bytes());
    mac.update(b"\x00");
    mac.update(m.username.as_bytes());
    mac.update(b"\x00");
    mac.update(m.password.as_bytes());
    mac.update(b"\x00");
    mac.update(if m.admin {
        b"admin" as &[u8]
    } else {
        b"notadmin"
    });
    if let Some(t) = m.user_type.filter(|t| !t.is_empty()) {
        mac.update(b"\x00");
        mac.update(t.as_bytes());
    }
    hex::encode(mac.finalize().into_bytes())
}

impl Service {
    pub fn new(db: Db, shared_secret: Option<Secret>, policy: Policy) -> Self {
        Self {
            db,
            shared_secret,
            policy,
        }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    pub fn shared_secret_enabled(&self) -> bool {
        self.shared_secret.is_some()
    }

    /// Issues a single-use nonce: 128 lowercase hex characters, as Synapse.
    pub async fn new_nonce(&self) -> Result<String, DbError> {
        let bytes: [u8; 64] = rand::rng().random();
        let nonce = hex::encode(bytes);
        self.db.insert_nonce(&nonce, now_ms()).await?;
        Ok(nonce)
    }

    /// Uses up a nonce. False when it is unknown, already used or older than the timeout.
    pub async fn take_nonce(&self, nonce: &str) -> Result<bool, DbError> {
        self.db.take_nonce(nonce, now_ms() - NONCE_TIMEOUT_MS).await
    }

    /// Checks a client's MAC in constant time. Only lowercase hex matches, as in Synapse.
    pub fn mac_matches(&self, input: &MacInput<'_>, got: &str) -> bool {
        let Some(secret) = &self.shared_secret else {
            return false;
        };
        let want = registration_mac(secret.expose(), input);
        want.len() == got.len()
            && want
                .bytes()
                .zip(got.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// Starts a user-interactive-auth session for `/register`.
    pub async fn new_uia_session(&self) -> Result<String, DbError> {
        let id = random_string(24);
        self.db.create_uia_session(&id, now_ms()).await?;
        Ok(id)
    }

    /// A UIA session that exists and has not expired.
    pub async fn uia_session(&self, id: &str) -> Result<Option<UiaSession>, DbError> {
        let s = self.db.get_uia_session(id).await?;
        Ok(s.filter(|s| now_ms() - s.created_ts < UIA_SESSION_TIMEOUT_MS))
    }

    pub async fn complete_stage(&self, session: &str, stage: &str) -> Result<(), DbError> {
        self.db.complete_uia_stage(session, stage).await
    }

    /// Reserves a use of a registration token for `session`; false when it is not valid.
    pub async fn use_registration_token(
        &self,
        token: &str,
        session: &str,
    ) -> Result<bool, DbError> {
        self.db
            .reserve_registration_token(token, session, now_ms())
            .await
    }

    /// Whether a registration token could be used now (the `/validity` endpoint).
    pub async fn registration_token_valid(&self, token: &str) -> Result<bool, DbError> {
        let now = now_ms();
        Ok(self
            .db
            .get_registration_token(token)
            .await?
            .is_some_and(|t| {
                t.expiry_time.is_none_or(|e| e > now)
                    && t.uses_allowed.is_none_or(|u| t.pending + t.completed < u)
            }))
    }

    /// Stores a new registration token; false when the token already exists.
    pub async fn create_registration_token(
        &self,
        t: &mxcd_db::RegistrationToken,
    ) -> Result<bool, DbError> {
        match self.db.create_registration_token(t).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == mxcd_db::ErrorKind::Conflict => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn list_registration_tokens(
        &self,
    ) -> Result<Vec<mxcd_db::RegistrationToken>, DbError> {
        self.db.list_registration_tokens().await
    }

    pub async fn finish_uia_session(&self, session: &str) -> Result<(), DbError> {
        self.db.finish_uia_session(session).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_matches_synapse_construction() {
        // Computed independently with Python's hmac/hashlib:
        // hmac.new(b"secret", b"abcd\x00bob\x00pw\x00admin", hashlib.sha1).hexdigest()
        let m = MacInput {
            nonce: "abcd",
            username: "bob",
            password: "pw",
            admin: true,
            user_type: None,
        };
        assert_eq!(registration_mac("secret", &m), PY_ADMIN_MAC);
        let m = MacInput {
            user_type: Some("bot"),
            admin: false,
            ..m
        };
        assert_eq!(registration_mac("secret", &m), PY_BOT_MAC);
    }

    const PY_ADMIN_MAC: &str = "84aba908078cb89a490137748b9ffbfff3d50c8a";
    const PY_BOT_MAC: &str = "f00df213ff744c62fa1f47fa65ca401015bc1382";
}
