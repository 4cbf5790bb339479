//! Field errors worded exactly as upstream's `k8s.io/apimachinery/pkg/util/validation/field`
//! (`errors.go`, `path.go`) and the `Invalid` status of `k8s.io/apimachinery/pkg/api/errors`.
use std::fmt;

use serde_json::{json, Map, Value};

use crate::ResourceDef;

/// The key of the marker object [`go_literal`] builds.
const GO_LITERAL_KEY: &str = "$goLiteral";

/// What kind of problem a field has (upstream's `field.ErrorType`).
///
/// The values carried are the "bad values" upstream prints. They are rendered as upstream's
/// `ErrorBody` does: strings quoted as Go's `%q`, numbers and booleans bare, `null` for nil,
/// string maps as `map[string]string{"k":"v"}`, string lists as `[]string{"a"}`, and a
/// [`go_literal`] verbatim (for typed Go values upstream prints with `%#v`).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldErrorKind {
    /// `Required value`.
    Required,
    /// `Invalid value: <value>`.
    Invalid(Value),
    /// `Forbidden`.
    Forbidden,
    /// `Unsupported value: <value>: supported values: "a", "b"`.
    NotSupported(Value, Vec<String>),
    /// `Duplicate value: <value>`.
    Duplicate(Value),
    /// `Too long: may not be more than <max> bytes` (the value is never printed).
    TooLong(Value, usize),
    /// `Not found: <value>`.
    NotFound(Value),
    /// `Too many: <actual>: must have at most <max> items`.
    TooMany(usize, usize),
    /// `Internal error` (the detail carries the cause).
    Internal,
}

/// One field's problem, e.g. `spec.containers[0].image: Required value`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub kind: FieldErrorKind,
    /// The field path, e.g. "spec.containers[0].image".
    pub field: String,
    pub detail: String,
}

/// A field path as upstream's `field.Path` prints it: `spec.containers[0].image`,
/// `metadata.labels`, `data[key]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Path(String);

impl Path {
    /// A root path, e.g. `Path::new("spec")`. `Path::new("")` prints as upstream's
    /// `field.NewPath("")`: `[]`.
    pub fn new(root: &str) -> Path {
        if root.is_empty() {
            Path("[]".to_string())
        } else {
            Path(root.to_string())
        }
    }

    /// `parent.name`.
    pub fn child(&self, name: &str) -> Path {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            self.joined(&[".", name])
        }
    }

    /// `parent[i]`.
    pub fn index(&self, i: usize) -> Path {
        use fmt::Write;
        let mut s = String::with_capacity(self.0.len() + 8);
        s.push_str(&self.0);
        let _ = write!(s, "[{i}]");
        Path(s)
    }

    /// `parent[key]` (upstream does not quote keys).
    pub fn key(&self, key: &str) -> Path {
        self.joined(&["[", key, "]"])
    }

    /// This path with `parts` appended. Validation makes a path for every field it visits
    /// (most never appear in an error), so without `format!`.
    fn joined(&self, parts: &[&str]) -> Path {
        let len = self.0.len() + parts.iter().map(|p| p.len()).sum::<usize>();
        let mut s = String::with_capacity(len);
        s.push_str(&self.0);
        for p in parts {
            s.push_str(p);
        }
        Path(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A bad value that is printed verbatim: for typed Go values upstream renders with `%#v`,
/// e.g. `v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, ...}`.
pub fn go_literal(rendered: impl Into<String>) -> Value {
    let mut m = Map::new();
    m.insert(GO_LITERAL_KEY.to_string(), Value::String(rendered.into()));
    Value::Object(m)
}

impl FieldError {
    fn new(kind: FieldErrorKind, field: &Path, detail: &str) -> FieldError {
        FieldError {
            kind,
            field: field.0.clone(),
            detail: detail.to_string(),
        }
    }

    /// `field.Required(path, detail)`.
    pub fn required(field: &Path, detail: &str) -> FieldError {
        FieldError::new(FieldErrorKind::Required, field, detail)
    }

    /// `field.Invalid(path, value, detail)`.
    pub fn invalid(field: &Path, value: impl Into<Value>, detail: &str) -> FieldError {
        FieldError::new(FieldErrorKind::Invalid(value.into()), field, detail)
    }

    /// `field.Forbidden(path, detail)`.
    pub fn forbidden(field: &Path, detail: &str) -> FieldError {
        FieldError::new(FieldErrorKind::Forbidden, field, detail)
    }

    /// `field.NotSupported(path, value, supported)`.
    pub fn not_supported(field: &Path, value: impl Into<Value>, supported: &[&str]) -> FieldError {
        let supported = supported.iter().map(|s| s.to_string()).collect();
        FieldError::new(
            FieldErrorKind::NotSupported(value.into(), supported),
            field,
            "",
        )
    }

    /// `field.Duplicate(path, value)`.
    pub fn duplicate(field: &Path, value: impl Into<Value>) -> FieldError {
        FieldError::new(FieldErrorKind::Duplicate(value.into()), field, "")
    }

    /// `field.NotFound(path, value)`.
    pub fn not_found(field: &Path, value: impl Into<Value>) -> FieldError {
        FieldError::new(FieldErrorKind::NotFound(value.into()), field, "")
    }

    /// `field.TooLong(path, _, max)`.
    pub fn too_long(field: &Path, max: usize) -> FieldError {
        FieldError::new(
            FieldErrorKind::TooLong(Value::from("<value omitted>"), max),
            field,
            "",
        )
    }

    /// `field.TooMany(path, actual, max)`.
    pub fn too_many(field: &Path, actual: usize, max: usize) -> FieldError {
        FieldError::new(FieldErrorKind::TooMany(actual, max), field, "")
    }

    /// `field.InternalError(path, err)`.
    pub fn internal(field: &Path, detail: &str) -> FieldError {
        FieldError::new(FieldErrorKind::Internal, field, detail)
    }

    /// The StatusCause reason (upstream's `field.ErrorType` string).
    pub fn reason(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid(_) => "FieldValueInvalid",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::NotSupported(..) => "FieldValueNotSupported",
            FieldErrorKind::Duplicate(_) => "FieldValueDuplicate",
            FieldErrorKind::TooLong(..) => "FieldValueTooLong",
            FieldErrorKind::NotFound(_) => "FieldValueNotFound",
            FieldErrorKind::TooMany(..) => "FieldValueTooMany",
            FieldErrorKind::Internal => "InternalError",
        }
    }

    /// The message without the field (upstream's `ErrorBody()`), e.g.
    /// `Invalid value: "Foo_bar": a lowercase RFC 1123 subdomain must ...`.
    pub fn body(&self) -> String {
        let mut s = match &self.kind {
            FieldErrorKind::Required => "Required value".to_string(),
            FieldErrorKind::Forbidden => "Forbidden".to_string(),
            FieldErrorKind::Internal => "Internal error".to_string(),
            FieldErrorKind::TooLong(_, max) => {
                format!("Too long: may not be more than {max} bytes")
            }
            FieldErrorKind::Invalid(v) => format!("Invalid value: {}", render_value(v)),
            FieldErrorKind::Duplicate(v) => format!("Duplicate value: {}", render_value(v)),
            FieldErrorKind::NotFound(v) => format!("Not found: {}", render_value(v)),
            FieldErrorKind::NotSupported(v, supported) => {
                let mut s = format!("Unsupported value: {}", render_value(v));
                if !supported.is_empty() {
                    let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
                    s.push_str(": supported values: ");
                    s.push_str(&quoted.join(", "));
                }
                s
            }
            FieldErrorKind::TooMany(actual, max) => {
                format!("Too many: {actual}: must have at most {max} items")
            }
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The StatusCause upstream's `NewInvalid` builds for this error.
    pub fn cause(&self) -> Value {
        let mut m = Map::new();
        m.insert("reason".into(), Value::from(self.reason()));
        m.insert("message".into(), Value::from(self.body()));
        if !self.field.is_empty() {
            m.insert("field".into(), Value::from(self.field.clone()));
        }
        Value::Object(m)
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// The kind as upstream's `schema.GroupKind.String()` prints it: `Pod`, `Deployment.apps`.
pub fn qualified_kind(def: &ResourceDef) -> String {
    if def.group.is_empty() {
        def.kind.to_string()
    } else {
        format!("{}.{}", def.kind, def.group)
    }
}

/// Upstream's `errors.NewInvalid(...).Error()` message, e.g.
/// `Pod "x" is invalid: spec.containers[0].image: Required value` for one error and
/// `Deployment.apps "web" is invalid: [a, b]` for several. `kind` is the qualified kind
/// (see [`qualified_kind`]). Identical messages are reported once, as upstream.
pub fn aggregate_message(kind: &str, name: &str, errs: &[FieldError]) -> String {
    let mut msgs: Vec<String> = Vec::new();
    for e in errs {
        let m = e.to_string();
        if !msgs.contains(&m) {
            msgs.push(m);
        }
    }
    let head = format!("{kind} {} is invalid", go_quote(name));
    match msgs.len() {
        0 => head,
        1 => format!("{head}: {}", msgs[0]),
        _ => format!("{head}: [{}]", msgs.join(", ")),
    }
}

/// The whole `422 Invalid` Status object upstream returns for `errs`.
pub fn invalid_status(def: &ResourceDef, name: &str, errs: &[FieldError]) -> Value {
    let mut details = Map::new();
    if !name.is_empty() {
        details.insert("name".into(), Value::from(name));
    }
    if !def.group.is_empty() {
        details.insert("group".into(), Value::from(def.group));
    }
    details.insert("kind".into(), Value::from(def.kind));
    details.insert(
        "causes".into(),
        Value::Array(errs.iter().map(FieldError::cause).collect()),
    );
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": aggregate_message(&qualified_kind(def), name, errs),
        "reason": "Invalid",
        "details": Value::Object(details),
        "code": 422,
    })
}

/// Go's `%q` / `strconv.Quote` of a string.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if go_is_print(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint` for non-ASCII characters: not a control,
/// not a space other than U+0020, not a common format character.
fn go_is_print(c: char) -> bool {
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}'))
}

/// Renders a bad value as upstream's `ErrorBody` prints it.
pub fn render_value(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => go_quote(s),
        Value::Object(m) => {
            if m.len() == 1 {
                if let Some(Value::String(s)) = m.get(GO_LITERAL_KEY) {
                    return s.clone();
                }
            }
            if m.values().all(Value::is_string) {
                return go_string_map(Some(v));
            }
            v.to_string()
        }
        Value::Array(a) => {
            if a.iter().all(Value::is_string) {
                return go_string_slice(Some(v));
            }
            v.to_string()
        }
    }
}

/// Go's `%#v` of a `map[string]string` held in `v` (keys sorted, as fmt prints maps);
/// `map[string]string(nil)` when absent.
pub fn go_string_map(v: Option<&Value>) -> String {
    match v.and_then(Value::as_object) {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", go_quote(k), go_quote(m[*k].as_str().unwrap_or(""))))
                .collect();
            format!("map[string]string{{{}}}", items.join(", "))
        }
    }
}

/// Go's `%#v` of a `[]string` held in `v`; `[]string(nil)` when absent.
pub fn go_string_slice(v: Option<&Value>) -> String {
    match v.and_then(Value::as_array) {
        None => "[]string(nil)".to_string(),
        Some(a) => {
            let items: Vec<String> = a
                .iter()
                .map(|s| go_quote(s.as_str().unwrap_or("")))
                .collect();
            format!("[]string{{{}}}", items.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_upstream() {
        let p = Path::new("spec")
            .child("containers")
            .index(0)
            .child("image");
        assert_eq!(
            FieldError::required(&p, "").to_string(),
            "spec.containers[0].image: Required value"
        );
        let e = FieldError::invalid(&Path::new("metadata").child("name"), "Foo_bar", "bad");
        assert_eq!(
            e.to_string(),
            "metadata.name: Invalid value: \"Foo_bar\": bad"
        );
        assert_eq!(e.reason(), "FieldValueInvalid");
        let e = FieldError::invalid(&Path::new("x"), 0, "must be between 1 and 65535, inclusive");
        assert_eq!(
            e.body(),
            "Invalid value: 0: must be between 1 and 65535, inclusive"
        );
        let e = FieldError::not_supported(&Path::new("p"), "x", &["a", "b"]);
        assert_eq!(
            e.body(),
            "Unsupported value: \"x\": supported values: \"a\", \"b\""
        );
        assert_eq!(e.reason(), "FieldValueNotSupported");
        assert_eq!(
            FieldError::duplicate(&Path::new("p"), "x").body(),
            "Duplicate value: \"x\""
        );
        assert_eq!(
            FieldError::not_found(&Path::new("p"), "x").body(),
            "Not found: \"x\""
        );
        assert_eq!(
            FieldError::not_found(&Path::new("p"), "x").reason(),
            "FieldValueNotFound"
        );
        let e = FieldError::too_long(&Path::new("metadata").child("annotations"), 262144);
        assert_eq!(e.body(), "Too long: may not be more than 262144 bytes");
        assert_eq!(e.reason(), "FieldValueTooLong");
        assert_eq!(
            FieldError::forbidden(&Path::new("spec"), "nope").body(),
            "Forbidden: nope"
        );
        assert_eq!(
            FieldError::forbidden(&Path::new("spec"), "").reason(),
            "FieldValueForbidden"
        );
        assert_eq!(
            FieldError::required(&Path::new("spec"), "").reason(),
            "FieldValueRequired"
        );
        assert_eq!(
            FieldError::duplicate(&Path::new("p"), "x").reason(),
            "FieldValueDuplicate"
        );
        assert_eq!(
            FieldError::too_many(&Path::new("p"), 101, 100).body(),
            "Too many: 101: must have at most 100 items"
        );
        assert_eq!(Path::new("").to_string(), "[]");
        assert_eq!(Path::new("data").key("a b").to_string(), "data[a b]");
    }

    #[test]
    fn values_render_like_go() {
        assert_eq!(render_value(&json!(null)), "null");
        assert_eq!(render_value(&json!(true)), "true");
        assert_eq!(render_value(&json!(-3)), "-3");
        assert_eq!(render_value(&json!("a\"b\n")), "\"a\\\"b\\n\"");
        assert_eq!(
            render_value(&json!({"b": "2", "a": "1"})),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
        assert_eq!(render_value(&json!(["x", "y"])), "[]string{\"x\", \"y\"}");
        assert_eq!(render_value(&go_literal("core.Thing{}")), "core.Thing{}");
        assert_eq!(go_quote("é\u{1}"), "\"é\\x01\"");
    }

    #[test]
    fn aggregate_messages() {
        let one = vec![FieldError::required(
            &Path::new("spec")
                .child("containers")
                .index(0)
                .child("image"),
            "",
        )];
        assert_eq!(
            aggregate_message("Pod", "x", &one),
            "Pod \"x\" is invalid: spec.containers[0].image: Required value"
        );
        let two = vec![
            FieldError::required(&Path::new("spec").child("selector"), ""),
            FieldError::required(&Path::new("spec").child("selector"), ""),
            FieldError::required(&Path::new("spec").child("template"), ""),
        ];
        assert_eq!(
            aggregate_message("Deployment.apps", "web", &two),
            "Deployment.apps \"web\" is invalid: [spec.selector: Required value, spec.template: Required value]"
        );
        assert_eq!(aggregate_message("Pod", "x", &[]), "Pod \"x\" is invalid");
    }
}
