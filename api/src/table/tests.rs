use serde_json::{json, Value};

use super::*;
use crate::registry::{find, resources};

const NOW: &str = "2024-05-01T12:00:00Z";

fn def(group: &str, plural: &str) -> &'static ResourceDef {
    find(group, "v1", plural).unwrap()
}

/// A row as strings, for compact assertions (integers print bare).
fn row(group: &str, plural: &str, obj: &Value) -> Vec<String> {
    let d = def(group, plural);
    let cells = cells(d, obj, NOW);
    assert_eq!(cells.len(), columns(d).len());
    cells
        .iter()
        .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_string))
        .collect()
}

fn meta(name: &str, created: &str) -> Value {
    json!({"name": name, "namespace": "default", "creationTimestamp": created})
}

#[test]
fn every_kind_has_upstream_columns() {
    for d in resources() {
        let cols = columns(d);
        // Roles use upstream's default table; create-only kinds (reviews) are never listed.
        let default_table = d.group == "rbac.authorization.k8s.io"
            && matches!(d.kind, "Role" | "ClusterRole")
            || d.storage.is_empty();
        assert_eq!(
            printer(d) == Printer::Default,
            default_table,
            "{} has a printer",
            d.plural
        );
        let name = cols
            .iter()
            .find(|c| c.name == "Name")
            .expect("a Name column");
        assert_eq!((name.type_, name.format), ("string", "name"));
        assert!(cols
            .iter()
            .all(|c| !c.description.is_empty() && c.priority <= 1));
        // Wide columns follow the default ones, except for events (upstream interleaves).
        if printer(d) != Printer::Event {
            let first_wide = cols
                .iter()
                .position(|c| c.priority == 1)
                .unwrap_or(cols.len());
            assert!(
                cols[first_wide..].iter().all(|c| c.priority == 1),
                "{}",
                d.plural
            );
        }
        // A bare object still yields a full row.
        assert_eq!(cells(d, &json!({}), NOW).len(), cols.len());
    }
    let names = |g, p| {
        columns(def(g, p))
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names("", "pods"),
        [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
            "IP",
            "Node",
            "Nominated Node",
            "Readiness Gates"
        ]
    );
    assert_eq!(
        names("", "events"),
        [
            "Last Seen",
            "Type",
            "Reason",
            "Object",
            "Subobject",
            "Source",
            "Message",
            "First Seen",
            "Count",
            "Name"
        ]
    );
    assert_eq!(names("events.k8s.io", "events"), names("", "events"));
    let events = columns(def("", "events"));
    assert_eq!(
        events
            .iter()
            .filter(|c| c.priority == 0)
            .map(|c| c.name)
            .collect::<Vec<_>>(),
        ["Last Seen", "Type", "Reason", "Object", "Message"]
    );
    assert_eq!(names("", "serviceaccounts"), ["Name", "Secrets", "Age"]);
    let rbac = "rbac.authorization.k8s.io";
    for plural in ["rolebindings", "clusterrolebindings"] {
        assert_eq!(
            names(rbac, plural),
            ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
        );
        assert_eq!(
            columns(def(rbac, plural))
                .iter()
                .map(|c| c.priority)
                .collect::<Vec<_>>(),
            [0, 0, 0, 1, 1, 1]
        );
    }
    assert_eq!(
        columns(def(rbac, "clusterrolebindings"))[3].description,
        "Users in the clusterRoleBinding"
    );
    for plural in ["roles", "clusterroles"] {
        assert_eq!(
            columns(def(rbac, plural))
                .iter()
                .map(|c| (c.name, c.type_))
                .collect::<Vec<_>>(),
            [("Name", "string"), ("Created At", "date")]
        );
    }
    assert_eq!(columns(def("apps", "replicasets"))[1].type_, "integer");
    assert_eq!(columns(def("", "pods"))[3].type_, "string");
}

#[test]
fn default_table_for_unknown_kinds() {
    let d = ResourceDef {
        group: "example.com",
        version: "v1",
        kind: "Widget",
        plural: "widgets",
        singular: "widget",
        namespaced: true,
        verbs: &[],
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "widgets",
    };
    assert_eq!(
        columns(&d)
            .iter()
            .map(|c| (c.name, c.type_))
            .collect::<Vec<_>>(),
        [("Name", "string"), ("Created At", "date")]
    );
    let obj = json!({"metadata": {"name": "w", "creationTimestamp": "2024-01-02T03:04:05Z"}});
    assert_eq!(
        cells(&d, &obj, NOW),
        [json!("w"), json!("2024-01-02T03:04:05Z")]
    );
}

fn running_container(name: &str, restarts: i64) -> Value {
    json!({"name": name, "ready": true, "restartCount": restarts, "state": {"running": {"startedAt": "2024-05-01T11:00:00Z"}}})
}

/// Pod STATUS and READY/RESTARTS for the cases upstream's printer tests cover.
#[test]
fn pod_status_reasons() {
    let status = |spec: Value, status: Value| {
        let pod =
            json!({"metadata": meta("p", "2024-05-01T11:00:00Z"), "spec": spec, "status": status});
        let r = row("", "pods", &pod);
        (r[1].clone(), r[2].clone(), r[3].clone())
    };
    let one = json!({"containers": [{"name": "a"}]});
    let two = json!({"containers": [{"name": "a"}, {"name": "b"}]});
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());

    // Plain phases.
    assert_eq!(
        status(one.clone(), json!({"phase": "Pending"})),
        s("0/1", "Pending", "0")
    );
    assert_eq!(
        status(
            one.clone(),
            json!({"phase": "Running", "containerStatuses": [running_container("a", 0)]})
        ),
        s("1/1", "Running", "0")
    );
    // status.reason overrides the phase (e.g. Evicted).
    assert_eq!(
        status(one.clone(), json!({"phase": "Failed", "reason": "Evicted"})),
        s("0/1", "Evicted", "0")
    );
    // Scheduling gates.
    assert_eq!(
        status(
            one.clone(),
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]})
        ),
        s("0/1", "SchedulingGated", "0")
    );
    // Waiting reasons.
    assert_eq!(
        status(
            one.clone(),
            json!({"phase": "Pending", "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}}]})
        ),
        s("0/1", "ContainerCreating", "0")
    );
    // CrashLoopBackOff with restarts and the time of the last one.
    assert_eq!(
        status(
            one.clone(),
            json!({"phase": "Running", "containerStatuses": [{"name": "a", "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-05-01T11:55:00Z"}}}]})
        ),
        s("0/1", "CrashLoopBackOff", "4 (5m ago)")
    );
    // Restarts without a recorded termination time print bare.
    assert_eq!(
        status(
            one.clone(),
            json!({"phase": "Running", "containerStatuses": [running_container("a", 2)]})
        ),
        s("1/1", "Running", "2")
    );
    // Terminated: reason, else signal, else exit code.
    let terminated = |t: Value| {
        status(one.clone(), json!({"phase": "Failed", "containerStatuses": [{"name": "a", "state": {"terminated": t}}]})).1
    };
    assert_eq!(
        terminated(json!({"exitCode": 0, "reason": "Completed"})),
        "Completed"
    );
    assert_eq!(
        terminated(json!({"exitCode": 1, "reason": "Error"})),
        "Error"
    );
    assert_eq!(
        terminated(json!({"exitCode": 137, "signal": 9})),
        "Signal:9"
    );
    assert_eq!(terminated(json!({"exitCode": 2})), "ExitCode:2");
    // Completed but another container still runs: Running if the pod is Ready, else NotReady.
    let mixed = |ready: &str| {
        status(
            two.clone(),
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": ready}], "containerStatuses": [
                running_container("a", 0),
                {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ]}),
        )
    };
    assert_eq!(mixed("True"), s("1/2", "Running", "0"));
    assert_eq!(mixed("False"), s("1/2", "NotReady", "0"));
    // v1.33 has no error-over-completed rule: the first container listed decides.
    assert_eq!(
        status(
            two.clone(),
            json!({"phase": "Failed", "containerStatuses": [
                {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "b", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
            ]})
        )
        .1,
        "Completed"
    );
}

#[test]
fn pod_init_containers() {
    let spec =
        json!({"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]});
    let status = |s: Value| {
        let pod = json!({"metadata": meta("p", "2024-05-01T11:00:00Z"), "spec": spec.clone(), "status": s});
        let r = row("", "pods", &pod);
        (r[1].clone(), r[2].clone(), r[3].clone())
    };
    // Running the first init container.
    assert_eq!(
        status(json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"running": {}}}, {"name": "i2", "state": {"waiting": {"reason": "PodInitializing"}}}
        ], "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "PodInitializing"}}}]}))
        .1,
        "Init:0/2"
    );
    // First done, second waiting for PodInitializing: Init:1/2.
    assert_eq!(
        status(json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "i2", "state": {"waiting": {"reason": "PodInitializing"}}}
        ]}))
        .1,
        "Init:1/2"
    );
    // A failing init container, restarts counted from init containers while initializing.
    assert_eq!(
        status(json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:59:00Z"}}}
        ]})),
        (
            "0/1".into(),
            "Init:CrashLoopBackOff".into(),
            "3 (60s ago)".into()
        )
    );
    assert_eq!(
        status(json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
        ]}))
        .1,
        "Init:Error"
    );
    assert_eq!(
        status(json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"terminated": {"exitCode": 3}}}
        ]}))
        .1,
        "Init:ExitCode:3"
    );
    assert_eq!(
        status(json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"terminated": {"exitCode": 3, "signal": 15}}}
        ]}))
        .1,
        "Init:Signal:15"
    );

    // A restartable init container (sidecar) counts in READY and keeps its restarts.
    let sidecar_spec = json!({"initContainers": [{"name": "side", "restartPolicy": "Always"}], "containers": [{"name": "a"}]});
    let pod = json!({"metadata": meta("p", "2024-05-01T11:00:00Z"), "spec": sidecar_spec, "status": {
        "phase": "Running",
        "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
        "initContainerStatuses": [{"name": "side", "started": true, "ready": true, "restartCount": 1,
            "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T10:00:00Z"}}}],
        "containerStatuses": [running_container("a", 1)]
    }});
    let r = row("", "pods", &pod);
    assert_eq!(
        (r[1].as_str(), r[2].as_str(), r[3].as_str()),
        ("2/2", "Running", "2 (120m ago)")
    );
}

#[test]
fn pod_terminating_and_wide() {
    let mut pod = json!({
        "metadata": {"name": "web-1", "namespace": "default", "creationTimestamp": "2024-05-01T11:54:30Z",
                     "deletionTimestamp": "2024-05-01T11:59:00Z"},
        "spec": {"containers": [{"name": "a"}], "nodeName": "node-1",
                 "readinessGates": [{"conditionType": "example.com/gate"}, {"conditionType": "other"}]},
        "status": {"phase": "Running", "podIP": "10.42.0.7", "podIPs": [{"ip": "10.42.0.7"}],
                   "conditions": [{"type": "example.com/gate", "status": "True"}],
                   "containerStatuses": [running_container("a", 0)]}
    });
    assert_eq!(
        row("", "pods", &pod),
        [
            "web-1",
            "1/1",
            "Terminating",
            "0",
            "5m30s",
            "10.42.0.7",
            "node-1",
            "<none>",
            "1/2"
        ]
    );
    pod["status"]["reason"] = json!("NodeLost");
    assert_eq!(row("", "pods", &pod)[2], "Unknown");
    pod["status"]["reason"] = Value::Null;
    pod["status"]["phase"] = json!("Succeeded");
    pod["status"]["containerStatuses"] = json!([]);
    assert_eq!(row("", "pods", &pod)[2], "Succeeded");
    assert_eq!(
        row_conditions(def("", "pods"), &pod),
        [json!({
            "type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."
        })]
    );

    let bare = row("", "pods", &json!({"metadata": {"name": "x"}}));
    assert_eq!(
        bare,
        [
            "x",
            "0/0",
            "",
            "0",
            "<unknown>",
            "<none>",
            "<none>",
            "<none>",
            "<none>"
        ]
    );
    assert!(row_conditions(def("", "services"), &pod).is_empty());
}

#[test]
fn restarts_cell_is_a_string_and_ready_counts() {
    let pod = json!({"metadata": meta("p", NOW), "spec": {"containers": [{"name": "a"}]},
                     "status": {"phase": "Running", "containerStatuses": [running_container("a", 0)]}});
    let c = cells(def("", "pods"), &pod, NOW);
    assert_eq!(c[3], json!("0"));
    assert_eq!(c[4], json!("0s"));
}

#[test]
fn deployment_and_replica_set_rows() {
    let template = json!({"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}, {"name": "side", "image": "busybox"}]}});
    let dep = json!({
        "metadata": meta("web", "2024-04-28T09:00:00Z"),
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"},
                 "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}, {"key": "canary", "operator": "DoesNotExist"}]},
                 "template": template},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    });
    assert_eq!(
        row("apps", "deployments", &dep),
        [
            "web",
            "2/3",
            "3",
            "2",
            "3d3h",
            "nginx,side",
            "nginx:1.25,busybox",
            "app=web,!canary,tier in (back,front)"
        ]
    );
    let c = cells(def("apps", "deployments"), &dep, NOW);
    assert_eq!(
        (c[2].clone(), c[3].clone()),
        (json!(3), json!(2)),
        "integers, as upstream's int64 cells"
    );
    let empty = json!({"metadata": meta("e", NOW), "spec": {"selector": {}}});
    assert_eq!(row("apps", "deployments", &empty)[7], "");
    let bad = json!({"spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}});
    assert_eq!(row("apps", "deployments", &bad)[7], "<invalid>");

    let rs = json!({
        "metadata": meta("web-5d4f", "2024-05-01T09:00:00Z"),
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f"}}, "template": template},
        "status": {"replicas": 3, "readyReplicas": 1}
    });
    assert_eq!(
        row("apps", "replicasets", &rs),
        [
            "web-5d4f",
            "3",
            "3",
            "1",
            "3h",
            "nginx,side",
            "nginx:1.25,busybox",
            "app=web,pod-template-hash=5d4f"
        ]
    );
    assert_eq!(cells(def("apps", "replicasets"), &rs, NOW)[1], json!(3));
    assert_eq!(row("apps", "replicasets", &json!({}))[7], "<none>");
    assert_eq!(row("apps", "replicasets", &bad)[7], "<error>");
}

#[test]
fn service_rows() {
    let svc = |spec: Value, status: Value| {
        row(
            "",
            "services",
            &json!({"metadata": meta("s", "2024-05-01T11:59:15Z"), "spec": spec, "status": status}),
        )
    };
    assert_eq!(
        svc(
            json!({"type": "ClusterIP", "clusterIP": "10.43.0.1", "clusterIPs": ["10.43.0.1"],
                   "ports": [{"port": 443, "protocol": "TCP"}], "selector": {"b": "2", "a": "1"}}),
            json!({})
        ),
        [
            "s",
            "ClusterIP",
            "10.43.0.1",
            "<none>",
            "443/TCP",
            "45s",
            "a=1,b=2"
        ]
    );
    assert_eq!(
        svc(
            json!({"type": "NodePort", "clusterIPs": ["10.43.5.5"], "externalIPs": ["1.2.3.4"],
                   "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}),
            json!({})
        ),
        [
            "s",
            "NodePort",
            "10.43.5.5",
            "1.2.3.4",
            "80:30080/TCP,53/UDP",
            "45s",
            "<none>"
        ]
    );
    let lb = json!({"type": "LoadBalancer", "clusterIP": "10.43.1.1", "ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}]});
    assert_eq!(svc(lb.clone(), json!({}))[3], "<pending>");
    assert_eq!(
        svc(
            lb.clone(),
            json!({"loadBalancer": {"ingress": [{"ip": "192.168.1.20"}, {"hostname": "lb.example.com"}, {"ip": "192.168.1.10"}]}})
        )[3],
        "192.168.1.10,192.168.1.20,lb.example.com"
    );
    let mut lb_ext = lb;
    lb_ext["externalIPs"] = json!(["5.6.7.8"]);
    assert_eq!(
        svc(
            lb_ext,
            json!({"loadBalancer": {"ingress": [{"ip": "192.168.1.10"}]}})
        )[3],
        "192.168.1.10,5.6.7.8"
    );
    assert_eq!(
        svc(
            json!({"type": "ExternalName", "externalName": "db.example.com"}),
            json!({})
        ),
        [
            "s",
            "ExternalName",
            "<none>",
            "db.example.com",
            "<none>",
            "45s",
            "<none>"
        ]
    );
    assert_eq!(
        svc(
            json!({"clusterIP": "None", "clusterIPs": ["None"]}),
            json!({})
        )[2..4],
        ["None", "<unknown>"]
    );
}

#[test]
fn endpoints_rows() {
    let ep = |subsets: Value| {
        row(
            "",
            "endpoints",
            &json!({"metadata": meta("e", "2024-05-01T10:00:00Z"), "subsets": subsets}),
        )
    };
    assert_eq!(ep(json!([])), ["e", "<none>", "120m"]);
    assert_eq!(
        ep(
            json!([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}]}])
        )[1],
        "10.0.0.1:80,10.0.0.2:80"
    );
    assert_eq!(
        ep(
            json!([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}])
        )[1],
        "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."
    );
    assert_eq!(
        ep(json!([{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]))[1],
        "[fd00::1]:80"
    );
    // Headless without ports: bare addresses.
    assert_eq!(
        ep(
            json!([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}, {"ip": "10.0.0.4"}, {"ip": "10.0.0.5"}]}])
        )[1],
        "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more..."
    );
    // Subsets with only not-ready addresses print empty, as upstream.
    assert_eq!(
        ep(json!([{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]))[1],
        ""
    );
}

#[test]
fn endpoint_slice_rows() {
    let es = json!({
        "metadata": meta("kubernetes", "2024-04-01T12:00:00Z"),
        "addressType": "IPv4",
        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}, {"name": "dns"}, {}, {"port": 1}],
        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]}]
    });
    assert_eq!(
        row("discovery.k8s.io", "endpointslices", &es),
        [
            "kubernetes",
            "IPv4",
            "6443,dns,* + 1 more...",
            "10.0.0.1,10.0.0.2,10.0.0.3",
            "30d"
        ]
    );
    let empty = json!({"metadata": meta("x", NOW), "addressType": "IPv6"});
    assert_eq!(
        row("discovery.k8s.io", "endpointslices", &empty)[2..4],
        ["<unset>", "<unset>"]
    );
}

#[test]
fn node_rows() {
    let node = json!({
        "metadata": {"name": "n1", "creationTimestamp": "2023-01-01T00:00:00Z",
                     "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "true",
                                "kubernetes.io/role": "etcd", "node-role.kubernetes.io/": "x"}},
        "spec": {"unschedulable": true},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "192.168.1.5"}],
            "nodeInfo": {"kubeletVersion": "v1.33.1+rkube", "osImage": "Ubuntu 24.04 LTS", "kernelVersion": "6.8.0",
                         "containerRuntimeVersion": "containerd://1.7.0"}
        }
    });
    assert_eq!(
        row("", "nodes", &node),
        [
            "n1",
            "Ready,SchedulingDisabled",
            "control-plane,etcd,master",
            "486d",
            "v1.33.1+rkube",
            "192.168.1.5",
            "<none>",
            "Ubuntu 24.04 LTS",
            "6.8.0",
            "containerd://1.7.0"
        ]
    );
    let not_ready = json!({"metadata": {"name": "n2"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
    assert_eq!(
        row("", "nodes", &not_ready),
        [
            "n2",
            "NotReady",
            "<none>",
            "<unknown>",
            "",
            "<none>",
            "<none>",
            "<unknown>",
            "<unknown>",
            "<unknown>"
        ]
    );
    assert_eq!(row("", "nodes", &json!({}))[1], "Unknown");
}

#[test]
fn core_event_rows() {
    let ev = json!({
        "metadata": {"name": "web.17a", "namespace": "default", "creationTimestamp": "2024-05-01T11:00:00Z"},
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
        "reason": "BackOff", "type": "Warning", "message": "Back-off restarting failed container\n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2024-05-01T11:00:00Z", "lastTimestamp": "2024-05-01T11:58:00Z", "count": 12
    });
    assert_eq!(
        row("", "events", &ev),
        [
            "2m",
            "Warning",
            "BackOff",
            "pod/web",
            "spec.containers{web}",
            "kubelet, node-1",
            "Back-off restarting failed container",
            "60m",
            "12",
            "web.17a"
        ]
    );
    assert_eq!(cells(def("", "events"), &ev, NOW)[8], json!(12));

    // A new-style event through the core API: eventTime, series, reporting fields.
    let series = json!({
        "metadata": {"name": "e2", "namespace": "default"},
        "involvedObject": {"kind": "Node"},
        "reason": "Starting", "type": "Normal", "message": "m",
        "eventTime": "2024-05-01T11:50:00.123456Z",
        "series": {"count": 3, "lastObservedTime": "2024-05-01T11:59:30.000000Z"},
        "reportingComponent": "kube-proxy", "reportingInstance": "node-2"
    });
    assert_eq!(
        row("", "events", &series),
        [
            "30s",
            "Normal",
            "Starting",
            "node",
            "",
            "kube-proxy, node-2",
            "m",
            "9m59s",
            "3",
            "e2"
        ]
    );
    // No timestamps at all, no count: a singleton.
    let bare = row(
        "",
        "events",
        &json!({"metadata": {"name": "e3"}, "involvedObject": {"kind": "Pod", "name": "x"}}),
    );
    assert_eq!(
        bare,
        [
            "<unknown>",
            "",
            "",
            "pod/x",
            "",
            "",
            "",
            "<unknown>",
            "1",
            "e3"
        ]
    );
}

#[test]
fn events_api_rows_map_onto_the_core_printer() {
    let ev = json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "web.17b", "namespace": "default"},
        "regarding": {"kind": "Deployment", "name": "web"},
        "reason": "ScalingReplicaSet", "type": "Normal", "note": "  Scaled up replica set web-5d4f to 3 ",
        "eventTime": "2024-05-01T11:45:00.000000Z",
        "reportingController": "deployment-controller", "reportingInstance": "",
        "deprecatedSource": {"component": "deployment-controller"},
        "deprecatedFirstTimestamp": "2024-05-01T11:45:00Z", "deprecatedLastTimestamp": "2024-05-01T11:55:00Z",
        "deprecatedCount": 2
    });
    assert_eq!(
        row("events.k8s.io", "events", &ev),
        [
            "5m",
            "Normal",
            "ScalingReplicaSet",
            "deployment/web",
            "",
            "deployment-controller",
            "Scaled up replica set web-5d4f to 3",
            "15m",
            "2",
            "web.17b"
        ]
    );
}

#[test]
fn simple_kind_rows() {
    let ns = json!({"metadata": {"name": "kube-system", "creationTimestamp": "2024-04-30T12:00:00Z"}, "status": {"phase": "Active"}});
    assert_eq!(row("", "namespaces", &ns), ["kube-system", "Active", "24h"]);

    let secret = json!({"metadata": meta("tls", "2024-05-01T11:59:59Z"), "type": "kubernetes.io/tls",
                        "data": {"tls.crt": "", "tls.key": ""}});
    assert_eq!(
        row("", "secrets", &secret),
        ["tls", "kubernetes.io/tls", "2", "1s"]
    );
    assert_eq!(cells(def("", "secrets"), &secret, NOW)[2], json!(2));

    let sa =
        json!({"metadata": meta("default", "2024-05-01T11:57:00Z"), "secrets": [{"name": "t"}]});
    assert_eq!(row("", "serviceaccounts", &sa), ["default", "1", "3m"]);
    assert_eq!(
        row("", "serviceaccounts", &json!({"metadata": meta("x", NOW)})),
        ["x", "0", "0s"]
    );

    let cm = json!({"metadata": meta("kube-root-ca.crt", "2023-05-01T12:00:00Z"), "data": {"ca.crt": "x"}, "binaryData": {"b": ""}});
    assert_eq!(
        row("", "configmaps", &cm),
        ["kube-root-ca.crt", "2", "366d"]
    );

    let lease = json!({"metadata": meta("kube-scheduler", "2021-05-01T12:00:00Z"), "spec": {"holderIdentity": "node-1_abc"}});
    assert_eq!(
        row("coordination.k8s.io", "leases", &lease),
        ["kube-scheduler", "node-1_abc", "3y1d"]
    );
    assert_eq!(
        row(
            "coordination.k8s.io",
            "leases",
            &json!({"metadata": meta("l", NOW)})
        )[1],
        ""
    );

    // Clock skew: up to 2s ahead still reads "0s", beyond that "<invalid>".
    assert_eq!(
        row(
            "",
            "namespaces",
            &json!({"metadata": {"name": "a", "creationTimestamp": "2024-05-01T12:00:01Z"}})
        )[2],
        "0s"
    );
    assert_eq!(
        row(
            "",
            "namespaces",
            &json!({"metadata": {"name": "a", "creationTimestamp": "2024-05-01T12:00:05Z"}})
        )[2],
        "<invalid>"
    );
    // An unparsable `now` makes ages unknown.
    assert_eq!(
        cells(def("", "namespaces"), &ns, "yesterday")[2],
        json!("<unknown>")
    );
}

#[test]
fn rbac_rows() {
    let rbac = "rbac.authorization.k8s.io";
    let rb = json!({"metadata": meta("read-pods", "2024-05-01T11:00:00Z"),
    "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "pod-reader"},
    "subjects": [
        {"kind": "User", "apiGroup": rbac, "name": "jane"},
        {"kind": "ServiceAccount", "name": "robot", "namespace": "default"},
        {"kind": "Group", "apiGroup": rbac, "name": "dev"},
        {"kind": "User", "apiGroup": rbac, "name": "joe"},
        {"kind": "ServiceAccount", "name": "builder"},
        {"kind": "Robot", "name": "r2"}
    ]});
    assert_eq!(
        row(rbac, "rolebindings", &rb),
        [
            "read-pods",
            "Role/pod-reader",
            "60m",
            "jane, joe",
            "dev",
            "default/robot, /builder"
        ]
    );
    let crb = json!({"metadata": {"name": "cluster-admin", "creationTimestamp": "2024-04-01T12:00:00Z"},
        "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "apiGroup": rbac, "name": "system:masters"}]});
    assert_eq!(
        row(rbac, "clusterrolebindings", &crb),
        [
            "cluster-admin",
            "ClusterRole/cluster-admin",
            "30d",
            "",
            "system:masters",
            ""
        ]
    );
    // No subjects, no roleRef: still a full row.
    assert_eq!(
        row(
            rbac,
            "clusterrolebindings",
            &json!({"metadata": {"name": "x"}})
        )[1..],
        ["/", "<unknown>", "", "", ""]
    );
    // Roles print the default table: name and RFC 3339 creation time.
    let role = json!({"metadata": meta("pod-reader", "2024-01-02T03:04:05Z"), "rules": []});
    assert_eq!(
        row(rbac, "roles", &role),
        ["pod-reader", "2024-01-02T03:04:05Z"]
    );
    assert_eq!(
        row(
            rbac,
            "clusterroles",
            &json!({"metadata": {"name": "view", "creationTimestamp": "2024-01-02T03:04:05Z"}})
        ),
        ["view", "2024-01-02T03:04:05Z"]
    );
}
