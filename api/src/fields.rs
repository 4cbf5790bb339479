//! Field-selector labels per kind, as kube-apiserver's `GetAttrs` (the registries'
//! `ToSelectableFields`) and field label conversion functions define them.
//!
//! Labels are keyed by the names clients use on that resource: events.k8s.io events expose
//! `regarding.*` and `reportingController` (upstream converts them to the core names before
//! matching; keying by the client's spelling gives the same matches). The pods' legacy
//! `spec.host` alias of `spec.nodeName` is listed too, so a matcher can look up whatever
//! name the selector used; [`canonical`] names the upstream field behind an alias.
use serde_json::Value;

use crate::ResourceDef;

/// Fields every core/v1 Event supports (pkg/apis/core/v1/conversion.go).
const CORE_EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

/// events.k8s.io/v1's spellings of the same fields (pkg/apis/events/v1/conversion.go).
const EVENTS_API_FIELDS: &[&str] = &[
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "regarding.resourceVersion",
    "regarding.fieldPath",
    "reason",
    "reportingController",
    "source",
    "type",
];

/// The kind-specific selectable fields (beyond metadata.name/namespace).
fn specific(def: &ResourceDef) -> &'static [&'static str] {
    match (def.group, def.plural) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "namespaces") => &["status.phase"],
        ("", "secrets") => &["type"],
        ("", "services") => &["spec.clusterIP", "spec.type"],
        ("", "events") => CORE_EVENT_FIELDS,
        ("events.k8s.io", "events") => EVENTS_API_FIELDS,
        ("apps", "replicasets") => &["status.replicas"],
        _ => &[],
    }
}

/// The label a selector's `field` refers to on this kind (a key of [`labels`]), or None
/// when upstream rejects it with "field label not supported: <field>".
/// metadata.namespace is accepted for namespaced kinds only (upstream's node and namespace
/// conversions list metadata.name alone).
pub fn canonical(def: &ResourceDef, field: &str) -> Option<&'static str> {
    match field {
        "metadata.name" => Some("metadata.name"),
        "metadata.namespace" if def.namespaced => Some("metadata.namespace"),
        // Old v1 clients sent spec.host for the node a pod runs on.
        "spec.host" if (def.group, def.plural) == ("", "pods") => Some("spec.nodeName"),
        _ => specific(def).iter().copied().find(|f| *f == field),
    }
}

/// Whether `field` may be used in a field selector for this kind.
pub fn is_supported(def: &ResourceDef, field: &str) -> bool {
    canonical(def, field).is_some()
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .filter(|v| !v.is_null())
}

fn string(v: &Value, path: &[&str]) -> String {
    get(v, path)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Go's `strconv.FormatBool` / `fmt.Sprint` of a bool, false when absent.
fn boolean(v: &Value, path: &[&str]) -> String {
    get(v, path)
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .to_string()
}

/// The first present spelling (events are stored in either API's shape).
fn either(v: &Value, a: &[&str], b: &[&str]) -> String {
    get(v, a)
        .or_else(|| get(v, b))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Event fields; `events_api` picks the events.k8s.io names for keys and reading order.
fn event_labels(ev: &Value, events_api: bool) -> Vec<(&'static str, String)> {
    let (keys, involved) = if events_api {
        (
            EVENTS_API_FIELDS,
            get(ev, &["regarding"]).or_else(|| get(ev, &["involvedObject"])),
        )
    } else {
        (
            CORE_EVENT_FIELDS,
            get(ev, &["involvedObject"]).or_else(|| get(ev, &["regarding"])),
        )
    };
    let involved = involved.unwrap_or(&Value::Null);
    let reporting = if events_api {
        either(ev, &["reportingController"], &["reportingComponent"])
    } else {
        either(ev, &["reportingComponent"], &["reportingController"])
    };
    // "source" is the source component, else the reporting controller.
    let component = if events_api {
        either(
            ev,
            &["deprecatedSource", "component"],
            &["source", "component"],
        )
    } else {
        either(
            ev,
            &["source", "component"],
            &["deprecatedSource", "component"],
        )
    };
    let source = if component.is_empty() {
        reporting.clone()
    } else {
        component
    };
    let values = [
        string(involved, &["kind"]),
        string(involved, &["namespace"]),
        string(involved, &["name"]),
        string(involved, &["uid"]),
        string(involved, &["apiVersion"]),
        string(involved, &["resourceVersion"]),
        string(involved, &["fieldPath"]),
        string(ev, &["reason"]),
        reporting,
        source,
        string(ev, &["type"]),
    ];
    keys.iter().copied().zip(values).collect()
}

/// The selectable fields of `obj` and their values (always metadata.name, and
/// metadata.namespace for namespaced kinds), valued as upstream's field sets: absent
/// strings are "", booleans "true"/"false", counts decimal.
pub fn labels(def: &ResourceDef, obj: &Value) -> Vec<(&'static str, String)> {
    let mut out = vec![("metadata.name", string(obj, &["metadata", "name"]))];
    if def.namespaced {
        out.push((
            "metadata.namespace",
            string(obj, &["metadata", "namespace"]),
        ));
    }
    match (def.group, def.plural) {
        ("", "pods") => {
            let status = get(obj, &["status"]).unwrap_or(&Value::Null);
            out.extend([
                ("spec.nodeName", string(obj, &["spec", "nodeName"])),
                // The legacy alias, so that a lookup by the selector's own spelling works.
                ("spec.host", string(obj, &["spec", "nodeName"])),
                (
                    "spec.restartPolicy",
                    string(obj, &["spec", "restartPolicy"]),
                ),
                (
                    "spec.schedulerName",
                    string(obj, &["spec", "schedulerName"]),
                ),
                (
                    "spec.serviceAccountName",
                    string(obj, &["spec", "serviceAccountName"]),
                ),
                ("spec.hostNetwork", boolean(obj, &["spec", "hostNetwork"])),
                ("status.phase", string(obj, &["status", "phase"])),
                (
                    "status.podIP",
                    crate::table::primary_pod_ip(status).to_string(),
                ),
                // Accepted by upstream's conversion but absent from its field set, so it
                // reads as "" there too.
                ("status.podIPs", String::new()),
                (
                    "status.nominatedNodeName",
                    string(obj, &["status", "nominatedNodeName"]),
                ),
            ]);
        }
        ("", "nodes") => out.push((
            "spec.unschedulable",
            boolean(obj, &["spec", "unschedulable"]),
        )),
        ("", "namespaces") => out.push(("status.phase", string(obj, &["status", "phase"]))),
        ("", "secrets") => out.push(("type", string(obj, &["type"]))),
        ("", "services") => out.extend([
            ("spec.clusterIP", string(obj, &["spec", "clusterIP"])),
            ("spec.type", string(obj, &["spec", "type"])),
        ]),
        ("", "events") => out.extend(event_labels(obj, false)),
        ("events.k8s.io", "events") => out.extend(event_labels(obj, true)),
        ("apps", "replicasets") => {
            let replicas = get(obj, &["status", "replicas"])
                .and_then(Value::as_i64)
                .unwrap_or(0);
            out.push(("status.replicas", replicas.to_string()));
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::registry::{find, resources};

    fn def(group: &str, plural: &str) -> &'static ResourceDef {
        find(group, "v1", plural).unwrap()
    }

    fn value<'a>(labels: &'a [(&'static str, String)], key: &str) -> &'a str {
        labels
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {key}"))
    }

    #[test]
    fn metadata_fields() {
        for d in resources() {
            assert!(is_supported(d, "metadata.name"));
            assert_eq!(
                is_supported(d, "metadata.namespace"),
                d.namespaced,
                "{}",
                d.plural
            );
            assert!(!is_supported(d, "metadata.labels"));
            assert!(!is_supported(d, "spec.bogus"));
            let obj = json!({"metadata": {"name": "a", "namespace": "ns"}});
            let l = labels(d, &obj);
            assert_eq!(value(&l, "metadata.name"), "a");
            assert_eq!(
                l.iter().any(|(k, _)| *k == "metadata.namespace"),
                d.namespaced
            );
            // Every label is selectable under its own name, and every selectable field has a label.
            for (k, _) in &l {
                assert!(is_supported(d, k), "{}: {k}", d.plural);
            }
            for f in specific(d) {
                assert!(l.iter().any(|(k, _)| k == f), "{}: {f}", d.plural);
            }
        }
        // Only what upstream's conversions accept.
        assert!(!is_supported(def("apps", "deployments"), "status.replicas"));
        assert!(!is_supported(def("", "configmaps"), "type"));
        assert!(!is_supported(def("", "nodes"), "status.phase"));
    }

    #[test]
    fn pod_fields() {
        let pods = def("", "pods");
        let pod = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                     "serviceAccountName": "default", "hostNetwork": true},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}]}
        });
        let l = labels(pods, &pod);
        assert_eq!(value(&l, "spec.nodeName"), "n1");
        assert_eq!(value(&l, "spec.restartPolicy"), "Always");
        assert_eq!(value(&l, "spec.schedulerName"), "default-scheduler");
        assert_eq!(value(&l, "spec.serviceAccountName"), "default");
        assert_eq!(value(&l, "spec.hostNetwork"), "true");
        assert_eq!(value(&l, "status.phase"), "Running");
        assert_eq!(value(&l, "status.podIP"), "10.0.0.5");
        assert_eq!(value(&l, "status.podIPs"), "");
        assert_eq!(value(&l, "status.nominatedNodeName"), "");

        let bare = labels(pods, &json!({"metadata": {"name": "p"}}));
        assert_eq!(value(&bare, "spec.hostNetwork"), "false");
        assert_eq!(value(&bare, "spec.nodeName"), "");
        assert_eq!(value(&bare, "metadata.namespace"), "");
        let legacy = labels(
            pods,
            &json!({"status": {"podIP": "10.1.1.1", "podIPs": [{"ip": "10.9.9.9"}]}}),
        );
        assert_eq!(value(&legacy, "status.podIP"), "10.1.1.1");

        assert_eq!(canonical(pods, "spec.host"), Some("spec.nodeName"));
        assert_eq!(value(&l, "spec.host"), "n1");
        assert!(is_supported(pods, "status.podIPs"));
        assert!(!is_supported(def("", "services"), "spec.host"));
    }

    #[test]
    fn other_kinds() {
        let n = labels(
            def("", "nodes"),
            &json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}}),
        );
        assert_eq!(value(&n, "spec.unschedulable"), "true");
        let n = labels(def("", "nodes"), &json!({"metadata": {"name": "n"}}));
        assert_eq!(value(&n, "spec.unschedulable"), "false");
        let ns = labels(
            def("", "namespaces"),
            &json!({"metadata": {"name": "x"}, "status": {"phase": "Active"}}),
        );
        assert_eq!(value(&ns, "status.phase"), "Active");
        let s = labels(
            def("", "secrets"),
            &json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls"}),
        );
        assert_eq!(value(&s, "type"), "kubernetes.io/tls");
        let svc = labels(
            def("", "services"),
            &json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "10.43.0.10"}}),
        );
        assert_eq!(
            (value(&svc, "spec.type"), value(&svc, "spec.clusterIP")),
            ("NodePort", "10.43.0.10")
        );
        let rs = labels(
            def("apps", "replicasets"),
            &json!({"status": {"replicas": 3}}),
        );
        assert_eq!(value(&rs, "status.replicas"), "3");
        let rs = labels(def("apps", "replicasets"), &json!({}));
        assert_eq!(value(&rs, "status.replicas"), "0");
        assert_eq!(labels(def("", "configmaps"), &json!({})).len(), 2);
    }

    #[test]
    fn event_fields_in_both_apis() {
        let core_ev = json!({
            "metadata": {"name": "web.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "u1",
                               "apiVersion": "v1", "resourceVersion": "42", "fieldPath": "spec.containers{web}"},
            "reason": "Pulled", "type": "Normal", "source": {"component": "kubelet", "host": "n1"},
            "reportingComponent": "kubelet"
        });
        let core = def("", "events");
        let l = labels(core, &core_ev);
        assert_eq!(value(&l, "involvedObject.kind"), "Pod");
        assert_eq!(value(&l, "involvedObject.uid"), "u1");
        assert_eq!(value(&l, "involvedObject.resourceVersion"), "42");
        assert_eq!(
            value(&l, "involvedObject.fieldPath"),
            "spec.containers{web}"
        );
        assert_eq!(value(&l, "source"), "kubelet");
        assert_eq!(value(&l, "reportingComponent"), "kubelet");
        assert!(!is_supported(core, "regarding.kind"));
        assert!(!is_supported(core, "reportingController"));

        let new = find("events.k8s.io", "v1", "events").unwrap();
        assert!(is_supported(new, "regarding.name"));
        assert!(is_supported(new, "source"));
        assert!(!is_supported(new, "involvedObject.name"));
        assert!(!is_supported(new, "reportingComponent"));
        let new_ev = json!({
            "metadata": {"name": "e", "namespace": "default"},
            "regarding": {"kind": "Deployment", "name": "web"},
            "reason": "ScalingReplicaSet", "type": "Normal", "reportingController": "deployment-controller"
        });
        let l = labels(new, &new_ev);
        assert_eq!(value(&l, "regarding.kind"), "Deployment");
        assert_eq!(value(&l, "regarding.name"), "web");
        assert_eq!(value(&l, "reportingController"), "deployment-controller");
        // No source component: the reporting controller stands in.
        assert_eq!(value(&l, "source"), "deployment-controller");
        // The shared storage may hold either shape.
        assert_eq!(value(&labels(new, &core_ev), "regarding.name"), "web");
        assert_eq!(
            value(&labels(core, &new_ev), "involvedObject.kind"),
            "Deployment"
        );
    }
}
