//! Go's formatting of decoded JSON (`interface{}` holding maps, slices and scalars), so the
//! error texts upstream builds with `%v`, `%s`, `%q` and `reflect.TypeOf` read the same here.

use serde_json::{Map, Value};

/// Go's `%v` of a decoded JSON value: `map[a:1 b:[x y]]`, `<nil>`, floats as `strconv`'s
/// shortest `g` form (`1e+06`).
pub(super) fn v(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value, Verb::V);
    out
}

/// Go's `%v` of a map.
pub(super) fn v_map(map: &Map<String, Value>) -> String {
    let mut out = String::new();
    write_map(&mut out, map, Verb::V);
    out
}

/// Go's `%v` of a list of lists (`fmt.Sprint(slices)`).
pub(super) fn v_lists(lists: &[&[Value]]) -> String {
    let mut out = String::from("[");
    for (i, list) in lists.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_list(&mut out, list, Verb::V);
    }
    out.push(']');
    out
}

/// Go's `%s` of a decoded JSON value: strings bare, other scalars as `%!s(int64=5)`.
pub(super) fn s(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value, Verb::S);
    out
}

/// `reflect.TypeOf(x)` printed with `%s`, as `mergepatch.ErrBadArgType` shows it.
pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "%!s(<nil>)",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.as_i64().is_some() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `strconv.Quote`: double-quoted with Go escapes.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// A character as Go's `encoding/json` scanner quotes it in syntax errors (`quoteChar`).
pub(super) fn quote_byte(b: u8) -> String {
    match b {
        b'\'' => r"'\''".to_string(),
        b'"' => "'\"'".to_string(),
        _ => {
            // Go converts the byte to the rune of the same value before quoting.
            let mut out = String::from("'");
            push_escaped(&mut out, char::from(b), '\'');
            out.push('\'');
            out
        }
    }
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\u{7}' => out.push_str(r"\a"),
        '\u{8}' => out.push_str(r"\b"),
        '\u{c}' => out.push_str(r"\f"),
        '\n' => out.push_str(r"\n"),
        '\r' => out.push_str(r"\r"),
        '\t' => out.push_str(r"\t"),
        '\u{b}' => out.push_str(r"\v"),
        '\\' => out.push_str(r"\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!(r"\x{:02x}", c as u32)),
        // Not printable for Go: C1 controls, no-break space, soft hyphen, other controls.
        c if c.is_control() || c == '\u{a0}' || c == '\u{ad}' => {
            if (c as u32) <= 0xffff {
                out.push_str(&format!(r"\u{:04x}", c as u32));
            } else {
                out.push_str(&format!(r"\U{:08x}", c as u32));
            }
        }
        c => out.push(c),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Verb {
    V,
    S,
}

fn write(out: &mut String, value: &Value, verb: Verb) {
    match value {
        Value::Null => out.push_str(if verb == Verb::V {
            "<nil>"
        } else {
            "%!s(<nil>)"
        }),
        Value::Bool(b) => scalar(out, verb, "bool", &b.to_string()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => scalar(out, verb, "int64", &i.to_string()),
            None => scalar(out, verb, "float64", &float(n.as_f64().unwrap_or(0.0))),
        },
        Value::String(s) => out.push_str(s),
        Value::Array(list) => write_list(out, list, verb),
        Value::Object(map) => write_map(out, map, verb),
    }
}

fn scalar(out: &mut String, verb: Verb, ty: &str, text: &str) {
    match verb {
        Verb::V => out.push_str(text),
        Verb::S => out.push_str(&format!("%!s({ty}={text})")),
    }
}

fn write_list(out: &mut String, list: &[Value], verb: Verb) {
    out.push('[');
    for (i, item) in list.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write(out, item, verb);
    }
    out.push(']');
}

fn write_map(out: &mut String, map: &Map<String, Value>, verb: Verb) {
    // fmt prints maps with sorted keys.
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    out.push_str("map[");
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(k);
        out.push(':');
        write(out, &map[k], verb);
    }
    out.push(']');
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`: shortest digits, exponent form when the decimal
/// exponent is below -4 or at least 6 (`1e+06`, `1.5e-07`).
pub(super) fn float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_like_go() {
        assert_eq!(
            v(&json!({"b": [1, "x"], "a": null})),
            "map[a:<nil> b:[1 x]]"
        );
        assert_eq!(s(&json!(5)), "%!s(int64=5)");
        assert_eq!(s(&json!("merge")), "merge");
        assert_eq!(float(1e6), "1e+06");
        assert_eq!(float(123456.0), "123456");
        assert_eq!(float(1.5e-7), "1.5e-07");
        assert_eq!(float(0.0001), "0.0001");
        assert_eq!(float(2.5), "2.5");
        assert_eq!(quote("a\"b\n"), r#""a\"b\n""#);
        assert_eq!(quote_byte(b'x'), "'x'");
        assert_eq!(quote_byte(b'\''), r"'\''");
        assert_eq!(quote_byte(b'"'), "'\"'");
        assert_eq!(quote_byte(1), r"'\x01'");
        assert_eq!(quote_byte(b'\n'), r"'\n'");
        assert_eq!(type_name(&json!([])), "[]interface {}");
    }
}
