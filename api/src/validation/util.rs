//! Small helpers over JSON objects shared by the per-kind validators: typed access,
//! upstream's semantic equality, label selectors and Go `%#v` renderings of typed values.
use serde_json::{Map, Value};

use super::field_error::{go_quote, go_string_map, go_string_slice, FieldError, Path};
use super::names;

pub(crate) fn get<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    v.and_then(|v| v.get(key)).filter(|v| !v.is_null())
}

pub(crate) fn str_of<'a>(v: Option<&'a Value>, key: &str) -> &'a str {
    get(v, key).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn opt_str<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a str> {
    get(v, key).and_then(Value::as_str)
}

pub(crate) fn arr_of<'a>(v: Option<&'a Value>, key: &str) -> &'a [Value] {
    get(v, key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub(crate) fn obj_of<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a Map<String, Value>> {
    get(v, key).and_then(Value::as_object)
}

pub(crate) fn int_of(v: Option<&Value>, key: &str) -> Option<i64> {
    get(v, key).and_then(as_int)
}

pub(crate) fn as_int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
}

pub(crate) fn bool_of(v: Option<&Value>, key: &str) -> bool {
    get(v, key).and_then(Value::as_bool).unwrap_or(false)
}

/// The entries of a JSON object in key order.
pub(crate) fn sorted_entries(m: Option<&Map<String, Value>>) -> Vec<(&String, &Value)> {
    let mut v: Vec<(&String, &Value)> = m.map(|m| m.iter().collect()).unwrap_or_default();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

fn is_zero(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => !b,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.values().all(|v| is_zero(Some(v))),
    }
}

/// Upstream's `equality.Semantic.DeepEqual` over JSON: absent, null, empty and zero values are
/// equal (as nil and empty slices/maps and omitted zero fields are once decoded).
pub(crate) fn semantic_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    if is_zero(a) && is_zero(b) {
        return true;
    }
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            x.iter().all(|(k, v)| semantic_eq(Some(v), y.get(k)))
                && y.iter().all(|(k, v)| x.contains_key(k) || is_zero(Some(v)))
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| semantic_eq(Some(p), Some(q)))
        }
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Upstream's `ValidateLabels` (`metav1/validation`): keys and values of a label map.
pub(crate) fn validate_labels(labels: Option<&Value>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in sorted_entries(labels.and_then(Value::as_object)) {
        errs.extend(validate_label_name(k, path));
        let value = v.as_str().unwrap_or("");
        for msg in names::is_valid_label_value(value) {
            errs.push(FieldError::invalid(path, value, &msg));
        }
    }
    errs
}

/// Upstream's `ValidateLabelName`.
pub(crate) fn validate_label_name(name: &str, path: &Path) -> Vec<FieldError> {
    names::is_qualified_name(name)
        .iter()
        .map(|m| FieldError::invalid(path, name, m))
        .collect()
}

/// Upstream's `ValidateLabelSelector` (strict label values).
pub(crate) fn validate_label_selector(sel: Option<&Value>, path: &Path) -> Vec<FieldError> {
    validate_label_selector_opts(sel, path, false)
}

/// Upstream's `ValidateLabelSelector` with `LabelSelectorValidationOptions`: with
/// `allow_invalid_label_values`, `matchExpressions` values are not checked.
pub(crate) fn validate_label_selector_opts(
    sel: Option<&Value>,
    path: &Path,
    allow_invalid_label_values: bool,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(sel) = sel.filter(|v| !v.is_null()) else {
        return errs;
    };
    errs.extend(validate_labels(
        get(Some(sel), "matchLabels"),
        &path.child("matchLabels"),
    ));
    for (i, expr) in arr_of(Some(sel), "matchExpressions").iter().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let op = str_of(Some(expr), "operator");
        let values = arr_of(Some(expr), "values");
        match op {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        &p.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        &p.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            _ => errs.push(FieldError::invalid(
                &p.child("operator"),
                op,
                "not a valid selector operator",
            )),
        }
        errs.extend(validate_label_name(
            str_of(Some(expr), "key"),
            &p.child("key"),
        ));
        if allow_invalid_label_values {
            continue;
        }
        for (j, v) in values.iter().enumerate() {
            let v = v.as_str().unwrap_or("");
            for msg in names::is_valid_label_value(v) {
                errs.push(FieldError::invalid(&p.child("values").index(j), v, &msg));
            }
        }
    }
    errs
}

/// Whether a LabelSelector has neither matchLabels nor matchExpressions.
pub(crate) fn selector_is_empty(sel: Option<&Value>) -> bool {
    obj_of(sel, "matchLabels").is_none_or(Map::is_empty)
        && arr_of(sel, "matchExpressions").is_empty()
}

/// The result of upstream's `LabelSelectorAsSelector`.
pub(crate) enum Selector<'a> {
    /// A nil selector: matches nothing.
    Nothing,
    /// An empty selector: matches everything.
    Everything,
    Match(&'a Value),
}

impl Selector<'_> {
    /// Upstream's `labels.Selector.Empty()`.
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Selector::Everything)
    }

    pub(crate) fn matches(&self, labels: Option<&Value>) -> bool {
        let labels = labels.and_then(Value::as_object);
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        match self {
            Selector::Nothing => false,
            Selector::Everything => true,
            Selector::Match(sel) => {
                let sel = Some(*sel);
                let labels_ok = sorted_entries(obj_of(sel, "matchLabels"))
                    .iter()
                    .all(|(k, v)| get(k) == v.as_str());
                labels_ok
                    && arr_of(sel, "matchExpressions").iter().all(|e| {
                        let key = str_of(Some(e), "key");
                        let values: Vec<&str> = arr_of(Some(e), "values")
                            .iter()
                            .filter_map(Value::as_str)
                            .collect();
                        match str_of(Some(e), "operator") {
                            "In" => get(key).is_some_and(|v| values.contains(&v)),
                            "NotIn" => get(key).is_none_or(|v| !values.contains(&v)),
                            "Exists" => get(key).is_some(),
                            "DoesNotExist" => get(key).is_none(),
                            _ => false,
                        }
                    })
            }
        }
    }
}

/// Upstream's `metav1.LabelSelectorAsSelector`: `Err` when the selector cannot be built.
pub(crate) fn label_selector_as_selector(sel: Option<&Value>) -> Result<Selector<'_>, ()> {
    let Some(sel) = sel.filter(|v| !v.is_null()) else {
        return Ok(Selector::Nothing);
    };
    if selector_is_empty(Some(sel)) {
        return Ok(Selector::Everything);
    }
    for (k, v) in sorted_entries(obj_of(Some(sel), "matchLabels")) {
        if !names::is_qualified_name(k).is_empty()
            || !names::is_valid_label_value(v.as_str().unwrap_or("")).is_empty()
        {
            return Err(());
        }
    }
    for e in arr_of(Some(sel), "matchExpressions") {
        let values = arr_of(Some(e), "values");
        let ok_op = match str_of(Some(e), "operator") {
            "In" | "NotIn" => !values.is_empty(),
            "Exists" | "DoesNotExist" => values.is_empty(),
            _ => false,
        };
        if !ok_op || !names::is_qualified_name(str_of(Some(e), "key")).is_empty() {
            return Err(());
        }
        if values
            .iter()
            .any(|v| !names::is_valid_label_value(v.as_str().unwrap_or("")).is_empty())
        {
            return Err(());
        }
    }
    Ok(Selector::Match(sel))
}

/// Go's `%#v` of a `metav1.LabelSelector` value, as upstream prints selectors in errors.
pub(crate) fn render_label_selector(sel: Option<&Value>) -> String {
    let exprs = match get(sel, "matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(a) => {
            let items: Vec<String> = a
                .iter()
                .map(|e| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(str_of(Some(e), "key")),
                        go_quote(str_of(Some(e), "operator")),
                        go_string_slice(get(Some(e), "values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        go_string_map(get(sel, "matchLabels")),
        exprs
    )
}

/// Go's `%#v` of an `intstr.IntOrString` value.
pub(crate) fn render_int_or_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            go_quote(s)
        ),
        Some(v) => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            as_int(v).unwrap_or(0)
        ),
        None => "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}".to_string(),
    }
}

/// Go's `time.Time.String()` of an RFC 3339 UTC timestamp, as upstream prints `metav1.Time`:
/// `2024-01-02 03:04:05 +0000 UTC`. Other forms are returned unchanged.
pub(crate) fn go_time(rfc3339: Option<&str>) -> String {
    let Some(s) = rfc3339.filter(|s| !s.is_empty()) else {
        return "0001-01-01 00:00:00 +0000 UTC".to_string();
    };
    let Some(s2) = s.strip_suffix('Z') else {
        return s.to_string();
    };
    let Some((date, time)) = s2.split_once('T') else {
        return s.to_string();
    };
    let (hms, frac) = match time.split_once('.') {
        Some((h, f)) => (h, f.trim_end_matches('0')),
        None => (time, ""),
    };
    if frac.is_empty() {
        format!("{date} {hms} +0000 UTC")
    } else {
        format!("{date} {hms}.{frac} +0000 UTC")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selector_rendering() {
        let sel = json!({"matchLabels": {"app": "nginx"}});
        assert_eq!(
            render_label_selector(Some(&sel)),
            "v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"nginx\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
        let sel = json!({"matchExpressions": [{"key": "a", "operator": "In", "values": ["x"]}]});
        assert_eq!(
            render_label_selector(Some(&sel)),
            "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"a\", Operator:\"In\", Values:[]string{\"x\"}}}}"
        );
    }

    #[test]
    fn selectors_match() {
        let sel = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]});
        let s = label_selector_as_selector(Some(&sel)).ok().unwrap();
        assert!(s.matches(Some(&json!({"app": "web"}))));
        assert!(!s.matches(Some(&json!({"app": "web", "tier": "db"}))));
        assert!(!label_selector_as_selector(None)
            .ok()
            .unwrap()
            .matches(Some(&json!({}))));
        assert!(label_selector_as_selector(Some(&json!({})))
            .ok()
            .unwrap()
            .is_empty());
    }

    #[test]
    fn semantic_equality() {
        assert!(semantic_eq(
            Some(&json!({"a": [], "b": null, "c": false})),
            Some(&json!({}))
        ));
        assert!(semantic_eq(
            Some(&json!({"a": 1})),
            Some(&json!({"a": 1.0}))
        ));
        assert!(!semantic_eq(Some(&json!({"a": 1})), Some(&json!({"a": 2}))));
        assert_eq!(
            go_time(Some("2024-01-02T03:04:05Z")),
            "2024-01-02 03:04:05 +0000 UTC"
        );
        assert_eq!(
            go_time(Some("2024-01-02T03:04:05.120000Z")),
            "2024-01-02 03:04:05.12 +0000 UTC"
        );
    }
}
