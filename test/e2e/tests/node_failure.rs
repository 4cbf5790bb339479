//! Node failure and leader election: a simulated node whose process is killed goes Unknown,
//! gets the unreachable taints, its pods are evicted after their tolerationSeconds and
//! replaced on the surviving node, and the taints go when it comes back; two servers on one
//! etcd run one set of controllers, and the survivor takes over when the leader dies.

mod common;

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use common::{eventually, Cluster, KillOnDrop};
use serde_json::Value;

const V: &str = "1.33";

/// `rkube sim` for one node `<prefix>0`, its pod and node IPs in their own ranges.
fn sim(kubeconfig: &Path, prefix: &str, pod_cidr: &str, ip_base: &str) -> KillOnDrop {
    KillOnDrop(
        Command::new(common::rkube_bin())
            .args(["sim", "--nodes", "1", "--name-prefix", prefix])
            .args(["--pod-cidr", pod_cidr, "--node-ip-base", ip_base])
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--log-format", "json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn json(c: &Cluster, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&c.kubectl(V, &all)).unwrap()
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn node_ready(c: &Cluster, node: &str) -> Option<String> {
    let out = c.kubectl_raw(V, &["get", "node", node, "-o", "json"]);
    if !out.status.success() {
        return None;
    }
    let n: Value = serde_json::from_slice(&out.stdout).unwrap();
    condition(&n, "Ready").and_then(|r| r["status"].as_str().map(String::from))
}

fn taints(node: &Value) -> Vec<String> {
    node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            format!(
                "{}:{}",
                t["key"].as_str().unwrap(),
                t["effect"].as_str().unwrap()
            )
        })
        .collect()
}

/// (name, node, terminating, ready) of the pods with label app=`app`.
fn pods(c: &Cluster, ns: &str, app: &str) -> Vec<(String, String, bool, bool)> {
    let list = json(c, &["get", "pods", "-n", ns, "-l", &format!("app={app}")]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["metadata"]["name"].as_str().unwrap().to_string(),
                p["spec"]["nodeName"].as_str().unwrap_or("").to_string(),
                !p["metadata"]["deletionTimestamp"].is_null(),
                condition(p, "Ready").is_some_and(|r| r["status"] == "True"),
            )
        })
        .collect()
}

fn deployment(name: &str, replicas: u32, toleration_seconds: Option<u32>) -> String {
    let tolerations = toleration_seconds.map_or(String::new(), |s| {
        format!(
            "      tolerations:\n      - {{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: {s}}}\n"
        )
    });
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replicas: {replicas}\n  \
         selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    \
         spec:\n      containers: [{{name: c, image: busybox:1.36}}]\n{tolerations}"
    )
}

fn available(c: &Cluster, ns: &str, name: &str) -> i64 {
    json(c, &["get", "deploy", name, "-n", ns])["status"]["availableReplicas"]
        .as_i64()
        .unwrap_or(0)
}

#[test]
fn a_silent_node_is_tainted_its_pods_move_and_it_recovers() {
    // Grace 15 s (default 40 s; it must exceed the nodes' 10 s lease renewal), pods tolerate
    // unreachable for 5 s (default 300 s).
    let c = Cluster::start_with(&["--node-monitor-grace-period", "15s"]);
    let ns = "default";
    let start_a = || sim(&c.kubeconfig, "a-", "10.42.0.0/17", "10.41.0.0/17");
    let mut a = start_a();
    let _b = sim(&c.kubeconfig, "b-", "10.42.128.0/17", "10.41.128.0/17");
    for n in ["a-0", "b-0"] {
        eventually(60, &format!("{n} Ready"), || {
            (node_ready(&c, n).as_deref() == Some("True")).then_some(())
        });
    }

    // The API server gives every pod the default not-ready/unreachable tolerations (300 s)
    // unless it has its own.
    c.apply_stdin(V, &["apply", "-f", "-"], &deployment("web", 4, Some(5)));
    eventually(60, "4 available replicas", || {
        (available(&c, ns, "web") == 4).then_some(())
    });
    let before = pods(&c, ns, "web");
    let on_a: Vec<String> = before
        .iter()
        .filter(|p| p.1 == "a-0")
        .map(|p| p.0.clone())
        .collect();
    assert!(!on_a.is_empty(), "spreading put no pod on a-0: {before:?}");
    let pod = json(&c, &["get", "pod", &on_a[0], "-n", ns]);
    let tolerations: Vec<(String, i64)> = pod["spec"]["tolerations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_string(),
                t["tolerationSeconds"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tolerations,
        [
            ("node.kubernetes.io/unreachable".to_string(), 5),
            ("node.kubernetes.io/not-ready".to_string(), 300)
        ]
    );

    // Node a-0's kubelet dies.
    let killed = Instant::now();
    drop(a);
    let node = eventually(60, "a-0 Ready=Unknown with the unreachable taints", || {
        let n = json(&c, &["get", "node", "a-0"]);
        let t = taints(&n);
        (condition(&n, "Ready").is_some_and(|r| r["status"] == "Unknown")
            && t.contains(&"node.kubernetes.io/unreachable:NoExecute".to_string())
            && t.contains(&"node.kubernetes.io/unreachable:NoSchedule".to_string()))
        .then_some(n)
    });
    let tainted_after = killed.elapsed();
    let ready = condition(&node, "Ready").unwrap();
    assert_eq!(ready["reason"], "NodeStatusUnknown");
    assert_eq!(ready["message"], "Kubelet stopped posting node status.");
    for type_ in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        assert_eq!(
            condition(&node, type_).unwrap()["status"],
            "Unknown",
            "{type_}"
        );
    }
    let no_execute = node["spec"]["taints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["effect"] == "NoExecute")
        .unwrap();
    assert!(no_execute["timeAdded"].is_string(), "{no_execute}");

    // Its pods: not Ready at once, evicted after 5 s (Terminating: no kubelet finishes them),
    // replaced on b-0 only (the scheduler honours the NoSchedule taint).
    eventually(60, "a-0's pods evicted", || {
        let now = pods(&c, ns, "web");
        on_a.iter()
            .all(|name| now.iter().any(|p| &p.0 == name && p.2 && !p.3))
            .then_some(())
    });
    let evicted_after = killed.elapsed();
    let pod = json(&c, &["get", "pod", &on_a[0], "-n", ns]);
    let disruption = condition(&pod, "DisruptionTarget").unwrap();
    assert_eq!(disruption["reason"], "DeletionByTaintManager");
    let events = c.kubectl(
        V,
        &[
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            &format!(
                "reason=TaintManagerEviction,involvedObject.name={}",
                on_a[0]
            ),
            "-o",
            "jsonpath={.items[*].message}",
        ],
    );
    assert!(
        events.contains(&format!("Marking for deletion Pod {ns}/{}", on_a[0])),
        "{events}"
    );
    eventually(60, "4 available replicas again, all on b-0", || {
        let live: Vec<_> = pods(&c, ns, "web").into_iter().filter(|p| !p.2).collect();
        (available(&c, ns, "web") == 4
            && live.len() == 4
            && live.iter().all(|p| p.1 == "b-0" && p.3))
        .then_some(())
    });
    let recovered_after = killed.elapsed();
    // The live node was never taken for dead: its pods from before are still there.
    let now = pods(&c, ns, "web");
    for p in before.iter().filter(|p| p.1 == "b-0") {
        assert!(
            now.iter().any(|q| q.0 == p.0 && !q.2),
            "{} was evicted: {now:?}",
            p.0
        );
    }
    let b = json(&c, &["get", "node", "b-0"]);
    assert!(taints(&b).is_empty(), "{:?}", taints(&b));
    eprintln!(
        "grace 15s, tolerationSeconds 5: node tainted after {:.1}s, pods evicted after {:.1}s, \
         Deployment fully available on the surviving node after {:.1}s",
        tainted_after.as_secs_f64(),
        evicted_after.as_secs_f64(),
        recovered_after.as_secs_f64()
    );

    // The node comes back: Ready, taints gone, its Terminating pods finished.
    a = start_a();
    eventually(60, "a-0 Ready without taints", || {
        let n = json(&c, &["get", "node", "a-0"]);
        (condition(&n, "Ready").is_some_and(|r| r["status"] == "True") && taints(&n).is_empty())
            .then_some(())
    });
    eventually(60, "the evicted pods gone", || {
        let now = pods(&c, ns, "web");
        on_a.iter()
            .all(|name| !now.iter().any(|p| &p.0 == name))
            .then_some(())
    });
    drop(a);
}

/// The identities `c`'s log says became leader of `lease`.
fn leader_identities(c: &Cluster, lease: &str) -> Vec<String> {
    c.log()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "became leader" && l["lease"] == lease)
        .filter_map(|l| l["identity"].as_str().map(String::from))
        .collect()
}

fn holder(c: &Cluster, lease: &str) -> String {
    c.kubectl(
        V,
        &[
            "get",
            "lease",
            "-n",
            "kube-system",
            lease,
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
    )
}

const LEASES: [&str; 2] = ["kube-controller-manager", "kube-scheduler"];

#[test]
fn two_servers_on_one_etcd_take_turns() {
    let Ok(endpoint) = std::env::var("RKUBE_TEST_ETCD") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "RKUBE_TEST_ETCD must be set under CI (hack/test.sh sets it)"
        );
        eprintln!("skipped: RKUBE_TEST_ETCD is not set");
        return;
    };
    let mut servers = [
        Some(Cluster::start_with(&["--datastore-endpoint", &endpoint])),
        Some(Cluster::start_with(&["--datastore-endpoint", &endpoint])),
    ];
    // A lease left by an earlier server on this etcd must expire first (15 s).
    let (leader, id) = eventually(60, "one server leading the controllers", || {
        let ids: Vec<Vec<String>> = servers
            .iter()
            .map(|s| leader_identities(s.as_ref().unwrap(), LEASES[0]))
            .collect();
        match (ids[0].first(), ids[1].first()) {
            (Some(a), None) => Some((0, a.clone())),
            (None, Some(b)) => Some((1, b.clone())),
            (Some(_), Some(_)) => panic!("both servers lead: {ids:?}"),
            (None, None) => None,
        }
    });
    let survivor = 1 - leader;
    let s = servers[survivor].as_ref().unwrap();
    assert_eq!(holder(s, LEASES[0]), id);
    assert!(leader_identities(s, LEASES[0]).is_empty());

    // The leader dies without releasing its leases: the other takes over once they expire.
    let killed = Instant::now();
    drop(servers[leader].take());
    let s = servers[survivor].as_ref().unwrap();
    let new_ids = eventually(60, "the survivor leading controllers and scheduler", || {
        let ids: Vec<String> = LEASES
            .iter()
            .filter_map(|l| leader_identities(s, l).pop())
            .collect();
        (ids.len() == 2).then_some(ids)
    });
    let took_over = killed.elapsed();
    assert_ne!(new_ids[0], id);
    for lease in LEASES {
        assert_eq!(holder(s, lease), new_ids[0], "{lease}");
    }

    // A Deployment created now gets its pods (ReplicaSet controller, scheduler, a node).
    let run = std::process::id();
    let ns = format!("le-{run}");
    let prefix = format!("le-{run}-");
    let sim = sim(&s.kubeconfig, &prefix, "10.42.0.0/16", "10.41.0.0/16");
    s.kubectl(V, &["create", "namespace", &ns]);
    s.apply_stdin(
        V,
        &["apply", "-n", &ns, "-f", "-"],
        &deployment("web", 2, None),
    );
    eventually(90, "2 available replicas under the new leader", || {
        (available(s, &ns, "web") == 2).then_some(())
    });
    eprintln!(
        "leader killed: the other server leads after {:.1}s",
        took_over.as_secs_f64()
    );
    drop(sim);
    s.kubectl(V, &["delete", "namespace", &ns, "--wait=false"]);
    s.kubectl(V, &["delete", "node", &format!("{prefix}0")]);
    // A clean stop releases the leases: the next server on this etcd need not wait for them.
    servers[survivor].take().unwrap().stop();
}
