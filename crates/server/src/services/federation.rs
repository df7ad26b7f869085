//! Federation, for media only: this server's signing key and key document, other servers' keys,
//! X-Matrix authentication both ways, server discovery, and the guarded outgoing HTTP client.

mod client;
mod discovery;
mod download;
pub mod ip_filter;
mod keyring;
pub mod multipart;
mod signing;

use std::sync::Arc;

use base64::{
    Engine as _,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use mxcd_types::time::now_ms;

pub use client::{Client, ClientSettings};
pub use download::{Fetched, MediaSource};
pub use ip_filter::IpFilter;
pub use keyring::Keyring;
pub use signing::{OldKey, SigningKey};

#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Internal(String),
    /// The request to the remote server could not be made or did not complete.
    #[error("request to {destination} failed: {reason}")]
    Unreachable { destination: String, reason: String },
    /// Connecting to this address is not allowed (`ip_range_blacklist`).
    #[error("address {0} is not allowed")]
    Denied(String),
    /// The remote answered with an error status; its Matrix error, if it sent one.
    #[error("remote answered {status}")]
    Status {
        status: u16,
        errcode: Option<String>,
        error: Option<String>,
    },
    /// The remote's answer is not what the protocol says.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// The remote's file is larger than we accept.
    #[error("Requested file is too large > {0} bytes")]
    TooLarge(u64),
    /// `federation_domain_whitelist` does not list the server.
    #[error("Federation denied with {0}.")]
    NotWhitelisted(String),
    /// An incoming request failed X-Matrix authentication.
    #[error("{message}")]
    Unauthorized { status: u16, message: String },
}

/// Unpadded or padded standard base64, as peers send both.
pub(crate) fn decode_base64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(s)
}

/// What the federation endpoints need: who we are, how we sign, whose keys we trust.
pub struct Service {
    server_name: String,
    key: Arc<SigningKey>,
    old_keys: Vec<OldKey>,
    /// How long a served key document stays valid (Synapse's `key_refresh_interval`).
    key_validity_ms: i64,
    keyring: Keyring,
}

impl Service {
    pub fn new(
        server_name: &str,
        key: Arc<SigningKey>,
        old_keys: Vec<OldKey>,
        key_validity_ms: i64,
        keyring: Keyring,
    ) -> Self {
        Self {
            server_name: server_name.to_owned(),
            key,
            old_keys,
            key_validity_ms,
            keyring,
        }
    }

    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// # `GET /_matrix/key/v2/server`: our keys, signed, valid for `key_refresh_interval`.
    pub fn key_document(&self) -> Result<ruma::CanonicalJsonObject, FederationError> {
        self.key.key_document(
            &self.server_name,
            &self.old_keys,
            now_ms().saturating_add(self.key_validity_ms),
        )
    }

    /// Checks the X-Matrix `Authorization` of an incoming request; returns the origin.
    pub async fn authenticate(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<String, FederationError> {
        self.keyring
            .authenticate(&self.server_name, method, uri, headers, body)
            .await
    }
}
