use rkube_api::patch::patch_meta;
use serde_json::json;

use super::*;

fn def(name: &str) -> &'static Value {
    get(name).unwrap_or_else(|| panic!("{name} missing"))
}

fn prop<'a>(d: &'a Value, field: &str) -> &'a Value {
    &d["properties"][field]
}

/// Writes every definition k8s-openapi has for the kinds `add_kind` knows (before the
/// markers are applied), to $RKUBE_DUMP_SCHEMAS: what the markers table is checked against.
#[test]
#[ignore]
fn dump() {
    let path = std::env::var("RKUBE_DUMP_SCHEMAS").unwrap_or("/tmp/schemas.json".into());
    let mut g = generator();
    add_meta(&mut g);
    add_kind(&mut g, "*", "", "");
    let raw = g.take_definitions(false);
    std::fs::write(path, serde_json::to_vec_pretty(&raw).unwrap()).unwrap();
}

#[test]
fn every_served_kind_has_a_full_schema_and_list() {
    for r in rkube_api::registry::resources() {
        let name = crate::openapi::paths::definition_name(r.group, r.version, r.kind);
        let d = def(&name);
        assert!(d["properties"]["metadata"]["$ref"].is_string(), "{name}");
        if !r.has_verb("list") {
            // Reviews: upstream has no list kinds for them either.
            assert!(get(&format!("{name}List")).is_none(), "{name}List");
            continue;
        }
        let list = def(&format!("{name}List"));
        assert_eq!(
            list["properties"]["items"]["items"]["$ref"],
            format!("#/definitions/{name}")
        );
        assert_eq!(list["required"], json!(["items"]));
        for s in r.subresources {
            let sub = crate::openapi::paths::definition_name(s.group, s.version, s.kind);
            assert!(get(&sub).is_some(), "{sub}");
        }
    }
}

#[test]
fn references_all_resolve() {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all_refs = Vec::new();
    all().values().for_each(|v| refs(v, &mut all_refs));
    for r in all_refs {
        let name = r.strip_prefix(DEFINITIONS).unwrap_or_else(|| panic!("{r}"));
        assert!(get(name).is_some(), "{r}");
    }
}

#[test]
fn upstream_shapes_of_special_types() {
    assert_eq!(
        def("io.k8s.apimachinery.pkg.util.intstr.IntOrString")["format"],
        "int-or-string"
    );
    assert_eq!(
        def("io.k8s.apimachinery.pkg.util.intstr.IntOrString")["type"],
        "string"
    );
    let q = def("io.k8s.apimachinery.pkg.api.resource.Quantity");
    assert_eq!(q["type"], "string");
    assert!(q.get("x-kubernetes-int-or-string").is_none());
    let t = def("io.k8s.apimachinery.pkg.apis.meta.v1.Time");
    assert_eq!(
        (&t["type"], &t["format"]),
        (&json!("string"), &json!("date-time"))
    );
    let w = def("io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent");
    assert_eq!(
        w["description"],
        "Event represents a single event to a watched resource."
    );
    assert!(prop(w, "object")["description"]
        .as_str()
        .unwrap()
        .starts_with("Object is:\n * If Type is Added or Modified"));
    assert_eq!(
        def("io.k8s.apimachinery.pkg.runtime.RawExtension")["type"],
        "object"
    );
}

#[test]
fn required_as_upstream() {
    // k8s-openapi requires `metadata` on every kind; upstream does on none of these.
    for name in [
        "io.k8s.api.core.v1.Pod",
        "io.k8s.api.core.v1.ConfigMap",
        "io.k8s.api.apps.v1.Deployment",
        "io.k8s.api.coordination.v1.Lease",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    ] {
        assert!(def(name).get("required").is_none(), "{name}");
    }
    // Go field order, as kube-openapi lists them.
    assert_eq!(
        def("io.k8s.api.core.v1.Event")["required"],
        json!(["metadata", "involvedObject"])
    );
    assert_eq!(
        def("io.k8s.api.events.v1.Event")["required"],
        json!(["eventTime"])
    );
    assert_eq!(
        def("io.k8s.api.core.v1.Container")["required"],
        json!(["name"])
    );
    assert_eq!(
        def("io.k8s.api.core.v1.Binding")["required"],
        json!(["target"])
    );
    assert!(def("io.k8s.api.core.v1.LocalObjectReference")
        .get("required")
        .is_none());
}

#[test]
fn list_map_and_patch_extensions() {
    let container = def("io.k8s.api.core.v1.Container");
    assert_eq!(
        prop(container, "ports")["x-kubernetes-list-map-keys"],
        json!(["containerPort", "protocol"])
    );
    assert_eq!(prop(container, "ports")["x-kubernetes-list-type"], "map");
    assert_eq!(
        prop(container, "ports")["x-kubernetes-patch-merge-key"],
        "containerPort"
    );
    assert_eq!(
        prop(container, "env")["x-kubernetes-patch-strategy"],
        "merge"
    );
    assert_eq!(prop(container, "args")["x-kubernetes-list-type"], "atomic");
    let spec = def("io.k8s.api.core.v1.PodSpec");
    assert_eq!(
        prop(spec, "volumes")["x-kubernetes-patch-strategy"],
        "merge,retainKeys"
    );
    assert_eq!(
        prop(spec, "nodeSelector")["x-kubernetes-map-type"],
        "atomic"
    );
    let meta = def("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    assert_eq!(prop(meta, "finalizers")["x-kubernetes-list-type"], "set");
    assert_eq!(
        prop(meta, "ownerReferences")["x-kubernetes-patch-merge-key"],
        "uid"
    );
    assert_eq!(
        def("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector")["x-kubernetes-map-type"],
        "atomic"
    );
    assert_eq!(
        prop(def("io.k8s.api.apps.v1.DeploymentSpec"), "strategy")["x-kubernetes-patch-strategy"],
        "retainKeys"
    );
    assert_eq!(
        def("io.k8s.api.core.v1.SeccompProfile")["x-kubernetes-unions"],
        json!([{"discriminator": "type", "fields-to-discriminateBy": {"localhostProfile": "LocalhostProfile"}}])
    );
    assert_eq!(
        prop(def("io.k8s.api.core.v1.ContainerPort"), "protocol")["default"],
        "TCP"
    );
}

#[test]
fn enums_as_a_live_server_lists_them() {
    let p = prop(def("io.k8s.api.core.v1.Container"), "imagePullPolicy");
    assert_eq!(p["enum"], json!(["Always", "IfNotPresent", "Never"]));
    let d = p["description"].as_str().unwrap();
    assert!(
        d.starts_with("Image pull policy. One of Always, Never, IfNotPresent."),
        "{d}"
    );
    assert!(
        d.ends_with("#updating-images\n\nPossible enum values:\n - `\"Always\"` means that kubelet always attempts to pull the latest image. Container will fail If the pull fails.\n - `\"IfNotPresent\"` means that kubelet pulls if the image isn't present on disk. Container will fail if the image isn't present and the pull fails.\n - `\"Never\"` means that kubelet never pulls an image, but only uses a local image. Container will fail if the image isn't present"),
        "{d}"
    );
    let strategy = prop(def("io.k8s.api.apps.v1.DeploymentStrategy"), "type");
    assert_eq!(strategy["enum"], json!(["Recreate", "RollingUpdate"]));
}

/// The strategic-merge-patch table the PATCH handler uses (rkube-api's patch_meta) and the
/// published extensions (what kubectl computes its patches from) agree.
#[test]
fn patch_extensions_agree_with_patch_meta() {
    let types = [
        (
            "ObjectMeta",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        ),
        ("PodSpec", "io.k8s.api.core.v1.PodSpec"),
        ("Container", "io.k8s.api.core.v1.Container"),
        (
            "EphemeralContainer",
            "io.k8s.api.core.v1.EphemeralContainer",
        ),
        ("PodStatus", "io.k8s.api.core.v1.PodStatus"),
        ("ContainerStatus", "io.k8s.api.core.v1.ContainerStatus"),
        ("ServiceSpec", "io.k8s.api.core.v1.ServiceSpec"),
        ("ServiceStatus", "io.k8s.api.core.v1.ServiceStatus"),
        ("ServiceAccount", "io.k8s.api.core.v1.ServiceAccount"),
        ("NamespaceStatus", "io.k8s.api.core.v1.NamespaceStatus"),
        ("NodeSpec", "io.k8s.api.core.v1.NodeSpec"),
        ("NodeStatus", "io.k8s.api.core.v1.NodeStatus"),
        ("DeploymentSpec", "io.k8s.api.apps.v1.DeploymentSpec"),
        ("DeploymentStatus", "io.k8s.api.apps.v1.DeploymentStatus"),
        ("ReplicaSetStatus", "io.k8s.api.apps.v1.ReplicaSetStatus"),
    ];
    for (go, name) in types {
        let meta = patch_meta::type_meta(go).unwrap_or_else(|| panic!("{go}"));
        let d = def(name);
        // Every tagged field in the table is published with the same tags...
        for f in meta.fields.iter().filter(|f| !f.strategies.is_empty()) {
            let p = prop(d, f.name);
            assert_eq!(
                p["x-kubernetes-patch-strategy"],
                f.strategies.join(","),
                "{name}.{}",
                f.name
            );
            let key = p
                .get("x-kubernetes-patch-merge-key")
                .and_then(Value::as_str);
            assert_eq!(key.unwrap_or_default(), f.merge_key, "{name}.{}", f.name);
        }
        // ...and every published tag is in the table.
        for (field, p) in d["properties"].as_object().unwrap() {
            if let Some(s) = p.get("x-kubernetes-patch-strategy") {
                let f = meta.fields.iter().find(|f| f.name == field);
                assert_eq!(
                    f.map(|f| f.strategies.join(",")),
                    s.as_str().map(str::to_string),
                    "{name}.{field} is not in patch_meta"
                );
            }
        }
    }
}
