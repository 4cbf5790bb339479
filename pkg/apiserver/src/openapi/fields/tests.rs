use serde_json::json;

use super::*;

fn deploy() -> &'static ResourceDef {
    rkube_api::registry::find("apps", "v1", "deployments").unwrap()
}

fn pods() -> &'static ResourceDef {
    rkube_api::registry::find("", "v1", "pods").unwrap()
}

fn params(v: Option<&str>) -> Params {
    Params {
        field_validation: v.map(str::to_string),
        ..Params::default()
    }
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"x/y": "z"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "web",
                        "image": "nginx",
                        "env": [{"name": "A", "value": "1"}],
                        "resources": {"limits": {"cpu": "1"}},
                        "livenessProbe": {"httpGet": {"path": "/", "port": 80}},
                    }],
                },
            },
        },
        "status": {"replicas": 1},
    })
}

#[test]
fn known_fields_pass() {
    let obj = deployment();
    assert!(unknown_fields(deploy(), &obj).is_empty());
    let mut pruned = obj.clone();
    prune_unknown(deploy(), &mut pruned);
    assert_eq!(pruned, obj);
    let raw = serde_json::to_vec(&obj).unwrap();
    assert!(scan_json(body_schema(deploy(), None), &raw).is_empty());
}

#[test]
fn unknown_fields_with_paths_and_indices() {
    let mut obj = deployment();
    obj["spec"]["replicass"] = json!(2);
    obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = json!("Always");
    obj["metadata"]["nmae"] = json!("x");
    obj["top"] = json!(1);
    // Maps take any key; their values are checked against the map's value schema.
    obj["metadata"]["labels"]["anything"] = json!("goes");
    assert_eq!(
        unknown_fields(deploy(), &obj),
        [
            "metadata.nmae",
            "spec.replicass",
            "spec.template.spec.containers[0].imagePullPolcy",
            "top",
        ]
    );
    prune_unknown(deploy(), &mut obj);
    let mut want = deployment();
    want["metadata"]["labels"]["anything"] = json!("goes");
    assert_eq!(obj, want);
}

#[test]
fn free_form_fields_take_anything() {
    // managedFields[].fieldsV1 is free-form (FieldsV1); IntOrString and Quantity are leaves.
    let obj = json!({
        "metadata": {"name": "p", "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {"f:x": {}}}}]},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}],
                 "readinessProbe": {"tcpSocket": {"port": "http"}}}],
                 "overhead": {"cpu": "1"}},
    });
    assert!(unknown_fields(pods(), &obj).is_empty());
}

#[test]
fn raw_scan_reports_document_order_and_duplicates() {
    let raw = br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
        "spec":{"foo":1,"replicas":1,"bar":{"x":[1,2]},"replicas":2,
        "template":{"spec":{"containers":[{"name":"a"},{"name":"b","imagePullPolcy":"x","name":"c"}]}}},
        "metadata":{"name":"again"}}"#;
    let found = scan_json(body_schema(deploy(), None), raw);
    let msgs: Vec<String> = found.iter().map(Problem::to_string).collect();
    assert_eq!(
        msgs,
        [
            r#"unknown field "spec.foo""#,
            r#"unknown field "spec.bar""#,
            r#"duplicate field "spec.replicas""#,
            r#"unknown field "spec.template.spec.containers[1].imagePullPolcy""#,
            r#"duplicate field "spec.template.spec.containers[1].name""#,
            r#"duplicate field "metadata""#,
        ]
    );
    assert_eq!(
        strict_message(&found[..2]),
        r#"strict decoding error: unknown field "spec.foo", unknown field "spec.bar""#
    );
    // Escaped keys compare unescaped.
    let raw = br#"{"metadata":{"labels":{"a":"1","\u0061":"2"}}}"#;
    let found = scan_json(body_schema(deploy(), None), raw);
    assert_eq!(found, [Problem::Duplicate("metadata.labels.a".into())]);
}

#[test]
fn check_strict_fails_with_upstream_wording() {
    let raw = br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":2,"replicass":2}}"#;
    let mut obj: Value = serde_json::from_slice(raw).unwrap();
    let err = check(&params(Some("Strict")), deploy(), None, raw, &mut obj).unwrap_err();
    assert_eq!((err.code, err.reason), (400, "BadRequest"));
    assert_eq!(
        err.message,
        r#"Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replicass""#
    );
    // Without a kind in the body: upstream's "unrecognized" form with the body's start.
    let raw = br#"{"metadata":{"name":"web"},"spec":{"foo":1}}"#;
    let mut obj: Value = serde_json::from_slice(raw).unwrap();
    let err = check(&params(Some("Strict")), deploy(), None, raw, &mut obj).unwrap_err();
    assert_eq!(
        err.message,
        r#"the object provided is unrecognized (must be of type Deployment): strict decoding error: unknown field "spec.foo" ({"metadata":{"name":"web"},"sp ...)"#
    );
}

#[test]
fn check_warn_and_ignore_prune() {
    let raw = br#"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web"},"spec":{"replicas":2,"replicass":2,"replicas":3}}"#;
    for (directive, warnings) in [
        (
            Some("Warn"),
            vec![
                r#"unknown field "spec.replicass""#,
                r#"duplicate field "spec.replicas""#,
            ],
        ),
        (
            None,
            vec![
                r#"unknown field "spec.replicass""#,
                r#"duplicate field "spec.replicas""#,
            ],
        ),
        (Some("Ignore"), vec![]),
    ] {
        let mut obj: Value = serde_json::from_slice(raw).unwrap();
        let got = check(&params(directive), deploy(), None, raw, &mut obj).unwrap();
        assert_eq!(got, warnings, "{directive:?}");
        // The last duplicate wins; the unknown field is gone.
        assert_eq!(obj["spec"], json!({"replicas": 3}), "{directive:?}");
    }
    // YAML bodies: unknown fields from the decoded object.
    let raw = b"kind: Deployment\nspec:\n  foo: 1\n";
    let mut obj: Value = serde_yaml::from_slice(raw).unwrap();
    let got = check(&params(Some("Warn")), deploy(), None, raw, &mut obj).unwrap();
    assert_eq!(got, [r#"unknown field "spec.foo""#]);
}

#[test]
fn check_subresource_bodies() {
    // A Scale body is checked against autoscaling/v1 Scale.
    let raw = br#"{"kind":"Scale","apiVersion":"autoscaling/v1","spec":{"replicas":1,"x":1}}"#;
    let mut obj: Value = serde_json::from_slice(raw).unwrap();
    let err = check(
        &params(Some("Strict")),
        deploy(),
        Some("scale"),
        raw,
        &mut obj,
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        r#"Scale in version "v1" cannot be handled as a Scale: strict decoding error: unknown field "spec.x""#
    );
}

#[test]
fn check_patch_reports_as_upstream() {
    let mut patched = deployment();
    patched["spec"]["foo"] = json!(1);
    let patch = br#"{"spec":{"foo":1,"replicas":1,"replicas":2}}"#;
    let got = check_patch(
        &params(Some("Warn")),
        deploy(),
        None,
        PatchType::Strategic,
        patch,
        &mut patched.clone(),
    )
    .unwrap();
    assert_eq!(
        got,
        [
            r#"duplicate field "spec.replicas""#,
            r#"unknown field "spec.foo""#
        ]
    );
    let err = check_patch(
        &params(Some("Strict")),
        deploy(),
        None,
        PatchType::Strategic,
        br#"{"spec":{"foo":1}}"#,
        &mut patched.clone(),
    )
    .unwrap_err();
    assert_eq!((err.code, err.reason), (422, "Invalid"));
    assert_eq!(
        err.message,
        r#" "" is invalid: patch: Invalid value: "map[spec:map[foo:1]]": strict decoding error: unknown field "spec.foo""#
    );
    assert_eq!(err.details.as_ref().unwrap()["causes"][0]["field"], "patch");
    // JSON patches repeat no keys; Ignore drops silently.
    let mut p = patched.clone();
    let got = check_patch(
        &params(Some("Ignore")),
        deploy(),
        None,
        PatchType::Json,
        b"[]",
        &mut p,
    )
    .unwrap();
    assert!(got.is_empty());
    assert!(p["spec"].get("foo").is_none());
}

#[test]
fn apply_refuses_unknown_fields_as_structured_merge_diff() {
    let mut applied = deployment();
    applied["spec"]["template"]["spec"]["containers"][0]["foo"] = json!(1);
    let err = check_apply(deploy(), Some("default"), &applied).unwrap_err();
    assert_eq!(err.code, 500);
    assert_eq!(
        err.message,
        r#"failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers[name="web"].foo: field not declared in schema"#
    );
    assert!(check_apply(deploy(), Some("default"), &deployment()).is_ok());
}

/// `check` skips pruning when the scan saw every field known: whatever the body, what it
/// leaves is what pruning leaves.
#[test]
fn check_leaves_what_pruning_leaves() {
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    let obj = deployment();
    bodies.push(serde_json::to_vec(&obj).unwrap());
    for (pointer, key) in [
        ("/spec", "replicass"),
        ("/spec/template/spec/containers/0", "imagePullPolcy"),
        ("/metadata", "nme"),
        ("", "extra"),
        ("/spec/template/spec/containers/0/env/0", "valu"),
    ] {
        let mut o = obj.clone();
        o.pointer_mut(pointer).unwrap()[key] = json!({"x": 1});
        bodies.push(serde_json::to_vec(&o).unwrap());
    }
    // A repeated key: the unknown field only in the value that the decoder drops, then only
    // in the one it keeps.
    bodies.push(br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a"},"spec":{"replicas":1,"template":{"bogus":1}},"spec":{"replicas":2}}"#.to_vec());
    bodies.push(br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a"},"spec":{"replicas":1},"spec":{"replicas":2,"bogus":{"a":[1]}}}"#.to_vec());
    // Whitespace, escapes and nesting the scanner walks over.
    bodies.push(
        b" {\n \"metadata\" : {\"name\":\"a\\\"b\", \"labels\": {\"k\": \"v\"}},\t\"spec\": {\"selector\": {\"matchLabels\": {}} , \"x\\u0079\": [1, {\"a\": 2}]}}"
            .to_vec(),
    );
    for raw in bodies {
        let decoded: Value = serde_json::from_slice(&raw).unwrap();
        let mut want = decoded.clone();
        prune_unknown(deploy(), &mut want);
        for directive in [None, Some("Warn"), Some("Ignore"), Some("Strict")] {
            let mut got = decoded.clone();
            match check(&params(directive), deploy(), None, &raw, &mut got) {
                Ok(_) => assert_eq!(got, want, "{directive:?} {}", String::from_utf8_lossy(&raw)),
                Err(_) => assert_eq!(directive, Some("Strict")),
            }
        }
    }
}

/// `has_unknown` is `walk` finding something, without the paths: checked on the clean
/// deployment and a pod, and with an unknown field put at every place of the deployment.
#[test]
fn has_unknown_agrees_with_walk() {
    fn places(v: &Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        match v {
            Value::Object(m) => m
                .iter()
                .for_each(|(k, x)| places(x, format!("{at}/{k}"), out)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| places(x, format!("{at}/{i}"), out)),
            _ => {}
        }
    }
    let schema = body_schema(deploy(), None).unwrap();
    let clean = deployment();
    assert!(!has_unknown(schema, &clean));
    let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
    assert!(!has_unknown(body_schema(pods(), None).unwrap(), &pod));
    let mut at = Vec::new();
    places(&clean, String::new(), &mut at);
    let mut with_unknown = 0;
    for p in at {
        let mut o = clean.clone();
        let Some(Value::Object(m)) = o.pointer_mut(&p) else {
            continue;
        };
        m.insert("zzUnknown".into(), json!({"a": 1}));
        let found = unknown_fields(deploy(), &o);
        assert_eq!(
            has_unknown(schema, &o),
            !found.is_empty(),
            "at {p:?}: {found:?}"
        );
        with_unknown += usize::from(!found.is_empty());
    }
    // Objects under maps (labels, limits, matchLabels...) take any key: not every place
    // makes the object unknown, but most do.
    assert!(with_unknown >= 8, "{with_unknown}");
}
