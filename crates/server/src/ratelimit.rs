//! Synapse's request rate limiter (`synapse/api/ratelimiting.py`): a leaky bucket per key that
//! holds `burst_count` actions and drains at `per_second`.
//!
//! Like Synapse's, the counts live in process memory, so behind a load balancer each instance
//! limits on its own: a client can reach at most (instances × rate). That is the usual trade for
//! a limiter that costs no database write per request.

use std::{collections::BTreeMap, sync::Mutex, time::Instant};

/// A configured rate: `per_second` sustained, up to `burst_count` at once.
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub per_second: f64,
    pub burst_count: f64,
}

/// Actions recorded for one key: how many, counted from when.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    count: f64,
    start: f64,
}

/// Entries are pruned once the map holds this many keys.
const PRUNE_AT: usize = 4096;

#[derive(Debug)]
pub struct Ratelimiter {
    rate: Rate,
    epoch: Instant,
    buckets: Mutex<BTreeMap<String, Bucket>>,
}

impl Ratelimiter {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            epoch: Instant::now(),
            buckets: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records one action for `key` if the rate allows it; otherwise returns how many
    /// milliseconds to wait before trying again.
    pub fn check(&self, key: &str) -> Result<(), i64> {
        self.check_at(key, self.epoch.elapsed().as_secs_f64())
    }

    fn check_at(&self, key: &str, now: f64) -> Result<(), i64> {
        let Rate {
            per_second: rate,
            burst_count: burst,
        } = self.rate;
        if rate <= 0.0 {
            // Synapse: a rate of zero (or less) disables the limiter.
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut b = buckets.get(key).copied().unwrap_or(Bucket {
            count: 0.0,
            start: now,
        });
        // Actions still "in the bucket" after draining since `start`.
        if b.count - (now - b.start) * rate < 0.0 {
            b = Bucket {
                count: 0.0,
                start: now,
            };
        }
        let performed = (b.count - (now - b.start) * rate).max(0.0);
        let allowed = performed <= burst - 1.0;
        if allowed {
            b.count += 1.0;
            buckets.insert(key.to_owned(), b);
        }
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, b| b.start + b.count / rate > now);
        }
        if allowed {
            return Ok(());
        }
        let allowed_at = (b.start + (b.count - burst + 1.0) / rate).max(now);
        Err(((allowed_at - now) * 1000.0) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: f64, burst_count: f64) -> Ratelimiter {
        Ratelimiter::new(Rate {
            per_second,
            burst_count,
        })
    }

    #[test]
    fn burst_then_refuse_then_drain() {
        let l = limiter(10.0, 50.0);
        for _ in 0..50 {
            assert_eq!(l.check_at("@a:x", 0.0), Ok(()));
        }
        // The 51st action at the same instant waits for one to drain: 1/10 s.
        assert_eq!(l.check_at("@a:x", 0.0), Err(100));
        // Other keys have their own bucket.
        assert_eq!(l.check_at("@b:x", 0.0), Ok(()));
        // After 0.1 s one slot has drained.
        assert_eq!(l.check_at("@a:x", 0.1), Ok(()));
        assert!(l.check_at("@a:x", 0.1).is_err());
        // After the whole burst drained (5 s), a full burst is allowed again.
        for _ in 0..50 {
            assert_eq!(l.check_at("@a:x", 10.0), Ok(()));
        }
        assert!(l.check_at("@a:x", 10.0).is_err());
    }

    /// Synapse's `test_allowed_via_can_do_action`: rate 0.1/s, burst 1.
    #[test]
    fn synapse_slow_rate() {
        let l = limiter(0.1, 1.0);
        assert_eq!(l.check_at("k", 0.0), Ok(()));
        assert_eq!(l.check_at("k", 5.0), Err(5000));
        assert_eq!(l.check_at("k", 10.0), Ok(()));
    }

    #[test]
    fn zero_rate_disables() {
        let l = limiter(0.0, 0.0);
        for _ in 0..1000 {
            assert_eq!(l.check_at("k", 0.0), Ok(()));
        }
    }

    #[test]
    fn idle_keys_are_pruned() {
        let l = limiter(10.0, 50.0);
        for i in 0..PRUNE_AT {
            assert_eq!(l.check_at(&format!("@{i}:x"), 0.0), Ok(()));
        }
        l.check_at("@late:x", 100.0).unwrap();
        assert_eq!(l.buckets.lock().unwrap().len(), 1);
    }
}
