//! PATCH as kubectl users meet it, and upstream's edge cases.

use serde_json::{json, Value};

use super::{apply_patch, PatchError, PatchType};
use crate::registry::{find_kind, ResourceDef};

fn def(group: &str, kind: &str) -> &'static ResourceDef {
    find_kind(group, "v1", kind).expect("served kind")
}

fn smp(group: &str, kind: &str, original: &Value, patch: Value) -> Result<Value, PatchError> {
    apply_patch(
        def(group, kind),
        PatchType::Strategic,
        original,
        patch.to_string().as_bytes(),
    )
}

fn merge(original: &Value, patch: &str) -> Result<Value, PatchError> {
    apply_patch(
        def("", "Service"),
        PatchType::Merge,
        original,
        patch.as_bytes(),
    )
}

fn jsonpatch(original: &Value, patch: &str) -> Result<Value, PatchError> {
    apply_patch(
        def("apps", "Deployment"),
        PatchType::Json,
        original,
        patch.as_bytes(),
    )
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "finalizers": ["a", "b"]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "httpd", "image": "httpd:2.4", "env": [{"name": "MSG", "value": "hi"}],
                         "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                        {"name": "sidecar", "image": "busybox"}
                    ],
                    "tolerations": [{"key": "a", "operator": "Exists"}],
                    "volumes": [{"name": "data", "emptyDir": {}}]
                }
            }
        }
    })
}

fn service() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "type": "ClusterIP",
            "ports": [
                {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80},
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}
            ]
        }
    })
}

fn pod_spec(v: &Value) -> &Value {
    &v["spec"]["template"]["spec"]
}

#[test]
fn content_types() {
    assert_eq!(
        PatchType::from_content_type("application/json-patch+json"),
        Some(PatchType::Json)
    );
    assert_eq!(
        PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
        Some(PatchType::Merge)
    );
    assert_eq!(
        PatchType::from_content_type("application/strategic-merge-patch+json"),
        Some(PatchType::Strategic)
    );
    assert_eq!(
        PatchType::from_content_type("application/apply-patch+yaml"),
        None
    );
    assert_eq!(PatchType::from_content_type("application/json"), None);
    assert_eq!(
        PatchType::Strategic.content_type(),
        "application/strategic-merge-patch+json"
    );
}

// Strategic merge patch.

#[test]
fn env_added_to_one_container_keeps_the_rest() {
    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"template":{"spec":{"containers":[{"name":"httpd","env":[{"name":"EXTRA","value":"1"}]}]}}}}),
    )
    .unwrap();
    let containers = pod_spec(&out)["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[0]["name"], "httpd");
    assert_eq!(containers[0]["image"], "httpd:2.4");
    assert_eq!(
        containers[0]["ports"],
        json!([{"containerPort": 80, "protocol": "TCP"}])
    );
    // Upstream puts items new to a merged list (without $setElementOrder) first.
    assert_eq!(
        containers[0]["env"],
        json!([{"name": "EXTRA", "value": "1"}, {"name": "MSG", "value": "hi"}])
    );
    assert_eq!(
        containers[1],
        json!({"name": "sidecar", "image": "busybox"})
    );
    // Everything else untouched.
    let mut expect = deployment();
    expect["spec"]["template"]["spec"]["containers"] =
        out["spec"]["template"]["spec"]["containers"].clone();
    assert_eq!(out, expect);
}

#[test]
fn env_value_changed_in_place() {
    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"template":{"spec":{"containers":[{"name":"httpd","env":[{"name":"MSG","value":"bye"}]}]}}}}),
    )
    .unwrap();
    assert_eq!(
        pod_spec(&out)["containers"][0]["env"],
        json!([{"name": "MSG", "value": "bye"}])
    );
}

#[test]
fn new_container_is_added_and_existing_ones_stay() {
    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"template":{"spec":{"containers":[{"name":"log","image":"fluentd"}]}}}}),
    )
    .unwrap();
    let names: Vec<&str> = pod_spec(&out)["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["log", "httpd", "sidecar"]);
}

#[test]
fn patch_delete_removes_a_container() {
    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}),
    )
    .unwrap();
    assert_eq!(pod_spec(&out)["containers"].as_array().unwrap().len(), 1);
    assert_eq!(pod_spec(&out)["containers"][0]["name"], "httpd");
}

#[test]
fn patch_replace_on_a_list_and_on_a_map() {
    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"template":{"spec":{"containers":[{"$patch":"replace"},{"name":"only","image":"nginx"}]}}}}),
    )
    .unwrap();
    assert_eq!(
        pod_spec(&out)["containers"],
        json!([{"name": "only", "image": "nginx"}])
    );

    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"selector":{"$patch":"replace","matchLabels":{"tier":"x"}}}}),
    )
    .unwrap();
    assert_eq!(
        out["spec"]["selector"],
        json!({"matchLabels": {"tier": "x"}})
    );

    // `$patch: delete` on a map empties it.
    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"selector":{"$patch":"delete"}}}),
    )
    .unwrap();
    assert_eq!(out["spec"]["selector"], json!({}));
}

#[test]
fn set_element_order_orders_the_merged_list() {
    let original = json!({"spec":{"template":{"spec":{"containers":[
        {"name":"a","image":"a"},{"name":"b","image":"b"},{"name":"c","image":"c"}
    ]}}}});
    let out = smp(
        "apps",
        "Deployment",
        &original,
        json!({"spec":{"template":{"spec":{
            "$setElementOrder/containers":[{"name":"c"},{"name":"new"},{"name":"a"},{"name":"b"}],
            "containers":[{"name":"new","image":"n"}]
        }}}}),
    )
    .unwrap();
    let names: Vec<&str> = pod_spec(&out)["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c", "new", "a", "b"]);
    assert!(pod_spec(&out).get("$setElementOrder/containers").is_none());
}

#[test]
fn set_element_order_with_server_only_items() {
    // Upstream's "add map to merging list by pointer": live [1 (other: a), 3], patch adds 2
    // with order [1, 2]: result [1, 2, 3].
    let original = json!({"spec":{"template":{"spec":{"containers":[
        {"name":"1","other":"a"},{"name":"3"}
    ]}}}});
    let out = smp(
        "apps",
        "Deployment",
        &original,
        json!({"spec":{"template":{"spec":{
            "$setElementOrder/containers":[{"name":"1"},{"name":"2"}],
            "containers":[{"name":"2"}]
        }}}}),
    )
    .unwrap();
    assert_eq!(
        pod_spec(&out)["containers"],
        json!([{"name":"1","other":"a"},{"name":"2"},{"name":"3"}])
    );

    // Upstream's "merge lists of maps": live [1, 2], order [4, 1, 2, 3], patch adds 4 and 3.
    let original = json!({"spec":{"template":{"spec":{"containers":[
        {"name":"1","other":"a"},{"name":"2","value":"2","other":"b"}
    ]}}}});
    let out = smp(
        "apps",
        "Deployment",
        &original,
        json!({"spec":{"template":{"spec":{
            "$setElementOrder/containers":[{"name":"4"},{"name":"1"},{"name":"2"},{"name":"3"}],
            "containers":[{"name":"4","value":"4"},{"name":"3","value":"3"}]
        }}}}),
    )
    .unwrap();
    assert_eq!(
        pod_spec(&out)["containers"],
        json!([
            {"name":"4","value":"4"},
            {"name":"1","other":"a"},
            {"name":"2","value":"2","other":"b"},
            {"name":"3","value":"3"}
        ])
    );
}

#[test]
fn set_element_order_on_primitive_list() {
    let original = json!({"metadata":{"finalizers":["a","b"]}});
    let out = smp(
        "",
        "ConfigMap",
        &original,
        json!({"metadata":{"$setElementOrder/finalizers":["b","a","c"],"finalizers":["c"]}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["b", "a", "c"]));
}

#[test]
fn retain_keys_switching_to_recreate_drops_rolling_update() {
    // What `kubectl apply` sends when the manifest changes the strategy to Recreate.
    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"}}}),
    )
    .unwrap();
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));

    // Without the directive the map merges and rollingUpdate stays.
    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"strategy":{"type":"Recreate"}}}),
    )
    .unwrap();
    assert_eq!(out["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");

    // A patched key missing from the list is a 400.
    let err = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{"maxSurge":1}}}}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        PatchError::BadRequest("invalid patch format of retainKeys".into())
    );
    assert_eq!(err.http_code(), 400);
}

#[test]
fn retain_keys_on_a_volume() {
    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"template":{"spec":{"volumes":[
            {"name":"data","$retainKeys":["configMap","name"],"configMap":{"name":"cfg"}}
        ]}}}}),
    )
    .unwrap();
    assert_eq!(
        pod_spec(&out)["volumes"],
        json!([{"name": "data", "configMap": {"name": "cfg"}}])
    );
}

#[test]
fn finalizers_union_and_delete_from_primitive_list() {
    let original = json!({"metadata":{"name":"x","finalizers":["a","b"]}});
    let out = smp(
        "",
        "ConfigMap",
        &original,
        json!({"metadata":{"finalizers":["c","a"]}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["c", "a", "b"]));

    let out = smp(
        "",
        "ConfigMap",
        &original,
        json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["a","zzz"]}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["b"]));

    // A deletion list for a list that is not there adds nothing.
    let out = smp(
        "",
        "ConfigMap",
        &json!({"metadata":{"name":"x"}}),
        json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}),
    )
    .unwrap();
    assert_eq!(out, json!({"metadata":{"name":"x"}}));

    let err = smp(
        "",
        "ConfigMap",
        &original,
        json!({"metadata":{"$deleteFromPrimitiveList":["a"]}}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        PatchError::BadRequest("invalid patch format of primitive list".into())
    );
}

#[test]
fn owner_references_merge_by_uid() {
    let original =
        json!({"metadata":{"ownerReferences":[{"uid":"1","name":"a","kind":"ReplicaSet"}]}});
    let out = smp(
        "",
        "Pod",
        &original,
        json!({"metadata":{"ownerReferences":[{"uid":"1","controller":true},{"uid":"2","name":"b"}]}}),
    )
    .unwrap();
    assert_eq!(
        out["metadata"]["ownerReferences"],
        json!([
            {"uid":"1","name":"a","kind":"ReplicaSet","controller":true},
            {"uid":"2","name":"b"}
        ])
    );
}

#[test]
fn lists_without_strategy_replace() {
    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"template":{"spec":{"tolerations":[{"key":"b","operator":"Exists"}]}}}}),
    )
    .unwrap();
    assert_eq!(
        pod_spec(&out)["tolerations"],
        json!([{"key": "b", "operator": "Exists"}])
    );
    // Directives in a replaced list are dropped as the typed decoding upstream drops them.
    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"template":{"spec":{"tolerations":[{"key":"b","$patch":"delete"}]}}}}),
    )
    .unwrap();
    assert_eq!(pod_spec(&out)["tolerations"], json!([{"key": "b"}]));
}

#[test]
fn service_ports_merge_by_port_with_strategic_but_replace_with_merge_patch() {
    let patch = json!({"spec":{"ports":[{"port":80,"targetPort":8080}]}});
    let out = smp("", "Service", &service(), patch.clone()).unwrap();
    assert_eq!(
        out["spec"]["ports"],
        json!([
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}
        ])
    );

    let out = merge(&service(), &patch.to_string()).unwrap();
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 80, "targetPort": 8080}])
    );
    assert_eq!(out["spec"]["type"], "ClusterIP");
}

#[test]
fn status_conditions_merge_by_type() {
    let node = json!({"status":{
        "conditions":[{"type":"Ready","status":"False"},{"type":"MemoryPressure","status":"False"}],
        "addresses":[{"type":"InternalIP","address":"10.0.0.1"}]
    }});
    let out = smp(
        "",
        "Node",
        &node,
        json!({"status":{"conditions":[{"type":"Ready","status":"True"}],"addresses":[{"type":"Hostname","address":"n1"}]}}),
    )
    .unwrap();
    assert_eq!(
        out["status"]["conditions"],
        json!([{"type":"Ready","status":"True"},{"type":"MemoryPressure","status":"False"}])
    );
    assert_eq!(
        out["status"]["addresses"],
        json!([{"type":"Hostname","address":"n1"},{"type":"InternalIP","address":"10.0.0.1"}])
    );

    let pod = json!({"status":{"conditions":[{"type":"Ready","status":"False"}],
        "containerStatuses":[{"name":"c","ready":false}]}});
    let out = smp(
        "",
        "Pod",
        &pod,
        json!({"status":{"conditions":[{"type":"Ready","status":"True"}]}}),
    )
    .unwrap();
    assert_eq!(
        out["status"]["conditions"],
        json!([{"type":"Ready","status":"True"}])
    );
    assert_eq!(
        out["status"]["containerStatuses"],
        pod["status"]["containerStatuses"]
    );
}

#[test]
fn null_deletes_and_labels_as_kubectl_label_sends_them() {
    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"metadata":{"labels":{"x":"y"}}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"app": "web", "x": "y"}));

    let out = smp(
        "apps",
        "Deployment",
        &out,
        json!({"metadata":{"labels":{"x":null}}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));

    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"replicas":null}}),
    )
    .unwrap();
    assert!(out["spec"].get("replicas").is_none());

    // Nulls under a key the original lacks are dropped, not stored.
    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"metadata":{"annotations":{"a":"1","b":null}}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["annotations"], json!({"a": "1"}));

    // The same label patches as merge patches (kubectl label sends a merge patch for
    // kinds without strategic support; both agree here).
    let out = merge(&service(), r#"{"metadata":{"labels":{"x":"y"}}}"#).unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"x": "y"}));
    let out = merge(&out, r#"{"metadata":{"labels":{"x":null}}}"#).unwrap();
    assert_eq!(out["metadata"]["labels"], json!({}));
}

#[test]
fn new_items_keep_no_directives() {
    let out = smp(
        "apps",
        "Deployment",
        &deployment(),
        json!({"spec":{"template":{"spec":{"containers":[{"name":"new","$setElementOrder/env":[{"name":"A"}],"env":[{"name":"A"}]}]}}}}),
    )
    .unwrap();
    assert_eq!(
        pod_spec(&out)["containers"][0],
        json!({"name":"new","env":[{"name":"A"}]})
    );
}

#[test]
fn strategic_errors_as_upstream() {
    let d = deployment();
    let err = smp(
        "apps",
        "Deployment",
        &d,
        json!({"spec":{"template":{"spec":{"containers":[{"image":"nginx"}]}}}}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        PatchError::Internal(
            "map: map[image:nginx] does not contain declared merge key: name".into()
        )
    );
    assert_eq!((err.http_code(), err.reason()), (500, ""));

    let err = smp(
        "apps",
        "Deployment",
        &d,
        json!({"spec":{"selector":{"$patch":"merge"}}}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        PatchError::Internal("unknown patch type: merge in map: map[$patch:merge]".into())
    );

    let err = smp(
        "apps",
        "Deployment",
        &d,
        json!({"spec":{"template":{"spec":{"containers":[{"name":"x","$patch":"merge"}]}}}}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        PatchError::Internal("merging lists cannot yet be specified in the patch".into())
    );

    let err = smp(
        "",
        "ConfigMap",
        &json!({"metadata":{"finalizers":["a"]}}),
        json!({"metadata":{"finalizers":[1]}}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        PatchError::Internal("list element types are not identical: [[a] [1]]".into())
    );

    let err = smp(
        "",
        "ConfigMap",
        &json!({"metadata":{"finalizers":[]}}),
        json!({"metadata":{"finalizers":[["b"]]}}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        PatchError::Invalid("lists of lists are not supported".into())
    );
    assert_eq!(err.http_code(), 422);
    assert_eq!(
        err.to_string(),
        "the server rejected our request due to an error in our request"
    );

    let err = smp(
        "apps",
        "Deployment",
        &d,
        json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"httpd"}],"containers":[{"name":"zzz"}]}}}}),
    )
    .unwrap_err();
    assert!(err.cause().starts_with("The order in patch list:\n[map[name:zzz]]\n doesn't match $setElementOrder list:\n[map[name:httpd]]"), "{err:?}");

    let body = PatchType::Strategic;
    let err = apply_patch(def("", "Pod"), body, &json!({}), b"[1]").unwrap_err();
    assert_eq!(
        err,
        PatchError::BadRequest(
            "json: cannot unmarshal array into Go value of type map[string]interface {}".into()
        )
    );
    let err = apply_patch(def("", "Pod"), body, &json!({}), b"{\"a\":}").unwrap_err();
    assert_eq!(
        err,
        PatchError::BadRequest("invalid character '}' looking for beginning of value".into())
    );
    // `null` is an empty patch.
    assert_eq!(
        apply_patch(def("", "Pod"), body, &json!({"a": 1}), b"null").unwrap(),
        json!({"a": 1})
    );
}

#[test]
fn top_level_replace_replaces_everything() {
    let out = smp(
        "",
        "ConfigMap",
        &json!({"metadata":{"name":"x"},"data":{"a":"1"}}),
        json!({"$patch":"replace","metadata":{"name":"x"},"data":{"b":"2"}}),
    )
    .unwrap();
    assert_eq!(out, json!({"metadata":{"name":"x"},"data":{"b":"2"}}));
}

#[test]
fn type_changes_replace_the_value() {
    let out = smp(
        "",
        "ConfigMap",
        &json!({"data":{"a":"1"}}),
        json!({"data":"x"}),
    )
    .unwrap();
    assert_eq!(out, json!({"data":"x"}));
}

// JSON merge patch.

#[test]
fn merge_patch_semantics() {
    let out = merge(
        &service(),
        r#"{"spec":{"type":"NodePort","selector":{"app":"web","gone":null}},"metadata":{"annotations":null}}"#,
    )
    .unwrap();
    assert_eq!(out["spec"]["type"], "NodePort");
    // Nulls inside an added object are pruned.
    assert_eq!(out["spec"]["selector"], json!({"app": "web"}));
    assert_eq!(out["spec"]["ports"], service()["spec"]["ports"]);
    assert!(out["metadata"].get("annotations").is_none());

    assert_eq!(
        merge(&service(), "null").unwrap_err(),
        PatchError::BadRequest("Invalid JSON Patch".into())
    );
    assert_eq!(
        merge(&service(), "{").unwrap_err(),
        PatchError::BadRequest("Invalid JSON Patch".into())
    );
    assert_eq!(
        merge(&service(), "\"x\"").unwrap_err(),
        PatchError::BadRequest("Invalid JSON Patch".into())
    );
    let err = merge(&service(), "[1,null]").unwrap_err();
    assert_eq!(err.http_code(), 422);
    assert!(
        err.to_string().starts_with(
            r#" "" is invalid: patch: Invalid value: "[1,null]": couldn't get version/kind"#
        ),
        "{err}"
    );
    assert_eq!(err.details().unwrap()["causes"][0]["field"], "patch");
}

// JSON patch.

#[test]
fn json_patch_replace_add_remove_move_copy_test() {
    let d = deployment();
    let out = jsonpatch(
        &d,
        r#"[
            {"op":"test","path":"/spec/replicas","value":2},
            {"op":"replace","path":"/spec/replicas","value":3},
            {"op":"add","path":"/metadata/labels/tier","value":"front"},
            {"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"x","image":"x"}},
            {"op":"add","path":"/spec/template/spec/containers/0/env/0","value":{"name":"FIRST"}},
            {"op":"remove","path":"/metadata/finalizers/0"},
            {"op":"copy","from":"/metadata/labels/app","path":"/metadata/labels/copied"},
            {"op":"move","from":"/metadata/labels/tier","path":"/metadata/annotations"}
        ]"#,
    )
    .unwrap();
    assert_eq!(out["spec"]["replicas"], 3);
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "web", "copied": "web"})
    );
    assert_eq!(out["metadata"]["annotations"], "front");
    assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
    let containers = pod_spec(&out)["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 3);
    assert_eq!(containers[2]["name"], "x");
    assert_eq!(
        containers[0]["env"],
        json!([{"name": "FIRST"}, {"name": "MSG", "value": "hi"}])
    );

    // `~1` and `~0` unescape.
    let out = jsonpatch(
        &d,
        r#"[{"op":"add","path":"/metadata/labels/example.com~1a~0b","value":"1"}]"#,
    )
    .unwrap();
    assert_eq!(out["metadata"]["labels"]["example.com/a~b"], "1");
}

#[test]
fn json_patch_upstream_quirks() {
    let d = deployment();
    // replace of a missing key adds it (v4), where RFC 6902 fails.
    let out = jsonpatch(
        &d,
        r#"[{"op":"replace","path":"/metadata/labels/new","value":"v"}]"#,
    )
    .unwrap();
    assert_eq!(out["metadata"]["labels"]["new"], "v");
    // Negative indices count from the end.
    let out = jsonpatch(
        &d,
        r#"[{"op":"remove","path":"/spec/template/spec/containers/-1"}]"#,
    )
    .unwrap();
    assert_eq!(pod_spec(&out)["containers"].as_array().unwrap().len(), 1);
    assert_eq!(pod_spec(&out)["containers"][0]["name"], "httpd");
    // test against null passes for a missing key.
    jsonpatch(
        &d,
        r#"[{"op":"test","path":"/metadata/missing","value":null}]"#,
    )
    .unwrap();
    // A missing value adds null.
    let out = jsonpatch(&d, r#"[{"op":"add","path":"/metadata/labels/n"}]"#).unwrap();
    assert_eq!(out["metadata"]["labels"]["n"], Value::Null);
    // `null` is an empty patch.
    assert_eq!(jsonpatch(&d, "null").unwrap(), d);
}

#[test]
fn json_patch_errors_as_upstream() {
    let d = deployment();
    let invalid = |patch: &str| match jsonpatch(&d, patch) {
        Err(PatchError::Invalid(cause)) => cause,
        other => panic!("{patch}: {other:?}"),
    };
    assert_eq!(
        invalid(r#"[{"op":"test","path":"/spec/replicas","value":5}]"#),
        "testing value /spec/replicas failed: test failed"
    );
    assert_eq!(
        invalid(r#"[{"op":"remove","path":"/metadata/labels/nope"}]"#),
        "error in remove for path: '/metadata/labels/nope': Unable to remove nonexistent key: nope: missing value"
    );
    assert_eq!(
        invalid(r#"[{"op":"add","path":"/spec/nope/x","value":1}]"#),
        r#"add operation does not apply: doc is missing path: "/spec/nope/x": missing value"#
    );
    assert_eq!(
        invalid(r#"[{"op":"replace","path":"/spec/template/spec/containers/7","value":1}]"#),
        "replace operation does not apply: doc is missing key: /spec/template/spec/containers/7: missing value"
    );
    assert_eq!(
        invalid(r#"[{"op":"add","path":"/spec/template/spec/containers/9","value":1}]"#),
        "error in add for path: '/spec/template/spec/containers/9': Unable to access invalid index: 9: invalid index referenced"
    );
    assert_eq!(
        invalid(r#"[{"op":"add","path":"/spec/template/spec/containers/x","value":1}]"#),
        r#"error in add for path: '/spec/template/spec/containers/x': value was not a proper array index: 'x': strconv.Atoi: parsing "x": invalid syntax"#
    );
    assert_eq!(
        invalid(r#"[{"op":"frobnicate","path":"/a"}]"#),
        "Unexpected kind: frobnicate"
    );
    assert_eq!(
        invalid(r#"[{"op":"replace"}]"#),
        "replace operation failed to decode path: operation missing path field: missing value"
    );
    assert_eq!(
        invalid(r#"[{"op":"move","from":"/metadata","path":"/metadata/x"}]"#),
        "move operation does not apply: doc is missing destination path: /metadata/x: missing value"
    );
    assert_eq!(
        invalid(r#"[{"op":"add","path":"","value":{}}]"#),
        r#"add operation does not apply: doc is missing path: "": missing value"#
    );

    let err = jsonpatch(&d, r#"[{"op":"test","path":"/spec/replicas","value":5}]"#).unwrap_err();
    assert_eq!((err.http_code(), err.reason()), (422, "Invalid"));
    assert_eq!(
        err.to_string(),
        "the server rejected our request due to an error in our request"
    );

    assert_eq!(
        jsonpatch(&d, r#"{"op":"add"}"#).unwrap_err(),
        PatchError::BadRequest(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch".into()
        )
    );
    assert_eq!(
        jsonpatch(&d, r#"["add"]"#).unwrap_err(),
        PatchError::BadRequest(
            "json: cannot unmarshal string into Go value of type jsonpatch.Operation".into()
        )
    );
    assert_eq!(
        jsonpatch(&d, "[{").unwrap_err(),
        PatchError::BadRequest("unexpected end of JSON input".into())
    );

    let many = format!(
        "[{}]",
        vec![r#"{"op":"test","path":"/kind","value":"Deployment"}"#; 10_001].join(",")
    );
    let err = jsonpatch(&d, &many).unwrap_err();
    assert_eq!(err.http_code(), 413);
    assert_eq!(
        err.to_string(),
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    );

    let err = jsonpatch(&d, r#"[{"op":"replace","path":"","value":[1]}]"#).unwrap_err();
    assert!(matches!(err, PatchError::InvalidResult { ref value, .. } if value == "[1]"));
}

#[test]
fn json_patch_failure_leaves_nothing_half_done() {
    let d = deployment();
    let err = jsonpatch(
        &d,
        r#"[{"op":"replace","path":"/spec/replicas","value":9},{"op":"test","path":"/spec/replicas","value":2}]"#,
    )
    .unwrap_err();
    assert_eq!(
        err.cause(),
        "testing value /spec/replicas failed: test failed"
    );
}

#[test]
fn primitive_list_quirks_as_upstream() {
    // Checked against strategicpatch: an empty patch list deduplicates the stored list in
    // place, and that rewritten list sets the order.
    let out = smp(
        "",
        "ConfigMap",
        &json!({"metadata":{"finalizers":["i","i","b","e","h","f"]}}),
        json!({"metadata":{"finalizers":[]}}),
    )
    .unwrap();
    assert_eq!(
        out["metadata"]["finalizers"],
        json!(["i", "f", "b", "e", "h"])
    );

    // An item both added and deleted is deleted.
    let out = smp(
        "",
        "ConfigMap",
        &json!({"metadata":{"finalizers":["a","b"]}}),
        json!({"metadata":{"finalizers":["c"],"$deleteFromPrimitiveList/finalizers":["c","a"]}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["b"]));

    // A $setElementOrder naming nothing of a list without elements fails as upstream's
    // element-type check does.
    let err = smp(
        "",
        "ConfigMap",
        &json!({"metadata":{"finalizers":[]}}),
        json!({"metadata":{"$setElementOrder/finalizers":[]}}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        PatchError::Internal("no elements in any of the given slices".into())
    );
}
