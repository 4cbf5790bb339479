//! The image GC settings that k3s passes as `--kubelet-arg image-gc-...`: plain flags on
//! `rkube server` and `rkube agent`, checked as upstream's kubelet checks them.

use rkube_image::GcPolicy;

/// The image GC flags, flattened into `rkube server` and `rkube agent` (and, under the same
/// keys, the server's config file).
#[derive(Debug, Default, clap::Args, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ImageGcArgs {
    /// Disk usage percent of the image filesystem at which image GC runs (kubelet's
    /// imageGCHighThresholdPercent; 100 disables it).
    #[arg(long, hide = true, value_name = "PERCENT")]
    image_gc_high_threshold: Option<u8>,

    /// Disk usage percent image GC frees down to (imageGCLowThresholdPercent).
    #[arg(long, hide = true, value_name = "PERCENT")]
    image_gc_low_threshold: Option<u8>,

    /// Minimum age of an unused image before GC may delete it (imageMinimumGCAge).
    #[arg(long, hide = true, value_name = "DURATION")]
    image_gc_min_age: Option<String>,

    /// How often image GC checks the disk (5m; for tests).
    #[arg(long, hide = true, value_name = "DURATION")]
    image_gc_period: Option<String>,
}

impl ImageGcArgs {
    /// Flags win over the config file, one setting at a time.
    pub fn merge(self, file: ImageGcArgs) -> ImageGcArgs {
        ImageGcArgs {
            image_gc_high_threshold: self
                .image_gc_high_threshold
                .or(file.image_gc_high_threshold),
            image_gc_low_threshold: self.image_gc_low_threshold.or(file.image_gc_low_threshold),
            image_gc_min_age: self.image_gc_min_age.or(file.image_gc_min_age),
            image_gc_period: self.image_gc_period.or(file.image_gc_period),
        }
    }

    /// The policy, checked as upstream's kubelet checks it; or (flag name, message) of the
    /// first wrong setting.
    pub fn policy(
        &self,
        parse_duration: impl Fn(&str) -> Result<std::time::Duration, String>,
    ) -> Result<GcPolicy, (&'static str, String)> {
        let d = GcPolicy::default();
        let p = GcPolicy {
            high_threshold_percent: self
                .image_gc_high_threshold
                .unwrap_or(d.high_threshold_percent),
            low_threshold_percent: self
                .image_gc_low_threshold
                .unwrap_or(d.low_threshold_percent),
            min_age: match self.image_gc_min_age.as_deref() {
                Some(s) => parse_duration(s).map_err(|m| ("image-gc-min-age", m))?,
                None => d.min_age,
            },
            period: match self.image_gc_period.as_deref() {
                Some(s) => parse_duration(s).map_err(|m| ("image-gc-period", m))?,
                None => d.period,
            },
        };
        if p.period.is_zero() {
            return Err(("image-gc-period", "must be more than 0s".into()));
        }
        p.validate().map_err(|m| {
            let key = if p.high_threshold_percent > 100 {
                "image-gc-high-threshold"
            } else {
                "image-gc-low-threshold"
            };
            (key, m)
        })?;
        Ok(p)
    }
}
