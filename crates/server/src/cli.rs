//! `mxcd register-user`: Synapse's `register_new_matrix_user`, for mxcd and Synapse alike.
//!
//! It fetches a nonce from `/_synapse/admin/v1/register`, signs the request with the shared
//! secret (HMAC-SHA1) and posts it. The secret comes from `-k`, or from the configuration
//! (`registration_shared_secret`, `registration_shared_secret_path`, or the file mxcd generated
//! in its data directory).

use std::{io::BufRead as _, path::PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::{
    bootstrap,
    config::Config,
    services::registration::{MacInput, registration_mac},
};

#[derive(Debug, Args)]
pub struct RegisterUser {
    /// Local part of the new user; asked for when missing.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Password of the new user; asked for when missing.
    #[arg(short = 'p', long, conflicts_with = "password_file")]
    pub password: Option<String>,
    /// File holding the password (surrounding whitespace is removed).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// User type, for example "bot".
    #[arg(short = 't', long = "user_type")]
    pub user_type: Option<String>,
    /// Make the new user a server admin.
    #[arg(short = 'a', long, conflicts_with = "no_admin")]
    pub admin: bool,
    /// Do not make the new user an admin (the default when not asked).
    #[arg(long)]
    pub no_admin: bool,
    /// Succeed when the user already exists.
    #[arg(long)]
    pub exists_ok: bool,
    /// mxcd configuration file to read the shared secret and listen address from.
    #[arg(short = 'c', long, conflicts_with = "shared_secret")]
    pub config: Option<PathBuf>,
    /// The registration shared secret.
    #[arg(short = 'k', long)]
    pub shared_secret: Option<String>,
    /// Base URL of the server; defaults to the configured listen address.
    pub server_url: Option<String>,
}

fn prompt(question: &str) -> anyhow::Result<String> {
    eprint!("{question}");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

impl RegisterUser {
    pub async fn run(self) -> anyhow::Result<()> {
        let cfg = if self.shared_secret.is_some() {
            Config::default()
        } else {
            Config::load(self.config.as_deref())?
        };
        let secret = match &self.shared_secret {
            Some(s) => s.clone(),
            None => {
                let (s, _) = bootstrap::registration_secret(&cfg, &cfg.data_dir).context(
                    "no shared secret: give -k, or --config with the server's configuration",
                )?;
                s.expose().to_owned()
            }
        };
        let url = self.server_url.clone().unwrap_or_else(|| default_url(&cfg));
        let user = match &self.user {
            Some(u) => u.clone(),
            None => prompt("New user localpart: ")?,
        };
        let password = match (&self.password, &self.password_file) {
            (Some(p), _) => p.clone(),
            (None, Some(f)) => std::fs::read_to_string(f)?.trim().to_owned(),
            (None, None) => {
                let p = prompt("Password: ")?;
                if p != prompt("Confirm password: ")? {
                    bail!("Passwords do not match");
                }
                p
            }
        };
        if password.is_empty() {
            bail!("Password cannot be blank.");
        }
        let admin = if self.admin || self.no_admin {
            self.admin
        } else {
            matches!(
                prompt("Make admin [no]: ")?.to_lowercase().as_str(),
                "y" | "yes" | "true"
            )
        };
        register(
            &url,
            &secret,
            &user,
            &password,
            admin,
            self.user_type.as_deref(),
            self.exists_ok,
        )
        .await
    }
}

fn default_url(cfg: &Config) -> String {
    let listen = cfg
        .listen
        .replace("0.0.0.0", "127.0.0.1")
        .replace("[::]", "[::1]");
    format!("http://{listen}")
}

/// Performs the nonce + HMAC registration against `url`.
pub async fn register(
    url: &str,
    secret: &str,
    user: &str,
    password: &str,
    admin: bool,
    user_type: Option<&str>,
    exists_ok: bool,
) -> anyhow::Result<()> {
    let endpoint = format!("{}/_synapse/admin/v1/register", url.trim_end_matches('/'));
    let client = reqwest::Client::new();
    let r = client
        .get(&endpoint)
        .send()
        .await
        .with_context(|| format!("cannot reach {endpoint}"))?;
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "ERROR! Received {status}\n{}",
            body["error"].as_str().unwrap_or("")
        );
    }
    let nonce = body["nonce"].as_str().context("server sent no nonce")?;
    let mac = registration_mac(
        secret,
        &MacInput {
            nonce,
            username: user,
            password,
            admin,
            user_type,
        },
    );
    eprintln!("Sending registration request...");
    let r = client
        .post(&endpoint)
        .json(&json!({ "nonce": nonce, "username": user, "password": password, "mac": mac, "admin": admin, "user_type": user_type }))
        .send()
        .await?;
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        eprintln!("Success!");
        return Ok(());
    }
    if exists_ok && body["errcode"] == "M_USER_IN_USE" {
        eprintln!("User already exists. Skipping.");
        return Ok(());
    }
    bail!(
        "ERROR! Received {status}\n{}",
        body["error"].as_str().unwrap_or("")
    )
}
