//! CRI-format container logs: `<RFC3339Nano> <stdout|stderr> <F|P> <text>` lines.

pub(crate) mod reader;
pub(crate) mod writer;

use std::time::SystemTime;

/// A line longer than this is split into partial (`P`) entries, as containerd does.
pub(crate) const MAX_LINE: usize = 16 * 1024;

/// The CRI timestamp: UTC with exactly nine fractional digits (fixed width, so files sort).
pub(crate) fn format_timestamp(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.nanosecond()
    )
}

/// Go's RFC3339Nano (trailing fractional zeros trimmed), which `kubectl logs --timestamps` shows.
pub(crate) fn rfc3339_nano(cri_ts: &str) -> String {
    let Some(dot) = cri_ts.find('.') else {
        return cri_ts.to_string();
    };
    let zone = cri_ts[dot..]
        .find(['Z', '+', '-'])
        .map_or(cri_ts.len(), |i| dot + i);
    let frac = cri_ts[dot + 1..zone].trim_end_matches('0');
    if frac.is_empty() {
        format!("{}{}", &cri_ts[..dot], &cri_ts[zone..])
    } else {
        format!("{}.{}{}", &cri_ts[..dot], frac, &cri_ts[zone..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_round_trip_formats() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        let s = format_timestamp(t);
        assert_eq!(s, "2023-11-14T22:13:20.120000000Z");
        assert_eq!(rfc3339_nano(&s), "2023-11-14T22:13:20.12Z");
        assert_eq!(
            rfc3339_nano("2023-11-14T22:13:20.000000000Z"),
            "2023-11-14T22:13:20Z"
        );
    }
}
