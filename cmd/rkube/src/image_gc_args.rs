//! The image GC settings that k3s passes as `--kubelet-arg image-gc-...`: plain flags on
//! `rkube server` and `rkube agent`, checked as upstream's kubelet checks them.

use rkube_image::GcPolicy;

/// (flag name, message) of the first wrong setting.
pub fn policy(
    high: Option<u8>,
    low: Option<u8>,
    min_age: Option<&str>,
    period: Option<&str>,
    parse_duration: impl Fn(&str) -> Result<std::time::Duration, String>,
) -> Result<GcPolicy, (&'static str, String)> {
    let d = GcPolicy::default();
    let p = GcPolicy {
        high_threshold_percent: high.unwrap_or(d.high_threshold_percent),
        low_threshold_percent: low.unwrap_or(d.low_threshold_percent),
        min_age: match min_age {
            Some(s) => parse_duration(s).map_err(|m| ("image-gc-min-age", m))?,
            None => d.min_age,
        },
        period: match period {
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
