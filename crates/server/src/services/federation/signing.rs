//! This server's signing key: Synapse's `signing.key` format (`ed25519 <version> <base64 seed>`
//! per line; the first line signs), and the key document served at `/_matrix/key/v2/server`.

use std::{collections::BTreeMap, path::Path};

use base64::{Engine as _, engine::general_purpose::STANDARD_NO_PAD};
use ruma::{
    CanonicalJsonObject, CanonicalJsonValue,
    signatures::{Ed25519KeyPair, sign_json},
};

use super::{FederationError, decode_base64};

/// PKCS#8 v1 prefix of a raw 32-byte ed25519 seed (RFC 8410).
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A key this server signed with before, still announced so that old signatures verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OldKey {
    /// `ed25519:abc`.
    pub key_id: String,
    /// Unpadded base64 public key.
    pub public_key: String,
    pub expired_ts: i64,
}

/// The key pair this server signs with.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    key_id: String,
    public_key: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads the first key of a Synapse-format signing key file.
    pub fn load(path: &Path) -> Result<Self, FederationError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            FederationError::Config(format!("cannot read signing key {}: {e}", path.display()))
        })?;
        Self::parse(&text)
            .map_err(|e| FederationError::Config(format!("signing key {}: {e}", path.display())))
    }

    /// Parses Synapse's format: `ed25519 <version> <seed>` (the first non-empty line).
    pub fn parse(text: &str) -> Result<Self, String> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .ok_or("the file is empty")?;
        let mut parts = line.split_whitespace();
        let (Some(alg), Some(version), Some(seed), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("expected `ed25519 <version> <base64 seed>`".into());
        };
        if alg != "ed25519" {
            return Err(format!("unsupported algorithm {alg:?}"));
        }
        if version.is_empty()
            || !version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(format!("invalid key version {version:?}"));
        }
        let seed = decode_base64(seed).map_err(|_| "the seed is not base64")?;
        if seed.len() != 32 {
            return Err(format!("the seed has {} bytes, not 32", seed.len()));
        }
        let mut der = PKCS8_ED25519_PREFIX.to_vec();
        der.extend_from_slice(&seed);
        let pair = Ed25519KeyPair::from_der(&der, version.to_owned()).map_err(|e| e.to_string())?;
        let public_key = STANDARD_NO_PAD.encode(pair.public_key());
        Ok(Self {
            key_id: format!("ed25519:{version}"),
            public_key,
            pair,
        })
    }

    /// `ed25519:<version>`.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Unpadded base64 of the public key.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The `Authorization: X-Matrix …` value for a request from `origin` to `destination`.
    pub fn x_matrix(
        &self,
        origin: &str,
        destination: &str,
        method: &http::Method,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<String, FederationError> {
        let internal = |e: String| FederationError::Internal(format!("cannot sign a request: {e}"));
        let origin =
            ruma::OwnedServerName::try_from(origin).map_err(|e| internal(e.to_string()))?;
        let destination =
            ruma::OwnedServerName::try_from(destination).map_err(|e| internal(e.to_string()))?;
        let req = http::Request::builder()
            .method(method.clone())
            .uri(path_and_query)
            .body(body.to_vec())
            .map_err(|e| internal(e.to_string()))?;
        let input = ruma::api::federation::authentication::XMatrixSigningInput::new(
            origin,
            destination,
            &self.pair,
        );
        ruma::api::federation::authentication::XMatrix::sign_http_request(&req, input)
            .map(|xm| xm.to_string())
            .map_err(|e| internal(e.to_string()))
    }

    /// The signed `/_matrix/key/v2/server` document, valid until `valid_until_ts`.
    pub fn key_document(
        &self,
        server_name: &str,
        old: &[OldKey],
        valid_until_ts: i64,
    ) -> Result<CanonicalJsonObject, FederationError> {
        let key =
            |k: &str| CanonicalJsonValue::Object(BTreeMap::from([("key".to_owned(), k.into())]));
        let verify_keys = BTreeMap::from([(self.key_id.clone(), key(&self.public_key))]);
        let old_verify_keys: CanonicalJsonObject = old
            .iter()
            .map(|o| {
                let mut v = BTreeMap::from([("key".to_owned(), o.public_key.as_str().into())]);
                v.insert("expired_ts".to_owned(), int(o.expired_ts));
                (o.key_id.clone(), CanonicalJsonValue::Object(v))
            })
            .collect();
        let mut doc = CanonicalJsonObject::from([
            ("server_name".to_owned(), server_name.into()),
            ("valid_until_ts".to_owned(), int(valid_until_ts)),
            (
                "verify_keys".to_owned(),
                CanonicalJsonValue::Object(verify_keys),
            ),
            (
                "old_verify_keys".to_owned(),
                CanonicalJsonValue::Object(old_verify_keys),
            ),
        ]);
        sign_json(server_name, &self.pair, &mut doc)
            .map_err(|e| FederationError::Internal(format!("cannot sign the key document: {e}")))?;
        Ok(doc)
    }
}

fn int(v: i64) -> CanonicalJsonValue {
    CanonicalJsonValue::Integer(ruma::Int::new_saturating(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synapse_key_file_loads() {
        // Synapse's format, with a seed of 32 zero bytes.
        let k = SigningKey::parse("ed25519 a_abcd AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n")
            .unwrap();
        assert_eq!(k.key_id(), "ed25519:a_abcd");
        // The public key of the all-zero seed.
        assert_eq!(
            k.public_key(),
            "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik"
        );
        assert!(SigningKey::parse("").is_err());
        assert!(SigningKey::parse("rsa a_abcd AAAA").is_err());
        assert!(SigningKey::parse("ed25519 a_abcd AAAA").is_err());
    }

    #[test]
    fn key_document_is_self_signed() {
        let k = SigningKey::parse("ed25519 a_abcd AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .unwrap();
        let doc = k.key_document("example.org", &[], 1234).unwrap();
        let keys = BTreeMap::from([(
            "example.org".to_owned(),
            BTreeMap::from([(
                "ed25519:a_abcd".to_owned(),
                ruma::serde::Base64::parse(k.public_key()).unwrap(),
            )]),
        )]);
        ruma::signatures::verify_json(&keys, &doc).unwrap();
        assert_eq!(doc["valid_until_ts"], int(1234));
    }
}
