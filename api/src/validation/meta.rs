//! ObjectMeta validation on create and update, as upstream's `pkg/api/validation/objectmeta.go`
//! plus core's finalizer-name check (`pkg/apis/core/validation`).
use serde_json::Value;

use super::field_error::{go_literal, go_quote, FieldError, Path};
use super::names::{self, NameFn};
use super::util::{arr_of, bool_of, get, int_of, sorted_entries, str_of, validate_labels};

/// Upstream's `TotalAnnotationSizeLimitB`.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

pub(crate) const FIELD_IMMUTABLE: &str = "field is immutable";

fn meta(obj: &Value) -> Option<&Value> {
    get(Some(obj), "metadata")
}

/// Upstream's `ValidateAnnotations`.
pub(crate) fn validate_annotations(annotations: Option<&Value>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let entries = sorted_entries(annotations.and_then(Value::as_object));
    for (k, _) in &entries {
        for msg in names::is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), &msg));
        }
    }
    let total: usize = entries
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

fn validate_owner_references(refs: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut first_controller = String::new();
    for r in refs {
        let r = Some(r);
        let api_version = str_of(r, "apiVersion");
        let version_empty = match api_version.matches('/').count() {
            0 => api_version.is_empty(),
            1 => api_version.split('/').nth(1).is_none_or(str::is_empty),
            _ => true,
        };
        if version_empty {
            errs.push(FieldError::invalid(
                &path.child("apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        for field in ["kind", "name", "uid"] {
            let v = str_of(r, field);
            if v.is_empty() {
                errs.push(FieldError::invalid(
                    &path.child(field),
                    v,
                    "must not be empty",
                ));
            }
        }
        if bool_of(r, "controller") {
            let cur = format!("{}/{}", str_of(r, "kind"), str_of(r, "name"));
            if first_controller.is_empty() {
                first_controller = cur;
            } else {
                errs.push(FieldError::invalid(
                    path,
                    go_literal(render_owner_references(refs)),
                    &format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first_controller} and {cur}"
                    ),
                ));
            }
        }
    }
    errs
}

fn render_owner_references(refs: &[Value]) -> String {
    let items: Vec<String> = refs
        .iter()
        .map(|r| {
            let r = Some(r);
            let ptr = |k: &str| {
                if get(r, k).is_some() {
                    "(*bool)(0xc000000000)".to_string()
                } else {
                    "(*bool)(nil)".to_string()
                }
            };
            format!(
                "v1.OwnerReference{{APIVersion:{}, Kind:{}, Name:{}, UID:{}, Controller:{}, BlockOwnerDeletion:{}}}",
                go_quote(str_of(r, "apiVersion")),
                go_quote(str_of(r, "kind")),
                go_quote(str_of(r, "name")),
                go_quote(str_of(r, "uid")),
                ptr("controller"),
                ptr("blockOwnerDeletion")
            )
        })
        .collect();
    format!("[]v1.OwnerReference{{{}}}", items.join(", "))
}

/// Upstream's `ValidateFinalizers` plus, with `kube`, core's `validateKubeFinalizerName`.
fn validate_finalizers(finalizers: &[Value], path: &Path, kube: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let names: Vec<&str> = finalizers
        .iter()
        .map(|f| f.as_str().unwrap_or(""))
        .collect();
    for f in &names {
        for msg in names::is_qualified_name(f) {
            errs.push(FieldError::invalid(path, *f, &msg));
        }
    }
    if names.contains(&"orphan") && names.contains(&"foregroundDeletion") {
        errs.push(FieldError::invalid(
            path,
            names.iter().map(|s| Value::from(*s)).collect::<Vec<_>>(),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    if kube {
        errs.extend(validate_kube_finalizer_names(&names, path));
    }
    errs
}

fn validate_kube_finalizer_names(names: &[&str], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, f) in names.iter().enumerate() {
        if !f.contains('/') && !["kubernetes", "orphan", "foregroundDeletion"].contains(f) {
            errs.push(FieldError::invalid(
                &path.index(i),
                *f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

/// Upstream's `ValidateObjectMeta` for an object being created. `kube` adds core's
/// finalizer-name check (every core and apps kind).
pub(crate) fn validate_object_meta(
    obj: &Value,
    namespaced: bool,
    name_fn: NameFn,
    kube: bool,
) -> Vec<FieldError> {
    let path = Path::new("metadata");
    let m = meta(obj);
    let mut errs = Vec::new();
    let generate_name = str_of(m, "generateName");
    if !generate_name.is_empty() {
        for msg in name_fn(generate_name, true) {
            errs.push(FieldError::invalid(
                &path.child("generateName"),
                generate_name,
                &msg,
            ));
        }
    }
    let name = str_of(m, "name");
    if name.is_empty() {
        if generate_name.is_empty() {
            errs.push(FieldError::required(
                &path.child("name"),
                "name or generateName is required",
            ));
        }
    } else {
        for msg in name_fn(name, false) {
            errs.push(FieldError::invalid(&path.child("name"), name, &msg));
        }
    }
    let namespace = str_of(m, "namespace");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required(&path.child("namespace"), ""));
        } else {
            for msg in names::name_is_dns_label(namespace, false) {
                errs.push(FieldError::invalid(
                    &path.child("namespace"),
                    namespace,
                    &msg,
                ));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            &path.child("namespace"),
            "not allowed on this type",
        ));
    }
    if let Some(g) = int_of(m, "generation").filter(|g| *g < 0) {
        errs.push(FieldError::invalid(
            &path.child("generation"),
            g,
            "must be greater than or equal to 0",
        ));
    }
    errs.extend(common_meta(m, &path));
    errs.extend(validate_finalizers(
        arr_of(m, "finalizers"),
        &path.child("finalizers"),
        kube,
    ));
    errs
}

fn common_meta(m: Option<&Value>, path: &Path) -> Vec<FieldError> {
    let mut errs = validate_labels(get(m, "labels"), &path.child("labels"));
    errs.extend(validate_annotations(
        get(m, "annotations"),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        arr_of(m, "ownerReferences"),
        &path.child("ownerReferences"),
    ));
    errs
}

/// Upstream's `ValidateObjectMetaUpdate`. `uid` and `creationTimestamp` are compared only when
/// the new object carries them (upstream's `BeforeUpdate` fills an empty uid and restores the
/// creation timestamp before validating); `resourceVersion` is left to the server.
pub(crate) fn validate_object_meta_update(new: &Value, old: &Value, kube: bool) -> Vec<FieldError> {
    let path = Path::new("metadata");
    let (n, o) = (meta(new), meta(old));
    let mut errs = Vec::new();
    if get(o, "deletionTimestamp").is_some() {
        let old_f: Vec<&str> = arr_of(o, "finalizers")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let mut extra: Vec<&str> = arr_of(n, "finalizers")
            .iter()
            .filter_map(Value::as_str)
            .filter(|f| !old_f.contains(f))
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            let list: Vec<String> = extra.iter().map(|s| go_quote(s)).collect();
            errs.push(FieldError::forbidden(
                &path.child("finalizers"),
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    list.join(", ")
                ),
            ));
        }
    }
    for field in ["name", "namespace"] {
        let (nv, ov) = (str_of(n, field), str_of(o, field));
        if nv != ov {
            errs.push(FieldError::invalid(&path.child(field), nv, FIELD_IMMUTABLE));
        }
    }
    let (nu, ou) = (str_of(n, "uid"), str_of(o, "uid"));
    if !nu.is_empty() && nu != ou {
        errs.push(FieldError::invalid(&path.child("uid"), nu, FIELD_IMMUTABLE));
    }
    let (nc, oc) = (
        opt_time(n, "creationTimestamp"),
        opt_time(o, "creationTimestamp"),
    );
    if nc.is_some() && nc != oc {
        errs.push(FieldError::invalid(
            &path.child("creationTimestamp"),
            go_literal(super::util::go_time(nc)),
            FIELD_IMMUTABLE,
        ));
    }
    errs.extend(common_meta(n, &path));
    if kube {
        let names: Vec<&str> = arr_of(n, "finalizers")
            .iter()
            .map(|f| f.as_str().unwrap_or(""))
            .collect();
        errs.extend(validate_kube_finalizer_names(
            &names,
            &path.child("finalizers"),
        ));
    }
    errs
}

fn opt_time<'a>(m: Option<&'a Value>, key: &str) -> Option<&'a str> {
    get(m, key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The checks upstream applies to every object after the kind's own validation
/// (`ValidateObjectMetaAccessor` with `path.ValidatePathSegmentName`).
pub(crate) fn validate_generic_meta(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    validate_object_meta(obj, namespaced, names::validate_path_segment_name, false)
}

/// The object's `metadata.labels` and `metadata.annotations` maps (for templates).
pub(crate) fn template_labels_and_annotations(
    template: Option<&Value>,
    path: &Path,
) -> Vec<FieldError> {
    let m = get(template, "metadata");
    let mut errs = validate_labels(get(m, "labels"), &path.child("labels"));
    errs.extend(validate_annotations(
        get(m, "annotations"),
        &path.child("annotations"),
    ));
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
    fn name_required_and_invalid() {
        let errs = validate_object_meta(
            &json!({"metadata": {"namespace": "default"}}),
            true,
            names::name_is_dns_subdomain,
            true,
        );
        assert_eq!(
            msgs(&errs),
            vec!["metadata.name: Required value: name or generateName is required"]
        );
        let errs = validate_object_meta(
            &json!({"metadata": {"generateName": "web-", "namespace": "default"}}),
            true,
            names::name_is_dns_subdomain,
            true,
        );
        assert!(errs.is_empty());
        let errs = validate_object_meta(
            &json!({"metadata": {"name": "Foo_bar", "namespace": "default"}}),
            true,
            names::name_is_dns_subdomain,
            true,
        );
        assert_eq!(msgs(&errs), vec!["metadata.name: Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]);
        let errs = validate_object_meta(
            &json!({"metadata": {"name": "a"}}),
            true,
            names::name_is_dns_subdomain,
            true,
        );
        assert_eq!(msgs(&errs), vec!["metadata.namespace: Required value"]);
        let errs = validate_object_meta(
            &json!({"metadata": {"name": "a", "namespace": "x"}}),
            false,
            names::name_is_dns_label,
            true,
        );
        assert_eq!(
            msgs(&errs),
            vec!["metadata.namespace: Forbidden: not allowed on this type"]
        );
    }

    #[test]
    fn labels_annotations_finalizers() {
        let obj = json!({"metadata": {"name": "a", "labels": {"bad key!": "v", "k": "bad value!"}, "annotations": {"x": "a".repeat(262144)}, "finalizers": ["custom"]}});
        let errs = validate_object_meta(&obj, false, names::name_is_dns_subdomain, true);
        let m = msgs(&errs);
        assert!(m[0].starts_with("metadata.labels: Invalid value: \"bad key!\": name part must consist of alphanumeric characters"));
        assert!(m[1].starts_with(
            "metadata.labels: Invalid value: \"bad value!\": a valid label must be an empty string"
        ));
        assert_eq!(
            m[2],
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
        assert_eq!(m[3], "metadata.finalizers[0]: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified");
    }

    #[test]
    fn immutable_metadata() {
        let old = json!({"metadata": {"name": "a", "namespace": "ns", "uid": "u1", "creationTimestamp": "2024-01-02T03:04:05Z"}});
        let new = json!({"metadata": {"name": "b", "namespace": "ns", "uid": "u2", "creationTimestamp": "2024-01-02T03:04:06Z"}});
        let errs = validate_object_meta_update(&new, &old, true);
        assert_eq!(
            msgs(&errs),
            vec![
                "metadata.name: Invalid value: \"b\": field is immutable",
                "metadata.uid: Invalid value: \"u2\": field is immutable",
                "metadata.creationTimestamp: Invalid value: 2024-01-02 03:04:06 +0000 UTC: field is immutable",
            ]
        );
        let same = json!({"metadata": {"name": "a", "namespace": "ns"}});
        assert!(validate_object_meta_update(&same, &old, true).is_empty());
    }
}
