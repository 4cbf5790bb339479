//! Timestamps and upstream's human-readable durations
//! (k8s.io/apimachinery/pkg/util/duration), without a date-time dependency: objects carry
//! RFC 3339 strings and the printers only need differences between two of them.

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const SECOND: i64 = NANOS_PER_SECOND;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

/// An instant with nanosecond precision, as parsed from RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since the Unix epoch (UTC).
    pub secs: i64,
    /// 0..1e9.
    pub nanos: u32,
}

impl Timestamp {
    /// Go's zero `time.Time` (0001-01-01T00:00:00Z): what an absent metav1.Time decodes to.
    pub const GO_ZERO: Timestamp = Timestamp {
        secs: -62_135_596_800,
        nanos: 0,
    };

    /// Parses RFC 3339 as Go's `time.Parse(time.RFC3339, ..)` accepts it (and so metav1.Time
    /// and metav1.MicroTime): `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; lowercase `t`/`z`
    /// are tolerated too.
    pub fn parse(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() < 20 {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = b.get(range)?;
            if part.iter().all(u8::is_ascii_digit) {
                Some(part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
            } else {
                None
            }
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let mut i = 19;
        let mut nanos: u32 = 0;
        if b[i] == b'.' || b[i] == b',' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 9 {
                    nanos = nanos * 10 + u32::from(b[i] - b'0');
                }
                i += 1;
            }
            let digits = i - start;
            if digits == 0 {
                return None;
            }
            for _ in digits..9 {
                nanos *= 10;
            }
        }
        let offset = match b.get(i..)? {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let digits = [h1, h2, m1, m2];
                if !digits.iter().all(|d| d.is_ascii_digit()) {
                    return None;
                }
                let (oh, om) = (
                    i64::from((h1 - b'0') * 10 + (h2 - b'0')),
                    i64::from((m1 - b'0') * 10 + (m2 - b'0')),
                );
                if oh > 23 || om > 59 {
                    return None;
                }
                let off = oh * 3600 + om * 60;
                if *sign == b'-' {
                    -off
                } else {
                    off
                }
            }
            _ => return None,
        };
        let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
            - offset;
        Some(Timestamp { secs, nanos })
    }

    /// Like `parse`, but Go's zero time counts as absent, as `metav1.Time.IsZero()` does.
    pub fn parse_nonzero(s: &str) -> Option<Timestamp> {
        Timestamp::parse(s).filter(|t| *t != Timestamp::GO_ZERO)
    }

    /// `self - earlier` as a Go `time.Duration` (nanoseconds, saturating as Go's `Sub` does).
    pub fn sub(&self, earlier: &Timestamp) -> i64 {
        let nanos = (i128::from(self.secs) - i128::from(earlier.secs))
            * i128::from(NANOS_PER_SECOND)
            + (i128::from(self.nanos) - i128::from(earlier.nanos));
        i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
    }

    /// `time.RFC3339` formatting in UTC (whole seconds), as the default table's "Created At".
    pub fn format_rfc3339(&self) -> String {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            era * 400 + yoe + 1
        } else {
            era * 400 + yoe
        },
        m,
        d,
    )
}

/// upstream `duration.ShortHumanDuration`: one unit ("5m", "3h", "2d", "1y").
/// `d` is a Go `time.Duration` in nanoseconds.
pub fn short_human_duration(d: i64) -> String {
    let seconds = d / SECOND;
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 {
        return format!("{seconds}s");
    }
    let minutes = d / MINUTE;
    if minutes < 60 {
        return format!("{minutes}m");
    }
    let hours = d / HOUR;
    if hours < 24 {
        format!("{hours}h")
    } else if hours < 24 * 365 {
        format!("{}d", hours / 24)
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// upstream `duration.HumanDuration`: ~2-3 significant figures ("45s", "5m30s", "3h5m",
/// "2d5h", "400d", "3y20d"), what kubectl's AGE column shows. `d` is in nanoseconds.
pub fn human_duration(d: i64) -> String {
    // Up to 2s in the future counts as now: clocks of server and client differ a little.
    let seconds = d / SECOND;
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d / MINUTE;
    if minutes < 10 {
        let s = (d / SECOND) % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d / HOUR;
    if hours < 8 {
        let m = (d / MINUTE) % 60;
        if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        }
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        }
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// upstream's `translateTimestampSince`: "<unknown>" for an absent (zero) time, else the
/// human duration from `t` to `now`.
pub fn since(t: Option<Timestamp>, now: Option<Timestamp>) -> String {
    match (t, now) {
        (Some(t), Some(now)) => human_duration(now.sub(&t)),
        _ => "<unknown>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    #[test]
    fn parses_rfc3339() {
        assert_eq!(ts("1970-01-01T00:00:00Z"), Timestamp { secs: 0, nanos: 0 });
        assert_eq!(ts("2024-02-29T12:34:56Z").secs, 1_709_210_096);
        assert_eq!(
            ts("2024-02-29T12:34:56.5Z"),
            Timestamp {
                secs: 1_709_210_096,
                nanos: 500_000_000
            }
        );
        assert_eq!(ts("2024-02-29T12:34:56.123456Z").nanos, 123_456_000);
        assert_eq!(ts("2024-02-29T12:34:56.1234567891Z").nanos, 123_456_789);
        assert_eq!(ts("2024-02-29T14:34:56+02:00").secs, 1_709_210_096);
        assert_eq!(ts("2024-02-29T10:04:56-02:30").secs, 1_709_210_096);
        assert_eq!(ts("1969-12-31T23:59:59Z").secs, -1);
        assert_eq!(ts("0001-01-01T00:00:00Z"), Timestamp::GO_ZERO);
        assert_eq!(Timestamp::parse_nonzero("0001-01-01T00:00:00Z"), None);
        for bad in [
            "",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00+0100",
            "2024-01-01T00:00:00Zjunk",
            "20x4-01-01T00:00:00Z",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_rfc3339() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T12:34:56Z",
            "0001-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(ts(s).format_rfc3339(), s);
        }
        assert_eq!(
            ts("2024-02-29T14:34:56.9+02:00").format_rfc3339(),
            "2024-02-29T12:34:56Z"
        );
    }

    #[test]
    fn subtracts() {
        let a = ts("2024-01-01T00:00:00.25Z");
        let b = ts("2024-01-01T00:00:01Z");
        assert_eq!(b.sub(&a), 750_000_000);
        assert_eq!(a.sub(&b), -750_000_000);
        assert_eq!(
            ts("9999-12-31T23:59:59Z").sub(&Timestamp::GO_ZERO),
            i64::MAX
        );
        assert!(None < Some(a) && a < b);
    }

    #[test]
    fn human_duration_as_upstream() {
        // The cases of upstream's duration_test.go, plus the boundaries.
        let s = SECOND;
        let m = MINUTE;
        let h = HOUR;
        let d = 24 * h;
        let y = 365 * d;
        let cases = [
            (-2 * s, "<invalid>"),
            (-2 * s + 1, "0s"),
            (-s, "0s"),
            (0, "0s"),
            (s, "1s"),
            (59 * s, "59s"),
            (60 * s, "60s"),
            (119 * s, "119s"),
            (2 * m, "2m"),
            (2 * m + s, "2m1s"),
            (5 * m + 30 * s, "5m30s"),
            (9 * m + 59 * s, "9m59s"),
            (10 * m, "10m"),
            (10 * m + 59 * s, "10m"),
            (179 * m, "179m"),
            (3 * h, "3h"),
            (3 * h + 5 * m, "3h5m"),
            (7 * h + 59 * m, "7h59m"),
            (8 * h, "8h"),
            (47 * h + 59 * m, "47h"),
            (48 * h, "2d"),
            (2 * d + 5 * h, "2d5h"),
            (7 * d + 23 * h, "7d23h"),
            (8 * d, "8d"),
            (400 * d, "400d"),
            (2 * y - h, "729d"),
            (2 * y, "2y"),
            (2 * y + 20 * d, "2y20d"),
            (3 * y, "3y"),
            (8 * y - d, "7y364d"),
            (8 * y, "8y"),
            (100 * y + 5 * d, "100y"),
        ];
        for (nanos, want) in cases {
            assert_eq!(human_duration(nanos), want, "{nanos}ns");
        }
    }

    #[test]
    fn short_human_duration_as_upstream() {
        let cases = [
            (-2 * SECOND, "<invalid>"),
            (-SECOND, "0s"),
            (59 * SECOND, "59s"),
            (60 * SECOND, "1m"),
            (59 * MINUTE, "59m"),
            (60 * MINUTE, "1h"),
            (23 * HOUR, "23h"),
            (24 * HOUR, "1d"),
            (364 * 24 * HOUR, "364d"),
            (365 * 24 * HOUR, "1y"),
            (3 * 365 * 24 * HOUR + HOUR, "3y"),
        ];
        for (nanos, want) in cases {
            assert_eq!(short_human_duration(nanos), want, "{nanos}ns");
        }
    }

    #[test]
    fn since_unknown_for_absent() {
        let now = Some(ts("2024-01-01T00:05:30Z"));
        assert_eq!(since(None, now), "<unknown>");
        assert_eq!(since(Some(ts("2024-01-01T00:00:00Z")), now), "5m30s");
        assert_eq!(since(Some(ts("2024-01-01T00:00:00Z")), None), "<unknown>");
    }
}
