//! Devices and access tokens. Tokens are stored only as hashes.

use mxcd_types::TokenHash;

use crate::{Db, DbError, cache::Change, read, transaction, writer};

/// Who a presented token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenOwner {
    pub user_id: String,
    pub device_id: String,
    pub admin: bool,
    pub is_guest: bool,
    pub deactivated: bool,
    pub locked: bool,
    pub created_ts: i64,
    pub last_used_ts: Option<i64>,
}
crate::row::from_row!(TokenOwner {
    user_id,
    device_id,
    admin,
    is_guest,
    deactivated,
    locked,
    created_ts,
    last_used_ts
});

/// One client connection as the admin `whois` endpoint shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub device_id: String,
    pub ip: Option<String>,
    pub last_seen: Option<i64>,
    pub user_agent: Option<String>,
}
crate::row::from_row!(Connection {
    device_id,
    ip,
    last_seen,
    user_agent
});

impl Db {
    /// Creates (or reuses) a device and issues a token for it, in one transaction.
    pub async fn create_session(
        &self,
        user_id: &str,
        device_id: &str,
        display_name: Option<&str>,
        token: &TokenHash,
        now: i64,
    ) -> Result<(), DbError> {
        transaction!(self, |tx| {
            sqlx::query(
                "INSERT INTO devices (user_id, device_id, display_name, created_ts) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, device_id) DO NOTHING",
            )
            .bind(user_id)
            .bind(device_id)
            .bind(display_name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token.as_str())
            .bind(user_id)
            .bind(device_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// The owner of a token, if the token exists; served from a short-lived cache that every
    /// change to the user's tokens or flags invalidates (see `cache.rs`).
    pub async fn token_owner(&self, token: &TokenHash) -> Result<Option<TokenOwner>, DbError> {
        let key = token.as_str().to_owned();
        let epoch = match self.caches.tokens.get(&key) {
            Ok(owner) => return Ok(Some(owner)),
            Err(epoch) => epoch,
        };
        let owner: Option<TokenOwner> = read!(self, |p| {
            sqlx::query_as(
                "SELECT t.user_id, t.device_id, u.admin, u.is_guest, u.deactivated, u.locked, \
                 t.created_ts, t.last_used_ts \
                 FROM access_tokens t JOIN users u ON u.user_id = t.user_id WHERE t.token_hash = $1",
            )
            .bind(token.as_str())
            .fetch_optional(p)
            .await?
        });
        if let Some(o) = &owner {
            self.caches.tokens.insert(key, o.clone(), epoch);
        }
        Ok(owner)
    }

    /// Records that a token was used. Callers throttle this; it is not called per request.
    pub async fn touch_token(
        &self,
        token: &TokenHash,
        now: i64,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<(), DbError> {
        writer!(self, |p| {
            sqlx::query(
                "UPDATE access_tokens SET last_used_ts = $2, last_used_ip = $3, \
                 last_used_user_agent = $4 WHERE token_hash = $1",
            )
            .bind(token.as_str())
            .bind(now)
            .bind(ip)
            .bind(user_agent)
            .execute(p)
            .await?
            .rows_affected()
        });
        // Keeps the cached owner's "last used" current, so the once-a-minute throttle holds.
        self.caches
            .tokens
            .update(&token.as_str().to_owned(), |o| o.last_used_ts = Some(now));
        Ok(())
    }

    /// Logs out one session: removes the token, the device and every other token of that device.
    pub async fn delete_session(&self, user_id: &str, device_id: &str) -> Result<(), DbError> {
        transaction!(self, |tx| {
            sqlx::query("DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2")
                .bind(user_id)
                .bind(device_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM devices WHERE user_id = $1 AND device_id = $2")
                .bind(user_id)
                .bind(device_id)
                .execute(&mut *tx)
                .await?;
        });
        self.announce(Change::User(user_id.to_owned())).await;
        Ok(())
    }

    /// Logs out every session of a user.
    pub async fn delete_all_sessions(&self, user_id: &str) -> Result<(), DbError> {
        self.delete_all_sessions_except(user_id, None).await
    }

    /// Logs out every session of a user but the one on device `keep`, if given.
    pub async fn delete_all_sessions_except(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<(), DbError> {
        let keep = keep.unwrap_or("");
        transaction!(self, |tx| {
            sqlx::query("DELETE FROM access_tokens WHERE user_id = $1 AND device_id <> $2")
                .bind(user_id)
                .bind(keep)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM devices WHERE user_id = $1 AND device_id <> $2")
                .bind(user_id)
                .bind(keep)
                .execute(&mut *tx)
                .await?;
        });
        self.announce(Change::User(user_id.to_owned())).await;
        Ok(())
    }

    /// Every session of a user with where and when it was last used, oldest device first.
    pub async fn user_connections(&self, user_id: &str) -> Result<Vec<Connection>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_as(
                "SELECT device_id, last_used_ip AS ip, last_used_ts AS last_seen, \
                 last_used_user_agent AS user_agent FROM access_tokens WHERE user_id = $1 \
                 ORDER BY device_id, created_ts",
            )
            .bind(user_id)
            .fetch_all(p)
            .await?
        }))
    }
}
