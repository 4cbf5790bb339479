//! Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`, `128974848`), read as the scheduler
//! reads them: `MilliValue()` for cpu, `Value()` for everything else, both rounding up.

/// The quantity in thousandths, rounded up (cpu in millicores). None when malformed.
pub fn parse_milli(s: &str) -> Option<i64> {
    scaled(s, 1000)
}

/// The quantity as an integer, rounded up (memory and storage in bytes, counts).
pub fn parse_value(s: &str) -> Option<i64> {
    scaled(s, 1)
}

/// `ceil(quantity * factor)`, saturating at i64's range.
fn scaled(s: &str, factor: i128) -> Option<i64> {
    let s = s.trim();
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(num_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return None;
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    // value = mantissa / 10^frac_digits * 2^bin_exp * 10^dec_exp
    let digits: String = int_part.chars().chain(frac_part.chars()).collect();
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return Some(if negative { i64::MIN } else { i64::MAX });
    }
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let mut dec_exp: i32 = -(frac_part.len() as i32);
    let mut bin_exp: u32 = 0;
    match suffix {
        "" => {}
        "Ki" => bin_exp = 10,
        "Mi" => bin_exp = 20,
        "Gi" => bin_exp = 30,
        "Ti" => bin_exp = 40,
        "Pi" => bin_exp = 50,
        "Ei" => bin_exp = 60,
        "n" => dec_exp -= 9,
        "u" => dec_exp -= 6,
        "m" => dec_exp -= 3,
        "k" => dec_exp += 3,
        "M" => dec_exp += 6,
        "G" => dec_exp += 9,
        "T" => dec_exp += 12,
        "P" => dec_exp += 15,
        "E" => dec_exp += 18,
        e if e.starts_with(['e', 'E']) => {
            let exp: i32 = e[1..].parse().ok()?;
            if !(-40..=40).contains(&exp) {
                return None;
            }
            dec_exp += exp;
        }
        _ => return None,
    }
    if mantissa == 0 {
        return Some(0);
    }
    let saturated = Some(if negative { i64::MIN } else { i64::MAX });
    let mut num = mantissa.checked_mul(factor)?;
    let mut den: i128 = 1;
    if bin_exp > 0 {
        num = match num.checked_mul(1i128 << bin_exp) {
            Some(n) => n,
            None => return saturated,
        };
    }
    if dec_exp >= 0 {
        for _ in 0..dec_exp {
            num = match num.checked_mul(10) {
                Some(n) => n,
                None => return saturated,
            };
        }
    } else {
        for _ in 0..(-dec_exp) {
            den = den.checked_mul(10)?;
        }
    }
    // Ceiling: up for positive values, toward zero for negative ones.
    let q = num / den + i128::from(num % den != 0);
    let q = if negative { -(num / den) } else { q };
    Some(i64::try_from(q).unwrap_or(if negative { i64::MIN } else { i64::MAX }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_in_millicores() {
        assert_eq!(parse_milli("1"), Some(1000));
        assert_eq!(parse_milli("100m"), Some(100));
        assert_eq!(parse_milli("0.5"), Some(500));
        assert_eq!(parse_milli("1.5"), Some(1500));
        assert_eq!(parse_milli("32"), Some(32000));
        assert_eq!(parse_milli("250000u"), Some(250));
        assert_eq!(parse_milli("1n"), Some(1), "rounds up");
        assert_eq!(parse_milli("0.0001"), Some(1), "rounds up");
        assert_eq!(parse_milli("2e3"), Some(2_000_000));
        assert_eq!(parse_milli("0"), Some(0));
        assert_eq!(parse_milli("+3"), Some(3000));
    }

    #[test]
    fn memory_in_bytes() {
        assert_eq!(parse_value("256Gi"), Some(256 << 30));
        assert_eq!(parse_value("128974848"), Some(128_974_848));
        assert_eq!(parse_value("129e6"), Some(129_000_000));
        assert_eq!(parse_value("129M"), Some(129_000_000));
        assert_eq!(parse_value("123Mi"), Some(123 << 20));
        assert_eq!(parse_value("1.5Ki"), Some(1536));
        assert_eq!(parse_value("1k"), Some(1000));
        assert_eq!(parse_value("100m"), Some(1), "rounds up");
        assert_eq!(parse_value("110"), Some(110));
        assert_eq!(parse_value("8E"), Some(8_000_000_000_000_000_000));
        assert_eq!(parse_value("16Ei"), Some(i64::MAX), "saturates");
    }

    #[test]
    fn malformed() {
        for s in ["", "x", "1x", "Gi", "1..2", ".", "1 Gi", "1e", "--1"] {
            assert_eq!(parse_value(s), None, "{s:?}");
        }
    }
}
