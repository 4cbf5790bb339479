//! Bodies built by hand the way Go's generated marshalers write them: every non-pointer
//! field, zero or not (empty strings, `false`, `0`, empty messages), pointers only when set.

use serde_json::json;

use super::*;

/// A protobuf message under construction.
#[derive(Default, Clone)]
struct Pb(Vec<u8>);

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Pb {
    fn new() -> Self {
        Pb::default()
    }
    fn key(mut self, tag: u32, wire: u8) -> Self {
        put_varint(&mut self.0, u64::from(tag) << 3 | u64::from(wire));
        self
    }
    fn varint(self, tag: u32, v: i64) -> Self {
        let mut s = self.key(tag, VARINT);
        put_varint(&mut s.0, v as u64);
        s
    }
    fn bytes(self, tag: u32, b: &[u8]) -> Self {
        let mut s = self.key(tag, LEN);
        put_varint(&mut s.0, b.len() as u64);
        s.0.extend_from_slice(b);
        s
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn str(self, tag: u32, v: &str) -> Self {
        self.bytes(tag, v.as_bytes())
    }
    fn msg(self, tag: u32, m: Pb) -> Self {
        self.bytes(tag, &m.0)
    }
    fn entry(self, tag: u32, k: &str, v: &str) -> Self {
        self.msg(tag, Pb::new().str(1, k).str(2, v))
    }
    fn entry_msg(self, tag: u32, k: &str, v: Pb) -> Self {
        self.msg(tag, Pb::new().str(1, k).msg(2, v))
    }
}

/// `k8s\0` + runtime.Unknown{typeMeta, raw, contentEncoding: "", contentType: ""}.
fn envelope(api_version: &str, kind: &str, raw: Pb) -> Vec<u8> {
    let unknown = Pb::new()
        .msg(1, Pb::new().str(1, api_version).str(2, kind))
        .msg(2, raw)
        .str(3, "")
        .str(4, "");
    let mut body = MAGIC.to_vec();
    body.extend_from_slice(&unknown.0);
    body
}

/// ObjectMeta as Go writes it for a new object: every string field, generation 0 and a
/// zero creationTimestamp.
fn object_meta(name: &str, namespace: &str) -> Pb {
    Pb::new()
        .str(1, name)
        .str(2, "")
        .str(3, namespace)
        .str(4, "")
        .str(5, "")
        .str(6, "")
        .varint(7, 0)
        .msg(8, Pb::new())
}

fn labels(m: Pb, tag: u32, k: &str, v: &str) -> Pb {
    m.entry(tag, k, v)
}

fn int_or_string_int(v: i32) -> Pb {
    Pb::new().varint(1, 0).varint(2, i64::from(v)).str(3, "")
}

fn int_or_string_str(v: &str) -> Pb {
    Pb::new().varint(1, 1).varint(2, 0).str(3, v)
}

fn decode(api_version: &str, kind: &str, raw: Pb) -> Value {
    decode_object(&envelope(api_version, kind, raw)).unwrap()
}

#[test]
fn config_map_with_data() {
    let cm = Pb::new()
        .msg(1, object_meta("c", "default"))
        .entry(2, "a", "b")
        .entry(2, "empty", "")
        .entry_msg(3, "bin", Pb::new())
        .msg(3, Pb::new().str(1, "bin2").bytes(2, b"\x00\xffhi"));
    let v = decode("v1", "ConfigMap", cm);
    assert_eq!(
        v,
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default", "creationTimestamp": null},
            "data": {"a": "b", "empty": ""},
            "binaryData": {"bin": "", "bin2": "AP9oaQ=="},
        })
    );
}

#[test]
fn namespace() {
    // Namespace{metadata, spec: {}, status: {phase: ""}}
    let ns = Pb::new()
        .msg(1, object_meta("x", ""))
        .msg(2, Pb::new())
        .msg(3, Pb::new().str(1, ""));
    assert_eq!(
        decode("v1", "Namespace", ns),
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "x", "creationTimestamp": null},
            "spec": {},
            "status": {},
        })
    );
}

#[test]
fn secret_bytes_and_pointer_bool() {
    let secret = Pb::new()
        .msg(1, object_meta("s", ""))
        .msg(2, Pb::new().str(1, "p").bytes(2, b"q"))
        .str(3, "Opaque")
        .varint(5, 0); // immutable: *bool set to false
    assert_eq!(
        decode("v1", "Secret", secret),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "creationTimestamp": null},
            "data": {"p": "cQ=="},
            "type": "Opaque",
            "immutable": false,
        })
    );
}

#[test]
fn deployment() {
    let container = Pb::new()
        .str(1, "busybox")
        .str(2, "busybox:1.36")
        .str(5, "")
        .msg(
            6,
            // ContainerPort{name: "", hostPort: 0, containerPort: 80, protocol: TCP, hostIP: ""}
            Pb::new()
                .str(1, "")
                .varint(2, 0)
                .varint(3, 80)
                .str(4, "TCP")
                .str(5, ""),
        )
        .msg(
            8,
            Pb::new()
                .entry_msg(1, "cpu", Pb::new().str(1, "500m"))
                .entry_msg(1, "memory", Pb::new().str(1, "64Mi")),
        )
        .str(13, "")
        .str(14, "")
        .varint(16, 0)
        .varint(17, 0)
        .varint(18, 0)
        .str(20, "");
    let pod_spec = Pb::new()
        .msg(2, container)
        .str(3, "")
        .str(6, "")
        .str(8, "")
        .str(10, "")
        .varint(11, 0)
        .varint(12, 0)
        .varint(13, 0)
        .str(16, "");
    let template = Pb::new()
        .msg(1, labels(object_meta("", ""), 11, "app", "d"))
        .msg(2, pod_spec);
    let strategy = Pb::new().str(1, "RollingUpdate").msg(
        2,
        Pb::new()
            .msg(1, int_or_string_int(0))
            .msg(2, int_or_string_str("25%")),
    );
    let spec = Pb::new()
        .varint(1, 2)
        .msg(2, Pb::new().entry(1, "app", "d"))
        .msg(3, template)
        .msg(4, strategy)
        .varint(5, 0)
        .varint(7, 0);
    let status = Pb::new()
        .varint(1, 0)
        .varint(2, 0)
        .varint(3, 0)
        .varint(4, 0)
        .varint(5, 0)
        .varint(7, 0);
    let d = Pb::new()
        .msg(1, labels(object_meta("d", ""), 11, "app", "d"))
        .msg(2, spec)
        .msg(3, status);
    assert_eq!(
        decode("apps/v1", "Deployment", d),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"app": "d"}, "creationTimestamp": null},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "d"}},
                "template": {
                    "metadata": {"labels": {"app": "d"}, "creationTimestamp": null},
                    "spec": {
                        "containers": [{
                            "name": "busybox",
                            "image": "busybox:1.36",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}},
                        }],
                    },
                },
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
                },
            },
            "status": {},
        })
    );
}

#[test]
fn deployment_zero_replicas_is_kept() {
    let d = Pb::new()
        .msg(1, object_meta("d", ""))
        .msg(2, Pb::new().varint(1, 0).varint(6, 0).varint(5, 0));
    let v = decode("apps/v1", "Deployment", d);
    assert_eq!(v["spec"], json!({"replicas": 0, "revisionHistoryLimit": 0}));
}

#[test]
fn service() {
    let port = Pb::new()
        .str(1, "80-8080")
        .str(2, "TCP")
        .varint(3, 80)
        .msg(4, int_or_string_int(8080))
        .varint(5, 0);
    let spec = Pb::new()
        .msg(1, port)
        .entry(2, "app", "svc")
        .str(3, "10.96.0.10")
        .str(4, "ClusterIP")
        .str(7, "")
        .str(8, "")
        .str(10, "")
        .str(11, "")
        .varint(12, 0)
        .varint(13, 0)
        .str(18, "10.96.0.10")
        .str(19, "IPv4");
    let svc = Pb::new()
        .msg(1, labels(object_meta("svc", "default"), 11, "app", "svc"))
        .msg(2, spec)
        .msg(3, Pb::new().msg(1, Pb::new()));
    assert_eq!(
        decode("v1", "Service", svc),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "svc",
                "namespace": "default",
                "labels": {"app": "svc"},
                "creationTimestamp": null,
            },
            "spec": {
                "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                "selector": {"app": "svc"},
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10"],
                "ipFamilies": ["IPv4"],
                "type": "ClusterIP",
            },
            "status": {"loadBalancer": {}},
        })
    );
}

#[test]
fn inline_volume_source_and_probe_handler() {
    let volume = Pb::new().str(1, "cfg").msg(
        2,
        Pb::new().msg(19, Pb::new().msg(1, Pb::new().str(1, "c"))),
    );
    let probe = Pb::new()
        .msg(
            1,
            Pb::new().msg(
                2,
                Pb::new()
                    .str(1, "/healthz")
                    .msg(2, int_or_string_str("http")),
            ),
        )
        .varint(2, 5)
        .varint(3, 0)
        .varint(7, 0);
    let container = Pb::new().str(1, "c").msg(10, probe);
    let pod = Pb::new()
        .msg(1, object_meta("p", ""))
        .msg(2, Pb::new().msg(1, volume).msg(2, container));
    let v = decode("v1", "Pod", pod);
    assert_eq!(
        v["spec"],
        json!({
            "volumes": [{"name": "cfg", "configMap": {"name": "c"}}],
            "containers": [{
                "name": "c",
                "livenessProbe": {
                    "httpGet": {"path": "/healthz", "port": "http"},
                    "initialDelaySeconds": 5,
                    "terminationGracePeriodSeconds": 0,
                },
            }],
        })
    );
}

#[test]
fn times_and_managed_fields() {
    // creationTimestamp 2024-01-02T03:04:05.5Z, deletionTimestamp absent,
    // managedFields[{manager, operation, time, fieldsType, fieldsV1}]
    let time = Pb::new().varint(1, 1_704_164_645).varint(2, 500_000_000);
    let managed = Pb::new()
        .str(1, "kubectl-create")
        .str(2, "Update")
        .str(3, "v1")
        .msg(4, time.clone())
        .str(6, "FieldsV1")
        .msg(7, Pb::new().bytes(1, br#"{"f:data":{".":{}}}"#));
    let meta = Pb::new()
        .str(1, "c")
        .msg(8, time)
        .varint(10, 30)
        .msg(17, managed);
    let v = decode("v1", "ConfigMap", Pb::new().msg(1, meta));
    assert_eq!(
        v["metadata"],
        json!({
            "name": "c",
            "creationTimestamp": "2024-01-02T03:04:05Z",
            "deletionGracePeriodSeconds": 30,
            "managedFields": [{
                "manager": "kubectl-create",
                "operation": "Update",
                "apiVersion": "v1",
                "time": "2024-01-02T03:04:05Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}}},
            }],
        })
    );
}

#[test]
fn event_micro_time_and_negative_ints() {
    let series = Pb::new()
        .varint(1, 3)
        .msg(2, Pb::new().varint(1, 1_704_164_645).varint(2, 123_456_789));
    let ev = Pb::new()
        .msg(1, object_meta("e", "default"))
        .msg(2, Pb::new().varint(1, 1_704_164_645).varint(2, 7_000))
        .msg(3, series)
        .str(4, "kubelet")
        .str(5, "")
        .varint(15, -1);
    let v = decode("events.k8s.io/v1", "Event", ev);
    assert_eq!(v["eventTime"], json!("2024-01-02T03:04:05.000007Z"));
    assert_eq!(
        v["series"],
        json!({"count": 3, "lastObservedTime": "2024-01-02T03:04:05.123456Z"})
    );
    assert_eq!(v["reportingController"], json!("kubelet"));
    assert!(v.get("reportingInstance").is_none());
    assert_eq!(v["deprecatedCount"], json!(-1));
}

#[test]
fn packed_and_unpacked_repeated_ints_and_unknown_fields() {
    // PodSecurityContext.supplementalGroups (int64, tag 4): one unpacked, then two packed.
    let mut packed = Vec::new();
    put_varint(&mut packed, 2000);
    put_varint(&mut packed, 3000);
    let sc = Pb::new().varint(4, 1000).bytes(4, &packed);
    let spec = Pb::new()
        .varint(999, 1) // unknown fields of every wire type are skipped
        .str(998, "x")
        .key(997, I32_WIRE)
        .raw(&[1, 2, 3, 4])
        .key(996, I64_WIRE)
        .raw(&[1, 2, 3, 4, 5, 6, 7, 8])
        .msg(14, sc);
    let pod = Pb::new().msg(2, spec);
    let v = decode("v1", "Pod", pod);
    assert_eq!(
        v["spec"],
        json!({"securityContext": {"supplementalGroups": [1000, 2000, 3000]}})
    );
}

#[test]
fn lease_raw_extension_and_duration_helpers() {
    assert_eq!(go_duration(0), "0s");
    assert_eq!(go_duration(1_500_000), "1.5ms");
    assert_eq!(go_duration(500_000), "500µs");
    assert_eq!(go_duration(12), "12ns");
    assert_eq!(go_duration(90_000_000_000), "1m30s");
    assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
    assert_eq!(go_duration(-3_723_500_000_000), "-1h2m3.5s");
    assert_eq!(
        format_time(0, 1, true, "t").unwrap(),
        "1970-01-01T00:00:00.000000Z"
    );
    assert!(format_time(i64::MAX, 0, false, "t").is_err());

    // ControllerRevision.data is a RawExtension holding JSON.
    let cr = Pb::new()
        .msg(1, object_meta("r", ""))
        .msg(2, Pb::new().bytes(1, br#"{"spec":{"x":1}}"#))
        .varint(3, 0);
    assert_eq!(
        decode("apps/v1", "ControllerRevision", cr),
        json!({
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {"name": "r", "creationTimestamp": null},
            "data": {"spec": {"x": 1}},
            "revision": 0,
        })
    );
}

#[test]
fn delete_options_under_any_group() {
    let opts = Pb::new().varint(1, 0).str(4, "Foreground");
    assert_eq!(
        decode("policy/v1", "DeleteOptions", opts),
        json!({
            "apiVersion": "policy/v1",
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "propagationPolicy": "Foreground",
        })
    );
    let eviction = Pb::new()
        .msg(1, object_meta("p", "default"))
        .msg(2, Pb::new().varint(1, 10));
    assert_eq!(
        decode("policy/v1", "Eviction", eviction)["deleteOptions"],
        json!({"gracePeriodSeconds": 10})
    );
}

#[test]
fn errors() {
    assert_eq!(decode_object(b"{}"), Err(ProtoError::Magic));
    assert_eq!(
        decode_object(&envelope("v1", "", Pb::new())),
        Err(ProtoError::MissingKind)
    );
    assert!(matches!(
        decode_object(&envelope("v1", "Frobnicator", Pb::new())),
        Err(ProtoError::UnknownKind { .. })
    ));
    assert!(matches!(
        decode_object(&envelope("nope/v1", "ConfigMap", Pb::new())),
        Err(ProtoError::UnknownKind { .. })
    ));
    // Truncated: a length prefix longer than the rest.
    let mut body = envelope("v1", "ConfigMap", Pb::new().msg(1, object_meta("c", "")));
    body.truncate(body.len() - 3);
    assert!(matches!(
        decode_object(&body),
        Err(ProtoError::Malformed { .. })
    ));
    // A string field sent as a varint.
    let bad = Pb::new().msg(1, Pb::new().varint(1, 5));
    assert!(matches!(
        decode_object(&envelope("v1", "ConfigMap", bad)),
        Err(ProtoError::Malformed { .. })
    ));
    // Bad JSON inside a RawExtension.
    let cr = Pb::new().msg(2, Pb::new().bytes(1, b"{nope"));
    assert!(matches!(
        decode_object(&envelope("apps/v1", "ControllerRevision", cr)),
        Err(ProtoError::Json { .. })
    ));
    // gzip content encoding is not something kube clients send.
    let mut gz = MAGIC.to_vec();
    gz.extend(
        Pb::new()
            .msg(1, Pb::new().str(1, "v1").str(2, "ConfigMap"))
            .str(3, "gzip")
            .0,
    );
    assert_eq!(
        decode_object(&gz),
        Err(ProtoError::ContentEncoding("gzip".into()))
    );
    // Absurd nesting (objects embedded in RawExtensions) is refused, not a stack overflow.
    let mut deep = envelope("apps/v1", "ControllerRevision", Pb::new());
    for _ in 0..100 {
        deep = envelope(
            "apps/v1",
            "ControllerRevision",
            Pb::new().msg(2, Pb::new().bytes(1, &deep)),
        );
    }
    assert_eq!(decode_object(&deep), Err(ProtoError::TooDeep));
    // A few levels are fine.
    let inner = envelope("v1", "ConfigMap", Pb::new().msg(1, object_meta("c", "")));
    let outer = Pb::new().msg(2, Pb::new().bytes(1, &inner));
    assert_eq!(
        decode("apps/v1", "ControllerRevision", outer)["data"],
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "creationTimestamp": null}})
    );
}

#[test]
fn schema_is_consistent() {
    for (i, m) in schema::MESSAGES.iter().enumerate() {
        if i > 0 {
            assert!(schema::MESSAGES[i - 1].name < m.name, "sorted: {}", m.name);
        }
        for f in m.fields {
            if let Ty::Msg(idx) = f.ty {
                assert!(usize::from(idx) < schema::MESSAGES.len());
            }
            if f.card == Card::Inline {
                assert!(matches!(f.ty, Ty::Msg(_)), "{}.{}", m.name, f.json);
            } else {
                assert!(!f.json.is_empty(), "{}.{}", m.name, f.tag);
            }
            assert_eq!(
                m.fields.iter().filter(|g| g.tag == f.tag).count(),
                1,
                "{}: tag {}",
                m.name,
                f.tag
            );
        }
    }
    for (v, _) in schema::API_VERSIONS {
        assert!(kind_message(v, "DeleteOptions").is_some());
    }
    for (v, k) in [
        ("v1", "Pod"),
        ("v1", "Binding"),
        ("apps/v1", "ReplicaSet"),
        ("autoscaling/v1", "Scale"),
        ("coordination.k8s.io/v1", "Lease"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
        ("events.k8s.io/v1", "Event"),
        ("policy/v1", "Eviction"),
    ] {
        assert!(kind_message(v, k).is_some(), "{v} {k}");
    }
    // JSON names that plain lowerCamelCase would get wrong.
    let spec =
        &schema::MESSAGES[usize::from(find_message("k8s.io.api.core.v1.ServiceSpec").unwrap())];
    for name in ["clusterIP", "clusterIPs", "externalIPs", "loadBalancerIP"] {
        assert!(spec.fields.iter().any(|f| f.json == name), "{name}");
    }
    let status =
        &schema::MESSAGES[usize::from(find_message("k8s.io.api.core.v1.PodStatus").unwrap())];
    assert!(status.fields.iter().any(|f| f.json == "podIP"));
    assert!(decode_message("k8s.io.api.core.v1.PodStatus", &[]).unwrap() == json!({}));
}
