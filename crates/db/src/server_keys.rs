//! Other servers' signing keys, fetched over federation and shared by every instance.

use crate::{Db, DbError, read, transaction};

/// One public key of another server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerKeyRow {
    pub server_name: String,
    /// `ed25519:abc`.
    pub key_id: String,
    /// Unpadded standard base64.
    pub public_key: String,
    /// Requests signed with this key are accepted until then.
    pub valid_until_ts: i64,
    pub fetched_ts: i64,
}
crate::row::from_row!(ServerKeyRow {
    server_name,
    key_id,
    public_key,
    valid_until_ts,
    fetched_ts
});

impl Db {
    /// Every key recorded for `server_name`, valid or not.
    #[tracing::instrument(skip(self))]
    pub async fn server_keys(&self, server_name: &str) -> Result<Vec<ServerKeyRow>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_as(
                "SELECT server_name, key_id, public_key, valid_until_ts, fetched_ts \
                 FROM server_keys WHERE server_name = $1 ORDER BY key_id",
            )
            .bind(server_name)
            .fetch_all(p)
            .await?
        }))
    }

    /// Records the keys of one fetch; a key seen before takes the newer answer.
    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    pub async fn store_server_keys(&self, keys: &[ServerKeyRow]) -> Result<(), DbError> {
        if keys.is_empty() {
            return Ok(());
        }
        transaction!(self, |tx| {
            for k in keys {
                sqlx::query(
                    "INSERT INTO server_keys \
                     (server_name, key_id, public_key, valid_until_ts, fetched_ts) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (server_name, key_id) DO UPDATE SET \
                     public_key = excluded.public_key, valid_until_ts = excluded.valid_until_ts, \
                     fetched_ts = excluded.fetched_ts",
                )
                .bind(&k.server_name)
                .bind(&k.key_id)
                .bind(&k.public_key)
                .bind(k.valid_until_ts)
                .bind(k.fetched_ts)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }
}
