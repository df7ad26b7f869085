//! Durations written as Synapse writes them: `500` (milliseconds), `30s`, `10m`, `24h`, `7d`, `1w`, `1y`.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A duration in milliseconds, parsed with Synapse's `parse_duration` units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub u64);

/// Why a duration string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid duration {0:?}: expected milliseconds or a number with unit ms, s, m, h, d, w or y (for example \"24h\")"
)]
pub struct ParseDurationError(String);

const UNITS: [(&str, u64); 7] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 604_800_000),
    ("y", 31_536_000_000),
];

impl Duration {
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    pub const fn as_millis(self) -> u64 {
        self.0
    }

    pub const fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }
}

impl FromStr for Duration {
    type Err = ParseDurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseDurationError(s.to_owned());
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let mult = if unit.is_empty() {
            1
        } else {
            UNITS.iter().find(|(u, _)| *u == unit).ok_or_else(err)?.1
        };
        let n: u64 = digits.parse().map_err(|_| err())?;
        n.checked_mul(mult).map(Duration).ok_or_else(err)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, mult) in UNITS[1..].iter().rev() {
            if self.0 != 0 && self.0.is_multiple_of(*mult) {
                return write!(f, "{}{unit}", self.0 / mult);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("milliseconds or a string such as \"24h\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map(Duration)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
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
    fn parses_synapse_units() {
        assert_eq!("500".parse(), Ok(Duration(500)));
        assert_eq!("250ms".parse(), Ok(Duration(250)));
        assert_eq!("30s".parse(), Ok(Duration(30_000)));
        assert_eq!("10m".parse(), Ok(Duration(600_000)));
        assert_eq!("24h".parse(), Ok(Duration(86_400_000)));
        assert_eq!("7d".parse(), Ok(Duration(604_800_000)));
        assert_eq!("1w".parse(), Ok(Duration(604_800_000)));
        assert_eq!("1y".parse(), Ok(Duration(31_536_000_000)));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "h", "5x", "-1s", "1.5h", "5 h", "24H"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn display_round_trips() {
        for (s, shown) in [
            ("24h", "1d"),
            ("1w", "1w"),
            ("90s", "90s"),
            ("1500", "1500"),
            ("0", "0"),
        ] {
            let d: Duration = s.parse().unwrap();
            assert_eq!(d.to_string(), shown);
            assert_eq!(shown.parse::<Duration>().unwrap(), d);
        }
    }
}
