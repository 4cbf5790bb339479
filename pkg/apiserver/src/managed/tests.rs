//! The create shortcut (`managed::create_managed_fields`) against the general update from
//! the zero value, over the served schemas: real objects of many kinds and thousands of
//! mangled variants of them (nulls, empty and mistyped values, duplicate and missing list
//! keys, unknown fields).

use rkube_api::{
    managed::{self, Context, Managed, Operation, Writer},
    ResourceDef,
};
use serde_json::{json, Value};

use super::{reset_fields, schema};

const NOW: &str = "2026-11-27T10:00:00Z";

fn writer(def: &ResourceDef) -> Writer {
    Writer {
        manager: "kubectl-create".into(),
        operation: Operation::Update,
        api_version: def.api_version(),
        subresource: String::new(),
    }
}

/// What the general path records: `managedFields` after the create, None for none.
fn general(def: &'static ResourceDef, obj: &Value) -> Option<Value> {
    let reset = reset_fields(def, None);
    let cx = Context {
        schema: schema(def),
        reset: &reset,
        now: NOW,
    };
    let zero = managed::managers::zero_value(&cx, obj);
    let mut m = Managed::default();
    managed::update(&cx, &zero, obj, &mut m, &writer(def)).ok()?;
    (!m.entries.is_empty()).then(|| m.encode())
}

/// The shortcut; `Err` when it declines.
fn fast(def: &'static ResourceDef, obj: &Value) -> Result<Option<Value>, ()> {
    let reset = reset_fields(def, None);
    managed::create_managed_fields(schema(def), &reset, NOW, obj, &writer(def)).ok_or(())
}

fn def(group: &str, plural: &str) -> &'static ResourceDef {
    rkube_api::registry::find(group, "v1", plural).unwrap()
}

/// Objects as a create stores them (defaulted, with status where the strategy sets one).
fn corpus() -> Vec<(&'static ResourceDef, Value)> {
    let meta = |name: &str| {
        json!({"name": name, "namespace": "default", "uid": "u", "creationTimestamp": NOW,
            "labels": {"app": "web", "tier": "x"}, "annotations": {"a": "b"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                "uid": "o", "controller": true}],
            "finalizers": ["f1", "f2"]})
    };
    let container = json!({
        "name": "web", "image": "registry.k8s.io/nginx-slim:0.27",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}, {"containerPort": 9090}],
        "env": [{"name": "MODE", "value": "production"}, {"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "command": ["sh", "-c", "sleep 1"],
    });
    let pod_spec = json!({
        "containers": [container],
        "initContainers": [{"name": "init", "image": "busybox"}],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "tolerations": [{"key": "k", "operator": "Exists"}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
        "nodeSelector": {"disk": "ssd"}, "securityContext": {},
    });
    let mut out = vec![
        (
            def("", "pods"),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta("p"), "spec": pod_spec.clone()}),
        ),
        (
            def("", "configmaps"),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("c"),
                "data": {"mode": "bench", "payload": "xxxx"}, "binaryData": {"b": "AAAA"}}),
        ),
        (
            def("", "secrets"),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("s"), "type": "Opaque",
                "data": {"k": "dg=="}, "stringData": {"a": "b"}}),
        ),
        (
            def("apps", "deployments"),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("d"),
                "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec.clone()}},
                "status": {}}),
        ),
        (
            def("apps", "replicasets"),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta("r"),
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {}, "spec": pod_spec}}}),
        ),
        (
            def("", "services"),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("svc"),
                "spec": {"type": "NodePort", "selector": {"app": "web"}, "clusterIP": "10.43.0.10",
                    "clusterIPs": ["10.43.0.10"], "ipFamilies": ["IPv4"],
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 30080},
                              {"port": 53, "protocol": "UDP"}]},
                "status": {"loadBalancer": {}}}),
        ),
        (
            def("", "namespaces"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "uid": "u"},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
        ),
        (
            def("", "nodes"),
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "labels": {"a": "b"}},
                "spec": {"podCIDR": "10.42.0.0/24", "podCIDRs": ["10.42.0.0/24"], "taints": [{"key": "k", "effect": "NoSchedule"}]},
                "status": {"conditions": [{"type": "Ready", "status": "True"}], "addresses": [{"type": "InternalIP", "address": "1.2.3.4"}],
                    "capacity": {"cpu": "2"}}}),
        ),
        (
            def("", "events"),
            json!({"apiVersion": "v1", "kind": "Event", "metadata": meta("e"),
                "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
                "reason": "Scheduled", "message": "m", "type": "Normal", "count": 1,
                "source": {"component": "c"}, "firstTimestamp": NOW}),
        ),
        (
            def("coordination.k8s.io", "leases"),
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta("l"),
                "spec": {"holderIdentity": "h", "leaseDurationSeconds": 40, "renewTime": "2026-11-27T10:00:00.000000Z"}}),
        ),
        (
            def("discovery.k8s.io", "endpointslices"),
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta("es"),
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["10.42.0.5"], "conditions": {"ready": true}, "targetRef": {"kind": "Pod", "name": "p"}}],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}),
        ),
        (
            def("", "endpoints"),
            json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": meta("ep"),
                "subsets": [{"addresses": [{"ip": "10.42.0.5"}], "ports": [{"port": 80}]}]}),
        ),
    ];
    // As a create stores them: defaulted, with the strategy's status.
    for (def, obj) in &mut out {
        rkube_api::defaults::apply(def, obj);
        crate::strategy::prepare_for_create(def, obj);
    }
    out
}

#[test]
fn the_create_shortcut_records_what_the_general_update_does() {
    for (def, obj) in corpus() {
        let want = general(def, &obj);
        assert!(want.is_some(), "{}: no entry", def.kind);
        assert_eq!(fast(def, &obj), Ok(want), "{}", def.kind);
    }
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Replaces one randomly chosen value somewhere in `v` with a troublesome one.
fn mangle(v: &mut Value, rng: &mut Rng, depth: usize) {
    let descend = depth < 8 && rng.below(4) != 0;
    match v {
        Value::Object(m) if descend && !m.is_empty() => {
            let k = m.keys().nth(rng.below(m.len())).cloned().unwrap();
            return mangle(m.get_mut(&k).unwrap(), rng, depth + 1);
        }
        Value::Array(a) if descend && !a.is_empty() => {
            if rng.below(5) == 0 {
                // A duplicate item (a duplicate key in keyed and set lists).
                let i = rng.below(a.len());
                let dup = a[i].clone();
                a.push(dup);
                return;
            }
            let i = rng.below(a.len());
            return mangle(&mut a[i], rng, depth + 1);
        }
        _ => {}
    }
    let was = v.clone();
    *v = match rng.below(10) {
        0 => Value::Null,
        1 => json!({}),
        2 => json!([]),
        3 => json!("s"),
        4 => json!(7),
        5 => json!({"unknownField": {"x": 1}}),
        6 => json!([{"name": "a"}, {"name": "b"}]),
        7 => json!([1, 2, 2]),
        8 => {
            // An item without its key fields.
            json!([{"value": "v"}])
        }
        _ => match was {
            Value::Object(mut m) => {
                m.insert("extra".into(), json!({"a": null, "b": {}}));
                Value::Object(m)
            }
            other => json!({ "was": other }),
        },
    };
}

#[test]
fn the_create_shortcut_agrees_on_mangled_objects() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let corpus = corpus();
    let (mut checked, mut declined) = (0, 0);
    for round in 0..6000 {
        let (def, base) = &corpus[round % corpus.len()];
        let mut obj = base.clone();
        for _ in 0..=rng.below(3) {
            mangle(&mut obj, &mut rng, 0);
        }
        if !obj.is_object() {
            continue;
        }
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("managedFields");
        }
        match fast(def, &obj) {
            Ok(got) => {
                checked += 1;
                assert_eq!(got, general(def, &obj), "{}: {obj}", def.kind);
            }
            Err(()) => {
                declined += 1;
                // Declined only where the general path fails too (it reports the error).
                let reset = reset_fields(def, None);
                let cx = Context {
                    schema: schema(def),
                    reset: &reset,
                    now: NOW,
                };
                let zero = managed::managers::zero_value(&cx, &obj);
                let r = managed::update(&cx, &zero, &obj, &mut Managed::default(), &writer(def));
                assert!(r.is_err(), "{}: declined {obj}", def.kind);
            }
        }
    }
    assert!(checked > 4000, "checked {checked}, declined {declined}");
    assert!(declined > 0, "no field errors generated");
}

/// `compare` leaves `metadata.managedFields` out, so updates need not copy both objects to
/// drop it: over mangled pairs of objects (metadata absent, null, empty or only
/// managedFields included), with managedFields on either, both or neither side, it gives
/// what it gives for the objects without them, errors included.
#[test]
fn compare_ignores_managed_fields_as_if_stripped() {
    use rkube_api::managed::typed::compare;
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let corpus = corpus();
    let entries = json!([{"manager": "m", "operation": "Update", "apiVersion": "v1",
        "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]);
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("managedFields");
        }
        v
    };
    let with_managed = |v: &mut Value, e: Value| {
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("managedFields".into(), e);
        }
    };
    let mut compared = 0;
    for round in 0..4000 {
        let (def, base) = &corpus[round % corpus.len()];
        let (mut old, mut new) = (base.clone(), base.clone());
        for _ in 0..=rng.below(2) {
            mangle(&mut new, &mut rng, 0);
        }
        if !new.is_object() {
            continue;
        }
        match rng.below(8) {
            0 => old["metadata"] = json!({}),
            1 => old["metadata"] = Value::Null,
            2 => {
                old.as_object_mut().map(|o| o.remove("metadata"));
            }
            3 => new["metadata"] = json!({}),
            _ => {}
        }
        if rng.below(2) == 0 {
            with_managed(&mut old, entries.clone());
        }
        if rng.below(2) == 0 {
            with_managed(&mut new, json!([]));
        }
        let s = schema(def);
        let got = compare(s, &old, &new).map_err(|e| e.to_string());
        let want = compare(s, &strip(&old), &strip(&new)).map_err(|e| e.to_string());
        assert_eq!(got, want, "{}: {old} -> {new}", def.kind);
        compared += 1;
    }
    assert!(compared > 3000, "{compared}");
}
