//! Short-lived read caches for the two lookups every download makes: the access token's owner
//! and the media row. Without them each download waits on two database round trips, which on
//! SQLite also means two hand-offs to sqlx's connection threads.
//!
//! Correctness comes from invalidation, not from the expiry: every write in this crate that can
//! change a cached answer announces it ([`Change`]) after its commit. On SQLite (one instance)
//! that is exact. On PostgreSQL the change is also sent with `pg_notify` to the other instances,
//! whose listener applies it; if a listener loses its connection it clears everything, since
//! notifications sent meanwhile are lost. The expiry only bounds the damage of a change that
//! was never announced (a process dying between its commit and its notify, or SQL run by hand).
//!
//! A reader notes the cache's epoch before it reads the database and stores its answer only if
//! no invalidation happened in between, so a read racing a write cannot bring back the old row.

use std::{
    collections::BTreeMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long an entry may be served without being read again.
pub(crate) const TTL: Duration = Duration::from_secs(10);

/// Entries per cache; past it, expired entries go, and if that is not enough, all of them.
const CAPACITY: usize = 50_000;

/// A change that may invalidate cached answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// Anything about this user's tokens or account flags.
    User(String),
    /// One media row.
    Media { origin: String, media_id: String },
    /// Many media rows at once, `(origin, media_id)` (bulk deletions).
    MediaBatch(Vec<(String, String)>),
    /// Every media row (a change touching too many rows to name them one by one).
    AllMedia,
    /// Anything at all (a lost notification channel).
    All,
}

/// The PostgreSQL notification channel for [`Change`]s.
pub(crate) const CHANNEL: &str = "mxcd_cache";

impl Change {
    /// The notification payload: a tag, then tab-separated fields.
    pub(crate) fn encode(&self) -> String {
        match self {
            Self::User(u) => format!("u\t{u}"),
            Self::Media { origin, media_id } => format!("m\t{origin}\t{media_id}"),
            Self::MediaBatch(items) => {
                let lines: Vec<String> = items.iter().map(|(o, m)| format!("{o}\t{m}")).collect();
                format!("M\n{}", lines.join("\n"))
            }
            Self::AllMedia => "M".into(),
            Self::All => "*".into(),
        }
    }

    /// Reads a payload; anything unknown counts as [`Change::All`], the safe reading.
    pub(crate) fn decode(payload: &str) -> Self {
        if let Some(lines) = payload.strip_prefix("M\n") {
            let items: Option<Vec<(String, String)>> = lines
                .split('\n')
                .map(|l| {
                    l.split_once('\t')
                        .map(|(o, m)| (o.to_owned(), m.to_owned()))
                })
                .collect();
            return items.map_or(Self::All, Self::MediaBatch);
        }
        let mut parts = payload.splitn(3, '\t');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("u"), Some(u), None) => Self::User(u.to_owned()),
            (Some("M"), None, None) => Self::AllMedia,
            (Some("m"), Some(origin), Some(media_id)) => Self::Media {
                origin: origin.to_owned(),
                media_id: media_id.to_owned(),
            },
            _ => Self::All,
        }
    }
}

struct Entries<K, V> {
    map: BTreeMap<K, (Instant, V)>,
    /// Bumped by every invalidation.
    epoch: u64,
}

/// A map with expiry and epoch-checked inserts.
pub(crate) struct Cache<K, V> {
    inner: Mutex<Entries<K, V>>,
}

impl<K: Ord + Clone, V: Clone> Cache<K, V> {
    pub(crate) fn new() -> Self {
        Self {
            inner: Mutex::new(Entries {
                map: BTreeMap::new(),
                epoch: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<K, V>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached value, if fresh, or the epoch to hand to [`Cache::insert`] after reading.
    pub(crate) fn get(&self, key: &K) -> Result<V, u64> {
        let e = self.lock();
        match e.map.get(key) {
            Some((at, v)) if at.elapsed() < TTL => Ok(v.clone()),
            _ => Err(e.epoch),
        }
    }

    /// Stores a value read from the database, unless something was invalidated since `epoch`.
    pub(crate) fn insert(&self, key: K, value: V, epoch: u64) {
        let mut e = self.lock();
        if e.epoch != epoch {
            return;
        }
        if e.map.len() >= CAPACITY {
            e.map.retain(|_, (at, _)| at.elapsed() < TTL);
            if e.map.len() >= CAPACITY {
                e.map.clear();
            }
        }
        e.map.insert(key, (Instant::now(), value));
    }

    /// Changes a cached value in place (keeping its age), if present.
    pub(crate) fn update(&self, key: &K, f: impl FnOnce(&mut V)) {
        if let Some((_, v)) = self.lock().map.get_mut(key) {
            f(v);
        }
    }

    /// Drops the entries `stale` selects, and fences off reads in flight.
    pub(crate) fn invalidate(&self, stale: impl Fn(&K, &V) -> bool) {
        let mut e = self.lock();
        e.epoch += 1;
        e.map.retain(|k, (_, v)| !stale(k, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        for c in [
            Change::User("@a:b".into()),
            Change::Media {
                origin: "x.org".into(),
                media_id: "abc\tdef".into(),
            },
            Change::MediaBatch(vec![
                ("x.org".into(), "a".into()),
                ("y.org".into(), "b".into()),
            ]),
            Change::AllMedia,
            Change::All,
        ] {
            assert_eq!(Change::decode(&c.encode()), c);
        }
        assert_eq!(Change::decode("nonsense"), Change::All);
    }

    #[test]
    fn an_invalidation_fences_a_read_in_flight() {
        let c: Cache<u32, &str> = Cache::new();
        let epoch = c.get(&1).unwrap_err();
        // A write commits and invalidates while the read is in flight…
        c.invalidate(|k, _| *k == 1);
        // …so the (old) answer of that read is not kept.
        c.insert(1, "old", epoch);
        let epoch = c.get(&1).unwrap_err();
        c.insert(1, "new", epoch);
        assert_eq!(c.get(&1), Ok("new"));
        c.update(&1, |v| *v = "newer");
        assert_eq!(c.get(&1), Ok("newer"));
        c.invalidate(|_, v| *v == "newer");
        assert!(c.get(&1).is_err());
    }
}
