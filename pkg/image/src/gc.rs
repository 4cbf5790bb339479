//! Image garbage collection with the kubelet's semantics (imageGCHighThresholdPercent,
//! imageGCLowThresholdPercent, imageMinimumGCAge): when the filesystem holding the store is
//! at or above the high threshold, images no container uses are deleted, least recently used
//! first, until usage is down to the low threshold. Layers shared with kept images stay.

use std::{
    collections::{BTreeMap, HashSet},
    time::{Duration, SystemTime},
};

use crate::{
    store::ImageRecord,
    usage::{secs, Entry},
    ImageService,
};

/// Upstream's KubeletConfiguration fields and defaults (85, 80, 2m).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcPolicy {
    pub high_threshold_percent: u8,
    pub low_threshold_percent: u8,
    /// An image first seen less than this long ago is not deleted.
    pub min_age: Duration,
    /// How often the kubelet checks (upstream's ImageGCPeriod constant, 5 min; shorter in tests).
    pub period: Duration,
}

impl Default for GcPolicy {
    fn default() -> Self {
        Self {
            high_threshold_percent: 85,
            low_threshold_percent: 80,
            min_age: Duration::from_secs(120),
            period: Duration::from_secs(300),
        }
    }
}

impl GcPolicy {
    /// Upstream's checks (a high threshold of 100 disables GC).
    pub fn validate(&self) -> Result<(), String> {
        if self.high_threshold_percent > 100 {
            return Err(format!(
                "invalid HighThresholdPercent {}, must be in range [0-100]",
                self.high_threshold_percent
            ));
        }
        if self.low_threshold_percent > 100 {
            return Err(format!(
                "invalid LowThresholdPercent {}, must be in range [0-100]",
                self.low_threshold_percent
            ));
        }
        if self.low_threshold_percent > self.high_threshold_percent {
            return Err(format!(
                "LowThresholdPercent {} can not be higher than HighThresholdPercent {}",
                self.low_threshold_percent, self.high_threshold_percent
            ));
        }
        Ok(())
    }
}

/// The image filesystem's size and free space (for non-root users, as upstream's cadvisor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsStats {
    pub capacity: u64,
    pub available: u64,
}

/// What one GC pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcOutcome {
    pub usage_percent: u64,
    /// 0 when usage was below the high threshold (nothing was tried).
    pub amount_to_free: u64,
    pub freed: u64,
    /// IDs of the deleted images, in deletion order.
    pub removed: Vec<String>,
}

/// Upstream's texts: `FreeDiskSpaceFailed` events carry `NotEnough`'s, `ImageGCFailed` the others.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("invalid capacity 0 on image filesystem")]
    InvalidCapacity,
    #[error("failed to get image filesystem stats: {0}")]
    Stats(String),
    #[error("Failed to garbage collect required amount of images. Attempted to free {wanted} bytes, but only found {freed} bytes eligible to free.")]
    NotEnough {
        wanted: u64,
        freed: u64,
        removed: Vec<String>,
    },
    #[error("deleting image {id}: {message}")]
    Remove { id: String, message: String },
}

/// The images GC may delete, in deletion order: not in use, first seen at least `min_age`
/// ago, least recently used first (never used before used; then first seen first).
pub fn candidates(
    records: &[ImageRecord],
    usage: &BTreeMap<String, Entry>,
    in_use: &HashSet<String>,
    now: SystemTime,
    min_age: Duration,
) -> Vec<String> {
    let now = secs(now);
    let mut out: Vec<(Entry, &str)> = records
        .iter()
        .filter(|r| !in_use.contains(&r.id))
        .map(|r| (usage.get(&r.id).copied().unwrap_or_default(), r.id.as_str()))
        .filter(|(e, _)| now.saturating_sub(e.first_seen) >= min_age.as_secs())
        .collect();
    out.sort_by_key(|(e, id)| (e.last_used, e.first_seen, *id));
    out.into_iter().map(|(_, id)| id.to_string()).collect()
}

pub fn fs_stats(path: &std::path::Path) -> Result<FsStats, GcError> {
    let st = nix::sys::statvfs::statvfs(path).map_err(|e| GcError::Stats(e.to_string()))?;
    let frsize = st.fragment_size() as u64;
    Ok(FsStats {
        capacity: st.blocks() as u64 * frsize,
        available: st.blocks_available() as u64 * frsize,
    })
}

impl ImageService {
    /// Records that a container is about to use image `id` (for the LRU order).
    pub fn mark_used(&self, id: &str) {
        self.inner.usage.touch(id, SystemTime::now());
    }

    /// One GC pass. `in_use`: references or IDs of the images that containers on this node
    /// use (running or exited but still present), as listed at `listed_at`; those, and the
    /// images `ensure`d since (a pod that was not listed yet), are not deleted.
    pub async fn garbage_collect(
        &self,
        policy: &GcPolicy,
        in_use: &[String],
        listed_at: SystemTime,
    ) -> Result<GcOutcome, GcError> {
        let stats = fs_stats(self.inner.store.root())?;
        self.collect(policy, in_use, stats, listed_at).await
    }

    /// `garbage_collect` with given filesystem numbers; `now` is when `in_use` was listed.
    pub(crate) async fn collect(
        &self,
        policy: &GcPolicy,
        in_use: &[String],
        stats: FsStats,
        now: SystemTime,
    ) -> Result<GcOutcome, GcError> {
        // No lookup or pull runs (and reuses a layer) while images are deleted.
        let _exclusive = self.inner.gc_lock.write().await;
        let records = self.inner.store.list();
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let mut used: HashSet<String> = in_use
            .iter()
            .filter_map(|r| self.get(r).ok().flatten())
            .map(|i| i.id)
            .collect();
        // Used since the listing (the usage clock has whole seconds: the listing's second too).
        let recent = self.inner.usage.used_since(secs(now));
        used.extend(recent);
        // As upstream: an image in use counts as used now.
        for id in &used {
            self.inner.usage.touch(id, now);
        }
        let usage = self.inner.usage.observe(&ids, now);
        let mut outcome = GcOutcome::default();
        if stats.capacity == 0 {
            return Err(GcError::InvalidCapacity);
        }
        outcome.usage_percent =
            100 - (stats.available as u128 * 100 / stats.capacity as u128) as u64;
        if policy.high_threshold_percent >= 100
            || outcome.usage_percent < u64::from(policy.high_threshold_percent)
        {
            self.inner.usage.flush();
            return Ok(outcome);
        }
        let target = (stats.capacity as u128
            * u128::from(100 - policy.low_threshold_percent.min(100))
            / 100) as u64;
        outcome.amount_to_free = target.saturating_sub(stats.available);
        tracing::info!(
            usage = outcome.usage_percent,
            high_threshold = policy.high_threshold_percent,
            low_threshold = policy.low_threshold_percent,
            bytes_to_free = outcome.amount_to_free,
            "disk usage on the image filesystem is over the high threshold; trying to free bytes down to the low threshold"
        );
        let order = candidates(&records, &usage, &used, now, policy.min_age);
        let mut failure = None;
        for id in order {
            if outcome.freed >= outcome.amount_to_free {
                break;
            }
            match self.inner.store.remove_image(&id) {
                Ok(freed) => {
                    self.inner.usage.forget(&id);
                    outcome.freed += freed.unwrap_or(0);
                    tracing::info!(image = %id, freed = freed.unwrap_or(0), "image garbage collected");
                    outcome.removed.push(id);
                }
                Err(e) => {
                    tracing::warn!(image = %id, error = %e, "cannot delete image");
                    failure.get_or_insert(GcError::Remove {
                        id,
                        message: e.to_string(),
                    });
                }
            }
        }
        self.inner.usage.flush();
        if outcome.freed < outcome.amount_to_free {
            return Err(failure.unwrap_or(GcError::NotEnough {
                wanted: outcome.amount_to_free,
                freed: outcome.freed,
                removed: outcome.removed,
            }));
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::{store::ConfigRecord, RegistriesConfig};

    fn digest(n: u32) -> String {
        format!("sha256:{n:064x}")
    }

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn record(n: u32, layers: &[u32]) -> ImageRecord {
        ImageRecord {
            id: digest(n),
            references: vec![format!("127.0.0.1:5000/img{n}:1")],
            repo_digest: None,
            config: ConfigRecord::default(),
            layers: layers.iter().map(|l| digest(*l)).collect(),
            size: 0,
        }
    }

    /// A store holding `images`; each layer unpacks to a 1000-byte file over a 500-byte blob,
    /// each config blob is 100 bytes.
    fn store_with(dir: &std::path::Path, images: &[ImageRecord]) -> ImageService {
        let svc = ImageService::open(dir, RegistriesConfig::default()).unwrap();
        let store = &svc.inner.store;
        for img in images {
            std::fs::create_dir_all(store.blob_path(&img.id).parent().unwrap()).unwrap();
            std::fs::write(store.blob_path(&img.id), [0u8; 100]).unwrap();
            for l in &img.layers {
                std::fs::create_dir_all(store.layer_path(l).join("bin")).unwrap();
                std::fs::write(store.layer_path(l).join("bin/file"), [0u8; 1000]).unwrap();
                std::fs::write(store.blob_path(l), [0u8; 500]).unwrap();
            }
            store.commit(img.clone()).unwrap();
        }
        svc
    }

    #[test]
    fn candidates_skip_in_use_and_young_images_and_go_lru_first() {
        let records: Vec<ImageRecord> = (1..=5).map(|n| record(n, &[])).collect();
        let entry = |first_seen, last_used| Entry {
            first_seen,
            last_used,
        };
        let usage: BTreeMap<String, Entry> = [
            (digest(1), entry(100, 900)),
            (digest(2), entry(100, 500)),
            (digest(3), entry(100, 0)),
            (digest(4), entry(100, 100)),
            // Young: first seen 30 s before "now".
            (digest(5), entry(970, 0)),
        ]
        .into();
        let in_use: HashSet<String> = [digest(4)].into();
        let got = candidates(
            &records,
            &usage,
            &in_use,
            at(1000),
            Duration::from_secs(120),
        );
        assert_eq!(got, vec![digest(3), digest(2), digest(1)]);
        // Min age 0: the young never-used one comes first (first seen later than 3 breaks the tie).
        let got = candidates(&records, &usage, &in_use, at(1000), Duration::ZERO);
        assert_eq!(got, vec![digest(3), digest(5), digest(2), digest(1)]);
    }

    #[tokio::test]
    async fn deletes_lru_unused_images_down_to_the_low_threshold_keeping_shared_layers() {
        let dir = tempfile::tempdir().unwrap();
        // a and b share layer 12; b is in use; a, c, d are not (a used longest ago).
        let (a, b, c, d) = (
            record(1, &[11, 12]),
            record(2, &[12, 13]),
            record(3, &[14]),
            record(4, &[15]),
        );
        let svc = store_with(dir.path(), &[a.clone(), b.clone(), c.clone(), d.clone()]);
        svc.inner.usage.touch(&a.id, at(100));
        svc.inner.usage.touch(&c.id, at(200));
        svc.inner.usage.touch(&d.id, at(300));
        let policy = GcPolicy {
            high_threshold_percent: 80,
            low_threshold_percent: 79,
            min_age: Duration::ZERO,
            ..GcPolicy::default()
        };
        // 81% used: below 79% means freeing 2000 bytes. a frees 1600 (layer 11 and its config;
        // 12 is b's too), then c 1600: enough, d stays.
        let stats = FsStats {
            capacity: 100_000,
            available: 19_000,
        };
        let in_use = vec![b.references[0].clone()];
        let out = svc
            .collect(&policy, &in_use, stats, at(1000))
            .await
            .unwrap();
        assert_eq!(out.usage_percent, 81);
        assert_eq!(out.amount_to_free, 2000);
        assert_eq!(out.removed, vec![a.id.clone(), c.id.clone()]);
        assert_eq!(out.freed, 3200);
        let left: Vec<String> = svc.list().unwrap().into_iter().map(|i| i.id).collect();
        assert_eq!(left, vec![b.id.clone(), d.id.clone()]);
        let store = &svc.inner.store;
        assert!(store.layer_path(&digest(12)).join("bin/file").is_file());
        assert!(store.blob_path(&digest(12)).is_file());
        assert!(!store.layer_path(&digest(11)).exists());
        assert!(!store.blob_path(&digest(11)).exists());
        assert!(!store.layer_path(&digest(14)).exists());
        assert!(store.layer_path(&digest(15)).is_dir());

        // Below the high threshold: nothing happens.
        let calm = FsStats {
            capacity: 100_000,
            available: 50_000,
        };
        let out = svc.collect(&policy, &[], calm, at(1001)).await.unwrap();
        assert_eq!((out.amount_to_free, out.removed.len()), (0, 0));

        // Asking for more than the unused images hold: all unused go, and the error says so.
        let full = FsStats {
            capacity: 100_000,
            available: 1_000,
        };
        match svc.collect(&policy, &in_use, full, at(1002)).await {
            Err(GcError::NotEnough {
                wanted,
                freed,
                removed,
            }) => {
                assert_eq!((wanted, freed), (20_000, 1600));
                assert_eq!(removed, vec![d.id.clone()]);
            }
            other => panic!("expected NotEnough, got {other:?}"),
        }
        assert_eq!(svc.list().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn min_age_protects_new_images_and_usage_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (record(1, &[11]), record(2, &[12]));
        let svc = store_with(dir.path(), &[a.clone(), b.clone()]);
        // a seen (and used) long ago; b first seen by this GC pass.
        svc.inner.usage.touch(&a.id, at(100));
        let policy = GcPolicy {
            high_threshold_percent: 1,
            low_threshold_percent: 0,
            min_age: Duration::from_secs(120),
            period: Duration::from_secs(300),
        };
        let stats = FsStats {
            capacity: 100_000,
            available: 50_000,
        };
        let err = svc
            .collect(&policy, &[], stats, at(1000))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, GcError::NotEnough { removed, .. } if removed == &vec![a.id.clone()])
        );
        assert!(err.to_string().starts_with(
            "Failed to garbage collect required amount of images. Attempted to free 50000 bytes"
        ));
        drop(svc);
        // The first-seen time of b was persisted: 60 s later it is still too young, at 130 s not.
        let svc = ImageService::open(dir.path(), RegistriesConfig::default()).unwrap();
        let _ = svc.collect(&policy, &[], stats, at(1060)).await;
        assert_eq!(svc.list().unwrap().len(), 1);
        let _ = svc.collect(&policy, &[], stats, at(1130)).await;
        assert!(svc.list().unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_image_used_after_the_listing_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (record(1, &[11]), record(2, &[12]));
        let svc = store_with(dir.path(), &[a.clone(), b.clone()]);
        // Pods listed at 1000 (none uses b); b's pod started (ensure) during that second.
        svc.inner.usage.touch(&b.id, at(1000));
        let policy = GcPolicy {
            high_threshold_percent: 1,
            low_threshold_percent: 0,
            min_age: Duration::ZERO,
            ..GcPolicy::default()
        };
        let stats = FsStats {
            capacity: 100_000,
            available: 50_000,
        };
        let _ = svc.collect(&policy, &[], stats, at(1000)).await;
        let left: Vec<String> = svc.list().unwrap().into_iter().map(|i| i.id).collect();
        assert_eq!(left, vec![b.id.clone()]);
    }

    #[test]
    fn policy_validation() {
        assert!(GcPolicy::default().validate().is_ok());
        let p = GcPolicy {
            high_threshold_percent: 50,
            low_threshold_percent: 60,
            min_age: Duration::ZERO,
            ..GcPolicy::default()
        };
        assert_eq!(
            p.validate().unwrap_err(),
            "LowThresholdPercent 60 can not be higher than HighThresholdPercent 50"
        );
    }
}
