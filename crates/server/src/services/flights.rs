//! One async lock per key (a remote server, a thumbnail, a room), kept only while someone holds
//! it or waits for it. Work done under a key's lock is done by one task of this process at a
//! time; other processes sharing the database are not covered, so callers that can race with
//! them still check what they find once they hold the lock.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, Weak},
};

use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub(crate) struct Flights(Mutex<BTreeMap<String, Weak<tokio::sync::Mutex<()>>>>);

impl Flights {
    /// Waits for whoever holds `key`, then holds it until the guard is dropped.
    pub(crate) async fn hold(&self, key: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.0.lock().unwrap_or_else(|p| p.into_inner());
            locks.retain(|_, w| w.strong_count() > 0);
            match locks.get(key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(key.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }

    /// How many keys are held or waited for.
    #[cfg(test)]
    fn len(&self) -> usize {
        let mut locks = self.0.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, w| w.strong_count() > 0);
        locks.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_holder_per_key_and_nothing_kept() {
        let f = Arc::new(Flights::default());
        let a = f.hold("a").await;
        let b = f.hold("b").await; // another key is not blocked
        let f2 = f.clone();
        let mut waiter = tokio::spawn(async move { drop(f2.hold("a").await) });
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut waiter)
                .await
                .is_err(),
            "a second holder of a key waits"
        );
        drop(a);
        waiter.await.unwrap();
        drop(b);
        assert_eq!(f.len(), 0, "no lock is kept for keys nobody holds");
    }
}
