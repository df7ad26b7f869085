//! Room aliases.

use crate::{Db, DbError, read, writer};

/// An alias and what it points to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasRow {
    pub room_alias: String,
    pub room_id: String,
    pub creator: String,
}
crate::row::from_row!(AliasRow {
    room_alias,
    room_id,
    creator
});

impl Db {
    /// Creates an alias; a taken alias gives [`DbError::Conflict`].
    pub async fn create_alias(
        &self,
        alias: &str,
        room_id: &str,
        creator: &str,
        now: i64,
    ) -> Result<(), DbError> {
        writer!(self, |p| {
            sqlx::query(
                "INSERT INTO room_aliases (room_alias, room_id, creator, created_ts) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(alias)
            .bind(room_id)
            .bind(creator)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    pub async fn get_alias(&self, alias: &str) -> Result<Option<AliasRow>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_as(
                "SELECT room_alias, room_id, creator FROM room_aliases WHERE room_alias = $1",
            )
            .bind(alias)
            .fetch_optional(p)
            .await?
        }))
    }

    /// Deletes an alias; [`DbError::NotFound`] when it does not exist.
    pub async fn delete_alias(&self, alias: &str) -> Result<(), DbError> {
        let n = writer!(self, |p| {
            sqlx::query("DELETE FROM room_aliases WHERE room_alias = $1")
                .bind(alias)
                .execute(p)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(DbError::NotFound);
        }
        Ok(())
    }

    /// The local aliases of a room, sorted.
    pub async fn room_aliases(&self, room_id: &str) -> Result<Vec<String>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_scalar(
                "SELECT room_alias FROM room_aliases WHERE room_id = $1 ORDER BY room_alias",
            )
            .bind(room_id)
            .fetch_all(p)
            .await?
        }))
    }
}
