//! When each image was first seen and last used by a container, persisted in
//! `<root>/usage.json` so image GC keeps its least-recently-used order across restarts.
//! Only the kubelet's service writes it (the `rkube images` CLI does not): an image it
//! imported is "first seen" at the next GC, as upstream's "first detected".

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Mutex,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// Saving on every container start would write a file per start: at most this often instead
/// (and at every GC). Losing a few seconds of last-used times in a crash is harmless.
const SAVE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Seconds since the epoch.
    pub first_seen: u64,
    /// Seconds since the epoch; 0: never used by a container.
    #[serde(default)]
    pub last_used: u64,
}

#[derive(Debug)]
pub struct Usage {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: BTreeMap<String, Entry>,
    dirty: bool,
    saved_at: Option<Instant>,
}

pub fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Usage {
    pub fn open(root: &Path) -> Usage {
        let path = root.join("usage.json");
        let entries = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable image usage file");
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        Usage {
            path,
            state: Mutex::new(State {
                entries,
                ..State::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A container is about to use image `id`.
    pub fn touch(&self, id: &str, now: SystemTime) {
        let mut s = self.state();
        let now = secs(now);
        let e = s.entries.entry(id.to_string()).or_insert(Entry {
            first_seen: now,
            last_used: 0,
        });
        e.last_used = e.last_used.max(now);
        s.dirty = true;
        if s.saved_at.is_none_or(|t| t.elapsed() >= SAVE_EVERY) {
            self.save(&mut s);
        }
    }

    /// The entries of the images present (`ids`), adding new ones as first seen `now` and
    /// forgetting removed ones.
    pub fn observe(&self, ids: &[String], now: SystemTime) -> BTreeMap<String, Entry> {
        let mut s = self.state();
        let now = secs(now);
        let before = s.entries.len();
        s.entries.retain(|id, _| ids.contains(id));
        let mut changed = s.entries.len() != before;
        for id in ids {
            if !s.entries.contains_key(id) {
                s.entries.insert(
                    id.clone(),
                    Entry {
                        first_seen: now,
                        last_used: 0,
                    },
                );
                changed = true;
            }
        }
        s.dirty |= changed;
        s.entries.clone()
    }

    /// The images last used at or after `since` (seconds since the epoch).
    pub fn used_since(&self, since: u64) -> Vec<String> {
        self.state()
            .entries
            .iter()
            .filter(|(_, e)| e.last_used >= since && e.last_used > 0)
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn forget(&self, id: &str) {
        let mut s = self.state();
        if s.entries.remove(id).is_some() {
            s.dirty = true;
        }
    }

    pub fn flush(&self) {
        let mut s = self.state();
        self.save(&mut s);
    }

    fn save(&self, s: &mut State) {
        if !s.dirty {
            return;
        }
        let bytes = match serde_json::to_vec(&s.entries) {
            Ok(b) => b,
            Err(_) => return,
        };
        // Rename over the old file (no fsync: see SAVE_EVERY).
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let res = tempfile::NamedTempFile::new_in(dir).and_then(|mut t| {
            std::io::Write::write_all(&mut t, &bytes)?;
            t.persist(&self.path).map_err(|e| e.error)?;
            Ok(())
        });
        match res {
            Ok(()) => {
                s.dirty = false;
                s.saved_at = Some(Instant::now());
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot save image usage")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persists_and_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1000);
        let u = Usage::open(dir.path());
        u.touch("sha256:a", t0);
        u.touch("sha256:a", t0 + Duration::from_secs(5));
        let seen = u.observe(
            &["sha256:a".into(), "sha256:b".into()],
            t0 + Duration::from_secs(9),
        );
        assert_eq!(
            seen["sha256:a"],
            Entry {
                first_seen: 1000,
                last_used: 1005
            }
        );
        assert_eq!(
            seen["sha256:b"],
            Entry {
                first_seen: 1009,
                last_used: 0
            }
        );
        u.flush();
        let again = Usage::open(dir.path());
        let seen = again.observe(&["sha256:b".into()], t0 + Duration::from_secs(20));
        assert_eq!(seen.len(), 1);
        assert_eq!(seen["sha256:b"].first_seen, 1009);
    }
}
