//! Configuration: one TOML file, overridden by `MXCD__SECTION__KEY` environment variables.
//!
//! Key names follow Synapse's where Synapse has the same setting. Every key is documented in
//! `mxcd.example.toml` at the repository root, which a test parses.

mod federation;
mod secret;

use std::{net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format as _, Serialized, Toml},
};
use mxcd_types::{ByteSize, Duration};
use serde::{Deserialize, Serialize};

pub use federation::{FederationConfig, OldSigningKey};
pub use secret::Secret;

/// The example configuration, shipped with the binary and checked by the tests.
pub const EXAMPLE: &str = include_str!("../../../mxcd.example.toml");

/// Environment prefix for overrides: `MXCD__DATABASE__URL` sets `[database] url`.
pub const ENV_PREFIX: &str = "MXCD__";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The public name of this homeserver: the part after `:` in user IDs and MXC URIs.
    pub server_name: String,
    /// Address and port the HTTP listener binds.
    pub listen: String,
    /// Directory for the SQLite database, media, generated secrets and the signing key.
    pub data_dir: PathBuf,
    /// Base URL clients use to reach this server; advertised in `/.well-known/matrix/client`.
    pub public_baseurl: Option<String>,
    /// Serve `/.well-known/matrix/client` (defaults to true when `public_baseurl` is set).
    pub serve_client_wellknown: Option<bool>,
    /// Serve `/.well-known/matrix/server` delegating federation to `<server_name>:443`.
    pub serve_server_wellknown: bool,
    /// Extra keys merged into the `/.well-known/matrix/client` response.
    pub extra_well_known_client_content: serde_json::Map<String, serde_json::Value>,
    /// Secret for Synapse-style shared-secret registration (`/_synapse/admin/v1/register`).
    pub registration_shared_secret: Option<Secret>,
    /// File holding the shared secret, instead of `registration_shared_secret`.
    pub registration_shared_secret_path: Option<PathBuf>,
    /// Allow `POST /_matrix/client/v3/register`.
    pub enable_registration: bool,
    /// Required with `enable_registration` unless `registration_requires_token` is set.
    pub enable_registration_without_verification: bool,
    /// Require a registration token (`m.login.registration_token`) to register.
    pub registration_requires_token: bool,
    /// How long an access token stays valid after login; unset means until logout.
    pub session_lifetime: Option<Duration>,
    /// Largest media upload accepted, for example "50M".
    pub max_upload_size: ByteSize,
    /// Per-user upload quotas over sliding time windows (Synapse's `media_upload_limits`).
    pub media_upload_limits: Vec<UploadLimit>,
    /// How many media IDs a user may hold from `/create` without having uploaded to them.
    pub max_pending_media_uploads: u32,
    /// How long a media ID from `/create` stays valid without content.
    pub unused_expiration_time: Duration,
    /// How fast one user may create media IDs with `/create` (Synapse's `rc_media_create`).
    pub rc_media_create: crate::ratelimit::Rate,
    /// New media is served only through the authenticated (`/_matrix/client/v1/media`) endpoints.
    pub enable_authenticated_media: bool,
    /// Thumbnail sizes made when an image is uploaded (Synapse's `thumbnail_sizes`).
    pub thumbnail_sizes: Vec<ThumbnailSize>,
    /// Make thumbnails of any requested size on demand (Synapse's `dynamic_thumbnails`).
    pub dynamic_thumbnails: bool,
    /// Images of at least this many pixels (width × height) get no thumbnails.
    pub max_image_pixels: ByteSize,
    /// Remote servers whose media local users may not download (404), even when cached.
    pub prevent_media_downloads_from: Vec<String>,
    /// When set, only these servers may federate with this one, both ways.
    pub federation_domain_whitelist: Option<Vec<String>>,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    pub federation: FederationConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`. Default: SQLite under `data_dir`.
    pub url: Option<String>,
    /// PostgreSQL password, if not in the URL.
    pub password: Option<Secret>,
    /// File holding the PostgreSQL password.
    pub password_file: Option<PathBuf>,
}

/// At most `max_size` bytes of uploads per user within any `time_period`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadLimit {
    pub time_period: Duration,
    pub max_size: ByteSize,
}

/// One pre-generated thumbnail size.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThumbnailSize {
    pub width: u32,
    pub height: u32,
    pub method: ThumbnailMethod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThumbnailMethod {
    Crop,
    Scale,
}

/// Where media bytes are kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    /// Directory of the `fs` backend. Default: `<data_dir>/media`.
    pub path: Option<PathBuf>,
    /// Whether the `fs` backend leaves an upload's bytes in the page cache once they are
    /// synced. Default: no, they are dropped (see `FsStore`).
    pub keep_uploads_in_page_cache: bool,
    /// How often the orphan sweep runs (it also runs at start-up).
    pub sweep_interval: Duration,
    /// Only objects and abandoned uploads untouched for this long are swept.
    pub sweep_grace: Duration,
    /// How often download times (`last_access_ts`) are written, batched.
    pub access_flush_interval: Duration,
    pub s3: Option<S3Section>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Fs,
            path: None,
            keep_uploads_in_page_cache: false,
            sweep_interval: Duration::from_millis(3_600_000),
            sweep_grace: Duration::from_millis(600_000),
            access_flush_interval: Duration::from_millis(5_000),
            s3: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    #[default]
    Fs,
    S3,
}

/// An S3-compatible bucket.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Section {
    pub endpoint: String,
    #[serde(default = "default_region")]
    pub region: String,
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    pub access_key_id: String,
    pub secret_access_key: Option<Secret>,
    pub secret_access_key_file: Option<PathBuf>,
}

fn default_region() -> String {
    "us-east-1".into()
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server_name: "localhost:8008".into(),
            listen: "127.0.0.1:8008".into(),
            data_dir: PathBuf::from("./mxcd-data"),
            public_baseurl: None,
            serve_client_wellknown: None,
            serve_server_wellknown: false,
            extra_well_known_client_content: serde_json::Map::new(),
            registration_shared_secret: None,
            registration_shared_secret_path: None,
            enable_registration: false,
            enable_registration_without_verification: false,
            registration_requires_token: false,
            session_lifetime: None,
            max_upload_size: ByteSize(50 * 1024 * 1024),
            media_upload_limits: Vec::new(),
            max_pending_media_uploads: 5,
            unused_expiration_time: Duration::from_millis(24 * 3_600_000),
            rc_media_create: crate::ratelimit::Rate {
                per_second: 10.0,
                burst_count: 50.0,
            },
            enable_authenticated_media: true,
            thumbnail_sizes: [
                (32, 32, ThumbnailMethod::Crop),
                (96, 96, ThumbnailMethod::Crop),
                (320, 240, ThumbnailMethod::Scale),
                (640, 480, ThumbnailMethod::Scale),
                (800, 600, ThumbnailMethod::Scale),
            ]
            .map(|(width, height, method)| ThumbnailSize {
                width,
                height,
                method,
            })
            .to_vec(),
            dynamic_thumbnails: false,
            max_image_pixels: ByteSize(32 * 1024 * 1024),
            prevent_media_downloads_from: Vec::new(),
            federation_domain_whitelist: None,
            database: DatabaseConfig {
                url: None,
                password: None,
                password_file: None,
            },
            storage: StorageConfig::default(),
            federation: FederationConfig::default(),
        }
    }
}

/// A configuration that cannot be used; the message names the key and the problem.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub(crate) fn key(key: &str, problem: impl std::fmt::Display) -> Self {
        Self(format!("key `{key}`: {problem}"))
    }
}

impl Config {
    /// Defaults, then the TOML file (if any), then `MXCD__…` environment variables.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "config file {} not found",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        fig = fig.merge(Env::prefixed(ENV_PREFIX).split("__"));
        Self::from_figment(fig)
    }

    /// Parses a TOML document on top of the defaults (no environment); used by tests.
    pub fn from_toml(toml: &str) -> Result<Self, ConfigError> {
        Self::from_figment(
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml)),
        )
    }

    fn from_figment(fig: Figment) -> Result<Self, ConfigError> {
        let cfg: Config = fig.extract().map_err(|e| {
            let key = e.path.join(".");
            let msg = e.kind.to_string();
            if key.is_empty() {
                ConfigError(msg)
            } else {
                ConfigError::key(&key, msg)
            }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        ruma::ServerName::parse(&self.server_name).map_err(|e| {
            ConfigError::key(
                "server_name",
                format!("{:?} is not a valid server name: {e}", self.server_name),
            )
        })?;
        self.listen_addr()?;
        if let Some(url) = &self.database.url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres:")
                || url.starts_with("postgresql:"))
        {
            return Err(ConfigError::key(
                "database.url",
                "must start with sqlite:// or postgres://",
            ));
        }
        if self.registration_shared_secret.is_some()
            && self.registration_shared_secret_path.is_some()
        {
            return Err(ConfigError::key(
                "registration_shared_secret_path",
                "cannot be set together with registration_shared_secret",
            ));
        }
        if self.database.password.is_some() && self.database.password_file.is_some() {
            return Err(ConfigError::key(
                "database.password_file",
                "cannot be set together with database.password",
            ));
        }
        if self.storage.backend == StorageBackend::S3 {
            let s3 = self.storage.s3.as_ref().ok_or_else(|| {
                ConfigError::key("storage.s3", "required when storage.backend = \"s3\"")
            })?;
            if s3.secret_access_key.is_none() == s3.secret_access_key_file.is_none() {
                return Err(ConfigError::key(
                    "storage.s3.secret_access_key",
                    "set exactly one of secret_access_key and secret_access_key_file",
                ));
            }
        }
        self.validate_federation()?;
        if let Some(base) = &self.public_baseurl
            && !(base.starts_with("https://") || base.starts_with("http://"))
        {
            return Err(ConfigError::key(
                "public_baseurl",
                "must be an http:// or https:// URL",
            ));
        }
        if self.enable_registration
            && !self.registration_requires_token
            && !self.enable_registration_without_verification
        {
            return Err(ConfigError::key(
                "enable_registration",
                "open registration without verification lets anyone create accounts; set \
                 registration_requires_token = true, or enable_registration_without_verification = true \
                 if you really want this",
            ));
        }
        Ok(())
    }

    /// The federation TLS listener's address, if one is configured.
    pub fn federation_listen_addr(&self) -> Option<SocketAddr> {
        self.federation
            .listen
            .as_deref()
            .and_then(|l| l.parse().ok())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|e| {
            ConfigError::key(
                "listen",
                format!("{:?} is not an address:port: {e}", self.listen),
            )
        })
    }

    /// The database URL, defaulting to `sqlite://<data_dir>/mxcd.db`.
    pub fn database_url(&self) -> String {
        self.database
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("mxcd.db").display()))
    }

    /// The PostgreSQL password from `password` or `password_file`.
    pub fn database_password(&self) -> Result<Option<Secret>, ConfigError> {
        match (&self.database.password, &self.database.password_file) {
            (Some(p), _) => Ok(Some(p.clone())),
            (None, Some(path)) => Secret::from_file(path)
                .map(Some)
                .map_err(|e| ConfigError::key("database.password_file", e)),
            (None, None) => Ok(None),
        }
    }

    /// The S3 settings with the secret resolved, when the S3 backend is chosen.
    pub fn s3(&self) -> Result<Option<mxcd_blob::S3Config>, ConfigError> {
        let Some(s3) = self
            .storage
            .s3
            .as_ref()
            .filter(|_| self.storage.backend == StorageBackend::S3)
        else {
            return Ok(None);
        };
        let secret = match (&s3.secret_access_key, &s3.secret_access_key_file) {
            (Some(s), _) => s.clone(),
            (None, Some(f)) => Secret::from_file(f)
                .map_err(|e| ConfigError::key("storage.s3.secret_access_key_file", e))?,
            (None, None) => {
                return Err(ConfigError::key("storage.s3.secret_access_key", "missing"));
            }
        };
        Ok(Some(mxcd_blob::S3Config {
            endpoint: s3.endpoint.clone(),
            region: s3.region.clone(),
            bucket: s3.bucket.clone(),
            prefix: s3.prefix.clone(),
            access_key_id: s3.access_key_id.clone(),
            secret_access_key: secret.expose().to_owned(),
        }))
    }

    /// Whether `/.well-known/matrix/client` is served.
    pub fn client_wellknown_enabled(&self) -> bool {
        self.serve_client_wellknown
            .unwrap_or(self.public_baseurl.is_some())
    }
}

#[cfg(test)]
mod tests;
