//! Access tokens and their stored form.
//!
//! A token is shown to its owner once; the database keeps only its SHA-256 ([`TokenHash`]).
//! Tokens carry 192 bits of randomness, so a fast hash is enough: there is nothing to brute-force.

use rand::{RngExt as _, distr::Alphanumeric};
use sha2::{Digest as _, Sha256};

/// A random string of `len` ASCII letters and digits.
pub fn random_string(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A newly issued access token, in clear. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Prefix of every token mxcd issues, so leaked tokens are easy to recognise in scanners.
    pub const PREFIX: &'static str = "mxcd_";

    pub fn generate() -> Self {
        Self(format!("{}{}", Self::PREFIX, random_string(32)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

/// The hex SHA-256 of a token: what the database stores and looks up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes a token as presented by a client.
    pub fn of(token: &str) -> Self {
        Self(hex::encode(Sha256::digest(token.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let a = AccessToken::generate();
        let b = AccessToken::generate();
        assert_ne!(a, b);
        assert!(a.as_str().starts_with(AccessToken::PREFIX));
        assert_eq!(a.hash(), TokenHash::of(a.as_str()));
        assert_ne!(a.hash().as_str(), a.as_str());
        assert_eq!(a.hash().as_str().len(), 64);
        assert!(!format!("{a:?}").contains(&a.as_str()[5..]));
    }
}
