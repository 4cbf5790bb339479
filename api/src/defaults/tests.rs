use serde_json::{json, Value};

use super::{apply, apply_update, initial_status};
use crate::ResourceDef;

fn def(group: &'static str, kind: &'static str, namespaced: bool) -> ResourceDef {
    ResourceDef {
        group,
        version: "v1",
        kind,
        plural: "things",
        singular: "thing",
        namespaced,
        verbs: &[],
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "things",
    }
}

fn defaulted(d: &ResourceDef, mut obj: Value) -> Value {
    apply(d, &mut obj);
    let once = obj.clone();
    apply(d, &mut obj);
    assert_eq!(once, obj, "apply must be idempotent");
    obj
}

#[test]
fn pod_defaults() {
    let d = def("", "Pod", true);
    let pod = defaulted(
        &d,
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{
            "name": "c", "image": "busybox",
            "ports": [{"containerPort": 80}],
            "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}},
            "livenessProbe": {"httpGet": {"port": 80}}
        }, {"name": "d", "image": "nginx:1.27"}],
        "volumes": [{"name": "s", "secret": {"secretName": "x"}}, {"name": "e"}]}}),
    );
    let spec = &pod["spec"];
    assert_eq!(spec["restartPolicy"], "Always");
    assert_eq!(spec["dnsPolicy"], "ClusterFirst");
    assert_eq!(spec["terminationGracePeriodSeconds"], 30);
    assert_eq!(spec["schedulerName"], "default-scheduler");
    assert_eq!(spec["securityContext"], json!({}));
    assert_eq!(spec["enableServiceLinks"], true);
    assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(spec["priority"], 0);
    let c = &spec["containers"][0];
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(spec["containers"][1]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(spec["containers"][1]["resources"], json!({}));
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    assert_eq!(
        c["resources"],
        json!({"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}})
    );
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(spec["volumes"][0]["secret"]["defaultMode"], 420);
    assert_eq!(spec["volumes"][1]["emptyDir"], json!({}));
}

#[test]
fn deployment_defaults() {
    let d = def("apps", "Deployment", true);
    let dep = defaulted(
        &d,
        json!({"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
    );
    let spec = &dep["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(
        spec["template"]["metadata"]["creationTimestamp"],
        Value::Null
    );
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "Always");
    assert!(spec["template"]["spec"].get("enableServiceLinks").is_none());
    assert!(spec["template"]["spec"].get("priority").is_none());
    let rs = defaulted(&def("apps", "ReplicaSet", true), json!({"spec": {}}));
    assert_eq!(rs["spec"]["replicas"], 1);
    let recreate = defaulted(&d, json!({"spec": {"strategy": {"type": "Recreate"}}}));
    assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn service_defaults() {
    let d = def("", "Service", true);
    let svc = defaulted(
        &d,
        json!({"metadata": {"name": "s"}, "spec": {"selector": {"app": "a"}, "ports": [{"port": 80}]}}),
    );
    let spec = &svc["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(
        spec["ports"][0],
        json!({"port": 80, "protocol": "TCP", "targetPort": 80})
    );
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert!(spec.get("externalTrafficPolicy").is_none());
    assert_eq!(svc["status"], json!({"loadBalancer": {}}));
    let np = defaulted(
        &d,
        json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]}}),
    );
    assert_eq!(np["spec"]["externalTrafficPolicy"], "Cluster");
    assert_eq!(np["spec"]["ports"][0]["targetPort"], "http");
    let ext = defaulted(
        &d,
        json!({"spec": {"type": "ExternalName", "externalName": "example.com"}}),
    );
    assert!(ext["spec"].get("ipFamilies").is_none());
    assert!(ext["spec"].get("internalTrafficPolicy").is_none());
    let headless = defaulted(
        &d,
        json!({"spec": {"clusterIP": "None", "ports": [{"port": 80}]}}),
    );
    assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
    assert_eq!(headless["spec"]["ipFamilyPolicy"], "RequireDualStack");
}

#[test]
fn service_update_keeps_allocations() {
    let d = def("", "Service", true);
    let old = defaulted(
        &d,
        json!({"metadata": {"name": "s", "namespace": "d", "uid": "u", "creationTimestamp": "2024-01-01T00:00:00Z"},
               "spec": {"type": "NodePort", "clusterIP": "10.43.0.5", "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}}),
    );
    let mut new = json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {"type": "NodePort", "ports": [{"name": "http", "port": 80}]}});
    apply_update(&d, &mut new, &old);
    assert_eq!(new["spec"]["clusterIP"], "10.43.0.5");
    assert_eq!(new["spec"]["clusterIPs"], json!(["10.43.0.5"]));
    assert_eq!(new["spec"]["ports"][0]["nodePort"], 30080);
    assert_eq!(new["metadata"]["uid"], "u");
    assert_eq!(new["metadata"]["creationTimestamp"], "2024-01-01T00:00:00Z");
    let errs = crate::validation::validate(&d, &new, Some(&old));
    assert!(
        errs.is_empty(),
        "{:?}",
        errs.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
}

#[test]
fn secret_namespace_and_others() {
    let s = defaulted(
        &def("", "Secret", true),
        json!({"metadata": {"name": "s"}, "stringData": {"user": "admin"}, "data": {"a": "YQ=="}}),
    );
    assert_eq!(s["type"], "Opaque");
    assert_eq!(s["data"], json!({"a": "YQ==", "user": "YWRtaW4="}));
    assert!(s.get("stringData").is_none());
    let ns = defaulted(
        &def("", "Namespace", false),
        json!({"metadata": {"name": "dev"}}),
    );
    assert_eq!(ns["status"], json!({"phase": "Active"}));
    assert_eq!(
        ns["metadata"]["labels"],
        json!({"kubernetes.io/metadata.name": "dev"})
    );
    let node = defaulted(&def("", "Node", false), json!({"metadata": {"name": "n"}}));
    assert_eq!(node, json!({"metadata": {"name": "n"}}));
    let es = defaulted(
        &def("discovery.k8s.io", "EndpointSlice", true),
        json!({"ports": [{"port": 80}]}),
    );
    assert_eq!(
        es["ports"][0],
        json!({"port": 80, "name": "", "protocol": "TCP"})
    );
}

#[test]
fn defaulted_objects_validate() {
    let cases = [
        (
            def("", "Pod", true),
            json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}], "livenessProbe": {"httpGet": {"port": 80}}}]}}),
        ),
        (
            def("apps", "Deployment", true),
            json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
        ),
        (
            def("apps", "StatefulSet", true),
            json!({"metadata": {"name": "db", "namespace": "default"}, "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "postgres"}]}}}}),
        ),
        (
            def("apps", "DaemonSet", true),
            json!({"metadata": {"name": "ds", "namespace": "default"}, "spec": {"selector": {"matchLabels": {"app": "ds"}},
            "template": {"metadata": {"labels": {"app": "ds"}}, "spec": {"containers": [{"name": "c", "image": "agent"}]}}}}),
        ),
        (
            def("", "Service", true),
            json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}),
        ),
        (
            def("", "Secret", true),
            json!({"metadata": {"name": "s", "namespace": "default"}, "stringData": {"k": "v"}}),
        ),
        (
            def("", "Namespace", false),
            json!({"metadata": {"name": "dev"}}),
        ),
        (
            def("rbac.authorization.k8s.io", "RoleBinding", true),
            json!({"metadata": {"name": "rb", "namespace": "default"}, "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "robot"}]}),
        ),
        (
            def("rbac.authorization.k8s.io", "ClusterRoleBinding", false),
            json!({"metadata": {"name": "crb"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "Group", "name": "dev"}, {"kind": "ServiceAccount", "name": "robot", "namespace": "default"}]}),
        ),
    ];
    for (d, obj) in cases {
        let obj = defaulted(&d, obj);
        let errs = crate::validation::validate(&d, &obj, None);
        assert!(
            errs.is_empty(),
            "{}: {:?}",
            d.kind,
            errs.iter().map(ToString::to_string).collect::<Vec<_>>()
        );
        let errs = crate::validation::validate(&d, &obj, Some(&obj));
        assert!(
            errs.is_empty(),
            "{} update: {:?}",
            d.kind,
            errs.iter().map(ToString::to_string).collect::<Vec<_>>()
        );
    }
}

#[test]
fn initial_statuses() {
    let d = def("", "Pod", true);
    let status = |spec: Value| initial_status(&d, &defaulted(&d, json!({"spec": spec}))).unwrap();
    let c = |res: Value| json!({"containers": [{"name": "c", "image": "x", "resources": res}]});
    assert_eq!(
        status(c(json!({}))),
        json!({"phase": "Pending", "qosClass": "BestEffort"})
    );
    assert_eq!(
        status(c(json!({"limits": {"cpu": "1", "memory": "1Gi"}})))["qosClass"],
        "Guaranteed"
    );
    assert_eq!(
        status(c(json!({"requests": {"cpu": "100m"}})))["qosClass"],
        "Burstable"
    );
    assert_eq!(
        status(c(
            json!({"requests": {"cpu": "100m"}, "limits": {"cpu": "1", "memory": "1Gi"}})
        ))["qosClass"],
        "Burstable"
    );
    assert_eq!(
        initial_status(&def("apps", "ReplicaSet", true), &json!({})),
        Some(json!({"replicas": 0}))
    );
    assert_eq!(
        initial_status(&def("", "ConfigMap", true), &json!({})),
        None
    );
}

#[test]
fn rbac_binding_defaults() {
    for (kind, namespaced) in [("RoleBinding", true), ("ClusterRoleBinding", false)] {
        let d = def("rbac.authorization.k8s.io", kind, namespaced);
        let b = defaulted(
            &d,
            json!({"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [
                {"kind": "User", "name": "jane"},
                {"kind": "Group", "name": "dev", "apiGroup": ""},
                {"kind": "ServiceAccount", "name": "robot", "namespace": "ns"},
                {"kind": "ServiceAccount", "name": "bot", "apiGroup": null},
                {"kind": "User", "name": "x", "apiGroup": "example.com"},
                {"kind": "Robot", "name": "r"}
            ]}),
        );
        assert_eq!(
            b["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"})
        );
        assert_eq!(
            b["subjects"],
            json!([
                {"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"},
                {"kind": "Group", "name": "dev", "apiGroup": "rbac.authorization.k8s.io"},
                {"kind": "ServiceAccount", "name": "robot", "namespace": "ns"},
                {"kind": "ServiceAccount", "name": "bot"},
                {"kind": "User", "name": "x", "apiGroup": "example.com"},
                {"kind": "Robot", "name": "r"}
            ])
        );
        // A set apiGroup is kept; an absent roleRef is still defaulted (a value field).
        let b = defaulted(
            &d,
            json!({"roleRef": {"apiGroup": "example.com", "kind": "Role", "name": "r"}}),
        );
        assert_eq!(b["roleRef"]["apiGroup"], "example.com");
        assert_eq!(
            defaulted(&d, json!({}))["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io"})
        );
    }
    // Roles have nothing to default.
    let d = def("rbac.authorization.k8s.io", "Role", true);
    let role = json!({"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
    assert_eq!(defaulted(&d, role.clone()), role);
}
