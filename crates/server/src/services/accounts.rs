//! Accounts: authentication of access tokens, password login, sessions and account creation.

mod error;
mod password;

use std::sync::Arc;

use mxcd_db::{Db, ErrorKind, NewUser};
use mxcd_types::{AccessToken, TokenHash, random_string, time::now_ms, validate_new_localpart};

pub use error::{AccountsError, AuthError};

/// Refresh a token's "last used" record at most this often (milliseconds).
const TOUCH_INTERVAL_MS: i64 = 60_000;

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Requester {
    pub user_id: String,
    pub device_id: String,
    pub admin: bool,
    pub is_guest: bool,
}

/// A logged-in session as returned to the client.
#[derive(Debug)]
pub struct Session {
    pub user_id: String,
    pub device_id: String,
    pub access_token: AccessToken,
    pub expires_in_ms: Option<u64>,
}

/// What a new account is created with.
#[derive(Debug, Default)]
pub struct Registration {
    pub localpart: String,
    pub password: Option<String>,
    pub admin: bool,
    /// `None` defaults the display name to the localpart (Synapse's `default_display_name`).
    pub displayname: Option<String>,
    pub user_type: Option<String>,
    /// Log the new user in, with this device (`Some(None)`: a generated device ID).
    pub login: Option<DeviceRequest>,
}

/// The device a login asks for.
#[derive(Debug, Default, Clone)]
pub struct DeviceRequest {
    pub device_id: Option<String>,
    pub display_name: Option<String>,
}

pub struct Service {
    db: Db,
    server_name: Arc<str>,
    session_lifetime_ms: Option<u64>,
}

impl Service {
    pub fn new(db: Db, server_name: &str, session_lifetime_ms: Option<u64>) -> Self {
        Self {
            db,
            server_name: server_name.into(),
            session_lifetime_ms,
        }
    }

    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// The full user ID for `user`, which may be a localpart or already a user ID.
    pub fn qualify(&self, user: &str) -> String {
        if user.starts_with('@') {
            user.to_owned()
        } else {
            format!("@{user}:{}", self.server_name)
        }
    }

    /// Resolves a presented token to its owner, recording (at most once a minute) its use.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(
        &self,
        token: &TokenHash,
        ip: Option<String>,
        user_agent: Option<String>,
    ) -> Result<Requester, AccountsError> {
        let owner = self
            .db
            .token_owner(token)
            .await?
            .ok_or(AuthError::UnknownToken)?;
        let now = now_ms();
        if let Some(lifetime) = self.session_lifetime_ms
            && owner.created_ts.saturating_add(lifetime as i64) < now
        {
            return Err(AuthError::ExpiredToken.into());
        }
        if owner.deactivated {
            return Err(AuthError::UnknownToken.into());
        }
        if owner.locked {
            return Err(AuthError::Locked.into());
        }
        if owner
            .last_used_ts
            .is_none_or(|t| now - t >= TOUCH_INTERVAL_MS)
        {
            let (db, token) = (self.db.clone(), token.clone());
            tokio::spawn(async move {
                if let Err(e) = db
                    .touch_token(&token, now, ip.as_deref(), user_agent.as_deref())
                    .await
                {
                    tracing::warn!(error = %e, "could not record token use");
                }
            });
        }
        Ok(Requester {
            user_id: owner.user_id,
            device_id: owner.device_id,
            admin: owner.admin,
            is_guest: owner.is_guest,
        })
    }

    /// Checks a password login; `user` is a localpart or a user ID, matched case-insensitively
    /// when there is no exact match (as Synapse does).
    #[tracing::instrument(skip_all, fields(user))]
    pub async fn login_password(
        &self,
        user: &str,
        password: &str,
        device: DeviceRequest,
    ) -> Result<Session, AccountsError> {
        let user_id = self.qualify(user);
        let Some(row) = self.find_user(&user_id).await? else {
            password::burn_time(password).await;
            return Err(AccountsError::InvalidLogin);
        };
        let ok = match &row.password_hash {
            Some(hash) => password::verify(password, hash).await?,
            None => false,
        };
        if !ok {
            return Err(AccountsError::InvalidLogin);
        }
        if row.deactivated {
            return Err(AccountsError::Deactivated);
        }
        if row.locked {
            return Err(AuthError::Locked.into());
        }
        self.create_session(&row.user_id, device).await
    }

    /// The user whose ID equals `user_id`, or the only one equal to it ignoring case.
    async fn find_user(&self, user_id: &str) -> Result<Option<mxcd_db::UserRow>, AccountsError> {
        if let Some(u) = self.db.get_user(user_id).await? {
            return Ok(Some(u));
        }
        let ids = self.db.find_user_ids_case_insensitive(user_id).await?;
        match ids.as_slice() {
            [only] => Ok(self.db.get_user(only).await?),
            _ => Ok(None),
        }
    }

    /// Issues a new access token for `user_id` on the requested (or a new) device.
    pub async fn create_session(
        &self,
        user_id: &str,
        device: DeviceRequest,
    ) -> Result<Session, AccountsError> {
        let device_id = device
            .device_id
            .unwrap_or_else(|| random_string(10).to_uppercase());
        let token = AccessToken::generate();
        self.db
            .create_session(
                user_id,
                &device_id,
                device.display_name.as_deref(),
                &token.hash(),
                now_ms(),
            )
            .await?;
        Ok(Session {
            user_id: user_id.to_owned(),
            device_id,
            access_token: token,
            expires_in_ms: self.session_lifetime_ms,
        })
    }

    pub async fn logout(&self, r: &Requester) -> Result<(), AccountsError> {
        Ok(self.db.delete_session(&r.user_id, &r.device_id).await?)
    }

    pub async fn logout_all(&self, r: &Requester) -> Result<(), AccountsError> {
        Ok(self.db.delete_all_sessions(&r.user_id).await?)
    }

    /// Creates an account after Synapse's `check_username` checks, optionally logging it in.
    #[tracing::instrument(skip_all, fields(localpart = %reg.localpart))]
    pub async fn register(
        &self,
        reg: Registration,
    ) -> Result<(String, Option<Session>), AccountsError> {
        let user_id = self.check_username(&reg.localpart).await?;
        let password_hash = match &reg.password {
            Some(p) => Some(password::hash(p).await?),
            None => None,
        };
        let new = NewUser {
            user_id: user_id.clone(),
            password_hash,
            admin: reg.admin,
            user_type: reg.user_type,
            displayname: Some(reg.displayname.unwrap_or_else(|| reg.localpart.clone()))
                .filter(|d| !d.is_empty()),
            created_ts: now_ms(),
        };
        self.db
            .create_user(&new)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::Conflict => AccountsError::UserInUse,
                _ => e.into(),
            })?;
        let session = match reg.login {
            Some(device) => Some(self.create_session(&user_id, device).await?),
            None => None,
        };
        Ok((user_id, session))
    }

    /// Synapse's `check_username`: syntax, length, reserved numeric IDs, and availability.
    pub async fn check_username(&self, localpart: &str) -> Result<String, AccountsError> {
        validate_new_localpart(localpart, &self.server_name)?;
        let user_id = format!("@{localpart}:{}", self.server_name);
        if !self
            .db
            .find_user_ids_case_insensitive(&user_id)
            .await?
            .is_empty()
        {
            return Err(AccountsError::UserInUse);
        }
        if localpart.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AccountsError::NumericUsername);
        }
        Ok(user_id)
    }

    /// Replaces a user's password hash.
    pub async fn hash_password(&self, password: &str) -> Result<String, AccountsError> {
        password::hash(password).await
    }
}
