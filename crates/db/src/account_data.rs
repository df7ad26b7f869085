//! Account data (global and per room) and stored sync filters.

use crate::{Db, DbError, events::take_positions, read, transaction};

/// One account-data entry; `room_id` is empty for global account data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountDataRow {
    pub room_id: String,
    pub data_type: String,
    pub content: String,
    pub stream_id: i64,
}
crate::row::from_row!(AccountDataRow { room_id, data_type as "type", content, stream_id });

impl Db {
    /// Sets an account-data entry at the next stream position, which it returns.
    pub async fn put_account_data(
        &self,
        user_id: &str,
        room_id: &str,
        data_type: &str,
        content: &str,
    ) -> Result<i64, DbError> {
        let pos = transaction!(self, |tx| {
            let pos = take_positions!(tx, 1i64);
            sqlx::query(
                "INSERT INTO account_data (user_id, room_id, type, content, stream_id) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, room_id, type) \
                 DO UPDATE SET content = excluded.content, stream_id = excluded.stream_id",
            )
            .bind(user_id)
            .bind(room_id)
            .bind(data_type)
            .bind(content)
            .bind(pos)
            .execute(&mut *tx)
            .await?;
            pos
        });
        self.notify_stream(pos).await;
        Ok(pos)
    }

    pub async fn get_account_data(
        &self,
        user_id: &str,
        room_id: &str,
        data_type: &str,
    ) -> Result<Option<String>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_scalar(
                "SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 AND type = $3",
            )
            .bind(user_id)
            .bind(room_id)
            .bind(data_type)
            .fetch_optional(p)
            .await?
        }))
    }

    /// A user's account data changed in `after < stream_id <= upto`, oldest first.
    pub async fn account_data_since(
        &self,
        user_id: &str,
        after: i64,
        upto: i64,
    ) -> Result<Vec<AccountDataRow>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_as(
                "SELECT room_id, type, content, stream_id FROM account_data \
                 WHERE user_id = $1 AND stream_id > $2 AND stream_id <= $3 ORDER BY stream_id",
            )
            .bind(user_id)
            .bind(after)
            .bind(upto)
            .fetch_all(p)
            .await?
        }))
    }

    /// Stores a filter and returns its ID, the next one for this user (as Synapse numbers them).
    pub async fn create_filter(&self, user_id: &str, filter_json: &str) -> Result<i64, DbError> {
        Ok(transaction!(self, |tx| {
            let max: Option<i64> =
                sqlx::query_scalar("SELECT MAX(filter_id) FROM user_filters WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await?;
            let id = max.map_or(0, |m| m + 1);
            sqlx::query(
                "INSERT INTO user_filters (user_id, filter_id, filter_json) VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(id)
            .bind(filter_json)
            .execute(&mut *tx)
            .await?;
            id
        }))
    }

    pub async fn get_filter(
        &self,
        user_id: &str,
        filter_id: i64,
    ) -> Result<Option<String>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_scalar(
                "SELECT filter_json FROM user_filters WHERE user_id = $1 AND filter_id = $2",
            )
            .bind(user_id)
            .bind(filter_id)
            .fetch_optional(p)
            .await?
        }))
    }
}
