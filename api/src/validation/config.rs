//! ConfigMap and Secret validation, as upstream's `ValidateConfigMap[Update]` and
//! `ValidateSecret[Update]`.
use serde_json::Value;

use super::base64;
use super::field_error::{FieldError, Path};
use super::meta::{self, FIELD_IMMUTABLE};
use super::names;
use super::util::{get, obj_of, semantic_eq, sorted_entries, str_of};

type Errs = Vec<FieldError>;

/// Upstream's `core.MaxSecretSize` (also the ConfigMap limit).
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

const IMMUTABLE_SET: &str = "field is immutable when `immutable` is set";

fn is_immutable(obj: &Value) -> bool {
    get(Some(obj), "immutable").and_then(Value::as_bool) == Some(true)
}

fn immutable_checks(obj: &Value, old: &Value, fields: &[&str]) -> Errs {
    let mut errs = Vec::new();
    if is_immutable(old) {
        if !is_immutable(obj) {
            errs.push(FieldError::forbidden(
                &Path::new("immutable"),
                IMMUTABLE_SET,
            ));
        }
        for f in fields {
            if !semantic_eq(get(Some(obj), f), get(Some(old), f)) {
                errs.push(FieldError::forbidden(&Path::new(f), IMMUTABLE_SET));
            }
        }
    }
    errs
}

pub(crate) fn validate_config_map(obj: &Value, old: Option<&Value>) -> Errs {
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(obj, old, true));
        errs.extend(immutable_checks(obj, old, &["data", "binaryData"]));
    }
    errs.extend(meta::validate_object_meta(
        obj,
        true,
        names::name_is_dns_subdomain,
        true,
    ));
    let data = obj_of(Some(obj), "data");
    let binary = obj_of(Some(obj), "binaryData");
    let mut total = 0;
    for (key, value) in sorted_entries(data) {
        let p = Path::new("data").key(key);
        for m in names::is_config_map_key(key) {
            errs.push(FieldError::invalid(&p, key.as_str(), &m));
        }
        if binary.is_some_and(|b| b.contains_key(key)) {
            errs.push(FieldError::invalid(
                &p,
                key.as_str(),
                "duplicate of key present in binaryData",
            ));
        }
        total += value.as_str().map_or(0, str::len);
    }
    for (key, value) in sorted_entries(binary) {
        let p = Path::new("binaryData").key(key);
        for m in names::is_config_map_key(key) {
            errs.push(FieldError::invalid(&p, key.as_str(), &m));
        }
        match base64::decode(value.as_str().unwrap_or("")) {
            Ok(bytes) => total += bytes.len(),
            Err(e) => errs.push(FieldError::invalid(&p, "<value omitted>", &e)),
        }
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long(&Path::new(""), MAX_SECRET_SIZE));
    }
    errs
}

pub(crate) fn validate_secret(obj: &Value, old: Option<&Value>) -> Errs {
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(obj, old, true));
        let (nt, ot) = (str_of(Some(obj), "type"), str_of(Some(old), "type"));
        if nt != ot {
            errs.push(FieldError::invalid(&Path::new("type"), nt, FIELD_IMMUTABLE));
        }
        errs.extend(immutable_checks(obj, old, &["data"]));
    }
    errs.extend(meta::validate_object_meta(
        obj,
        true,
        names::name_is_dns_subdomain,
        true,
    ));
    let data_path = Path::new("data");
    let data = obj_of(Some(obj), "data");
    let mut decoded: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut total = 0;
    for (key, value) in sorted_entries(data) {
        let p = data_path.key(key);
        for m in names::is_config_map_key(key) {
            errs.push(FieldError::invalid(&p, key.as_str(), &m));
        }
        match base64::decode(value.as_str().unwrap_or("")) {
            Ok(bytes) => {
                total += bytes.len();
                decoded.push((key.as_str(), bytes));
            }
            Err(e) => errs.push(FieldError::invalid(&p, "<secret contents redacted>", &e)),
        }
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long(&data_path, MAX_SECRET_SIZE));
    }
    let value_of = |k: &str| {
        decoded
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.as_slice())
    };
    let has = |k: &str| data.is_some_and(|d| d.contains_key(k));
    match str_of(Some(obj), "type") {
        "kubernetes.io/service-account-token" => {
            let sa = str_of(
                get(get(Some(obj), "metadata"), "annotations"),
                "kubernetes.io/service-account.name",
            );
            if sa.is_empty() {
                errs.push(FieldError::required(
                    &Path::new("metadata")
                        .child("annotations")
                        .key("kubernetes.io/service-account.name"),
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson" => {
            let key = if str_of(Some(obj), "type") == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            if !has(key) {
                errs.push(FieldError::required(&data_path.key(key), ""));
            } else if let Some(bytes) = value_of(key) {
                if let Err(e) = serde_json::from_slice::<serde_json::Map<String, Value>>(bytes) {
                    errs.push(FieldError::invalid(
                        &data_path.key(key),
                        "<secret contents redacted>",
                        &e.to_string(),
                    ));
                }
            }
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.push(FieldError::required(&data_path.key("username"), ""));
            errs.push(FieldError::required(&data_path.key("password"), ""));
        }
        "kubernetes.io/ssh-auth" if value_of("ssh-privatekey").is_none_or(<[u8]>::is_empty) => {
            errs.push(FieldError::required(&data_path.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !has(key) {
                    errs.push(FieldError::required(&data_path.key(key), ""));
                }
            }
        }
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn config_map_keys_and_size() {
        let cm = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"Foo_bar": "x", "bad key": "y"}});
        assert_eq!(
            msgs(&validate_config_map(&cm, None)),
            vec!["data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]
        );
        let big = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "x".repeat(MAX_SECRET_SIZE + 1)}});
        assert_eq!(
            msgs(&validate_config_map(&big, None)),
            vec!["[]: Too long: may not be more than 1048576 bytes"]
        );
    }

    #[test]
    fn immutable_config_map() {
        let old = json!({"metadata": {"name": "c", "namespace": "d"}, "immutable": true, "data": {"a": "1"}});
        let new = json!({"metadata": {"name": "c", "namespace": "d"}, "immutable": true, "data": {"a": "2"}});
        assert_eq!(
            msgs(&validate_config_map(&new, Some(&old))),
            vec!["data: Forbidden: field is immutable when `immutable` is set"]
        );
        assert!(validate_config_map(&old, Some(&old)).is_empty());
    }

    #[test]
    fn secrets() {
        let old = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque", "data": {"a": "YQ=="}});
        let mut new = old.clone();
        new["type"] = json!("kubernetes.io/tls");
        assert_eq!(
            msgs(&validate_secret(&new, Some(&old))),
            vec![
                "type: Invalid value: \"kubernetes.io/tls\": field is immutable",
                "data[tls.crt]: Required value",
                "data[tls.key]: Required value",
            ]
        );
        assert!(validate_secret(&old, None).is_empty());
    }
}
