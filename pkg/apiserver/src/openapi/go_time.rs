//! Go's `time.Parse` errors for the layouts metav1.Time and metav1.MicroTime decode with
//! (`parsing time "garbage" as "2006-01-02T15:04:05Z07:00": cannot parse "garbage" as
//! "2006"`): what a request with a malformed timestamp gets back. Which strings are
//! accepted is `Timestamp::parse`'s business; this only words the refusal.

/// metav1.Time's layout (`time.RFC3339`).
pub const RFC3339: &str = "2006-01-02T15:04:05Z07:00";
/// metav1.MicroTime's layout.
pub const RFC3339_MICRO: &str = "2006-01-02T15:04:05.000000Z07:00";

/// Go's error for `value` not parsing as `layout` (one of the two above), walking the
/// layout's elements as Go does: the first element that does not match, a field out of
/// range, or text left over.
pub fn parse_error(layout: &str, value: &str) -> String {
    let q = rkube_api::validation::go_quote;
    let cannot = |rest: &str, elem: &str| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            q(value),
            q(layout),
            q(rest),
            q(elem)
        )
    };
    let range = |what: &str| format!("parsing time {}: {what} out of range", q(value));
    let micro = layout == RFC3339_MICRO;
    let mut rest = value;
    let (mut year, mut month, mut day) = (0, 0, 0);
    let elems: &[&str] = if micro {
        &[
            "2006", "-", "01", "-", "02", "T", "15", ":", "04", ":", "05", ".000000", "Z07:00",
        ]
    } else {
        &[
            "2006", "-", "01", "-", "02", "T", "15", ":", "04", ":", "05", "Z07:00",
        ]
    };
    for elem in elems {
        let hold = rest;
        match *elem {
            "-" | "T" | ":" => match rest.strip_prefix(elem) {
                Some(r) => rest = r,
                None => return cannot(hold, elem),
            },
            "2006" => {
                let b = rest.as_bytes();
                if b.len() < 4 || !b[..4].iter().all(u8::is_ascii_digit) {
                    return cannot(hold, elem);
                }
                year = rest[..4].parse().unwrap_or(0);
                rest = &rest[4..];
            }
            "01" | "02" | "15" | "04" | "05" => {
                // Hours may have one digit; the others are fixed at two.
                let Some((n, r)) = getnum(rest, *elem != "15") else {
                    return cannot(hold, elem);
                };
                rest = r;
                match *elem {
                    "01" if !(1..=12).contains(&n) => return range("month"),
                    "01" => month = n,
                    "02" => day = n,
                    "15" if n >= 24 => return range("hour"),
                    "04" if n >= 60 => return range("minute"),
                    "05" if n >= 60 => return range("second"),
                    _ => {}
                }
                // A fraction after the seconds is accepted when the layout has none.
                if *elem == "05" && !micro {
                    let b = rest.as_bytes();
                    if b.len() >= 2 && matches!(b[0], b'.' | b',') && b[1].is_ascii_digit() {
                        let n = 1 + b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                        rest = &rest[n..];
                    }
                }
            }
            ".000000" => {
                let b = rest.as_bytes();
                if b.len() < 7
                    || !matches!(b[0], b'.' | b',')
                    || !b[1..7].iter().all(u8::is_ascii_digit)
                {
                    return cannot(hold, elem);
                }
                rest = &rest[7..];
            }
            _ => {
                // Z07:00: `Z`, or a sign, two digits, a colon and two digits.
                if let Some(r) = rest.strip_prefix('Z') {
                    rest = r;
                    continue;
                }
                let b = rest.as_bytes();
                let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
                if b.len() < 6 || b[3] != b':' || !digits(1..3) || !digits(4..6) {
                    return cannot(hold, elem);
                }
                if !matches!(b[0], b'+' | b'-') {
                    return cannot(hold, elem);
                }
                let (hr, mm) = (num2(&b[1..3]), num2(&b[4..6]));
                if hr > 24 {
                    return range("time zone offset hour");
                }
                if mm > 60 {
                    return range("time zone offset minute");
                }
                rest = &rest[6..];
            }
        }
    }
    if !rest.is_empty() {
        return format!("parsing time {}: extra text: {}", q(value), q(rest));
    }
    if day < 1 || day > days_in(year, month) {
        return range("day");
    }
    // Everything Go checks passed: whatever `Timestamp::parse` refused, word it as the
    // first element.
    cannot(value, "2006")
}

/// Go's `getnum`: one or two leading digits (exactly two when `fixed`).
fn getnum(s: &str, fixed: bool) -> Option<(u32, &str)> {
    let b = s.as_bytes();
    if !b.first()?.is_ascii_digit() {
        return None;
    }
    if !b.get(1).is_some_and(u8::is_ascii_digit) {
        if fixed {
            return None;
        }
        return Some((u32::from(b[0] - b'0'), &s[1..]));
    }
    Some((num2(&b[..2]), &s[2..]))
}

fn num2(b: &[u8]) -> u32 {
    u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0')
}

fn days_in(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}
