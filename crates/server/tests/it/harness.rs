//! Test harness: start a server on a chosen backend and talk to it.

use hmac::{Hmac, KeyInit as _, Mac as _};
use mxcd_db::testing::{PgTestDb, postgres_admin_url};
use mxcd_server::{Config, Running, config::Secret};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha1::Sha1;

pub(crate) const SECRET: &str = "test-shared-secret";
pub(crate) const SERVER_NAME: &str = "test.local";

#[derive(Clone, Debug)]
pub(crate) enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL, if configured; `None` skips the test outside CI (inside CI it panics).
    pub(crate) fn postgres() -> Option<Self> {
        postgres_admin_url().map(Backend::Postgres)
    }
}

/// Where a test server keeps media bytes.
#[derive(Clone, Debug)]
pub(crate) enum Storage {
    Fs,
    S3(String),
}

impl Storage {
    /// S3, if configured; `None` skips the test outside CI (inside CI it panics).
    pub(crate) fn s3() -> Option<Self> {
        match std::env::var("MXCD_TEST_S3_ENDPOINT") {
            Ok(e) if !e.is_empty() => Some(Storage::S3(e)),
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!(
                    "CI=true but MXCD_TEST_S3_ENDPOINT is not set: S3 tests cannot be skipped in CI"
                )
            }
            _ => None,
        }
    }

    /// Points `cfg` at this storage (a fresh prefix per server on S3).
    pub(crate) fn apply(&self, cfg: &mut Config) {
        if let Storage::S3(endpoint) = self {
            cfg.storage.backend = mxcd_server::config::StorageBackend::S3;
            cfg.storage.s3 = Some(mxcd_server::config::S3Section {
                endpoint: endpoint.clone(),
                region: "us-east-1".into(),
                bucket: std::env::var("MXCD_TEST_S3_BUCKET").unwrap_or_else(|_| "mxcd-test".into()),
                prefix: format!("it-{}/", mxcd_types::random_string(16).to_lowercase()),
                access_key_id: "test".into(),
                secret_access_key: Some(Secret::new("testtesttest")),
                secret_access_key_file: None,
            });
        }
    }
}

/// Generates, for each listed `async fn name(b: Backend, st: Storage)`, one test per
/// database × storage pair.
#[macro_export]
macro_rules! storage_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite_fs {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::harness::Backend::Sqlite, $crate::harness::Storage::Fs).await } )*
        }
        mod postgres_fs {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   match $crate::harness::Backend::postgres() {
                       Some(b) => super::$name(b, $crate::harness::Storage::Fs).await,
                       None => eprintln!("skipped: MXCD_TEST_POSTGRES_URL is not set"),
                   }
               } )*
        }
        mod sqlite_s3 {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   match $crate::harness::Storage::s3() {
                       Some(s) => super::$name($crate::harness::Backend::Sqlite, s).await,
                       None => eprintln!("skipped: MXCD_TEST_S3_ENDPOINT is not set"),
                   }
               } )*
        }
        mod postgres_s3 {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   match ($crate::harness::Backend::postgres(), $crate::harness::Storage::s3()) {
                       (Some(b), Some(s)) => super::$name(b, s).await,
                       _ => eprintln!("skipped: MXCD_TEST_POSTGRES_URL or MXCD_TEST_S3_ENDPOINT is not set"),
                   }
               } )*
        }
    };
}

/// Generates, for each listed `async fn name(b: Backend)`, one test per backend.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::harness::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   match $crate::harness::Backend::postgres() {
                       Some(b) => super::$name(b).await,
                       None => eprintln!("skipped: MXCD_TEST_POSTGRES_URL is not set"),
                   }
               } )*
        }
    };
}

pub(crate) struct TestServer {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) cfg: Config,
    running: Option<Running>,
    _dir: tempfile::TempDir,
    _pg: Option<PgTestDb>,
}

/// A response: status and JSON body (`Null` when the body is not JSON).
pub(crate) struct Res {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

impl Res {
    /// Asserts a Matrix error.
    #[track_caller]
    pub(crate) fn err(&self, status: u16, errcode: &str) -> &str {
        assert_eq!(
            (self.status.as_u16(), self.body["errcode"].as_str()),
            (status, Some(errcode)),
            "body: {}",
            self.body
        );
        self.body["error"].as_str().expect("error message")
    }

    #[track_caller]
    pub(crate) fn ok(&self) -> &Value {
        assert!(self.status.is_success(), "{}: {}", self.status, self.body);
        &self.body
    }
}

impl TestServer {
    pub(crate) async fn start(b: Backend) -> Self {
        Self::start_with(b, |_| {}).await
    }

    pub(crate) async fn start_with(b: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            server_name: SERVER_NAME.into(),
            listen: "127.0.0.1:0".into(),
            data_dir: dir.path().join("data"),
            registration_shared_secret: Some(Secret::new(SECRET)),
            ..Config::default()
        };
        let pg = match b {
            Backend::Sqlite => None,
            Backend::Postgres(admin) => {
                let db = PgTestDb::create(&admin).await;
                cfg.database.url = Some(db.url().to_owned());
                Some(db)
            }
        };
        tweak(&mut cfg);
        let running = mxcd_server::start(cfg.clone())
            .await
            .expect("server starts");
        Self {
            base: format!("http://{}", running.addr),
            client: reqwest::Client::new(),
            cfg,
            running: Some(running),
            _dir: dir,
            _pg: pg,
        }
    }

    /// Stops the server and starts it again on the same data.
    pub(crate) async fn restart(&mut self) {
        self.running.take().unwrap().stop().await.unwrap();
        let running = mxcd_server::start(self.cfg.clone())
            .await
            .expect("server restarts");
        self.base = format!("http://{}", running.addr);
        self.running = Some(running);
    }

    /// Stops the server (its data stays until the value is dropped).
    pub(crate) async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.unwrap();
        }
    }

    pub(crate) fn running(&self) -> &Running {
        self.running.as_ref().expect("running")
    }

    pub(crate) fn database_url(&self) -> String {
        self.cfg.database_url()
    }

    pub(crate) async fn req(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Res {
        let mut rb = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        Self::read(rb.send().await.unwrap()).await
    }

    pub(crate) async fn read(r: reqwest::Response) -> Res {
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap();
        Res {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    pub(crate) async fn get(&self, path: &str, token: Option<&str>) -> Res {
        self.req(Method::GET, path, token, None).await
    }

    pub(crate) async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Res {
        self.req(Method::POST, path, token, Some(body)).await
    }

    pub(crate) async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Res {
        self.req(Method::PUT, path, token, Some(body)).await
    }

    pub(crate) async fn raw(&self, method: Method, path: &str, body: &'static str) -> Res {
        let r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .body(body)
            .send()
            .await
            .unwrap();
        Self::read(r).await
    }

    pub(crate) async fn nonce(&self) -> String {
        let r = self.get("/_synapse/admin/v1/register", None).await;
        r.ok()["nonce"].as_str().unwrap().to_owned()
    }

    /// Registers through the shared-secret endpoint (MAC computed here, independently of the
    /// server's code) and returns `(user_id, access_token)`.
    pub(crate) async fn register(
        &self,
        user: &str,
        password: &str,
        admin: bool,
    ) -> (String, String) {
        let body = shared_secret_body(&self.nonce().await, user, password, admin, SECRET);
        let r = self.post("/_synapse/admin/v1/register", None, body).await;
        let b = r.ok();
        (
            b["user_id"].as_str().unwrap().to_owned(),
            b["access_token"].as_str().unwrap().to_owned(),
        )
    }

    pub(crate) async fn login(&self, user: &str, password: &str) -> Res {
        let body = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password});
        self.post("/_matrix/client/v3/login", None, body).await
    }

    /// A single integer from the server's database (for checks no API exposes yet).
    pub(crate) async fn sql_i64(&self, query: &'static str) -> i64 {
        use sqlx::Connection as _;
        let url = self.database_url();
        if url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query_scalar(query).fetch_one(&mut c).await.unwrap()
        } else {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query_scalar(query).fetch_one(&mut c).await.unwrap()
        }
    }

    /// A column of strings from the server's database.
    pub(crate) async fn sql_strings(&self, query: &'static str) -> Vec<String> {
        use sqlx::Connection as _;
        let url = self.database_url();
        if url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query_scalar(query).fetch_all(&mut c).await.unwrap()
        } else {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query_scalar(query).fetch_all(&mut c).await.unwrap()
        }
    }

    /// The server's byte store, opened beside it (to inspect or damage what it stored).
    pub(crate) async fn blob_store(&self) -> std::sync::Arc<dyn mxcd_blob::BlobStore> {
        match self.cfg.s3().unwrap() {
            Some(s3) => std::sync::Arc::new(mxcd_blob::S3Store::new(&s3).unwrap()),
            None => std::sync::Arc::new(
                mxcd_blob::FsStore::open(&self.cfg.data_dir.join("media"))
                    .await
                    .unwrap(),
            ),
        }
    }

    /// Runs one SQL statement against the server's database (for states no API can create).
    pub(crate) async fn sql(&self, statement: &'static str) {
        use sqlx::Connection as _;
        let url = self.database_url();
        if url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(statement).execute(&mut c).await.unwrap();
        } else {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(statement).execute(&mut c).await.unwrap();
        }
    }
}

/// Synapse's registration MAC, written out here from its documentation.
pub(crate) fn mac(secret: &str, nonce: &str, user: &str, password: &str, admin: bool) -> String {
    let mut m = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    let msg = format!(
        "{nonce}\0{user}\0{password}\0{}",
        if admin { "admin" } else { "notadmin" }
    );
    m.update(msg.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

pub(crate) fn shared_secret_body(
    nonce: &str,
    user: &str,
    password: &str,
    admin: bool,
    secret: &str,
) -> Value {
    json!({
        "nonce": nonce, "username": user, "password": password, "admin": admin,
        "mac": mac(secret, nonce, user, password, admin),
    })
}

pub(crate) fn uid(localpart: &str) -> String {
    format!("@{localpart}:{SERVER_NAME}")
}

/// Percent-encodes a Matrix identifier (user, room, alias, event ID) for a path segment.
pub(crate) fn enc(s: &str) -> String {
    s.replace('@', "%40")
        .replace(':', "%3A")
        .replace('#', "%23")
        .replace('$', "%24")
        .replace('!', "%21")
}
