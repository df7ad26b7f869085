//! mxcd: a Matrix media server with Synapse's media admin API.
//!
//! [`start`] builds everything from a [`Config`] and serves it; tests and `main` both use it.

pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod ratelimit;
mod routes;
pub mod services;
pub mod state;
pub mod tls;

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use mxcd_db::Db;
use serde_json::json;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

pub use crate::config::Config;
use crate::{
    bootstrap::DataDir,
    services::{
        accounts, federation, media, notifier, profiles, registration, rooms, statistics,
        user_data, users,
    },
    state::{AppState, Discovery},
};

/// A running server: its address, and how to stop it.
pub struct Running {
    pub addr: SocketAddr,
    /// The federation TLS listener's address, when one is configured.
    pub federation_addr: Option<SocketAddr>,
    pub data: DataDir,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
    federation_task: Option<JoinHandle<std::io::Result<()>>>,
    db: Db,
    sweeper: JoinHandle<()>,
    flusher: JoinHandle<()>,
    relay: JoinHandle<()>,
    media: Arc<media::Service>,
    /// The lock on a SQLite database, released when the server is dropped.
    _lock: Option<std::fs::File>,
}

impl Running {
    /// Stops accepting, finishes requests in flight, and closes the database.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        (&mut self.task).await??;
        if let Some(t) = self.federation_task.take() {
            t.await??;
        }
        self.sweeper.abort();
        self.flusher.abort();
        self.relay.abort();
        if let Err(e) = self.media.flush_access_times().await {
            tracing::warn!(error = %e, "could not write the last access times at shutdown");
        }
        self.db.close().await;
        Ok(())
    }

    /// The media service, for tests and tools that look inside.
    pub fn media(&self) -> &Arc<media::Service> {
        &self.media
    }

    /// Resolves when the server ends on its own (it only does on error).
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        (&mut self.task).await??;
        Ok(())
    }
}

/// Prepares the data directory, connects to and migrates the database, binds the listener and
/// starts serving in the background.
pub async fn start(cfg: Config) -> anyhow::Result<Running> {
    let (data, secret) = DataDir::prepare(&cfg)?;
    let db_url = cfg.database_url();
    let lock = bootstrap::lock_database(&db_url)?;
    let password = cfg.database_password()?;
    let db = Db::connect(&db_url, password.as_ref().map(|p| p.expose()))
        .await
        .with_context(|| format!("cannot open database {}", redact_url(&db_url)))?;
    let store = open_store(&cfg, &data).await?;
    let notifier = Arc::new(notifier::Notifier::new(db.stream_position().await?));
    let relay = tokio::spawn(notifier::relay_database(db.clone(), notifier.clone()));
    let signing_key = Arc::new(federation::SigningKey::load(&data.signing_key)?);
    let state = build_state(&cfg, db.clone(), secret, store, notifier, signing_key)?;
    // Before anything is served: uploads that were in flight when the process stopped may have
    // committed rows whose bytes never became durable (services/media/durable.rs).
    let recovered = state.media.recover_unsynced().await?;
    if !recovered.removed_media.is_empty() {
        tracing::warn!(
            removed = recovered.removed_media.len(),
            kept = recovered.kept,
            "removed media whose uploads were cut short by a crash"
        );
    }
    let sweeper = tokio::spawn(sweep_periodically(
        state.media.clone(),
        cfg.storage.sweep_interval.to_std(),
        cfg.storage.sweep_grace.to_std(),
    ));
    let flusher = tokio::spawn(flush_periodically(
        state.media.clone(),
        cfg.storage.access_flush_interval.to_std(),
    ));
    let media = state.media.clone();
    let addr = cfg.listen_addr()?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let (shutdown, rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let (federation_addr, federation_task) = match start_federation_listener(&cfg).await? {
        Some(l) => {
            let fed_addr = axum::serve::Listener::local_addr(&l)?;
            let task = tokio::spawn(app::serve_tls(l, state.clone(), stopped(rx.clone())));
            (Some(fed_addr), Some(task))
        }
        None => (None, None),
    };
    let task = tokio::spawn(app::serve(listener, state, stopped(rx)));
    if let Some(a) = federation_addr {
        tracing::info!("federation (TLS) listening on https://{a}");
    }
    announce(&cfg, &data, &db_url, addr, &db).await;
    Ok(Running {
        addr,
        federation_addr,
        data,
        shutdown,
        task,
        federation_task,
        db,
        sweeper,
        flusher,
        relay,
        media,
        _lock: lock,
    })
}

/// Binds the federation TLS listener, when one is configured.
async fn start_federation_listener(cfg: &Config) -> anyhow::Result<Option<tls::TlsListener>> {
    let Some(addr) = cfg.federation_listen_addr() else {
        return Ok(None);
    };
    let f = &cfg.federation;
    let (Some(cert), Some(key)) = (&f.tls_certificate_path, &f.tls_private_key_path) else {
        anyhow::bail!("federation.listen needs a certificate and a key");
    };
    let tls = tls::server_config(cert, key)?;
    let tcp = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    Ok(Some(tls::TlsListener::new(tcp, tls)?))
}

/// The federation service and the outgoing client media fetches use.
fn federation_services(
    cfg: &Config,
    db: &Db,
    key: Arc<federation::SigningKey>,
) -> anyhow::Result<(Arc<federation::Service>, Arc<federation::Client>)> {
    let f = &cfg.federation;
    let client = Arc::new(federation::Client::new(
        &cfg.server_name,
        key.clone(),
        federation::ClientSettings {
            verify_certificates: f.verify_certificates,
            ip_filter: federation::IpFilter::new(&f.ip_range_blacklist, &f.ip_range_whitelist)
                .map_err(anyhow::Error::msg)?,
            request_timeout: f.request_timeout.to_std(),
            connect_timeout: f.connect_timeout.to_std(),
        },
    )?);
    let whitelist = cfg
        .federation_domain_whitelist
        .as_ref()
        .map(|w| w.iter().cloned().collect());
    let keyring = federation::Keyring::new(db.clone(), client.clone(), key.clone(), whitelist);
    let old_keys = f
        .old_signing_keys
        .iter()
        .map(|(id, k)| federation::OldKey {
            key_id: id.clone(),
            public_key: k.key.clone(),
            expired_ts: k.expired_ts,
        })
        .collect();
    let validity = i64::try_from(f.key_refresh_interval.as_millis()).unwrap_or(i64::MAX);
    let service = federation::Service::new(&cfg.server_name, key, old_keys, validity, keyring);
    Ok((Arc::new(service), client))
}

/// Writes batched download times every `interval`.
async fn flush_periodically(media: Arc<media::Service>, interval: std::time::Duration) {
    loop {
        tokio::time::sleep(interval).await;
        if let Err(e) = media.flush_access_times().await {
            tracing::warn!(error = %e, "could not write last access times; will retry");
        }
    }
}

/// Runs the orphan sweep now and then every `interval`. Failures are logged and retried.
async fn sweep_periodically(
    media: Arc<media::Service>,
    interval: std::time::Duration,
    grace: std::time::Duration,
) {
    loop {
        match media.sweep(grace).await {
            Ok(r) if r == media::SweepReport::default() => {
                tracing::debug!("sweep: nothing to remove")
            }
            Ok(r) => tracing::info!(
                incomplete_uploads = r.incomplete_uploads,
                orphaned_blobs = r.orphaned_blobs,
                "sweep removed leftovers"
            ),
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// The blob store the configuration asks for.
async fn open_store(cfg: &Config, data: &DataDir) -> anyhow::Result<Arc<dyn mxcd_blob::BlobStore>> {
    if let Some(s3) = cfg.s3()? {
        tracing::info!(
            "media storage: s3 bucket {} at {} (prefix {:?})",
            s3.bucket,
            s3.endpoint,
            s3.prefix
        );
        return Ok(Arc::new(mxcd_blob::S3Store::new(&s3)?));
    }
    let path = cfg
        .storage
        .path
        .clone()
        .unwrap_or_else(|| data.media.clone());
    tracing::info!("media storage: {}", path.display());
    Ok(Arc::new(
        mxcd_blob::FsStore::open(&path)
            .await?
            .keep_written_in_page_cache(cfg.storage.keep_uploads_in_page_cache),
    ))
}

fn build_state(
    cfg: &Config,
    db: Db,
    secret: config::Secret,
    store: Arc<dyn mxcd_blob::BlobStore>,
    notifier: Arc<notifier::Notifier>,
    signing_key: Arc<federation::SigningKey>,
) -> anyhow::Result<AppState> {
    let (federation, client) = federation_services(cfg, &db, signing_key)?;
    let lifetime = cfg.session_lifetime.map(|d| d.as_millis());
    let accounts = Arc::new(accounts::Service::new(
        db.clone(),
        &cfg.server_name,
        lifetime,
    ));
    let policy = registration::Policy {
        enabled: cfg.enable_registration,
        requires_token: cfg.registration_requires_token,
    };
    let rooms = Arc::new(rooms::Service::new(db.clone(), &cfg.server_name, notifier));
    Ok(AppState {
        federation,
        profiles: Arc::new(profiles::Service::new(db.clone(), rooms.clone())),
        statistics: Arc::new(statistics::Service::new(db.clone(), &cfg.server_name)),
        user_data: Arc::new(user_data::Service::new(db.clone(), &cfg.server_name)),
        rooms,
        registration: Arc::new(registration::Service::new(db.clone(), Some(secret), policy)),
        users: Arc::new(users::Service::new(db.clone(), accounts.clone())),
        media: Arc::new(
            media::Service::new(
                db,
                store,
                &cfg.server_name,
                cfg.max_upload_size.bytes(),
                cfg.enable_authenticated_media,
            )
            .with_upload_quotas(
                cfg.media_upload_limits
                    .iter()
                    .map(|l| media::UploadQuota {
                        period_ms: i64::try_from(l.time_period.as_millis()).unwrap_or(i64::MAX),
                        max_bytes: i64::try_from(l.max_size.bytes()).unwrap_or(i64::MAX),
                    })
                    .collect(),
            )
            .with_create_ratelimit(cfg.rc_media_create)
            .with_thumbnails(thumbnail_settings(cfg))
            .with_pending_limits(media::PendingLimits {
                max_pending: i64::from(cfg.max_pending_media_uploads),
                expire_after_ms: i64::try_from(cfg.unused_expiration_time.as_millis())
                    .unwrap_or(i64::MAX),
            })
            .with_remote(media::RemotePolicy {
                client: Some(client),
                prevent_downloads_from: cfg.prevent_media_downloads_from.iter().cloned().collect(),
                domain_whitelist: cfg
                    .federation_domain_whitelist
                    .as_ref()
                    .map(|w| w.iter().cloned().collect()),
            }),
        ),
        accounts,
        discovery: Arc::new(discovery(cfg)),
    })
}

fn thumbnail_settings(cfg: &Config) -> media::ThumbnailSettings {
    use mxcd_imaging::Method;
    media::ThumbnailSettings {
        sizes: cfg
            .thumbnail_sizes
            .iter()
            .map(|s| mxcd_imaging::Spec {
                width: s.width,
                height: s.height,
                method: match s.method {
                    config::ThumbnailMethod::Crop => Method::Crop,
                    config::ThumbnailMethod::Scale => Method::Scale,
                },
            })
            .collect(),
        dynamic: cfg.dynamic_thumbnails,
        limits: mxcd_imaging::Limits {
            max_pixels: cfg.max_image_pixels.bytes(),
            ..mxcd_imaging::Limits::default()
        },
    }
}

fn discovery(cfg: &Config) -> Discovery {
    let client_wellknown = cfg.client_wellknown_enabled().then(|| {
        let mut v = json!({});
        if let Some(base) = &cfg.public_baseurl {
            v["m.homeserver"] = json!({ "base_url": base });
        }
        for (k, val) in &cfg.extra_well_known_client_content {
            v[k] = val.clone();
        }
        v
    });
    let server_wellknown = cfg
        .serve_server_wellknown
        .then(|| json!({ "m.server": format!("{}:443", cfg.server_name.split(':').next().unwrap_or("")) }));
    Discovery {
        client_wellknown,
        server_wellknown,
        max_upload_size: cfg.max_upload_size.bytes(),
    }
}

/// A database URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let cred = &url[s + 3..at];
            match cred.split_once(':') {
                Some((user, _)) => format!("{}{user}:[redacted]{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The first log lines: where everything is and how to create an admin.
async fn announce(cfg: &Config, data: &DataDir, db_url: &str, addr: SocketAddr, db: &Db) {
    tracing::info!(
        "mxcd {} serving server_name {}",
        env!("CARGO_PKG_VERSION"),
        cfg.server_name
    );
    tracing::info!("listening on http://{addr}");
    tracing::info!("data directory: {}", data.root.display());
    tracing::info!("database: {}", redact_url(db_url));
    tracing::info!("signing key: {}", data.signing_key.display());
    if let Some(f) = &data.registration_secret_file {
        tracing::info!("registration shared secret: {}", f.display());
    }
    if db.count_admins().await.unwrap_or(1) == 0 {
        tracing::info!(
            "no admin account yet; create one with: mxcd register-user --admin -u admin \
             [--config FILE] http://{addr}"
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://u:pw@h:5432/db"),
            "postgres://u:[redacted]@h:5432/db"
        );
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact_url("sqlite:///x/y.db"), "sqlite:///x/y.db");
    }
}
