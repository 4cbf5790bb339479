//! The pod-template-hash: FNV-32a over a canonical JSON rendering of the pod template (plus the
//! collision count, as upstream's ComputeHash adds it), encoded with upstream's SafeEncodeString
//! alphabet so names look like kube-controller-manager's (`web-5d8f7c9b4`).

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;

/// The label (and selector key) that ties a ReplicaSet and its pods to one template.
pub(crate) const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// `rand.SafeEncodeString`'s alphabet: no vowels, no confusable characters.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub(crate) fn fnv32a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// `rand.SafeEncodeString`: each character mapped into the safe alphabet.
pub(crate) fn safe_encode(s: &str) -> String {
    s.chars()
        .map(|c| ALPHANUMS[c as usize % ALPHANUMS.len()] as char)
        .collect()
}

/// The hash naming the ReplicaSet for `template` (stable for equal templates, whatever
/// pod-template-hash label the template carries).
pub(crate) fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut bytes = canonical_json(&normalized(template)).into_bytes();
    if let Some(n) = collision_count {
        // Upstream writes the count as 4 little-endian bytes into an 8-byte buffer.
        bytes.extend_from_slice(&(n as u32).to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

/// `EqualIgnoreHash`: the templates are semantically equal apart from pod-template-hash (nil
/// and empty collections count as equal, as in apimachinery's semantic DeepEqual).
pub(crate) fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    normalized(a) == normalized(b)
}

/// The template as JSON without nulls, empty lists, empty label/annotation maps, or the hash label.
fn normalized(template: &PodTemplateSpec) -> Value {
    let mut v = serde_json::to_value(template).unwrap_or(Value::Null);
    if let Some(labels) = v
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(POD_TEMPLATE_HASH);
    }
    for map in ["labels", "annotations"] {
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            if meta
                .get(map)
                .and_then(Value::as_object)
                .is_some_and(serde_json::Map::is_empty)
            {
                meta.remove(map);
            }
        }
    }
    prune(&mut v);
    v
}

fn prune(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !(x.is_null() || x.as_array().is_some_and(Vec::is_empty)));
            m.values_mut().for_each(prune);
        }
        Value::Array(a) => a.iter_mut().for_each(prune),
        _ => {}
    }
}

/// JSON with object keys sorted, whatever the map implementation.
fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::core::v1::{Container, PodSpec},
        apimachinery::pkg::apis::meta::v1::ObjectMeta,
    };

    use super::*;

    pub(crate) fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(
                    [
                        ("app".to_string(), "web".to_string()),
                        ("tier".to_string(), "fe".to_string()),
                    ]
                    .into(),
                ),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn fnv_matches_reference_vectors() {
        assert_eq!(fnv32a(b""), 0x811c9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c292c);
        assert_eq!(fnv32a(b"foobar"), 0xbf9cf968);
    }

    #[test]
    fn safe_encoding_uses_upstreams_alphabet() {
        // Digits map to 4-9 and b, c, d, f, as in kube-controller-manager's names.
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
        let h = compute_hash(&template("nginx:1.25"), None);
        assert!(!h.is_empty() && h.len() <= 10);
        assert!(h.chars().all(|c| "456789bcdf".contains(c)), "{h}");
    }

    #[test]
    fn hash_is_stable_and_ignores_the_hash_label() {
        let a = template("nginx:1.25");
        let mut b = template("nginx:1.25");
        b.metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert(POD_TEMPLATE_HASH.into(), "xyz".into());
        assert_eq!(compute_hash(&a, None), compute_hash(&a, None));
        assert_eq!(compute_hash(&a, None), compute_hash(&b, None));
        assert!(equal_ignore_hash(&a, &b));
        // Empty collections are as good as none.
        let mut c = template("nginx:1.25");
        c.spec.as_mut().unwrap().volumes = Some(vec![]);
        c.metadata.as_mut().unwrap().annotations = Some(Default::default());
        assert!(equal_ignore_hash(&a, &c));
        assert_eq!(compute_hash(&a, None), compute_hash(&c, None));
    }

    #[test]
    fn hash_changes_with_template_and_collision_count() {
        let a = template("nginx:1.25");
        let b = template("nginx:1.26");
        assert_ne!(compute_hash(&a, None), compute_hash(&b, None));
        assert!(!equal_ignore_hash(&a, &b));
        assert_ne!(compute_hash(&a, None), compute_hash(&a, Some(0)));
        assert_ne!(compute_hash(&a, Some(0)), compute_hash(&a, Some(1)));
    }
}
