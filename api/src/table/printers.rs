//! One function per upstream printer (printers.go, v1.33), each returning the full "wide"
//! row. Fields are read from the versioned JSON the way upstream's internal types see them
//! after conversion (e.g. `status.podIP` backs an empty `status.podIPs`).
use serde_json::{json, Value};

use super::format::{
    arr_at, bool_at, containers, first, format_label_selector, format_labels, get, int_at,
    join_host_port, label_selector_string, list_with_more, map_len, str_at, time_at,
};
use super::time::{since, Timestamp};

type Now = Option<Timestamp>;

fn name(obj: &Value) -> Value {
    json!(str_at(obj, &["metadata", "name"]))
}

fn age(obj: &Value, now: Now) -> Value {
    json!(since(time_at(obj, &["metadata", "creationTimestamp"]), now))
}

/// The apiserver's default table row: name and RFC 3339 creation time.
pub(super) fn default(obj: &Value) -> Vec<Value> {
    let created = time_at(obj, &["metadata", "creationTimestamp"]).unwrap_or(Timestamp::GO_ZERO);
    vec![name(obj), json!(created.format_rfc3339())]
}

/// An init container that keeps running beside the app containers (a "sidecar").
fn is_restartable_init_container(c: Option<&Value>) -> bool {
    c.is_some_and(|c| str_at(c, &["restartPolicy"]) == "Always")
}

fn condition_status<'a>(status: &'a Value, type_: &str) -> Option<&'a str> {
    arr_at(status, &["conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == type_)
        .map(|c| str_at(c, &["status"]))
}

/// The last termination time of a container status, if it terminated before.
fn last_terminated(c: &Value) -> Option<Option<Timestamp>> {
    get(c, &["lastState", "terminated"]).map(|t| time_at(t, &["finishedAt"]))
}

/// The pod's first IP as upstream's internal type has it: conversion makes a non-empty
/// `status.podIP` authoritative over `status.podIPs[0]`.
pub(crate) fn primary_pod_ip(status: &Value) -> &str {
    match str_at(status, &["podIP"]) {
        "" => arr_at(status, &["podIPs"])
            .first()
            .map_or("", |ip| str_at(ip, &["ip"])),
        ip => ip,
    }
}

/// upstream `printPod` (v1.33): READY counts, the STATUS reason logic, RESTARTS with the
/// time of the last restart, and the wide columns.
pub(super) fn pod(pod: &Value, now: Now) -> Vec<Value> {
    let spec = get(pod, &["spec"]).unwrap_or(&Value::Null);
    let status = get(pod, &["status"]).unwrap_or(&Value::Null);

    let mut restarts: i64 = 0;
    let mut restartable_init_restarts: i64 = 0;
    let mut total_containers = arr_at(spec, &["containers"]).len();
    let mut ready_containers = 0usize;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_restartable_init_restart: Option<Timestamp> = None;

    let phase = str_at(status, &["phase"]);
    let mut reason = phase.to_string();
    if !str_at(status, &["reason"]).is_empty() {
        reason = str_at(status, &["reason"]).to_string();
    }
    for c in arr_at(status, &["conditions"]) {
        if str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".into();
        }
    }

    let init_specs = arr_at(spec, &["initContainers"]);
    let init_spec = |name: &str| init_specs.iter().find(|c| str_at(c, &["name"]) == name);
    total_containers += init_specs
        .iter()
        .filter(|c| is_restartable_init_container(Some(c)))
        .count();

    let mut initializing = false;
    for (i, c) in arr_at(status, &["initContainerStatuses"])
        .iter()
        .enumerate()
    {
        restarts += int_at(c, &["restartCount"]);
        let last = last_terminated(c);
        if let Some(finished) = last {
            if finished > last_restart {
                last_restart = finished;
            }
        }
        let restartable = is_restartable_init_container(init_spec(str_at(c, &["name"])));
        if restartable {
            restartable_init_restarts += int_at(c, &["restartCount"]);
            if let Some(finished) = last {
                if finished > last_restartable_init_restart {
                    last_restartable_init_restart = finished;
                }
            }
        }
        let terminated = get(c, &["state", "terminated"]);
        let waiting_reason = get(c, &["state", "waiting"]).map(|w| str_at(w, &["reason"]));
        match terminated {
            Some(t) if int_at(t, &["exitCode"]) == 0 => continue,
            _ if restartable && bool_at(c, &["started"]) => {
                if bool_at(c, &["ready"]) {
                    ready_containers += 1;
                }
                continue;
            }
            Some(t) => {
                // Initialization failed.
                let r = str_at(t, &["reason"]);
                reason = if !r.is_empty() {
                    format!("Init:{r}")
                } else if int_at(t, &["signal"]) != 0 {
                    format!("Init:Signal:{}", int_at(t, &["signal"]))
                } else {
                    format!("Init:ExitCode:{}", int_at(t, &["exitCode"]))
                };
            }
            None => match waiting_reason {
                Some(r) if !r.is_empty() && r != "PodInitializing" => reason = format!("Init:{r}"),
                _ => reason = format!("Init:{i}/{}", init_specs.len()),
            },
        }
        initializing = true;
        break;
    }

    if !initializing || condition_status(status, "Initialized") == Some("True") {
        restarts = restartable_init_restarts;
        last_restart = last_restartable_init_restart;
        let mut has_running = false;
        for c in arr_at(status, &["containerStatuses"]).iter().rev() {
            restarts += int_at(c, &["restartCount"]);
            if let Some(finished) = last_terminated(c) {
                if finished > last_restart {
                    last_restart = finished;
                }
            }
            let waiting = get(c, &["state", "waiting"]);
            let terminated = get(c, &["state", "terminated"]);
            if let Some(r) = waiting
                .map(|w| str_at(w, &["reason"]))
                .filter(|r| !r.is_empty())
            {
                reason = r.to_string();
            } else if let Some(t) = terminated {
                let r = str_at(t, &["reason"]);
                reason = if !r.is_empty() {
                    r.to_string()
                } else if int_at(t, &["signal"]) != 0 {
                    format!("Signal:{}", int_at(t, &["signal"]))
                } else {
                    format!("ExitCode:{}", int_at(t, &["exitCode"]))
                };
            } else if bool_at(c, &["ready"]) && get(c, &["state", "running"]).is_some() {
                has_running = true;
                ready_containers += 1;
            }
        }
        // A pod whose last container completed but another still runs is not "Completed".
        if reason == "Completed" && has_running {
            reason = if condition_status(status, "Ready") == Some("True") {
                "Running"
            } else {
                "NotReady"
            }
            .into();
        }
    }

    if get(pod, &["metadata", "deletionTimestamp"]).is_some() {
        if str_at(status, &["reason"]) == "NodeLost" {
            reason = "Unknown".into();
        } else if phase != "Failed" && phase != "Succeeded" {
            reason = "Terminating".into();
        }
    }

    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    let pod_ip = primary_pod_ip(status);
    let none_if_empty = |s: &str| {
        if s.is_empty() {
            "<none>".to_string()
        } else {
            s.to_string()
        }
    };

    let gates = arr_at(spec, &["readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_conditions = gates
            .iter()
            .filter(|g| condition_status(status, str_at(g, &["conditionType"])) == Some("True"))
            .count();
        format!("{true_conditions}/{}", gates.len())
    };

    vec![
        name(pod),
        json!(format!("{ready_containers}/{total_containers}")),
        json!(reason),
        json!(restarts_str),
        age(pod, now),
        json!(none_if_empty(pod_ip)),
        json!(none_if_empty(str_at(spec, &["nodeName"]))),
        json!(none_if_empty(str_at(status, &["nominatedNodeName"]))),
        json!(readiness_gates),
    ]
}

/// upstream `printReplicaSet`.
pub(super) fn replica_set(obj: &Value, now: Now) -> Vec<Value> {
    let (names, images) = containers(get(obj, &["spec", "template", "spec"]));
    vec![
        name(obj),
        json!(int_at(obj, &["spec", "replicas"])),
        json!(int_at(obj, &["status", "replicas"])),
        json!(int_at(obj, &["status", "readyReplicas"])),
        age(obj, now),
        json!(names),
        json!(images),
        json!(format_label_selector(get(obj, &["spec", "selector"]))),
    ]
}

/// upstream `printDeployment`: READY is "ready/desired"; the selector prints "" when empty
/// (unlike replica sets' "<none>"), "<invalid>" when it does not convert.
pub(super) fn deployment(obj: &Value, now: Now) -> Vec<Value> {
    let (names, images) = containers(get(obj, &["spec", "template", "spec"]));
    let selector = label_selector_string(get(obj, &["spec", "selector"]))
        .unwrap_or_else(|()| "<invalid>".into());
    vec![
        name(obj),
        json!(format!(
            "{}/{}",
            int_at(obj, &["status", "readyReplicas"]),
            int_at(obj, &["spec", "replicas"])
        )),
        json!(int_at(obj, &["status", "updatedReplicas"])),
        json!(int_at(obj, &["status", "availableReplicas"])),
        age(obj, now),
        json!(names),
        json!(images),
        json!(selector),
    ]
}

/// upstream `getServiceExternalIP` (wide: load-balancer addresses are not clipped).
fn service_external_ip(svc: &Value) -> String {
    let external_ips: Vec<&str> = arr_at(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match str_at(svc, &["spec", "type"]) {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".into()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            // loadBalancerStatusStringer: a sorted set of ingress IPs, else hostnames.
            let mut lb: Vec<&str> = arr_at(svc, &["status", "loadBalancer", "ingress"])
                .iter()
                .map(|i| match str_at(i, &["ip"]) {
                    "" => str_at(i, &["hostname"]),
                    ip => ip,
                })
                .filter(|s| !s.is_empty())
                .collect();
            lb.sort_unstable();
            lb.dedup();
            if !external_ips.is_empty() {
                lb.into_iter()
                    .chain(external_ips)
                    .collect::<Vec<_>>()
                    .join(",")
            } else if !lb.is_empty() {
                lb.join(",")
            } else {
                "<pending>".into()
            }
        }
        "ExternalName" => str_at(svc, &["spec", "externalName"]).into(),
        _ => "<unknown>".into(),
    }
}

/// upstream `makePortString`: "80/TCP", "80:30080/TCP" with a node port.
fn service_ports(svc: &Value) -> String {
    let pieces: Vec<String> = arr_at(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let (port, node_port, proto) = (
                int_at(p, &["port"]),
                int_at(p, &["nodePort"]),
                str_at(p, &["protocol"]),
            );
            if node_port > 0 {
                format!("{port}:{node_port}/{proto}")
            } else {
                format!("{port}/{proto}")
            }
        })
        .collect();
    if pieces.is_empty() {
        "<none>".into()
    } else {
        pieces.join(",")
    }
}

/// upstream `printService`.
pub(super) fn service(svc: &Value, now: Now) -> Vec<Value> {
    // Upstream prints clusterIPs[0]; conversion makes a set clusterIP authoritative for it.
    let cluster_ip = match str_at(svc, &["spec", "clusterIP"]) {
        "" => arr_at(svc, &["spec", "clusterIPs"])
            .first()
            .and_then(Value::as_str)
            .unwrap_or("<none>"),
        ip => ip,
    };
    vec![
        name(svc),
        json!(str_at(svc, &["spec", "type"])),
        json!(cluster_ip),
        json!(service_external_ip(svc)),
        json!(service_ports(svc)),
        age(svc, now),
        json!(format_labels(get(svc, &["spec", "selector"]))),
    ]
}

/// upstream `formatEndpoints` (all ports): up to three "ip:port", then "+ N more...".
fn format_endpoints(ep: &Value) -> String {
    let subsets = arr_at(ep, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addresses = arr_at(ss, &["addresses"]);
        let ports = arr_at(ss, &["ports"]);
        if ports.is_empty() {
            // Headless services may have no ports.
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(a, &["ip"]).to_string());
            }
            continue;
        }
        for p in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(str_at(a, &["ip"]), int_at(p, &["port"])));
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count - MAX)
    } else {
        ret
    }
}

/// upstream `printEndpoints`.
pub(super) fn endpoints(obj: &Value, now: Now) -> Vec<Value> {
    vec![name(obj), json!(format_endpoints(obj)), age(obj, now)]
}

/// upstream `printEndpointSlice`: ports (number, else name, else "*") and addresses, three
/// of each at most.
pub(super) fn endpoint_slice(obj: &Value, now: Now) -> Vec<Value> {
    const MAX: usize = 3;
    let ports = arr_at(obj, &["ports"]);
    let port_list: Vec<String> = ports
        .iter()
        .take(MAX)
        .map(|p| match get(p, &["port"]).and_then(Value::as_i64) {
            Some(n) => n.to_string(),
            None => get(p, &["name"])
                .and_then(Value::as_str)
                .unwrap_or("*")
                .to_string(),
        })
        .collect();
    let addresses: Vec<&str> = arr_at(obj, &["endpoints"])
        .iter()
        .flat_map(|e| arr_at(e, &["addresses"]).iter().filter_map(Value::as_str))
        .collect();
    let address_list: Vec<String> = addresses.iter().take(MAX).map(|s| s.to_string()).collect();
    vec![
        name(obj),
        json!(str_at(obj, &["addressType"])),
        json!(list_with_more(
            &port_list,
            ports.len() > MAX,
            ports.len(),
            MAX
        )),
        json!(list_with_more(
            &address_list,
            addresses.len() > MAX,
            addresses.len(),
            MAX
        )),
        age(obj, now),
    ]
}

/// upstream `findNodeRoles`: `node-role.kubernetes.io/<role>` keys and the
/// `kubernetes.io/role` value, sorted and deduplicated.
fn node_roles(node: &Value) -> Vec<&str> {
    let mut roles: Vec<&str> = get(node, &["metadata", "labels"])
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
                    Some(role) if !role.is_empty() => Some(role),
                    Some(_) => None,
                    None if k == "kubernetes.io/role" => v.as_str().filter(|v| !v.is_empty()),
                    None => None,
                })
                .collect()
        })
        .unwrap_or_default();
    roles.sort_unstable();
    roles.dedup();
    roles
}

fn node_address(node: &Value, type_: &str) -> String {
    arr_at(node, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == type_)
        .map_or_else(|| "<none>".into(), |a| str_at(a, &["address"]).to_string())
}

/// upstream `printNode`.
pub(super) fn node(node: &Value, now: Now) -> Vec<Value> {
    // Upstream builds a map of conditions by type: the last Ready condition wins.
    let ready = arr_at(node, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| str_at(c, &["type"]) == "Ready");
    let mut status = vec![match ready {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if bool_at(node, &["spec", "unschedulable"]) {
        status.push("SchedulingDisabled");
    }
    let roles = node_roles(node);
    let info = |f: &str| match str_at(node, &["status", "nodeInfo", f]) {
        "" => "<unknown>".to_string(),
        s => s.to_string(),
    };
    vec![
        name(node),
        json!(status.join(",")),
        json!(if roles.is_empty() {
            "<none>".to_string()
        } else {
            roles.join(",")
        }),
        age(node, now),
        json!(str_at(node, &["status", "nodeInfo", "kubeletVersion"])),
        json!(node_address(node, "InternalIP")),
        json!(node_address(node, "ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

/// upstream `printEvent`, for core/v1 and events.k8s.io/v1 objects alike: both are the
/// internal core Event upstream, so the events.k8s.io names (`regarding`, `note`,
/// `deprecated*`, `reportingController`) map onto the core ones. Either spelling is read,
/// the resource's own first, since both APIs share one storage.
pub(super) fn event(ev: &Value, events_api: bool, now: Now) -> Vec<Value> {
    type Path = &'static [&'static str];
    let pick = |core: Path, new: Path| -> Option<&Value> {
        if events_api {
            first(ev, &[new, core])
        } else {
            first(ev, &[core, new])
        }
    };
    let s = |core: Path, new: Path| pick(core, new).and_then(Value::as_str).unwrap_or("");
    let t = |core: Path, new: Path| {
        pick(core, new)
            .and_then(Value::as_str)
            .and_then(Timestamp::parse_nonzero)
    };

    let first_seen = match t(&["firstTimestamp"], &["deprecatedFirstTimestamp"]) {
        Some(ts) => since(Some(ts), now),
        None => since(time_at(ev, &["eventTime"]), now),
    };
    let mut last_seen = match t(&["lastTimestamp"], &["deprecatedLastTimestamp"]) {
        Some(ts) => since(Some(ts), now),
        None => first_seen.clone(),
    };
    let mut count = pick(&["count"], &["deprecatedCount"])
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if let Some(series) = get(ev, &["series"]) {
        last_seen = since(time_at(series, &["lastObservedTime"]), now);
        count = int_at(series, &["count"]);
    } else if count == 0 {
        // Singleton events don't have a count set in the new API.
        count = 1;
    }

    let involved = pick(&["involvedObject"], &["regarding"]).unwrap_or(&Value::Null);
    let kind = str_at(involved, &["kind"]).to_lowercase();
    let target = match str_at(involved, &["name"]) {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    // formatEventSource: component (else reporting controller), then host (else reporting
    // instance), ", "-joined when there is a host.
    let source = pick(&["source"], &["deprecatedSource"]).unwrap_or(&Value::Null);
    let component = match str_at(source, &["component"]) {
        "" => s(&["reportingComponent"], &["reportingController"]),
        c => c,
    };
    let host = match str_at(source, &["host"]) {
        "" => str_at(ev, &["reportingInstance"]),
        h => h,
    };
    let source = if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    };

    vec![
        json!(last_seen),
        json!(str_at(ev, &["type"])),
        json!(str_at(ev, &["reason"])),
        json!(target),
        json!(str_at(involved, &["fieldPath"])),
        json!(source),
        json!(s(&["message"], &["note"]).trim()),
        json!(first_seen),
        json!(count),
        name(ev),
    ]
}

/// upstream `printNamespace`.
pub(super) fn namespace(obj: &Value, now: Now) -> Vec<Value> {
    vec![
        name(obj),
        json!(str_at(obj, &["status", "phase"])),
        age(obj, now),
    ]
}

/// upstream `printSecret`: DATA counts `data` keys only.
pub(super) fn secret(obj: &Value, now: Now) -> Vec<Value> {
    vec![
        name(obj),
        json!(str_at(obj, &["type"])),
        json!(map_len(obj, &["data"])),
        age(obj, now),
    ]
}

/// upstream `printServiceAccount` (v1.33 still has the SECRETS column).
pub(super) fn service_account(obj: &Value, now: Now) -> Vec<Value> {
    vec![
        name(obj),
        json!(arr_at(obj, &["secrets"]).len()),
        age(obj, now),
    ]
}

/// upstream `printConfigMap`: DATA counts `data` and `binaryData` keys.
pub(super) fn config_map(obj: &Value, now: Now) -> Vec<Value> {
    vec![
        name(obj),
        json!(map_len(obj, &["data"]) + map_len(obj, &["binaryData"])),
        age(obj, now),
    ]
}

/// upstream `printLease`.
pub(super) fn lease(obj: &Value, now: Now) -> Vec<Value> {
    vec![
        name(obj),
        json!(str_at(obj, &["spec", "holderIdentity"])),
        age(obj, now),
    ]
}

/// upstream `printRoleBinding` / `printClusterRoleBinding`: ROLE is "kind/name"; the wide
/// columns list the subjects by kind (`rbac.SubjectsStrings`: service accounts as
/// "namespace/name", other kinds not shown), joined with ", ".
pub(super) fn role_binding(obj: &Value, now: Now) -> Vec<Value> {
    let role_ref = format!(
        "{}/{}",
        str_at(obj, &["roleRef", "kind"]),
        str_at(obj, &["roleRef", "name"])
    );
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for s in arr_at(obj, &["subjects"]) {
        let name = str_at(s, &["name"]);
        match str_at(s, &["kind"]) {
            "ServiceAccount" => sas.push(format!("{}/{name}", str_at(s, &["namespace"]))),
            "User" => users.push(name.to_string()),
            "Group" => groups.push(name.to_string()),
            _ => {}
        }
    }
    vec![
        name(obj),
        json!(role_ref),
        age(obj, now),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(sas.join(", ")),
    ]
}
