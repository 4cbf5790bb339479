use serde_json::json;

use super::*;

fn schema(kind: &str) -> &'static Value {
    schemas::get(kind).unwrap()
}

fn json_err(kind: &str, root: &'static str, v: Value) -> String {
    check(schema(kind), root, &v, Decoder::Json)
        .unwrap_err()
        .json_message()
}

const DEPLOY: &str = "io.k8s.api.apps.v1.Deployment";
const POD: &str = "io.k8s.api.core.v1.Pod";
const CM: &str = "io.k8s.api.core.v1.ConfigMap";
const EVENT: &str = "io.k8s.api.core.v1.Event";

fn ok(kind: &str, root: &'static str, v: Value) {
    for d in [Decoder::Json, Decoder::Unstructured, Decoder::Smd] {
        if let Err(m) = check(schema(kind), root, &v, d) {
            panic!("{d:?}: {}", m.json_message());
        }
    }
}

fn with_container(c: Value) -> Value {
    json!({"spec": {"template": {"spec": {"containers": [c]}}}})
}

#[test]
fn well_typed_objects_pass() {
    ok(
        DEPLOY,
        "Deployment",
        json!({
            "metadata": {"name": "web", "labels": {"a": "b"}, "creationTimestamp": "2024-01-02T03:04:05Z"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                "template": {"spec": {
                    "hostNetwork": true,
                    "containers": [{
                        "name": "web", "image": "busybox",
                        "ports": [{"containerPort": 80}],
                        "env": [{"name": "PORT", "value": "8080"}],
                        "resources": {"limits": {"cpu": "500m", "memory": 1024}},
                        "livenessProbe": {"httpGet": {"port": "http"}},
                    }],
                }},
            },
        }),
    );
    // Nulls leave fields unset, whatever their type; unknown fields are not this check's.
    ok(
        DEPLOY,
        "Deployment",
        json!({"metadata": {"labels": null, "name": null}, "spec": {"replicas": null, "foo": "x"}}),
    );
    ok(
        CM,
        "ConfigMap",
        json!({"data": {"a": "1"}, "binaryData": {"b": "aGk="}}),
    );
}

#[test]
fn integers() {
    assert_eq!(
        json_err(DEPLOY, "Deployment", json!({"spec": {"replicas": "7"}})),
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
    );
    assert_eq!(
        json_err(DEPLOY, "Deployment", json!({"spec": {"replicas": 7.5}})),
        "json: cannot unmarshal number 7.5 into Go struct field DeploymentSpec.spec.replicas of type int32"
    );
    assert_eq!(
        json_err(DEPLOY, "Deployment", json!({"spec": {"replicas": 3_000_000_000u64}})),
        "json: cannot unmarshal number 3000000000 into Go struct field DeploymentSpec.spec.replicas of type int32"
    );
    assert_eq!(
        json_err(POD, "Pod", json!({"spec": {"activeDeadlineSeconds": true}})),
        "json: cannot unmarshal bool into Go struct field PodSpec.spec.activeDeadlineSeconds of type int64"
    );
    // The innermost struct names the field; list indices and map keys are not in Go's path.
    assert_eq!(
        json_err(
            DEPLOY,
            "Deployment",
            with_container(json!({"name": "c", "ports": [{"containerPort": "80"}]}))
        ),
        "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32"
    );
    // Whole floats pass the unstructured converter (strategic merge patches), not JSON.
    let v = json!({"spec": {"replicas": 7.0}});
    assert!(check(schema(DEPLOY), "Deployment", &v, Decoder::Unstructured).is_ok());
    assert!(check(schema(DEPLOY), "Deployment", &v, Decoder::Json).is_err());
}

#[test]
fn strings_bools_maps_and_lists() {
    assert_eq!(
        json_err(CM, "ConfigMap", json!({"data": {"a": 5}})),
        "json: cannot unmarshal number into Go struct field ConfigMap.data of type string"
    );
    assert_eq!(
        json_err(CM, "ConfigMap", json!({"metadata": {"labels": {"n": 5}}})),
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"
    );
    assert_eq!(
        json_err(
            DEPLOY,
            "Deployment",
            with_container(json!({"name": "c", "env": [{"name": "PORT", "value": 8080}]}))
        ),
        "json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value of type string"
    );
    assert_eq!(
        json_err(POD, "Pod", json!({"spec": {"hostNetwork": "true"}})),
        "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool"
    );
    assert_eq!(
        json_err(CM, "ConfigMap", json!({"data": "x"})),
        "json: cannot unmarshal string into Go struct field ConfigMap.data of type map[string]string"
    );
    assert_eq!(
        json_err(POD, "Pod", json!({"spec": {"containers": {"name": "c"}}})),
        "json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container"
    );
    assert_eq!(
        json_err(POD, "Pod", json!({"spec": {"containers": ["c"]}})),
        "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type v1.Container"
    );
    assert_eq!(
        json_err(POD, "Pod", json!({"spec": [1]})),
        "json: cannot unmarshal array into Go struct field Pod.spec of type v1.PodSpec"
    );
    assert_eq!(
        json_err(CM, "ConfigMap", json!({"binaryData": {"b": 1}})),
        "json: cannot unmarshal number into Go struct field ConfigMap.binaryData of type []uint8"
    );
    assert_eq!(
        json_err(POD, "Pod", json!({"spec": {"containers": [{"name": 5}]}})),
        "json: cannot unmarshal number into Go struct field Container.spec.containers.name of type string"
    );
}

#[test]
fn times() {
    assert_eq!(
        json_err(EVENT, "Event", json!({"lastTimestamp": "garbage"})),
        r#"parsing time "garbage" as "2006-01-02T15:04:05Z07:00": cannot parse "garbage" as "2006""#
    );
    assert_eq!(
        json_err(
            EVENT,
            "Event",
            json!({"lastTimestamp": "2024-13-01T00:00:00Z"})
        ),
        r#"parsing time "2024-13-01T00:00:00Z": month out of range"#
    );
    assert_eq!(
        json_err(EVENT, "Event", json!({"lastTimestamp": "2024-01-01"})),
        r#"parsing time "2024-01-01" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T""#
    );
    assert_eq!(
        json_err(
            EVENT,
            "Event",
            json!({"lastTimestamp": "2024-02-30T00:00:00Z"})
        ),
        r#"parsing time "2024-02-30T00:00:00Z": day out of range"#
    );
    assert_eq!(
        json_err(
            EVENT,
            "Event",
            json!({"lastTimestamp": "2024-01-01T00:00:00Zjunk"})
        ),
        r#"parsing time "2024-01-01T00:00:00Zjunk": extra text: "junk""#
    );
    assert_eq!(
        json_err(EVENT, "Event", json!({"eventTime": "x"})),
        r#"parsing time "x" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "x" as "2006""#
    );
    // metav1.Time decodes its string itself: no field in the error.
    assert_eq!(
        json_err(EVENT, "Event", json!({"lastTimestamp": 5})),
        "json: cannot unmarshal number into Go value of type string"
    );
    ok(
        EVENT,
        "Event",
        json!({"lastTimestamp": "2024-01-01T00:00:00.5+02:00", "eventTime": "2024-01-01T00:00:00.123456Z"}),
    );
}

#[test]
fn quantities_and_int_or_strings() {
    let limits =
        |v: Value| with_container(json!({"name": "c", "resources": {"limits": {"cpu": v}}}));
    assert_eq!(
        json_err(DEPLOY, "Deployment", limits(json!(true))),
        QUANTITY_FORMAT_ERR
    );
    assert_eq!(
        json_err(DEPLOY, "Deployment", limits(json!("lots"))),
        QUANTITY_FORMAT_ERR
    );
    ok(DEPLOY, "Deployment", limits(json!(0.5)));
    let surge = |v: Value| json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": v}}}});
    assert_eq!(
        json_err(DEPLOY, "Deployment", surge(json!(true))),
        "json: cannot unmarshal bool into Go value of type int32"
    );
    assert_eq!(
        json_err(DEPLOY, "Deployment", surge(json!(1.5))),
        "json: cannot unmarshal number 1.5 into Go value of type int32"
    );
    ok(DEPLOY, "Deployment", surge(json!(2)));
}

#[test]
fn byte_strings_are_base64() {
    const SECRET: &str = "io.k8s.api.core.v1.Secret";
    ok(
        SECRET,
        "Secret",
        json!({"data": {"a": "aGVsbG8=", "b": ""}}),
    );
    ok(CM, "ConfigMap", json!({"binaryData": {"b": "AAEC\nAw=="}}));
    // Go's base64 error, alone: encoding/json returns it as is, the unstructured converter
    // (strategic patches) decodes with encoding/json too; apply takes any string here.
    for d in [Decoder::Json, Decoder::Unstructured] {
        let e = check(
            schema(SECRET),
            "Secret",
            &json!({"data": {"a": "not base64!"}}),
            d,
        )
        .unwrap_err();
        let msg = match d {
            Decoder::Json => e.json_message(),
            _ => e.unstructured_message(),
        };
        assert_eq!(msg, "illegal base64 data at input byte 3", "{d:?}");
    }
    assert!(check(
        schema(SECRET),
        "Secret",
        &json!({"data": {"a": "x"}}),
        Decoder::Smd
    )
    .is_ok());
}

#[test]
fn unstructured_wording() {
    let msg = |v: Value| {
        check(schema(DEPLOY), "Deployment", &v, Decoder::Unstructured)
            .unwrap_err()
            .unstructured_message()
    };
    assert_eq!(
        msg(json!({"spec": {"replicas": "7"}})),
        "unrecognized type: int32"
    );
    assert_eq!(
        msg(json!({"spec": {"replicas": 7.5}})),
        "cannot convert float64 to int32"
    );
    assert_eq!(
        msg(json!({"metadata": {"labels": {"a": 5}}})),
        "cannot convert int64 to string"
    );
    assert_eq!(
        msg(json!({"metadata": {"labels": {"a": true}}})),
        "unrecognized type: string"
    );
    assert_eq!(
        msg(json!({"spec": {"template": "x"}})),
        "cannot restore struct from: string"
    );
    assert_eq!(
        msg(json!({"metadata": {"labels": [1]}})),
        "cannot restore map from slice"
    );
}

#[test]
fn smd_wording() {
    let msg = |v: Value| {
        check(schema(DEPLOY), "Deployment", &v, Decoder::Smd)
            .unwrap_err()
            .smd_message()
    };
    assert_eq!(
        msg(json!({"spec": {"replicas": "7"}})),
        ".spec.replicas: expected numeric (int or float), got string"
    );
    assert_eq!(
        msg(with_container(
            json!({"name": "web", "env": [{"name": "PORT", "value": 8080}]})
        )),
        r#".spec.template.spec.containers[name="web"].env[name="PORT"].value: expected string, got &value.valueUnstructured{Value:8080}"#
    );
    assert_eq!(
        msg(json!({"spec": {"paused": "yes"}})),
        ".spec.paused: expected boolean, got &{yes}"
    );
    // Numbers are one class for structured-merge-diff: 7.5 replicas pass here.
    let v = json!({"spec": {"replicas": 7.5}});
    assert!(check(schema(DEPLOY), "Deployment", &v, Decoder::Smd).is_ok());
}

// ---- Each write path's status (through fields.rs, as the handlers call it) ----

mod write_paths {
    use rkube_api::{patch::PatchType, ResourceDef};
    use serde_json::{json, Value};

    use crate::{openapi::fields, params::Params};

    fn def(group: &str, resource: &str) -> &'static ResourceDef {
        rkube_api::registry::find(group, "v1", resource).unwrap()
    }

    #[test]
    fn create_and_update_are_400_cannot_be_handled() {
        let raw =
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":5}}"#;
        let mut obj: Value = serde_json::from_slice(raw).unwrap();
        // Whatever the field validation directive.
        let params = Params {
            field_validation: Some("Ignore".into()),
            ..Params::default()
        };
        let err = fields::check(&params, def("", "configmaps"), None, raw, &mut obj).unwrap_err();
        assert_eq!((err.code, err.reason), (400, "BadRequest"));
        assert_eq!(
            err.message,
            r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string"#
        );
        // A type error trumps unknown fields under Strict.
        let raw =
            br#"{"kind":"Deployment","apiVersion":"apps/v1","spec":{"replicas":"7","foo":1}}"#;
        let mut obj: Value = serde_json::from_slice(raw).unwrap();
        let strict = Params {
            field_validation: Some("Strict".into()),
            ..Params::default()
        };
        let err =
            fields::check(&strict, def("apps", "deployments"), None, raw, &mut obj).unwrap_err();
        assert_eq!(
            err.message,
            r#"Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"#
        );
        // Subresources check their own kind (PUT .../scale).
        let raw = br#"{"kind":"Scale","apiVersion":"autoscaling/v1","spec":{"replicas":"2"}}"#;
        let mut obj: Value = serde_json::from_slice(raw).unwrap();
        let err = fields::check(
            &Params::default(),
            def("apps", "deployments"),
            Some("scale"),
            raw,
            &mut obj,
        )
        .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (
                400,
                r#"Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal string into Go struct field ScaleSpec.spec.replicas of type int32"#
            )
        );
    }

    fn patched() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "tp"}, "spec": {"replicas": "7"}})
    }

    #[test]
    fn merge_and_json_patches_are_422_with_the_patched_object() {
        for kind in [PatchType::Merge, PatchType::Json] {
            let err = fields::check_patch(
                &Params::default(),
                def("apps", "deployments"),
                None,
                kind,
                br#"{"spec":{"replicas":"7"}}"#,
                &mut patched(),
            )
            .unwrap_err();
            assert_eq!((err.code, err.reason), (422, "Invalid"), "{kind:?}");
            let value = serde_json::to_string(&patched()).unwrap();
            let detail = "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32";
            assert_eq!(
                err.message,
                format!(
                    " \"\" is invalid: patch: Invalid value: {}: {detail}",
                    rkube_api::validation::go_quote(&value)
                )
            );
            let cause = &err.details.as_ref().unwrap()["causes"][0];
            assert_eq!(cause["field"], "patch");
            assert_eq!(cause["reason"], "FieldValueInvalid");
        }
    }

    #[test]
    fn strategic_patches_are_422_with_the_patch() {
        let err = fields::check_patch(
            &Params::default(),
            def("apps", "deployments"),
            None,
            PatchType::Strategic,
            br#"{"spec":{"replicas":"7"}}"#,
            &mut patched(),
        )
        .unwrap_err();
        assert_eq!((err.code, err.reason), (422, "Invalid"));
        assert_eq!(
            err.message,
            r#" "" is invalid: patch: Invalid value: "map[spec:map[replicas:7]]": unrecognized type: int32"#
        );
    }

    #[test]
    fn apply_is_500_as_the_field_manager_fails() {
        let deploy = def("apps", "deployments");
        let err = fields::check_apply(deploy, Some("default"), &patched()).unwrap_err();
        assert_eq!(err.code, 500);
        assert_eq!(
            err.message,
            "failed to create typed patch object (default/tp; apps/v1, Kind=Deployment): .spec.replicas: expected numeric (int or float), got string"
        );
        // What structured-merge-diff lets through, the merged object's decoding refuses.
        let merged = json!({"metadata": {"name": "tp"}, "spec": {"replicas": 7.5}});
        assert!(fields::check_apply(deploy, Some("default"), &merged).is_ok());
        let err = fields::check_apply_result(deploy, Some("default"), &merged).unwrap_err();
        assert_eq!(err.code, 500);
        assert_eq!(
            err.message,
            "failed to convert new object (default/tp; apps/v1, Kind=Deployment) to proper version: unable to convert unstructured object to apps/v1, Kind=Deployment: cannot convert float64 to int32"
        );
        let good = json!({"metadata": {"name": "tp"}, "spec": {"replicas": 7}});
        assert!(fields::check_apply_result(deploy, Some("default"), &good).is_ok());
    }
}
