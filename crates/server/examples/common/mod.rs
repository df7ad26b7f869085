//! What the server benchmarks share: a server on a free loopback port, on SQLite in a temporary
//! directory or, when `MXCD_BENCH_POSTGRES_URL` names a server, on a throw-away PostgreSQL
//! database; and shared-secret registration.

// Each example compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use mxcd_db::testing::PgTestDb;
use mxcd_server::{Config, Running, config::Secret};
use serde_json::{Value, json};

const SECRET: &str = "bench-secret";

/// A running server and what it needs to stay up.
pub(crate) struct Bench {
    pub(crate) server: Running,
    pub(crate) base: String,
    pub(crate) cfg: Config,
    /// `SQLite` or `PostgreSQL`, for the printed figures.
    pub(crate) backend: &'static str,
    pub(crate) pg: Option<PgTestDb>,
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) async fn start() -> anyhow::Result<Bench> {
    let dir = tempfile::tempdir()?;
    let mut cfg = Config {
        server_name: "bench.local".into(),
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().join("data"),
        registration_shared_secret: Some(Secret::new(SECRET)),
        ..Config::default()
    };
    let pg = match std::env::var("MXCD_BENCH_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(PgTestDb::create(&url).await),
        _ => None,
    };
    if let Some(db) = &pg {
        cfg.database.url = Some(db.url().to_owned());
    }
    let server = mxcd_server::start(cfg.clone()).await?;
    Ok(Bench {
        base: format!("http://{}", server.addr),
        server,
        cfg,
        backend: if pg.is_some() { "PostgreSQL" } else { "SQLite" },
        pg,
        dir,
    })
}

/// Registers `user` through the shared-secret API and returns an access token.
pub(crate) async fn register(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    admin: bool,
) -> anyhow::Result<String> {
    use hmac::{Hmac, KeyInit as _, Mac as _};
    let url = format!("{base}/_synapse/admin/v1/register");
    let nonce: Value = http.get(&url).send().await?.json().await?;
    let nonce = nonce["nonce"].as_str().unwrap_or_default().to_owned();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes())?;
    let kind = if admin { "admin" } else { "notadmin" };
    mac.update(format!("{nonce}\0{user}\0pw\0{kind}").as_bytes());
    let body = json!({"nonce": nonce, "username": user, "password": "pw", "admin": admin,
                      "mac": hex::encode(mac.finalize().into_bytes())});
    let r: Value = http.post(&url).json(&body).send().await?.json().await?;
    Ok(r["access_token"].as_str().unwrap_or_default().to_owned())
}
