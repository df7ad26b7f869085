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
