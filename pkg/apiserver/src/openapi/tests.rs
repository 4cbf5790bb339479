use std::collections::{BTreeMap, BTreeSet};

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::Response,
};
use prost::Message;
use serde_json::{json, Value};

use super::{paths, serve, v2, v2_proto as pb, Documents, PROTO_V2};

fn docs() -> Documents {
    Documents::build("v1.33.0+rkube")
}

fn v2_json(d: &Documents) -> Value {
    serde_json::from_slice(&d.v2_json.body).unwrap()
}

/// Every served kind, as kubectl looks it up: (group, version, kind).
fn served_gvks() -> Vec<(&'static str, &'static str, &'static str)> {
    rkube_api::registry::resources()
        .iter()
        .filter(|r| r.has_verb("patch"))
        .map(|r| (r.group, r.version, r.kind))
        .collect()
}

fn gvk_json(g: &str, v: &str, k: &str) -> Value {
    json!({"group": g, "kind": k, "version": v})
}

/// cli-runtime's `supportsQueryParam` (v2), over the protobuf: the first PATCH operation
/// of the kind must take the query parameter.
fn supports_query_param(
    doc: &pb::Document,
    gvk: (&str, &str, &str),
    param: &str,
) -> Result<(), String> {
    use pb::{
        non_body_parameter::Oneof as NonBody, parameter::Oneof as P, parameters_item::Oneof as Item,
    };
    for path in &doc.paths.as_ref().unwrap().path {
        let Some(op) = path.value.as_ref().and_then(|p| p.patch.as_ref()) else {
            continue;
        };
        let ext = op
            .vendor_extension
            .iter()
            .find(|e| e.name == "x-kubernetes-group-version-kind");
        let Some(ext) = ext else { continue };
        let value: BTreeMap<String, String> =
            serde_yaml::from_str(&ext.value.as_ref().unwrap().yaml).map_err(|e| e.to_string())?;
        if (
            value["group"].as_str(),
            value["version"].as_str(),
            value["kind"].as_str(),
        ) != gvk
        {
            continue;
        }
        let found = op.parameters.iter().any(|p| match &p.oneof {
            Some(Item::Parameter(pb::Parameter {
                oneof:
                    Some(P::NonBodyParameter(pb::NonBodyParameter {
                        oneof: Some(NonBody::QueryParameterSubSchema(q)),
                    })),
            })) => q.name == param && q.r#in == "query",
            _ => false,
        });
        return if found {
            Ok(())
        } else {
            Err(format!("{gvk:?}: {} lacks {param}", path.name))
        };
    }
    Err(format!("Path not found for GVK ({gvk:?}) in OpenAPI"))
}

/// cli-runtime's `supportsQueryParamV3`, over the JSON document.
fn supports_query_param_v3(
    doc: &Value,
    gvk: (&str, &str, &str),
    param: &str,
) -> Result<(), String> {
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("patch") else {
            continue;
        };
        if op["x-kubernetes-group-version-kind"] != gvk_json(gvk.0, gvk.1, gvk.2) {
            continue;
        }
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        return if params
            .iter()
            .any(|p| p["name"] == param && p["in"] == "query")
        {
            Ok(())
        } else {
            Err(format!("{path} lacks {param}"))
        };
    }
    Err(format!("Path not found for GVK ({gvk:?}) in OpenAPI V3"))
}

#[test]
fn v2_patch_of_every_kind_takes_field_validation() {
    let d = docs();
    let doc = v2_json(&d);
    assert_eq!(doc["swagger"], "2.0");
    assert_eq!(doc["info"]["version"], "v1.33.0+rkube");
    let mut gvks = served_gvks();
    // Subresource kinds with their own PATCH (scale).
    gvks.push(("autoscaling", "v1", "Scale"));
    for gvk in gvks {
        let (path, op) = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .find_map(|(path, item)| {
                let op = item.get("patch")?;
                (op["x-kubernetes-group-version-kind"] == gvk_json(gvk.0, gvk.1, gvk.2))
                    .then_some((path, op))
            })
            .unwrap_or_else(|| panic!("no PATCH for {gvk:?}"));
        let fv = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "fieldValidation")
            .unwrap_or_else(|| panic!("{path}"));
        assert_eq!(
            fv,
            &json!({"description": fv["description"], "in": "query", "name": "fieldValidation", "type": "string", "uniqueItems": true})
        );
        assert_eq!(op["x-kubernetes-action"], "patch");
        assert_eq!(
            op["consumes"],
            json!([
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/apply-patch+yaml"
            ])
        );
        let names: BTreeSet<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for n in ["body", "dryRun", "fieldManager", "fieldValidation", "force"] {
            assert!(names.contains(n), "{path} patch lacks {n}");
        }
    }
}

#[test]
fn v2_protobuf_round_trips_and_satisfies_kubectl() {
    let d = docs();
    let json = v2_json(&d);
    let decoded = pb::Document::decode(&d.v2_proto.body[..]).unwrap();
    assert_eq!(decoded, v2::to_proto(&json));
    assert_eq!(decoded.encode_to_vec(), d.v2_proto.body.to_vec());
    assert_eq!(decoded.swagger, "2.0");
    assert_eq!(
        decoded.paths.as_ref().unwrap().path.len(),
        json["paths"].as_object().unwrap().len()
    );
    for gvk in served_gvks() {
        supports_query_param(&decoded, gvk, "fieldValidation").unwrap();
    }
    assert!(
        supports_query_param(&decoded, ("apps", "v1", "StatefulSet"), "fieldValidation")
            .unwrap_err()
            .starts_with("Path not found")
    );

    // The extension is YAML text, as gnostic writes it.
    let item = decoded
        .paths
        .as_ref()
        .unwrap()
        .path
        .iter()
        .find(|p| p.name == "/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        .unwrap();
    let patch = item.value.as_ref().unwrap().patch.as_ref().unwrap();
    assert_eq!(patch.operation_id, "patchAppsV1NamespacedDeployment");
    let yaml: BTreeMap<_, _> = patch
        .vendor_extension
        .iter()
        .map(|e| (e.name.as_str(), e.value.as_ref().unwrap().yaml.as_str()))
        .collect();
    assert_eq!(
        yaml["x-kubernetes-group-version-kind"],
        "group: apps\nkind: Deployment\nversion: v1\n"
    );
    assert_eq!(yaml["x-kubernetes-action"], "patch\n");
    let core: BTreeMap<String, String> = serde_yaml::from_str(
        &decoded
            .paths
            .as_ref()
            .unwrap()
            .path
            .iter()
            .find(|p| p.name == "/api/v1/namespaces/{namespace}/configmaps/{name}")
            .and_then(|p| p.value.as_ref()?.patch.as_ref())
            .unwrap()
            .vendor_extension[1]
            .value
            .as_ref()
            .unwrap()
            .yaml,
    )
    .unwrap();
    assert_eq!(core["group"], "");
    assert_eq!(core["kind"], "ConfigMap");

    // Path parameters live on the path item, the body on the operation.
    let params = &item.value.as_ref().unwrap().parameters;
    let names: Vec<String> = params
        .iter()
        .map(|p| match &p.oneof {
            Some(pb::parameters_item::Oneof::Parameter(pb::Parameter {
                oneof: Some(pb::parameter::Oneof::NonBodyParameter(nb)),
            })) => match &nb.oneof {
                Some(pb::non_body_parameter::Oneof::PathParameterSubSchema(p)) => {
                    assert!(p.required && p.unique_items && p.r#type == "string");
                    p.name.clone()
                }
                Some(pb::non_body_parameter::Oneof::QueryParameterSubSchema(q)) => q.name.clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["name", "namespace", "pretty"]);
    assert!(matches!(
        &patch.parameters[0].oneof,
        Some(pb::parameters_item::Oneof::Parameter(pb::Parameter {
            oneof: Some(pb::parameter::Oneof::BodyParameter(b)),
        })) if b.required && b.schema.as_ref().unwrap().r#ref == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
    ));
    let ok = patch
        .responses
        .as_ref()
        .unwrap()
        .response_code
        .iter()
        .find(|r| r.name == "200")
        .unwrap();
    match &ok.value.as_ref().unwrap().oneof {
        Some(pb::response_value::Oneof::Response(r)) => {
            assert_eq!(r.description, "OK");
            match &r.schema.as_ref().unwrap().oneof {
                Some(pb::schema_item::Oneof::Schema(s)) => {
                    assert_eq!(s.r#ref, "#/definitions/io.k8s.api.apps.v1.Deployment")
                }
                None => panic!(),
            }
        }
        other => panic!("{other:?}"),
    }

    // Definitions carry their kinds the way kubectl's openapi models read them.
    let defs = &decoded.definitions.as_ref().unwrap().additional_properties;
    let deployment = defs
        .iter()
        .find(|d| d.name == "io.k8s.api.apps.v1.Deployment")
        .unwrap()
        .value
        .as_ref()
        .unwrap();
    assert_eq!(deployment.r#type.as_ref().unwrap().value, ["object"]);
    assert!(!deployment.description.is_empty());
    let gvks: Vec<BTreeMap<String, String>> =
        serde_yaml::from_str(&deployment.vendor_extension[0].value.as_ref().unwrap().yaml).unwrap();
    assert_eq!(
        gvks,
        [BTreeMap::from([
            ("group".to_string(), "apps".to_string()),
            ("kind".to_string(), "Deployment".to_string()),
            ("version".to_string(), "v1".to_string()),
        ])]
    );
}

/// Every `$ref` under `v`, with `prefix` stripped.
fn refs(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    let r = x.as_str().unwrap();
                    out.insert(
                        r.strip_prefix(prefix)
                            .unwrap_or_else(|| panic!("{r}"))
                            .to_string(),
                    );
                } else {
                    refs(x, prefix, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, prefix, out)),
        _ => {}
    }
}

#[test]
fn references_resolve() {
    let d = docs();
    let doc = v2_json(&d);
    let mut r = BTreeSet::new();
    refs(&doc, "#/definitions/", &mut r);
    let defined: BTreeSet<String> = doc["definitions"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        r, defined,
        "every definition referenced and every reference defined"
    );
    for name in [
        "io.k8s.api.core.v1.ConfigMap",
        "io.k8s.api.core.v1.ConfigMapList",
        "io.k8s.api.events.v1.Event",
        "io.k8s.api.coordination.v1.Lease",
        "io.k8s.api.discovery.v1.EndpointSlice",
        "io.k8s.api.autoscaling.v1.Scale",
        "io.k8s.api.policy.v1.Eviction",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
        "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
    ] {
        assert!(defined.contains(name), "{name}");
    }
    // Full schemas, as upstream's: ConfigMap has no required field (k8s-openapi's schema
    // requires `metadata`), and carries its kind.
    let cm = &doc["definitions"]["io.k8s.api.core.v1.ConfigMap"];
    assert_eq!(
        cm["description"],
        "ConfigMap holds configuration data for pods to consume."
    );
    assert_eq!(cm["type"], "object");
    assert_eq!(
        cm["x-kubernetes-group-version-kind"],
        json!([gvk_json("", "v1", "ConfigMap")])
    );
    assert_eq!(
        cm["properties"]["data"]["additionalProperties"],
        json!({"type": "string"})
    );
    assert_eq!(
        cm["properties"]["metadata"]["$ref"],
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert!(cm.get("required").is_none());
    for name in [
        "io.k8s.api.core.v1.PodSpec",
        "io.k8s.api.core.v1.Container",
        "io.k8s.api.core.v1.Probe",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
    ] {
        assert!(defined.contains(name), "{name}");
    }
    for (name, served) in &d.v3 {
        let doc: Value = serde_json::from_slice(&served.body).unwrap();
        let mut r = BTreeSet::new();
        refs(&doc, "#/components/schemas/", &mut r);
        let defined: BTreeSet<String> = doc["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(r, defined, "{name}");
    }
}

#[test]
fn paths_and_operations_match_upstream() {
    let doc = v2_json(&docs());
    let paths = doc["paths"].as_object().unwrap();
    let op = |path: &str, method: &str| -> &Value {
        paths
            .get(path)
            .and_then(|p| p.get(method))
            .unwrap_or_else(|| panic!("{method} {path}"))
    };
    let check = |path: &str, method: &str, id: &str, action: &str, gvk: Value| {
        let o = op(path, method);
        assert_eq!(o["operationId"], id, "{method} {path}");
        assert_eq!(o["x-kubernetes-action"], action, "{id}");
        assert_eq!(o["x-kubernetes-group-version-kind"], gvk, "{id}");
    };
    let cm = gvk_json("", "v1", "ConfigMap");
    let ns_cm = "/api/v1/namespaces/{namespace}/configmaps";
    check(
        ns_cm,
        "get",
        "listCoreV1NamespacedConfigMap",
        "list",
        cm.clone(),
    );
    check(
        ns_cm,
        "post",
        "createCoreV1NamespacedConfigMap",
        "post",
        cm.clone(),
    );
    check(
        ns_cm,
        "delete",
        "deleteCoreV1CollectionNamespacedConfigMap",
        "deletecollection",
        cm.clone(),
    );
    let item = format!("{ns_cm}/{{name}}");
    check(
        &item,
        "get",
        "readCoreV1NamespacedConfigMap",
        "get",
        cm.clone(),
    );
    check(
        &item,
        "put",
        "replaceCoreV1NamespacedConfigMap",
        "put",
        cm.clone(),
    );
    check(
        &item,
        "patch",
        "patchCoreV1NamespacedConfigMap",
        "patch",
        cm.clone(),
    );
    check(
        &item,
        "delete",
        "deleteCoreV1NamespacedConfigMap",
        "delete",
        cm.clone(),
    );
    check(
        "/api/v1/configmaps",
        "get",
        "listCoreV1ConfigMapForAllNamespaces",
        "list",
        cm.clone(),
    );
    check(
        "/api/v1/watch/namespaces/{namespace}/configmaps",
        "get",
        "watchCoreV1NamespacedConfigMapList",
        "watchlist",
        cm.clone(),
    );
    check(
        "/api/v1/watch/namespaces/{namespace}/configmaps/{name}",
        "get",
        "watchCoreV1NamespacedConfigMap",
        "watch",
        cm.clone(),
    );
    check(
        "/api/v1/watch/configmaps",
        "get",
        "watchCoreV1ConfigMapListForAllNamespaces",
        "watchlist",
        cm,
    );
    assert_eq!(
        op(&item, "get")["description"],
        "read the specified ConfigMap"
    );
    assert_eq!(op(ns_cm, "post")["description"], "create a ConfigMap");
    assert_eq!(
        op("/api/v1/namespaces/{namespace}/endpoints", "post")["description"],
        "create Endpoints"
    );
    assert_eq!(
        op(
            "/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
            "post"
        )["description"],
        "create an EndpointSlice"
    );

    let node = gvk_json("", "v1", "Node");
    check(
        "/api/v1/nodes",
        "get",
        "listCoreV1Node",
        "list",
        node.clone(),
    );
    check(
        "/api/v1/nodes",
        "post",
        "createCoreV1Node",
        "post",
        node.clone(),
    );
    check(
        "/api/v1/nodes/{name}",
        "patch",
        "patchCoreV1Node",
        "patch",
        node.clone(),
    );
    check(
        "/api/v1/nodes/{name}/status",
        "patch",
        "patchCoreV1NodeStatus",
        "patch",
        node.clone(),
    );
    check(
        "/api/v1/watch/nodes",
        "get",
        "watchCoreV1NodeList",
        "watchlist",
        node.clone(),
    );
    check(
        "/api/v1/watch/nodes/{name}",
        "get",
        "watchCoreV1Node",
        "watch",
        node,
    );
    assert!(!paths.contains_key("/api/v1/namespaces/{namespace}/nodes"));

    let ns = gvk_json("", "v1", "Namespace");
    check(
        "/api/v1/namespaces/{name}",
        "get",
        "readCoreV1Namespace",
        "get",
        ns.clone(),
    );
    check(
        "/api/v1/namespaces/{name}/finalize",
        "put",
        "replaceCoreV1NamespaceFinalize",
        "put",
        ns.clone(),
    );
    check(
        "/api/v1/namespaces/{name}/status",
        "get",
        "readCoreV1NamespaceStatus",
        "get",
        ns,
    );
    assert!(
        paths["/api/v1/namespaces"].get("delete").is_none(),
        "no deletecollection"
    );

    let dep = "/apis/apps/v1/namespaces/{namespace}/deployments/{name}";
    check(
        dep,
        "patch",
        "patchAppsV1NamespacedDeployment",
        "patch",
        gvk_json("apps", "v1", "Deployment"),
    );
    check(
        &format!("{dep}/status"),
        "put",
        "replaceAppsV1NamespacedDeploymentStatus",
        "put",
        gvk_json("apps", "v1", "Deployment"),
    );
    let scale = gvk_json("autoscaling", "v1", "Scale");
    check(
        &format!("{dep}/scale"),
        "get",
        "readAppsV1NamespacedDeploymentScale",
        "get",
        scale.clone(),
    );
    check(
        &format!("{dep}/scale"),
        "patch",
        "patchAppsV1NamespacedDeploymentScale",
        "patch",
        scale,
    );
    assert_eq!(
        op(&format!("{dep}/scale"), "get")["responses"]["200"],
        json!({"description": "OK", "schema": {"$ref": "#/definitions/io.k8s.api.autoscaling.v1.Scale"}})
    );
    assert_eq!(
        paths[&format!("{dep}/scale")]["parameters"][0]["description"],
        "name of the Scale"
    );
    let pod = "/api/v1/namespaces/{namespace}/pods/{name}";
    check(
        &format!("{pod}/eviction"),
        "post",
        "createCoreV1NamespacedPodEviction",
        "post",
        gvk_json("policy", "v1", "Eviction"),
    );
    check(
        &format!("{pod}/binding"),
        "post",
        "createCoreV1NamespacedPodBinding",
        "post",
        gvk_json("", "v1", "Binding"),
    );
    assert_eq!(
        op(&format!("{pod}/eviction"), "post")["description"],
        "create eviction of a Pod"
    );
    check(
        "/apis/events.k8s.io/v1/namespaces/{namespace}/events/{name}",
        "patch",
        "patchEventsV1NamespacedEvent",
        "patch",
        gvk_json("events.k8s.io", "v1", "Event"),
    );
    check(
        "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
        "get",
        "listCoordinationV1NamespacedLease",
        "list",
        gvk_json("coordination.k8s.io", "v1", "Lease"),
    );
    assert_eq!(
        op(
            "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
            "get"
        )["tags"],
        json!(["coordination_v1"])
    );
    assert_eq!(
        op("/apis/apps/v1/", "get")["operationId"],
        "getAppsV1APIResources"
    );
    assert_eq!(
        op("/api/v1/", "get")["operationId"],
        "getCoreV1APIResources"
    );
    assert_eq!(op("/apis/apps/", "get")["operationId"], "getAppsAPIGroup");

    // Deleting a pod answers with the pod, a configmap with a Status.
    assert_eq!(
        op(pod, "delete")["responses"]["200"]["schema"]["$ref"],
        "#/definitions/io.k8s.api.core.v1.Pod"
    );
    assert_eq!(
        op(&item, "delete")["responses"]["200"]["schema"]["$ref"],
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Status"
    );

    // Parameters: shared ones on the path, the rest on each operation.
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|p| p["name"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        names(&paths[&item]["parameters"]),
        ["name", "namespace", "pretty"]
    );
    assert_eq!(names(&paths[ns_cm]["parameters"]), ["namespace", "pretty"]);
    assert_eq!(
        names(&op(ns_cm, "get")["parameters"]),
        [
            "allowWatchBookmarks",
            "continue",
            "fieldSelector",
            "labelSelector",
            "limit",
            "resourceVersion",
            "resourceVersionMatch",
            "sendInitialEvents",
            "timeoutSeconds",
            "watch"
        ]
    );
    assert_eq!(
        names(&op(ns_cm, "post")["parameters"]),
        ["body", "dryRun", "fieldManager", "fieldValidation"]
    );
    assert_eq!(
        names(&op(&item, "put")["parameters"]),
        ["body", "dryRun", "fieldManager", "fieldValidation"]
    );
    assert_eq!(
        names(&op(&item, "delete")["parameters"]),
        [
            "body",
            "dryRun",
            "gracePeriodSeconds",
            "orphanDependents",
            "propagationPolicy"
        ]
    );
    assert_eq!(
        op(&item, "patch")["parameters"][0],
        json!({"in": "body", "name": "body", "required": true, "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}})
    );
    assert_eq!(names(&paths["/api/v1/configmaps"]["parameters"]).len(), 11);
    assert!(op("/api/v1/configmaps", "get").get("parameters").is_none());
    assert_eq!(op(ns_cm, "get")["produces"].as_array().unwrap().len(), 5);
    assert_eq!(
        op(&item, "get")["responses"]["401"],
        json!({"description": "Unauthorized"})
    );

    // Operation ids are unique, and every served verb has its operation.
    let mut ids = BTreeSet::new();
    for item in paths.values() {
        for (m, o) in item.as_object().unwrap() {
            if m != "parameters" {
                assert!(
                    ids.insert(o["operationId"].as_str().unwrap().to_string()),
                    "{}",
                    o["operationId"]
                );
            }
        }
    }
    for r in rkube_api::registry::resources() {
        let base = match (r.group, r.namespaced) {
            ("", true) => format!("/api/{}/namespaces/{{namespace}}/{}", r.version, r.plural),
            ("", false) => format!("/api/{}/{}", r.version, r.plural),
            (g, true) => format!(
                "/apis/{g}/{}/namespaces/{{namespace}}/{}",
                r.version, r.plural
            ),
            (g, false) => format!("/apis/{g}/{}/{}", r.version, r.plural),
        };
        let has = |p: &str, m: &str| paths.get(p).and_then(|i| i.get(m)).is_some();
        let item = format!("{base}/{{name}}");
        assert_eq!(has(&base, "get"), r.has_verb("list"), "{base}");
        assert_eq!(has(&base, "post"), r.has_verb("create"), "{base}");
        assert_eq!(
            has(&base, "delete"),
            r.has_verb("deletecollection"),
            "{base}"
        );
        assert_eq!(has(&item, "get"), r.has_verb("get"), "{item}");
        assert_eq!(has(&item, "put"), r.has_verb("update"), "{item}");
        assert_eq!(has(&item, "patch"), r.has_verb("patch"), "{item}");
        assert_eq!(has(&item, "delete"), r.has_verb("delete"), "{item}");
        for s in r.subresources {
            let p = format!("{item}/{}", s.name);
            for (verb, m) in [
                ("get", "get"),
                ("update", "put"),
                ("patch", "patch"),
                ("create", "post"),
            ] {
                assert_eq!(has(&p, m), s.verbs.contains(&verb), "{m} {p}");
            }
        }
    }
}

#[test]
fn v3_documents_per_group_version() {
    let d = docs();
    let index: Value = serde_json::from_slice(&d.v3_index.body).unwrap();
    let keys: Vec<&str> = index["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "api",
        "api/v1",
        "apis",
        "apis/apps",
        "apis/apps/v1",
        "apis/events.k8s.io/v1",
        "apis/coordination.k8s.io/v1",
        "apis/discovery.k8s.io/v1",
    ] {
        assert!(keys.contains(&k), "{k}");
    }
    assert_eq!(
        index["paths"]["apis/apps/v1"]["serverRelativeURL"],
        format!(
            "/openapi/v3/apis/apps/v1?hash={}",
            d.v3["apis/apps/v1"].hash
        )
    );
    for gvk @ (g, v, _) in served_gvks() {
        let name = if g.is_empty() {
            format!("api/{v}")
        } else {
            format!("apis/{g}/{v}")
        };
        let doc: Value = serde_json::from_slice(&d.v3[&name].body).unwrap();
        assert_eq!(doc["openapi"], "3.0.0");
        supports_query_param_v3(&doc, gvk, "fieldValidation").unwrap();
    }
    let apps: Value = serde_json::from_slice(&d.v3["apis/apps/v1"].body).unwrap();
    assert!(apps["paths"]
        .as_object()
        .unwrap()
        .keys()
        .all(|p| p.starts_with("/apis/apps/v1/")));
    let patch = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(patch["operationId"], "patchAppsV1NamespacedDeployment");
    let fv = patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "fieldValidation")
        .unwrap();
    assert_eq!(fv["in"], "query");
    assert_eq!(fv["schema"], json!({"type": "string", "uniqueItems": true}));
    let body = &patch["requestBody"];
    assert_eq!(body["required"], true);
    let content: Vec<&str> = body["content"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        content,
        [
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json"
        ]
    );
    assert_eq!(
        body["content"]["application/strategic-merge-patch+json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
    );
    assert_eq!(
        patch["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.Deployment"
    );
    assert_eq!(
        apps["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
            ["x-kubernetes-group-version-kind"],
        json!([gvk_json("apps", "v1", "Deployment")])
    );
    // Path parameters in v3 form.
    assert_eq!(
        apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["parameters"][1],
        json!({"description": "object name and auth scope, such as for teams and projects", "in": "path", "name": "namespace", "required": true, "schema": {"type": "string", "uniqueItems": true}})
    );
    // Documents and hashes are stable.
    let again = docs();
    assert_eq!(again.v3_index.body, d.v3_index.body);
    assert_eq!(again.v2_proto.body, d.v2_proto.body);
}

fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(k.clone(), HeaderValue::from_str(v).unwrap());
    }
    h
}

fn get(path: &str, query: Option<&str>, h: &HeaderMap) -> Result<Response, super::ApiError> {
    serve(path, query, h, "v1.33.0+rkube").expect("an openapi path")
}

async fn body(r: Response) -> bytes::Bytes {
    axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap()
}

fn header_of(r: &Response, h: header::HeaderName) -> &str {
    r.headers()
        .get(h)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

#[tokio::test]
async fn serves_v2_by_accept() {
    assert!(serve("/version", None, &HeaderMap::new(), "v").is_none());
    assert!(serve("/api/v1", None, &HeaderMap::new(), "v").is_none());

    let r = get("/openapi/v2", None, &HeaderMap::new()).unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header_of(&r, header::CONTENT_TYPE), "application/json");
    assert_eq!(header_of(&r, header::CACHE_CONTROL), "no-cache, private");
    let etag = header_of(&r, header::ETAG).to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    let doc: Value = serde_json::from_slice(&body(r).await).unwrap();
    assert_eq!(doc["swagger"], "2.0");

    for accept in [
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
        "text/html;q=0.5, application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    ] {
        let r = get("/openapi/v2", None, &headers(&[(header::ACCEPT, accept)])).unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        // A media type Go's mime.ParseMediaType accepts: no '@'.
        assert_eq!(header_of(&r, header::CONTENT_TYPE), PROTO_V2);
        assert!(!PROTO_V2.contains('@'));
        let d = pb::Document::decode(body(r).await).unwrap();
        assert_eq!(d.swagger, "2.0");
        assert_eq!(d.info.unwrap().version, "v1.33.0+rkube");
    }

    let r = get(
        "/openapi/v2",
        None,
        &headers(&[(header::IF_NONE_MATCH, &etag)]),
    )
    .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert!(body(r).await.is_empty());

    let err = get(
        "/openapi/v2",
        None,
        &headers(&[(header::ACCEPT, "text/html")]),
    )
    .unwrap_err();
    assert_eq!(err.code, 406);
    assert_eq!(
        get("/openapi/v2/x", None, &HeaderMap::new())
            .unwrap_err()
            .code,
        404
    );
}

#[tokio::test]
async fn serves_v3_with_hashes() {
    let r = get("/openapi/v3", None, &HeaderMap::new()).unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header_of(&r, header::CONTENT_TYPE), "application/json");
    let index: Value = serde_json::from_slice(&body(r).await).unwrap();
    let url = index["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    let (path, query) = url.split_once('?').unwrap();
    assert_eq!(path, "/openapi/v3/api/v1");
    let hash = query.strip_prefix("hash=").unwrap();

    let json = headers(&[(header::ACCEPT, "application/json")]);
    let r = get(path, Some(query), &json).unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header_of(&r, header::CACHE_CONTROL), "public, immutable");
    assert!(header_of(&r, header::EXPIRES).ends_with(" GMT"));
    assert_eq!(header_of(&r, header::ETAG), format!("\"{hash}\""));
    let doc: Value = serde_json::from_slice(&body(r).await).unwrap();
    assert!(doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"].is_object());

    let r = get(path, None, &json).unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header_of(&r, header::CACHE_CONTROL), "no-cache, private");

    let r = get(path, Some("hash=0123"), &json).unwrap();
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header_of(&r, header::LOCATION), url);

    let r = get(
        path,
        None,
        &headers(&[(header::IF_NONE_MATCH, &format!("\"{hash}\""))]),
    )
    .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    assert_eq!(
        get("/openapi/v3/apis/batch/v1", None, &json)
            .unwrap_err()
            .code,
        404
    );
    assert_eq!(get("/openapi/v3/", None, &json).unwrap_err().code, 404);
    assert_eq!(
        get(
            path,
            None,
            &headers(&[(
                header::ACCEPT,
                "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"
            )])
        )
        .unwrap_err()
        .code,
        406
    );
}

#[test]
fn definition_names_and_ids() {
    assert_eq!(
        paths::definition_name("", "v1", "Pod"),
        "io.k8s.api.core.v1.Pod"
    );
    assert_eq!(
        paths::definition_name("rbac.authorization.k8s.io", "v1", "Role"),
        "io.k8s.api.rbac.v1.Role"
    );
    assert_eq!(
        paths::definition_name("events.k8s.io", "v1", "Event"),
        "io.k8s.api.events.v1.Event"
    );
    assert_eq!(
        paths::definition_name("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
    );
}

#[test]
fn v3_wraps_references_with_siblings_in_all_of() {
    let d = docs();
    let apps: Value = serde_json::from_slice(&d.v3["apis/apps/v1"].body).unwrap();
    let schemas = &apps["components"]["schemas"];
    let deploy = &schemas["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        deploy["properties"]["metadata"]["allOf"],
        json!([{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}])
    );
    assert!(deploy["properties"]["metadata"]["description"].is_string());
    assert!(deploy["properties"]["metadata"].get("$ref").is_none());
    // A bare reference stays one.
    assert_eq!(
        schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]["items"],
        json!({"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"})
    );
    assert_eq!(
        deploy["x-kubernetes-group-version-kind"],
        json!([gvk_json("apps", "v1", "Deployment")])
    );
    // v2 keeps `$ref` beside the description.
    let v2 = v2_json(&d);
    assert_eq!(
        v2["definitions"]["io.k8s.api.apps.v1.Deployment"]["properties"]["metadata"]["$ref"],
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
}
