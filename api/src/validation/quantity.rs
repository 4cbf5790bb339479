//! Resource quantities as upstream's `k8s.io/apimachinery/pkg/api/resource.Quantity`:
//! parsing (`100m`, `1.5Gi`, `1e3`), comparison, rounding and the canonical string the API
//! server serializes (`0.5` -> `500m`, `1024Mi` -> `1Gi`).
use std::cmp::Ordering;

/// How a quantity is written (upstream's `resource.Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `1e3`.
    DecimalExponent,
    /// `1Ki`, `1Mi`.
    BinarySI,
    /// `1k`, `500m`, `1`.
    DecimalSI,
}

/// A parsed quantity: `mantissa * 10^exponent`, with the format it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    mantissa: i128,
    exponent: i32,
    pub format: Format,
}

/// The error upstream's decoder reports for an unparsable quantity.
pub const QUANTITY_FORMAT_ERR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

const MAX_DIGITS: usize = 30;

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

impl Quantity {
    /// Parses `s` as upstream's `ParseQuantity`; values more precise than nano are rounded up
    /// to nano, as upstream does.
    pub fn parse(s: &str) -> Option<Quantity> {
        let b = s.as_bytes();
        if b.is_empty() {
            return None;
        }
        let mut i = 0;
        let mut negative = false;
        if b[0] == b'+' || b[0] == b'-' {
            negative = b[0] == b'-';
            i = 1;
        }
        let num_start = i;
        let mut seen_dot = false;
        let mut int_digits = String::new();
        let mut frac_digits = String::new();
        while i < b.len() {
            match b[i] {
                b'0'..=b'9' => {
                    if seen_dot {
                        frac_digits.push(b[i] as char);
                    } else {
                        int_digits.push(b[i] as char);
                    }
                }
                b'.' if !seen_dot => seen_dot = true,
                _ => break,
            }
            i += 1;
        }
        if i == num_start || (int_digits.is_empty() && frac_digits.is_empty()) {
            return None;
        }
        let suffix = &s[i..];
        let (format, base2_exp, base10_exp) = match suffix {
            "" => (Format::DecimalSI, 0, 0),
            "n" => (Format::DecimalSI, 0, -9),
            "u" => (Format::DecimalSI, 0, -6),
            "m" => (Format::DecimalSI, 0, -3),
            "k" => (Format::DecimalSI, 0, 3),
            "M" => (Format::DecimalSI, 0, 6),
            "G" => (Format::DecimalSI, 0, 9),
            "T" => (Format::DecimalSI, 0, 12),
            "P" => (Format::DecimalSI, 0, 15),
            "E" => (Format::DecimalSI, 0, 18),
            "Ki" => (Format::BinarySI, 10, 0),
            "Mi" => (Format::BinarySI, 20, 0),
            "Gi" => (Format::BinarySI, 30, 0),
            "Ti" => (Format::BinarySI, 40, 0),
            "Pi" => (Format::BinarySI, 50, 0),
            "Ei" => (Format::BinarySI, 60, 0),
            _ => {
                let rest = suffix
                    .strip_prefix('e')
                    .or_else(|| suffix.strip_prefix('E'))?;
                let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
                if digits.is_empty()
                    || !digits.bytes().all(|c| c.is_ascii_digit())
                    || digits.len() > 6
                {
                    return None;
                }
                (Format::DecimalExponent, 0, rest.parse::<i32>().ok()?)
            }
        };
        let all = format!("{int_digits}{frac_digits}");
        let trimmed = all.trim_start_matches('0');
        if trimmed.len() > MAX_DIGITS {
            return None;
        }
        let mut mantissa: i128 = if trimmed.is_empty() {
            0
        } else {
            trimmed.parse().ok()?
        };
        let mut exponent = base10_exp - frac_digits.len() as i32;
        if base2_exp > 0 {
            mantissa = mantissa.checked_mul(1i128 << base2_exp)?;
        }
        if negative {
            mantissa = -mantissa;
        }
        let mut q = Quantity {
            mantissa,
            exponent,
            format,
        };
        q.normalize();
        if q.exponent < -9 {
            q.round_up(-9);
        }
        exponent = q.exponent;
        Some(Quantity { exponent, ..q })
    }

    /// Removes trailing zeros from the mantissa.
    fn normalize(&mut self) {
        if self.mantissa == 0 {
            self.exponent = 0;
            return;
        }
        while self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.exponent += 1;
        }
    }

    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// Rounds away from zero to `scale` (e.g. -3 for milli), as upstream's `RoundUp`.
    pub fn round_up(&mut self, scale: i32) {
        if self.exponent >= scale {
            return;
        }
        let Some(div) = pow10((scale - self.exponent) as u32) else {
            self.mantissa = self.mantissa.signum();
            self.exponent = scale;
            return;
        };
        let q = self.mantissa / div;
        let r = self.mantissa % div;
        self.mantissa = if r == 0 {
            q
        } else {
            q + self.mantissa.signum()
        };
        self.exponent = scale;
        self.normalize();
    }

    fn as_f64(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exponent)
    }

    /// The value as an integer at scale 0 if exact.
    fn as_integer(&self) -> Option<i128> {
        if self.exponent >= 0 {
            self.mantissa.checked_mul(pow10(self.exponent as u32)?)
        } else {
            let div = pow10((-self.exponent) as u32)?;
            (self.mantissa % div == 0).then_some(self.mantissa / div)
        }
    }

    /// The sum of two quantities (the format of `self`).
    pub fn add(&self, other: &Quantity) -> Quantity {
        let e = self.exponent.min(other.exponent);
        let scale =
            |q: &Quantity| pow10((q.exponent - e) as u32).and_then(|m| q.mantissa.checked_mul(m));
        let mut q = match (scale(self), scale(other)) {
            (Some(a), Some(b)) => match a.checked_add(b) {
                Some(m) => Quantity {
                    mantissa: m,
                    exponent: e,
                    format: self.format,
                },
                None => *self,
            },
            _ => *self,
        };
        q.normalize();
        q
    }

    /// Upstream's `Quantity.Cmp`.
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        let e = self.exponent.min(other.exponent);
        let a = pow10((self.exponent - e) as u32).and_then(|m| self.mantissa.checked_mul(m));
        let b = pow10((other.exponent - e) as u32).and_then(|m| other.mantissa.checked_mul(m));
        match (a, b) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self
                .as_f64()
                .partial_cmp(&other.as_f64())
                .unwrap_or(Ordering::Equal),
        }
    }

    /// The canonical string upstream serializes (`Quantity.String()`).
    pub fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".to_string();
        }
        let mut format = self.format;
        let mut integer = None;
        if format == Format::BinarySI {
            if self.cmp_value(&Quantity {
                mantissa: -1024,
                exponent: 0,
                format,
            }) == Ordering::Greater
                && self.cmp_value(&Quantity {
                    mantissa: 1024,
                    exponent: 0,
                    format,
                }) == Ordering::Less
            {
                format = Format::DecimalSI;
            } else {
                integer = self.as_integer();
                if integer.is_none() {
                    format = Format::DecimalSI;
                }
            }
        }
        match (format, integer) {
            (Format::BinarySI, Some(mut v)) => {
                let mut k = 0;
                while k < 6 && v % 1024 == 0 {
                    v /= 1024;
                    k += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k];
                format!("{v}{suffix}")
            }
            _ => {
                let mut m = self.mantissa;
                let mut e = self.exponent;
                while m % 10 == 0 {
                    m /= 10;
                    e += 1;
                }
                match e.rem_euclid(3) {
                    1 => {
                        m *= 10;
                        e -= 1;
                    }
                    2 => {
                        m *= 100;
                        e -= 2;
                    }
                    _ => {}
                }
                if format == Format::DecimalExponent {
                    if e == 0 {
                        return format!("{m}");
                    }
                    return format!("{m}e{e}");
                }
                while e > 18 {
                    m = m.saturating_mul(1000);
                    e -= 3;
                }
                let suffix = match e {
                    -9 => "n",
                    -6 => "u",
                    -3 => "m",
                    0 => "",
                    3 => "k",
                    6 => "M",
                    9 => "G",
                    12 => "T",
                    15 => "P",
                    18 => "E",
                    _ => "",
                };
                format!("{m}{suffix}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Quantity::parse(s).unwrap().canonical()
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canon("100m"), "100m");
        assert_eq!(canon("0.5"), "500m");
        assert_eq!(canon("1000m"), "1");
        assert_eq!(canon("1"), "1");
        assert_eq!(canon("1Gi"), "1Gi");
        assert_eq!(canon("1024Mi"), "1Gi");
        assert_eq!(canon("1.5Gi"), "1536Mi");
        assert_eq!(canon("128974848"), "128974848");
        assert_eq!(canon("129e6"), "129e6");
        assert_eq!(canon("123Mi"), "123Mi");
        assert_eq!(canon("1000"), "1k");
        assert_eq!(canon("1500"), "1500");
        assert_eq!(canon("0"), "0");
        assert_eq!(canon("512"), "512");
        assert_eq!(canon("100Ki"), "100Ki");
        assert_eq!(canon("0.5Ki"), "512");
        assert_eq!(canon("-1"), "-1");
        assert_eq!(canon("1e3"), "1e3");
        assert_eq!(canon("1.5"), "1500m");
    }

    #[test]
    fn parse_errors_and_compare() {
        assert!(Quantity::parse("abc").is_none());
        assert!(Quantity::parse("1Kb").is_none());
        assert!(Quantity::parse("").is_none());
        assert!(Quantity::parse("1.2.3").is_none());
        let a = Quantity::parse("500m").unwrap();
        let b = Quantity::parse("1").unwrap();
        assert_eq!(a.cmp_value(&b), Ordering::Less);
        assert_eq!(
            Quantity::parse("1Gi")
                .unwrap()
                .cmp_value(&Quantity::parse("1073741824").unwrap()),
            Ordering::Equal
        );
        let mut r = Quantity::parse("0.0001").unwrap();
        r.round_up(-3);
        assert_eq!(r.canonical(), "1m");
    }
}
