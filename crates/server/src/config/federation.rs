//! The `[federation]` section, and the checks of the federation keys.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use mxcd_types::Duration;
use serde::{Deserialize, Serialize};

use super::{Config, ConfigError};

/// Federation: keys, the TLS listener, and how outgoing requests behave.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    /// Address of a second listener that serves TLS with the certificate below.
    pub listen: Option<String>,
    /// PEM certificate chain of the TLS listener.
    pub tls_certificate_path: Option<PathBuf>,
    /// PEM private key of the TLS listener.
    pub tls_private_key_path: Option<PathBuf>,
    /// Synapse-format signing key file. Default: `<data_dir>/signing.key` (created if missing).
    pub signing_key_path: Option<PathBuf>,
    /// Keys this server signed with before, still announced (`old_verify_keys`).
    pub old_signing_keys: BTreeMap<String, OldSigningKey>,
    /// How long other servers may cache our keys (`valid_until_ts` = now + this).
    pub key_refresh_interval: Duration,
    /// Check the TLS certificates of other servers. Only switch off for tests.
    pub verify_certificates: bool,
    /// Addresses outgoing requests may not connect to (CIDR ranges).
    pub ip_range_blacklist: Vec<String>,
    /// Exceptions to `ip_range_blacklist`.
    pub ip_range_whitelist: Vec<String>,
    /// Longest time one outgoing request may take, body included.
    pub request_timeout: Duration,
    /// Longest time to connect to another server.
    pub connect_timeout: Duration,
}

/// A retired signing key: its public half and when it stopped being used.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OldSigningKey {
    pub key: String,
    pub expired_ts: i64,
}

impl Default for FederationConfig {
    fn default() -> Self {
        Self {
            listen: None,
            tls_certificate_path: None,
            tls_private_key_path: None,
            signing_key_path: None,
            old_signing_keys: BTreeMap::new(),
            key_refresh_interval: Duration::from_millis(24 * 3_600_000),
            verify_certificates: true,
            ip_range_blacklist: crate::services::federation::ip_filter::DEFAULT_DENIED
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            ip_range_whitelist: Vec::new(),
            request_timeout: Duration::from_millis(60_000),
            connect_timeout: Duration::from_millis(10_000),
        }
    }
}

impl Config {
    pub(super) fn validate_federation(&self) -> Result<(), ConfigError> {
        let f = &self.federation;
        if let Some(l) = &f.listen {
            l.parse::<SocketAddr>().map_err(|e| {
                ConfigError::key(
                    "federation.listen",
                    format!("{l:?} is not an address:port: {e}"),
                )
            })?;
            if f.tls_certificate_path.is_none() || f.tls_private_key_path.is_none() {
                return Err(ConfigError::key(
                    "federation.listen",
                    "needs federation.tls_certificate_path and federation.tls_private_key_path",
                ));
            }
        }
        crate::services::federation::IpFilter::new(&f.ip_range_blacklist, &f.ip_range_whitelist)
            .map_err(|e| ConfigError::key("federation.ip_range_blacklist", e))?;
        let lists = [
            (
                "prevent_media_downloads_from",
                self.prevent_media_downloads_from.as_slice(),
            ),
            (
                "federation_domain_whitelist",
                self.federation_domain_whitelist.as_deref().unwrap_or(&[]),
            ),
        ];
        for (key, names) in lists {
            for name in names {
                ruma::ServerName::parse(name)
                    .map_err(|e| ConfigError::key(key, format!("{name:?}: {e}")))?;
            }
        }
        Ok(())
    }
}
