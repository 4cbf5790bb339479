//! Timestamps as the API writes them (RFC 3339, seconds for Time, microseconds for MicroTime).

use k8s_openapi::jiff::Timestamp;

pub fn time(t: Timestamp) -> String {
    k8s_openapi::jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%SZ", t).expect("a timestamp formats")
}

pub fn micro_time(t: Timestamp) -> String {
    k8s_openapi::jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%S%.6fZ", t)
        .expect("a timestamp formats")
}

pub fn now() -> String {
    time(Timestamp::now())
}

pub fn from_system(t: std::time::SystemTime) -> Timestamp {
    Timestamp::try_from(t).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(time(Timestamp::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            micro_time(Timestamp::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            time(from_system(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(61)
            )),
            "1970-01-01T00:01:01Z"
        );
    }
}
