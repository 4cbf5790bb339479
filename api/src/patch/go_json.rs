//! Decoding a patch body the way Go's `encoding/json` does, with its error texts: the 400
//! responses kube-apiserver sends for malformed bodies quote them (`invalid character 'x'
//! looking for beginning of value`, `unexpected end of JSON input`, `json: cannot unmarshal
//! array into Go value of type map[string]interface {}`).

use serde_json::Value;

use super::go_fmt;

/// The decoded body, or Go's error for it.
pub(super) fn decode(body: &[u8]) -> Result<Value, String> {
    // serde_json accepts only valid JSON, which Go's scanner accepts too: the scanner (a
    // byte-at-a-time state machine) runs only to word the error of a body serde refuses.
    let first = match serde_json::from_slice(body) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    if let Some(message) = syntax_error(body) {
        return Err(message);
    }
    // Go replaces invalid UTF-8 in strings with U+FFFD rather than failing.
    serde_json::from_str(&String::from_utf8_lossy(body)).map_err(|_| first.to_string())
}

/// `json: cannot unmarshal <kind> into Go value of type <go_type>`.
pub(super) fn type_error(value: &Value, go_type: &str) -> String {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    format!("json: cannot unmarshal {kind} into Go value of type {go_type}")
}

/// Go's `checkValid`: the first syntax error, worded as its scanner words it.
pub(super) fn syntax_error(data: &[u8]) -> Option<String> {
    let mut scanner = Scanner {
        step: Step::BeginValue,
        stack: Vec::new(),
        end_top: false,
    };
    for &c in data {
        if let Err(e) = scanner.step(c) {
            return Some(e);
        }
    }
    // At the end Go feeds one space: a number needs a delimiter to finish.
    if scanner.end_top {
        return None;
    }
    if let Err(e) = scanner.step(b' ') {
        return Some(e);
    }
    (!scanner.end_top).then(|| "unexpected end of JSON input".to_string())
}

#[derive(Clone, Copy, PartialEq)]
enum Parse {
    ObjectKey,
    ObjectValue,
    ArrayValue,
}

#[derive(Clone, Copy)]
enum Step {
    BeginValueOrEmpty,
    BeginValue,
    BeginStringOrEmpty,
    BeginString,
    EndValue,
    EndTop,
    InString,
    InStringEsc,
    /// Hex digits of a `\u` escape seen so far.
    InStringEscU(u8),
    Neg,
    One,
    Zero,
    Dot,
    Dot0,
    E,
    ESign,
    E0,
    /// Inside `true`/`false`/`null`: the bytes still expected, and the literal.
    Literal(&'static [u8], &'static str),
}

struct Scanner {
    step: Step,
    stack: Vec<Parse>,
    end_top: bool,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn error(c: u8, context: &str) -> Result<(), String> {
    Err(format!(
        "invalid character {} {context}",
        go_fmt::quote_byte(c)
    ))
}

impl Scanner {
    fn step(&mut self, c: u8) -> Result<(), String> {
        match self.step {
            Step::BeginValueOrEmpty => {
                if is_space(c) {
                    return Ok(());
                }
                if c == b']' {
                    return self.end_value(c);
                }
                self.begin_value(c)
            }
            Step::BeginValue => self.begin_value(c),
            Step::BeginStringOrEmpty => {
                if is_space(c) {
                    return Ok(());
                }
                if c == b'}' {
                    if let Some(top) = self.stack.last_mut() {
                        *top = Parse::ObjectValue;
                    }
                    return self.end_value(c);
                }
                self.begin_string(c)
            }
            Step::BeginString => self.begin_string(c),
            Step::EndValue => self.end_value(c),
            Step::EndTop => {
                if is_space(c) {
                    Ok(())
                } else {
                    error(c, "after top-level value")
                }
            }
            Step::InString => {
                match c {
                    b'"' => self.step = Step::EndValue,
                    b'\\' => self.step = Step::InStringEsc,
                    c if c < 0x20 => return error(c, "in string literal"),
                    _ => {}
                }
                Ok(())
            }
            Step::InStringEsc => match c {
                b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => {
                    self.step = Step::InString;
                    Ok(())
                }
                b'u' => {
                    self.step = Step::InStringEscU(0);
                    Ok(())
                }
                _ => error(c, "in string escape code"),
            },
            Step::InStringEscU(n) => {
                if !c.is_ascii_hexdigit() {
                    return error(c, "in \\u hexadecimal character escape");
                }
                self.step = if n == 3 {
                    Step::InString
                } else {
                    Step::InStringEscU(n + 1)
                };
                Ok(())
            }
            Step::Neg => match c {
                b'0' => {
                    self.step = Step::Zero;
                    Ok(())
                }
                b'1'..=b'9' => {
                    self.step = Step::One;
                    Ok(())
                }
                _ => error(c, "in numeric literal"),
            },
            Step::One => {
                if c.is_ascii_digit() {
                    return Ok(());
                }
                self.zero(c)
            }
            Step::Zero => self.zero(c),
            Step::Dot => {
                if c.is_ascii_digit() {
                    self.step = Step::Dot0;
                    return Ok(());
                }
                error(c, "after decimal point in numeric literal")
            }
            Step::Dot0 => {
                if c.is_ascii_digit() {
                    return Ok(());
                }
                if c == b'e' || c == b'E' {
                    self.step = Step::E;
                    return Ok(());
                }
                self.end_value(c)
            }
            Step::E => {
                if c == b'+' || c == b'-' {
                    self.step = Step::ESign;
                    return Ok(());
                }
                self.e_sign(c)
            }
            Step::ESign => self.e_sign(c),
            Step::E0 => {
                if c.is_ascii_digit() {
                    return Ok(());
                }
                self.end_value(c)
            }
            Step::Literal(rest, name) => {
                if c != rest[0] {
                    return error(
                        c,
                        &format!(
                            "in literal {name} (expecting {})",
                            go_fmt::quote_byte(rest[0])
                        ),
                    );
                }
                self.step = if rest.len() == 1 {
                    Step::EndValue
                } else {
                    Step::Literal(&rest[1..], name)
                };
                Ok(())
            }
        }
    }

    fn begin_value(&mut self, c: u8) -> Result<(), String> {
        if is_space(c) {
            self.step = Step::BeginValue;
            return Ok(());
        }
        self.step = match c {
            b'{' => {
                self.stack.push(Parse::ObjectKey);
                Step::BeginStringOrEmpty
            }
            b'[' => {
                self.stack.push(Parse::ArrayValue);
                Step::BeginValueOrEmpty
            }
            b'"' => Step::InString,
            b'-' => Step::Neg,
            b'0' => Step::Zero,
            b't' => Step::Literal(b"rue", "true"),
            b'f' => Step::Literal(b"alse", "false"),
            b'n' => Step::Literal(b"ull", "null"),
            b'1'..=b'9' => Step::One,
            _ => return error(c, "looking for beginning of value"),
        };
        Ok(())
    }

    fn begin_string(&mut self, c: u8) -> Result<(), String> {
        if is_space(c) {
            self.step = Step::BeginString;
            return Ok(());
        }
        if c == b'"' {
            self.step = Step::InString;
            return Ok(());
        }
        error(c, "looking for beginning of object key string")
    }

    fn zero(&mut self, c: u8) -> Result<(), String> {
        match c {
            b'.' => {
                self.step = Step::Dot;
                Ok(())
            }
            b'e' | b'E' => {
                self.step = Step::E;
                Ok(())
            }
            _ => self.end_value(c),
        }
    }

    fn e_sign(&mut self, c: u8) -> Result<(), String> {
        if c.is_ascii_digit() {
            self.step = Step::E0;
            return Ok(());
        }
        error(c, "in exponent of numeric literal")
    }

    fn end_value(&mut self, c: u8) -> Result<(), String> {
        let Some(&top) = self.stack.last() else {
            self.step = Step::EndTop;
            self.end_top = true;
            return self.step(c);
        };
        if is_space(c) {
            self.step = Step::EndValue;
            return Ok(());
        }
        match (top, c) {
            (Parse::ObjectKey, b':') => {
                *self.stack.last_mut().expect("non-empty") = Parse::ObjectValue;
                self.step = Step::BeginValue;
            }
            (Parse::ObjectKey, _) => return error(c, "after object key"),
            (Parse::ObjectValue, b',') => {
                *self.stack.last_mut().expect("non-empty") = Parse::ObjectKey;
                self.step = Step::BeginString;
            }
            (Parse::ObjectValue, b'}') | (Parse::ArrayValue, b']') => self.pop(),
            (Parse::ObjectValue, _) => return error(c, "after object key:value pair"),
            (Parse::ArrayValue, b',') => self.step = Step::BeginValue,
            (Parse::ArrayValue, _) => return error(c, "after array element"),
        }
        Ok(())
    }

    fn pop(&mut self) {
        self.stack.pop();
        if self.stack.is_empty() {
            self.step = Step::EndTop;
            self.end_top = true;
        } else {
            self.step = Step::EndValue;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        syntax_error(s.as_bytes()).unwrap_or_default()
    }

    #[test]
    fn words_syntax_errors_as_go() {
        assert_eq!(err(""), "unexpected end of JSON input");
        assert_eq!(err("{"), "unexpected end of JSON input");
        assert_eq!(
            err("x"),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            err("{x"),
            "invalid character 'x' looking for beginning of object key string"
        );
        assert_eq!(err(r#"{"a" 1}"#), "invalid character '1' after object key");
        assert_eq!(
            err(r#"{"a":1 "b":2}"#),
            "invalid character '\"' after object key:value pair"
        );
        assert_eq!(err("[1 2]"), "invalid character '2' after array element");
        assert_eq!(err("{} x"), "invalid character 'x' after top-level value");
        assert_eq!(
            err("tru"),
            "invalid character ' ' in literal true (expecting 'e')"
        );
        assert_eq!(
            err("nul!"),
            "invalid character '!' in literal null (expecting 'l')"
        );
        assert_eq!(err("-a"), "invalid character 'a' in numeric literal");
        assert_eq!(
            err("1.x"),
            "invalid character 'x' after decimal point in numeric literal"
        );
        assert_eq!(
            err("1e+"),
            "invalid character ' ' in exponent of numeric literal"
        );
        assert_eq!(err("\"a\nb\""), r"invalid character '\n' in string literal");
        assert_eq!(
            err(r#""\q""#),
            "invalid character 'q' in string escape code"
        );
        assert_eq!(
            err(r#""\u12G4""#),
            r"invalid character 'G' in \u hexadecimal character escape"
        );
        assert_eq!(err("01"), "invalid character '1' after top-level value");
        assert_eq!(
            syntax_error(br#" {"a":[1,2.5e3,{"b":null}],"c":"\u00e9"} "#),
            None
        );
        assert_eq!(syntax_error(b"[]"), None);
        assert_eq!(syntax_error(b"{}"), None);
        assert_eq!(syntax_error(b"123"), None);
    }

    #[test]
    fn decodes_and_names_type_errors() {
        assert_eq!(
            type_error(&serde_json::json!([]), "map[string]interface {}"),
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert!(decode(b"{\"a\":\"\xff\"}").is_ok());
    }
}
