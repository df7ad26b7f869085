//! Users and their profiles.

use sqlx::AssertSqlSafe;

use crate::{Db, DbError, cache::Change, read, transaction};

/// A user with the profile fields the admin API shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub user_id: String,
    pub password_hash: Option<String>,
    pub admin: bool,
    pub is_guest: bool,
    pub deactivated: bool,
    pub shadow_banned: bool,
    pub locked: bool,
    pub user_type: Option<String>,
    pub created_ts: i64,
    pub displayname: Option<String>,
    pub avatar_url: Option<String>,
    /// When any of the user's current access tokens was last used.
    pub last_seen_ts: Option<i64>,
}
crate::row::from_row!(UserRow {
    user_id,
    password_hash,
    admin,
    is_guest,
    deactivated,
    shadow_banned,
    locked,
    user_type,
    created_ts,
    displayname,
    avatar_url,
    last_seen_ts
});

/// What is stored for a new account.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub user_id: String,
    pub password_hash: Option<String>,
    pub admin: bool,
    pub user_type: Option<String>,
    pub displayname: Option<String>,
    pub created_ts: i64,
}

/// A partial update of a user: `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserPatch {
    pub password_hash: Option<Option<String>>,
    pub admin: Option<bool>,
    pub deactivated: Option<bool>,
    pub locked: Option<bool>,
    pub user_type: Option<Option<String>>,
    pub displayname: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
}

/// Columns the user list can be sorted by (Synapse's `order_by` values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UserOrder {
    #[default]
    Name,
    IsGuest,
    Admin,
    UserType,
    Deactivated,
    ShadowBanned,
    Displayname,
    AvatarUrl,
    CreationTs,
    LastSeenTs,
    Locked,
}

impl UserOrder {
    fn column(self) -> &'static str {
        match self {
            Self::Name => "u.user_id",
            Self::IsGuest => "u.is_guest",
            Self::Admin => "u.admin",
            Self::UserType => "u.user_type",
            Self::Deactivated => "u.deactivated",
            Self::ShadowBanned => "u.shadow_banned",
            Self::Displayname => "p.displayname",
            Self::AvatarUrl => "p.avatar_url",
            Self::CreationTs => "u.created_ts",
            Self::LastSeenTs => "last_seen_ts",
            Self::Locked => "u.locked",
        }
    }
}

/// Which users to list, in which order, and which page.
#[derive(Clone, Debug)]
pub struct UserFilter {
    /// Substring of the user ID.
    pub user_id: Option<String>,
    /// Substring of the user ID or of the display name.
    pub name: Option<String>,
    pub guests: bool,
    /// `Some(true)`: only deactivated users; `Some(false)`: only active ones; `None`: all.
    pub deactivated: Option<bool>,
    pub admins: Option<bool>,
    pub locked: bool,
    pub order: UserOrder,
    pub descending: bool,
    pub from: i64,
    pub limit: i64,
}

const USER_COLUMNS: &str = "u.user_id, u.password_hash, u.admin, u.is_guest, u.deactivated, \
     u.shadow_banned, u.locked, u.user_type, u.created_ts, p.displayname, p.avatar_url, \
     (SELECT MAX(t.last_used_ts) FROM access_tokens t WHERE t.user_id = u.user_id) AS last_seen_ts";

/// Lower-cases `s` and escapes `%`, `_` and `\` so it matches literally inside
/// `LIKE … ESCAPE '\'`.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Db {
    /// Creates a user and its profile row. A taken user ID gives [`DbError::Conflict`].
    pub async fn create_user(&self, u: &NewUser) -> Result<(), DbError> {
        transaction!(self, |tx| {
            sqlx::query(
                "INSERT INTO users (user_id, password_hash, admin, user_type, created_ts) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&u.user_id)
            .bind(&u.password_hash)
            .bind(u.admin)
            .bind(&u.user_type)
            .bind(u.created_ts)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO profiles (user_id, displayname) VALUES ($1, $2)")
                .bind(&u.user_id)
                .bind(&u.displayname)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    pub async fn get_user(&self, user_id: &str) -> Result<Option<UserRow>, DbError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u LEFT JOIN profiles p ON p.user_id = u.user_id \
             WHERE u.user_id = $1"
        );
        Ok(read!(self, |p| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(user_id)
                .fetch_optional(p)
                .await?
        }))
    }

    /// User IDs equal to `user_id` ignoring ASCII case, for login and the "taken" check.
    pub async fn find_user_ids_case_insensitive(
        &self,
        user_id: &str,
    ) -> Result<Vec<String>, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_scalar("SELECT user_id FROM users WHERE lower(user_id) = lower($1)")
                .bind(user_id)
                .fetch_all(p)
                .await?
        }))
    }

    /// Applies `patch`. Deactivating a user also removes its access tokens and devices.
    pub async fn update_user(&self, user_id: &str, patch: &UserPatch) -> Result<(), DbError> {
        transaction!(self, |tx| {
            let found = sqlx::query("SELECT 1 FROM users WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(DbError::NotFound);
            }
            if let Some(h) = &patch.password_hash {
                sqlx::query("UPDATE users SET password_hash = $2 WHERE user_id = $1")
                    .bind(user_id)
                    .bind(h)
                    .execute(&mut *tx)
                    .await?;
            }
            for (col, val) in [
                ("admin", patch.admin),
                ("deactivated", patch.deactivated),
                ("locked", patch.locked),
            ] {
                if let Some(v) = val {
                    let sql = format!("UPDATE users SET {col} = $2 WHERE user_id = $1");
                    sqlx::query(AssertSqlSafe(sql))
                        .bind(user_id)
                        .bind(v)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            if let Some(t) = &patch.user_type {
                sqlx::query("UPDATE users SET user_type = $2 WHERE user_id = $1")
                    .bind(user_id)
                    .bind(t)
                    .execute(&mut *tx)
                    .await?;
            }
            for (col, val) in [
                ("displayname", &patch.displayname),
                ("avatar_url", &patch.avatar_url),
            ] {
                if let Some(v) = val {
                    let sql = format!("UPDATE profiles SET {col} = $2 WHERE user_id = $1");
                    sqlx::query(AssertSqlSafe(sql))
                        .bind(user_id)
                        .bind(v)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            if patch.deactivated == Some(true) {
                sqlx::query("DELETE FROM access_tokens WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM devices WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
            }
        });
        self.announce(Change::User(user_id.to_owned())).await;
        Ok(())
    }

    /// One page of users and the number of users matching the filter.
    pub async fn list_users(&self, f: &UserFilter) -> Result<(Vec<UserRow>, i64), DbError> {
        let mut conds = Vec::new();
        let mut args: Vec<String> = Vec::new();
        // As Synapse: `name` matches the localpart or the display name and overrides `user_id`,
        // which matches anywhere in the user ID. Unlike Synapse, wildcards in the input are literal.
        if let Some(s) = &f.name {
            let e = like_escape(s);
            args.push(format!("@%{e}%:%"));
            args.push(format!("%{e}%"));
            let n = args.len();
            conds.push(format!(
                "(lower(u.user_id) LIKE ${} ESCAPE '\\' OR lower(p.displayname) LIKE ${n} ESCAPE '\\')",
                n - 1
            ));
        } else if let Some(s) = &f.user_id {
            args.push(format!("%{}%", like_escape(s)));
            conds.push(format!("lower(u.user_id) LIKE ${} ESCAPE '\\'", args.len()));
        }
        if !f.guests {
            conds.push("u.is_guest = FALSE".into());
        }
        match f.deactivated {
            Some(true) => conds.push("u.deactivated = TRUE".into()),
            Some(false) => conds.push("u.deactivated = FALSE".into()),
            None => {}
        }
        match f.admins {
            Some(true) => conds.push("u.admin = TRUE".into()),
            Some(false) => conds.push("u.admin = FALSE".into()),
            None => {}
        }
        if !f.locked {
            conds.push("u.locked = FALSE".into());
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let from = "FROM users u LEFT JOIN profiles p ON p.user_id = u.user_id";
        let count_sql = format!("SELECT COUNT(*) {from} {filter}");
        let dir = if f.descending { "DESC" } else { "ASC" };
        let (col, nulls) = (
            f.order.column(),
            if f.descending { "FIRST" } else { "LAST" },
        );
        let page_sql = format!(
            "SELECT {USER_COLUMNS} {from} {filter} \
             ORDER BY {col} {dir} NULLS {nulls}, u.user_id ASC LIMIT ${} OFFSET ${}",
            args.len() + 1,
            args.len() + 2
        );
        read!(self, |p| {
            let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(count_sql));
            let mut page = sqlx::query_as::<_, UserRow>(AssertSqlSafe(page_sql));
            for a in &args {
                count = count.bind(a);
                page = page.bind(a);
            }
            let total = count.fetch_one(p).await?;
            let rows = page.bind(f.limit).bind(f.from).fetch_all(p).await?;
            Ok((rows, total))
        })
    }

    /// Number of users; used to tell an operator on first start that no admin exists yet.
    pub async fn count_admins(&self) -> Result<i64, DbError> {
        Ok(read!(self, |p| {
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE admin = TRUE")
                .fetch_one(p)
                .await?
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::like_escape;

    #[test]
    fn like_escape_escapes_wildcards() {
        assert_eq!(like_escape("Ab_c%"), "ab\\_c\\%");
        assert_eq!(like_escape("x\\y"), "x\\\\y");
    }
}
