//! Byte sizes written as Synapse writes them: `52428800`, `50M`, `512K`, `1G`.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A number of bytes. Parses an integer (bytes) or a number with a binary suffix
/// `K`, `M`, `G` or `T` (powers of 1024, as Synapse's `parse_size`), case-insensitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

/// Why a size string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid size {0:?}: expected bytes or a number with suffix K, M, G or T (for example \"50M\")"
)]
pub struct ParseSizeError(String);

impl ByteSize {
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = ParseSizeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseSizeError(s.to_owned());
        let t = s.trim();
        let (digits, mult) = match t.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() => {
                let mult: u64 = match c.to_ascii_uppercase() {
                    'K' => 1 << 10,
                    'M' => 1 << 20,
                    'G' => 1 << 30,
                    'T' => 1 << 40,
                    _ => return Err(err()),
                };
                (&t[..i], mult)
            }
            _ => (t, 1),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let n: u64 = digits.parse().map_err(|_| err())?;
        n.checked_mul(mult).map(ByteSize).ok_or_else(err)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (suffix, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] {
            if self.0 != 0 && self.0.is_multiple_of(1 << shift) {
                return write!(f, "{}{suffix}", self.0 >> shift);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size in bytes or a string such as \"50M\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_synapse_forms() {
        assert_eq!("52428800".parse(), Ok(ByteSize(52_428_800)));
        assert_eq!("50M".parse(), Ok(ByteSize(50 * 1024 * 1024)));
        assert_eq!("512k".parse(), Ok(ByteSize(512 * 1024)));
        assert_eq!("2G".parse(), Ok(ByteSize(2 << 30)));
        assert_eq!(" 1T ".parse(), Ok(ByteSize(1 << 40)));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "M",
            "5X",
            "-5",
            "1.5M",
            "5 M",
            "99999999999999999999",
            "20000000T",
        ] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["50M", "3K", "1G", "1000", "0"] {
            assert_eq!(s.parse::<ByteSize>().unwrap().to_string(), s);
        }
    }
}
