//! Restart and image-pull backoff: 10 s doubling to 300 s, reset after 10 min of running;
//! delays printed as Go's time.Duration does (`10s`, `1m20s`, `5m0s`).

use std::time::Duration;

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);
pub const RESET_AFTER: Duration = Duration::from_secs(600);

/// Given the current backoff and how long the instance ran: the delay before the next
/// restart and the backoff after it. The first crash restarts at once, as upstream.
pub fn next(current: Option<Duration>, ran: Duration) -> (Duration, Duration) {
    match current {
        Some(d) if ran < RESET_AFTER => (d, (d * 2).min(MAX)),
        _ => (Duration::ZERO, INITIAL),
    }
}

pub fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{}m{}s", s / 3600, (s % 3600) / 60, s % 60)
    } else if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_resets() {
        let (d, b) = next(None, Duration::ZERO);
        assert_eq!((d, b), (Duration::ZERO, INITIAL));
        let (d, b) = next(Some(b), Duration::from_secs(1));
        assert_eq!((d, b), (INITIAL, Duration::from_secs(20)));
        let (d, _) = next(Some(MAX), Duration::from_secs(1));
        assert_eq!(d, MAX);
        assert_eq!(next(Some(MAX), Duration::from_secs(601)).0, Duration::ZERO);
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_duration(MAX), "5m0s");
    }
}
