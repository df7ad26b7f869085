//! Registration state kept in the database so several instances can share it:
//! shared-secret nonces, registration tokens and user-interactive-auth sessions.

use crate::{Db, DbError, read, transaction, writer};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationToken {
    pub token: String,
    pub uses_allowed: Option<i32>,
    pub pending: i32,
    pub completed: i32,
    pub expiry_time: Option<i64>,
}
crate::row::from_row!(RegistrationToken {
    token,
    uses_allowed,
    pending,
    completed,
    expiry_time
});

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UiaSession {
    pub session_id: String,
    pub created_ts: i64,
    /// Completed stage types, separated by spaces.
    pub completed_stages: String,
    pub registration_token: Option<String>,
}
crate::row::from_row!(UiaSession {
    session_id,
    created_ts,
    completed_stages,
    registration_token
});

impl UiaSession {
    pub fn has_completed(&self, stage: &str) -> bool {
        self.completed_stages.split(' ').any(|s| s == stage)
    }
}

impl Db {
    pub async fn insert_nonce(&self, nonce: &str, now: i64) -> Result<(), DbError> {
        writer!(self, |p| {
            sqlx::query("INSERT INTO registration_nonces (nonce, created_ts) VALUES ($1, $2)")
                .bind(nonce)
                .bind(now)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Consumes a nonce: true when it existed and was issued at or after `not_before`.
    /// Expired nonces are purged on the way.
    pub async fn take_nonce(&self, nonce: &str, not_before: i64) -> Result<bool, DbError> {
        Ok(transaction!(self, |tx| {
            sqlx::query("DELETE FROM registration_nonces WHERE created_ts < $1")
                .bind(not_before)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM registration_nonces WHERE nonce = $1")
                .bind(nonce)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1
        }))
    }

    pub async fn create_registration_token(&self, t: &RegistrationToken) -> Result<(), DbError> {
        writer!(self, |p| {
            sqlx::query(
                "INSERT INTO registration_tokens (token, uses_allowed, pending, completed, expiry_time) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&t.token)
            .bind(t.uses_allowed)
            .bind(t.pending)
            .bind(t.completed)
            .bind(t.expiry_time)
            .execute(p)
            .await?
                .rows_affected()
        });
        Ok(())
    }

    pub async fn get_registration_token(
        &self,
        token: &str,
    ) -> Result<Option<RegistrationToken>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_as(
                "SELECT token, uses_allowed, pending, completed, expiry_time \
                 FROM registration_tokens WHERE token = $1",
            )
            .bind(token)
            .fetch_optional(p)
            .await?
        }))
    }

    pub async fn list_registration_tokens(&self) -> Result<Vec<RegistrationToken>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_as(
                "SELECT token, uses_allowed, pending, completed, expiry_time \
                 FROM registration_tokens ORDER BY token",
            )
            .fetch_all(p)
            .await?
        }))
    }

    /// Reserves one use of a valid token for a UIA session. False when the token is unknown,
    /// expired or used up (pending uses count, as in Synapse).
    pub async fn reserve_registration_token(
        &self,
        token: &str,
        session_id: &str,
        now: i64,
    ) -> Result<bool, DbError> {
        Ok(transaction!(self, |tx| {
            let n = sqlx::query(
                "UPDATE registration_tokens SET pending = pending + 1 WHERE token = $1 \
                 AND (expiry_time IS NULL OR expiry_time > $2) \
                 AND (uses_allowed IS NULL OR pending + completed < uses_allowed)",
            )
            .bind(token)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                sqlx::query(
                    "UPDATE ui_auth_sessions SET registration_token = $2, \
                     completed_stages = completed_stages || ' m.login.registration_token' \
                     WHERE session_id = $1",
                )
                .bind(session_id)
                .bind(token)
                .execute(&mut *tx)
                .await?;
            }
            n == 1
        }))
    }

    pub async fn create_uia_session(&self, session_id: &str, now: i64) -> Result<(), DbError> {
        writer!(self, |p| {
            sqlx::query("INSERT INTO ui_auth_sessions (session_id, created_ts) VALUES ($1, $2)")
                .bind(session_id)
                .bind(now)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    pub async fn get_uia_session(&self, session_id: &str) -> Result<Option<UiaSession>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_as(
                "SELECT session_id, created_ts, completed_stages, registration_token \
                 FROM ui_auth_sessions WHERE session_id = $1",
            )
            .bind(session_id)
            .fetch_optional(p)
            .await?
        }))
    }

    pub async fn complete_uia_stage(&self, session_id: &str, stage: &str) -> Result<(), DbError> {
        writer!(self, |p| {
            sqlx::query(
                "UPDATE ui_auth_sessions SET completed_stages = completed_stages || ' ' || $2 \
                 WHERE session_id = $1",
            )
            .bind(session_id)
            .bind(stage)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Ends a UIA session after a successful registration, turning its pending token use into
    /// a completed one.
    pub async fn finish_uia_session(&self, session_id: &str) -> Result<(), DbError> {
        transaction!(self, |tx| {
            sqlx::query(
                "UPDATE registration_tokens SET pending = pending - 1, completed = completed + 1 \
                 WHERE token = (SELECT registration_token FROM ui_auth_sessions WHERE session_id = $1)",
            )
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM ui_auth_sessions WHERE session_id = $1")
                .bind(session_id)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }
}
