//! Upstream's (UID-tracking) controller expectations: after asking for pod creations or
//! deletions, a ReplicaSet is not synced again until its informer has observed them all (or five
//! minutes have passed), so a lagging cache never makes it create or delete twice.

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long expectations hold before a sync goes ahead anyway (upstream's ExpectationsTimeout).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Default)]
pub(crate) struct Expectations {
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    /// The uid of the controller the expectations were set for.
    uid: String,
    add: i64,
    del: i64,
    /// Keys (namespace/name) of pods whose deletion is awaited.
    deleting: HashSet<String>,
    at: Instant,
}

impl Expectations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Ok` when the controller `key` (with `uid`) may sync; else how long until its
    /// expectations expire.
    pub(crate) fn satisfied(&self, key: &str, uid: &str) -> Result<(), Duration> {
        self.satisfied_at(key, uid, Instant::now())
    }

    fn satisfied_at(&self, key: &str, uid: &str, now: Instant) -> Result<(), Duration> {
        let entries = self.lock();
        match entries.get(key) {
            None => Ok(()),
            Some(e) if e.uid != uid => Ok(()),
            Some(e) if e.add <= 0 && e.del <= 0 => Ok(()),
            Some(e) => {
                let age = now.saturating_duration_since(e.at);
                if age >= TIMEOUT {
                    Ok(())
                } else {
                    Err(TIMEOUT - age)
                }
            }
        }
    }

    /// Replaces the expectations of `key`, dropping entries that no longer hold anything back
    /// (met or expired; among them those of deleted ReplicaSets).
    fn set(&self, key: &str, entry: Entry) {
        let mut entries = self.lock();
        entries.retain(|_, e| (e.add > 0 || e.del > 0) && e.at.elapsed() < TIMEOUT);
        entries.insert(key.into(), entry);
    }

    /// Expects `adds` pod creations for `key` (replacing earlier expectations).
    pub(crate) fn expect_creations(&self, key: &str, uid: &str, adds: usize) {
        self.set(
            key,
            Entry {
                uid: uid.into(),
                add: adds as i64,
                del: 0,
                deleting: HashSet::new(),
                at: Instant::now(),
            },
        );
    }

    /// Expects the pods with these keys to be deleted.
    pub(crate) fn expect_deletions(&self, key: &str, uid: &str, pods: Vec<String>) {
        let del = pods.len() as i64;
        self.set(
            key,
            Entry {
                uid: uid.into(),
                add: 0,
                del,
                deleting: pods.into_iter().collect(),
                at: Instant::now(),
            },
        );
    }

    /// A creation for `key` was observed (or will never happen).
    pub(crate) fn creation_observed(&self, key: &str) {
        if let Some(e) = self.lock().get_mut(key) {
            e.add -= 1;
        }
    }

    /// The pod `pod` (namespace/name) was seen deleted or terminating.
    pub(crate) fn deletion_observed(&self, key: &str, pod: &str) {
        if let Some(e) = self.lock().get_mut(key) {
            if e.deleting.remove(pod) {
                e.del -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creations_hold_sync_until_observed() {
        let x = Expectations::default();
        assert!(x.satisfied("ns/rs", "u").is_ok());
        x.expect_creations("ns/rs", "u", 2);
        assert!(x.satisfied("ns/rs", "u").is_err());
        // A different ReplicaSet of the same name starts clean.
        assert!(x.satisfied("ns/rs", "other").is_ok());
        x.creation_observed("ns/rs");
        assert!(x.satisfied("ns/rs", "u").is_err());
        x.creation_observed("ns/rs");
        assert!(x.satisfied("ns/rs", "u").is_ok());
    }

    #[test]
    fn deletions_are_tracked_by_pod() {
        let x = Expectations::default();
        x.expect_deletions("ns/rs", "u", vec!["ns/a".into(), "ns/b".into()]);
        x.deletion_observed("ns/rs", "ns/a");
        x.deletion_observed("ns/rs", "ns/a");
        x.deletion_observed("ns/rs", "ns/zzz");
        assert!(x.satisfied("ns/rs", "u").is_err());
        x.deletion_observed("ns/rs", "ns/b");
        assert!(x.satisfied("ns/rs", "u").is_ok());
    }

    #[test]
    fn expectations_expire() {
        let x = Expectations::default();
        x.expect_creations("k", "u", 1);
        let remaining = x.satisfied("k", "u").unwrap_err();
        assert!(remaining <= TIMEOUT && remaining > TIMEOUT - Duration::from_secs(5));
        assert!(x.satisfied_at("k", "u", Instant::now() + TIMEOUT).is_ok());
        // Met expectations are dropped when others are set.
        x.creation_observed("k");
        x.expect_creations("other", "u", 1);
        assert!(x.lock().get("k").is_none());
    }
}
