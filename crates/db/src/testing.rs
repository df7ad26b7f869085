//! Test support: throw-away databases on every backend.
//!
//! PostgreSQL tests run when `MXCD_TEST_POSTGRES_URL` names a server and a role that may
//! `CREATE DATABASE` (for example `postgres://postgres@127.0.0.1:5432/postgres`). Each test gets
//! its own database, dropped afterwards. Under `CI=true` a missing URL is a failure, not a skip.

use sqlx::{Connection as _, Executor as _, PgConnection};

/// Environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "MXCD_TEST_POSTGRES_URL";

/// The PostgreSQL URL for tests, if configured. Panics under `CI=true` when it is not.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but {POSTGRES_URL_VAR} is not set: PostgreSQL tests cannot be skipped in CI"
            )
        }
        _ => None,
    }
}

/// A PostgreSQL database created for one test and dropped when this value is dropped.
#[derive(Debug)]
pub struct PgTestDb {
    admin_url: String,
    name: String,
    url: String,
}

impl PgTestDb {
    /// Creates a fresh, empty database on the server named by [`POSTGRES_URL_VAR`].
    pub async fn create(admin_url: &str) -> Self {
        let name = format!("mxcd_test_{}", mxcd_types::random_string(12).to_lowercase());
        let mut conn = PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_URL_VAR}: {e}"));
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("CREATE DATABASE");
        conn.close().await.ok();
        let url = rewrite_database(admin_url, &name);
        Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
        }
    }

    /// A `postgres://` URL for the new database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

fn rewrite_database(admin_url: &str, name: &str) -> String {
    // Replace the path component (the database) and keep user, host, port and parameters.
    let (head, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(h, q)| (h, Some(q)));
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let base = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop cannot await; a short-lived runtime on its own thread does the clean-up.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin_url)
                    .await
                    .map_err(std::io::Error::other)?;
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await
                .map_err(std::io::Error::other)?;
                Ok::<_, std::io::Error>(())
            })
        })
        .join();
    }
}

/// Raw SQL for tests that check the database against a recomputation from its rows.
impl crate::Db {
    /// Runs a statement on the writer.
    pub async fn test_execute(&self, sql: &str) {
        crate::writer!(self, |p| {
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(p)
                .await
                .unwrap();
        });
    }

    /// Rows of two text columns.
    pub async fn test_query_pairs(&self, sql: &str) -> Vec<(String, String)> {
        crate::read!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(
            sql.to_owned()
        ))
        .fetch_all(p)
        .await
        .unwrap())
    }

    /// Rows of a text, a bigint and a nullable bigint column.
    pub async fn test_query_triples(&self, sql: &str) -> Vec<(String, i64, Option<i64>)> {
        crate::read!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(
            sql.to_owned()
        ))
        .fetch_all(p)
        .await
        .unwrap())
    }

    /// Each room's size as migration 0009 defines it, computed from the rows now.
    pub async fn test_room_sizes_from_scratch(&self) -> Vec<(String, i64)> {
        fn size(cols: &[&str], overhead: i64) -> String {
            let parts: Vec<String> = cols
                .iter()
                .map(|c| format!("COALESCE(octet_length({c}), 0)"))
                .collect();
            format!("{overhead} + {}", parts.join(" + "))
        }
        let tables = [
            (
                "events",
                size(
                    &[
                        "room_id",
                        "event_id",
                        "type",
                        "state_key",
                        "sender",
                        "content",
                        "redacts",
                        "redacted_by",
                        "replaces_state",
                        "prev_content",
                        "txn_device",
                        "txn_id",
                    ],
                    64,
                ),
            ),
            (
                "room_state",
                size(&["room_id", "type", "state_key", "event_id"], 32),
            ),
            (
                "room_members",
                size(
                    &[
                        "room_id",
                        "user_id",
                        "membership",
                        "event_id",
                        "sender",
                        "displayname",
                        "avatar_url",
                    ],
                    40,
                ),
            ),
            (
                "room_media",
                size(
                    &[
                        "room_id",
                        "event_id",
                        "event_type",
                        "field",
                        "origin",
                        "media_id",
                    ],
                    32,
                ),
            ),
        ];
        let union: Vec<String> = tables
            .iter()
            .map(|(t, s)| format!("SELECT room_id, {s} AS bytes FROM {t}"))
            .collect();
        let sql = format!(
            "SELECT room_id, CAST(SUM(bytes) AS BIGINT) FROM ({}) s GROUP BY room_id \
             HAVING SUM(bytes) > 0",
            union.join(" UNION ALL ")
        );
        crate::read!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(p)
            .await
            .unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            rewrite_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(rewrite_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            rewrite_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}
