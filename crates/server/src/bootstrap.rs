//! First-start set-up of the data directory: media directory, generated registration secret
//! and the federation signing key (Synapse's `ed25519 a_XXXX <base64 seed>` format).

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use base64::{Engine as _, engine::general_purpose::STANDARD_NO_PAD};
use rand::RngExt as _;

use crate::config::{Config, ConfigError, Secret};

/// Where things live, resolved once at start-up.
#[derive(Debug)]
pub struct DataDir {
    pub root: PathBuf,
    pub media: PathBuf,
    pub signing_key: PathBuf,
    /// The file the registration secret came from, if it was not inline in the config.
    pub registration_secret_file: Option<PathBuf>,
}

/// File name of the generated registration secret inside the data directory.
pub const REGISTRATION_SECRET_FILE: &str = "registration_shared_secret";

impl DataDir {
    /// Creates the directories and any missing generated secret; returns the registration secret.
    pub fn prepare(cfg: &Config) -> anyhow::Result<(Self, Secret)> {
        let root = absolute(&cfg.data_dir)?;
        std::fs::create_dir_all(&root)
            .map_err(|e| anyhow::anyhow!("cannot create data_dir {}: {e}", root.display()))?;
        let media = root.join("media");
        std::fs::create_dir_all(&media)?;
        let signing_key = match &cfg.federation.signing_key_path {
            Some(p) => absolute(p)?,
            None => root.join("signing.key"),
        };
        if !signing_key.exists() {
            let seed: [u8; 32] = rand::rng().random();
            let id = mxcd_types::random_string(4);
            write_private(
                &signing_key,
                &format!("ed25519 a_{id} {}\n", STANDARD_NO_PAD.encode(seed)),
            )?;
        }
        let (secret, file) = registration_secret(cfg, &root)?;
        Ok((
            Self {
                root,
                media,
                signing_key,
                registration_secret_file: file,
            },
            secret,
        ))
    }
}

/// Takes an exclusive lock on `<database>.lock` beside a SQLite database, held as long as the
/// returned file is open; `None` for PostgreSQL. A SQLite database belongs to one process: the
/// check of uploads cut short by a crash, run at startup, relies on no other process having
/// uploads in flight (services/media/durable.rs).
pub fn lock_database(url: &str) -> anyhow::Result<Option<std::fs::File>> {
    let Some(db) = mxcd_db::sqlite_file(url) else {
        return Ok(None);
    };
    let mut name = db.clone().into_os_string();
    name.push(".lock");
    let path = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open lock file {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "the database {} is in use by another mxcd process (it holds {}); one SQLite \
             database serves one process, use PostgreSQL to run several",
            db.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            anyhow::bail!("cannot lock {}: {e}", path.display())
        }
    }
}

/// The registration shared secret: from the config, from `registration_shared_secret_path`,
/// or generated once into the data directory.
pub fn registration_secret(cfg: &Config, root: &Path) -> anyhow::Result<(Secret, Option<PathBuf>)> {
    if let Some(s) = &cfg.registration_shared_secret {
        return Ok((s.clone(), None));
    }
    if let Some(path) = &cfg.registration_shared_secret_path {
        let s = Secret::from_file(path)
            .map_err(|e| ConfigError::key("registration_shared_secret_path", e))?;
        return Ok((s, Some(path.clone())));
    }
    let path = root.join(REGISTRATION_SECRET_FILE);
    if !path.exists() {
        write_private(&path, &format!("{}\n", mxcd_types::random_string(48)))?;
    }
    let s = Secret::from_file(&path).map_err(anyhow::Error::msg)?;
    Ok((s, Some(path)))
}

fn absolute(p: &Path) -> std::io::Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_owned())
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}

/// Writes a file only its owner can read, atomically (temp file, sync, rename).
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
