//! Helpers over objects as JSON: metadata access, stored form, timestamps, uids, names.

use rkube_api::ResourceDef;
use rkube_store::KeyValue;
use serde_json::{Map, Value};

use crate::status::{ApiError, ApiResult};

pub fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata")?.as_object()
}

pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = Value::Object(Map::new());
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj)?.get(field)?.as_str()
}

pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or_default()
}

/// The object as stored: without resourceVersion (the store's mod_revision is the truth).
pub fn to_stored(obj: &Value) -> Vec<u8> {
    let served_only =
        meta(obj).is_some_and(|m| m.contains_key("resourceVersion") || m.contains_key("selfLink"));
    if !served_only {
        // Nothing to leave out (a create's object): no copy.
        return serde_json::to_vec(obj).expect("a JSON value serializes");
    }
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("selfLink");
    }
    serde_json::to_vec(&o).expect("a JSON value serializes")
}

/// The object read from the store, with resourceVersion set from its revision.
pub fn from_stored(kv: &KeyValue) -> ApiResult<Value> {
    let mut obj: Value = serde_json::from_slice(&kv.value).map_err(|e| {
        ApiError::internal(format!(
            "decoding {}: {e}",
            String::from_utf8_lossy(&kv.key)
        ))
    })?;
    set_resource_version(&mut obj, kv.mod_revision);
    Ok(obj)
}

pub fn set_resource_version(obj: &mut Value, rev: i64) {
    meta_mut(obj).insert("resourceVersion".into(), Value::String(rev.to_string()));
}

/// Ensures `kind` and `apiVersion` are the resource's (objects are served with both).
pub fn set_type_meta(def: &ResourceDef, obj: &mut Value) {
    if let Some(o) = obj.as_object_mut() {
        o.insert("kind".into(), Value::String(def.kind.into()));
        o.insert("apiVersion".into(), Value::String(def.api_version()));
    }
}

/// Now, as Kubernetes' metav1.Time serializes: RFC 3339, second precision, UTC.
pub fn now() -> String {
    // Every write asks (creationTimestamp, managedFields' time), many within one second: each
    // thread formats a second once.
    thread_local! {
        static LAST: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((0, String::new())) };
    }
    let t = time::OffsetDateTime::now_utc();
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != t.unix_timestamp() || last.1.is_empty() {
            *last = (t.unix_timestamp(), rfc3339(t));
        }
        last.1.clone()
    })
}

/// `now()` plus `secs`: when a graceful deletion's grace period ends.
pub fn now_plus(secs: i64) -> String {
    rfc3339(time::OffsetDateTime::now_utc() + time::Duration::seconds(secs))
}

/// A time as metav1.Time serializes: RFC 3339, second precision, UTC.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `generateName` + 5 characters from upstream's alphabet (no vowels, no look-alikes).
pub fn generate_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let suffix: String = bytes[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    // Upstream trims the prefix so the result stays within 63 characters.
    let max_prefix = 63 - 5;
    let prefix = if prefix.len() > max_prefix {
        &prefix[..max_prefix]
    } else {
        prefix
    };
    format!("{prefix}{suffix}")
}

/// Everything but metadata and status: what a generation bump compares.
pub fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Map<String, Value> {
        v.as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| {
                        !matches!(k.as_str(), "metadata" | "status" | "kind" | "apiVersion")
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    strip(old) != strip(new)
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    meta(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_and_times() {
        let n = generate_name("web-");
        assert_eq!(n.len(), 9);
        assert!(n.starts_with("web-"));
        assert_eq!(now().len(), 20);
    }

    #[test]
    fn stored_form_has_no_resource_version() {
        let obj =
            serde_json::json!({"metadata": {"name": "a", "resourceVersion": "5"}, "spec": {}});
        let stored: Value = serde_json::from_slice(&to_stored(&obj)).unwrap();
        assert!(stored["metadata"].get("resourceVersion").is_none());
        let kv = KeyValue {
            key: b"k".to_vec(),
            value: to_stored(&obj),
            mod_revision: 9,
            ..KeyValue::default()
        };
        assert_eq!(
            from_stored(&kv).unwrap()["metadata"]["resourceVersion"],
            "9"
        );
    }
}
