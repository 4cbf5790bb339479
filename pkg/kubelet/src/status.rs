//! The pod status the kubelet reports: phase, conditions, IPs, container statuses, qosClass.
//! Pure: built from the worker's state; the worker writes it only when it changed.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::{json, Value};

use crate::{
    env::parse_quantity,
    pods::state::{ContainerState, Terminated},
    time::{from_system, time},
};

pub const CONTAINER_ID_PREFIX: &str = "libcontainer://";

/// Condition type -> (status, lastTransitionTime): kept by the worker across reports.
pub type Transitions = BTreeMap<String, (bool, String)>;

pub struct View<'a> {
    pub pod: &'a Pod,
    pub host_ip: &'a str,
    pub pod_ip: Option<&'a str>,
    pub start_time: Option<&'a str>,
    pub sandbox_ready: bool,
    pub init: &'a [ContainerState],
    pub containers: &'a [ContainerState],
    /// Set when the pod is done for good (all containers terminated, no restarts coming).
    pub now: &'a str,
}

pub fn phase(v: &View<'_>) -> &'static str {
    let policy = restart_policy(v.pod);
    // Init containers: a failed one with Never fails the pod; unfinished ones keep it Pending.
    for c in v.init {
        // A sidecar never completes: once started it no longer holds the pod back.
        if c.init_done() {
            continue;
        }
        if c.sidecar {
            return "Pending";
        }
        if policy == "Never" && c.terminated().is_some_and(|t| t.exit_code != 0) {
            return "Failed";
        }
        return "Pending";
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in v.containers {
        if c.running() && c.waiting.is_none() {
            running += 1;
        } else if let Some(t) = c.terminated().filter(|_| c.waiting.is_none()) {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if c.last.is_some() {
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    if waiting > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped > 0 {
        if policy == "Always" {
            return "Running";
        }
        if stopped == succeeded {
            return "Succeeded";
        }
        if policy == "Never" {
            return "Failed";
        }
        return "Running";
    }
    "Pending"
}

pub fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

fn terminated_json(t: &Terminated) -> Value {
    let mut v = json!({
        "exitCode": t.exit_code,
        "reason": t.reason,
        "startedAt": time(from_system(t.started_at)),
        "finishedAt": time(from_system(t.finished_at)),
        "containerID": format!("{CONTAINER_ID_PREFIX}{}", t.container_id),
    });
    if let Some(s) = t.signal {
        v["signal"] = json!(s);
    }
    if let Some(m) = &t.message {
        v["message"] = json!(m);
    }
    v
}

pub fn container_status(c: &ContainerState, default_waiting: &str) -> Value {
    let running = c.running() && c.waiting.is_none();
    let state = if let Some((reason, message)) = &c.waiting {
        let mut w = json!({"reason": reason});
        if !message.is_empty() {
            w["message"] = json!(message);
        }
        json!({ "waiting": w })
    } else if let Some(i) = c.instance.as_ref().filter(|i| i.running()) {
        json!({"running": {"startedAt": time(from_system(i.started_at))}})
    } else if let Some(t) = c.terminated() {
        json!({ "terminated": terminated_json(&t) })
    } else {
        json!({"waiting": {"reason": default_waiting}})
    };
    let last = match &c.last {
        Some(t) => json!({ "terminated": terminated_json(t) }),
        None => json!({}),
    };
    let mut v = json!({
        "name": c.name,
        "image": c.image,
        "imageID": c.image_id,
        "ready": running && c.ready,
        "started": running,
        "restartCount": c.restart_count,
        "state": state,
        "lastState": last,
    });
    if let Some(i) = &c.instance {
        v["containerID"] = json!(format!("{CONTAINER_ID_PREFIX}{}", i.id));
    }
    v
}

/// The whole status. `transitions` keeps condition transition times across calls.
pub fn build(v: &View<'_>, transitions: &mut Transitions) -> Value {
    let phase = phase(v);
    let terminal = matches!(phase, "Succeeded" | "Failed");
    let init_pending: Vec<&str> = v
        .init
        .iter()
        .filter(|c| !c.init_done())
        .map(|c| c.name.as_str())
        .collect();
    // Sidecars count in ContainersReady, as upstream.
    let unready: Vec<&str> = v
        .init
        .iter()
        .filter(|c| c.sidecar)
        .chain(v.containers)
        .filter(|c| !c.running_ready())
        .map(|c| c.name.as_str())
        .collect();
    let gates = readiness_gates(v.pod);
    let mut cond = |type_: &str, ok: bool, reason: Option<&str>, message: Option<String>| {
        let at = match transitions.get(type_) {
            Some((s, t)) if *s == ok => t.clone(),
            _ => {
                transitions.insert(type_.into(), (ok, v.now.to_string()));
                v.now.to_string()
            }
        };
        // reason and message are always present (null when unset): the status goes out as a
        // strategic merge patch, which merges a condition into the stored one by type.
        json!({"type": type_, "status": if ok {"True"} else {"False"},
               "lastProbeTime": null, "lastTransitionTime": at,
               "reason": reason, "message": message})
    };
    let sandbox = cond(
        "PodReadyToStartContainers",
        v.sandbox_ready && !terminal,
        None,
        None,
    );
    let initialized = if init_pending.is_empty() || (terminal && init_pending.is_empty()) {
        cond("Initialized", true, None, None)
    } else {
        cond(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                init_pending.join(" ")
            )),
        )
    };
    let (ready_reason, ready_msg) = if terminal {
        (Some("PodCompleted"), None)
    } else if !init_pending.is_empty() {
        (
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        )
    } else if unready.is_empty() {
        (None, None)
    } else {
        (
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        )
    };
    let all_ready = !terminal && unready.is_empty() && init_pending.is_empty();
    // Ready also needs every readiness gate's condition True (ContainersReady does not).
    let ready = if all_ready && !gates.is_empty() {
        cond(
            "Ready",
            false,
            Some("ReadinessGatesNotReady"),
            Some(gates.join(", ")),
        )
    } else {
        cond("Ready", all_ready, ready_reason, ready_msg.clone())
    };
    let containers_ready = cond("ContainersReady", all_ready, ready_reason, ready_msg);
    // The pod is bound to this node: scheduled (the scheduler's own write may not be seen yet).
    let scheduled = cond("PodScheduled", true, None, None);
    // Only the kubelet's own conditions: others' (readiness gates, DisruptionTarget) stay as
    // the API has them, since the patch merges conditions by type. Sending them from this
    // (possibly stale) view would undo a newer write.
    let conditions = vec![sandbox, initialized, ready, containers_ready, scheduled];
    let app_waiting = if init_pending.is_empty() {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let mut status = json!({
        "phase": phase,
        "conditions": conditions,
        "hostIP": v.host_ip,
        "hostIPs": [{"ip": v.host_ip}],
        "containerStatuses": v.containers.iter().map(|c| container_status(c, app_waiting)).collect::<Vec<_>>(),
        "qosClass": qos_class(v.pod),
    });
    if let Some(ip) = v.pod_ip {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{ "ip": ip }]);
    }
    if let Some(t) = v.start_time {
        status["startTime"] = json!(t);
    }
    if !v.init.is_empty() {
        status["initContainerStatuses"] = json!(v
            .init
            .iter()
            .map(|c| container_status(c, "PodInitializing"))
            .collect::<Vec<_>>());
    }
    status
}

/// Why the readiness gates hold the pod back, one message per gate whose condition is not
/// True (upstream's wording); empty when all pass.
pub fn readiness_gates(pod: &Pod) -> Vec<String> {
    let conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    pod.spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_deref())
        .unwrap_or_default()
        .iter()
        .filter_map(|g| {
            let t = &g.condition_type;
            match conditions.iter().find(|c| c.type_ == *t) {
                None => Some(format!(
                    "corresponding condition of pod readiness gate \"{t}\" does not exist."
                )),
                Some(c) if c.status != "True" => Some(format!(
                    "the status of pod readiness gate \"{t}\" is not \"True\", but {}",
                    c.status
                )),
                Some(_) => None,
            }
        })
        .collect()
}

/// Guaranteed when every container has cpu and memory limits equal to its requests,
/// BestEffort without any, Burstable otherwise.
pub fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = pod.spec.as_ref() else {
        return "BestEffort";
    };
    let all: Vec<&Container> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .collect();
    let get = |c: &Container, limits: bool, k: &str| {
        let r = c.resources.as_ref()?;
        let m = if limits {
            r.limits.as_ref()
        } else {
            r.requests.as_ref()
        }?;
        m.get(k)
            .and_then(|q| parse_quantity(&q.0))
            .filter(|v| *v > 0.0)
    };
    let any = all.iter().any(|c| {
        ["cpu", "memory"]
            .iter()
            .any(|k| get(c, true, k).is_some() || get(c, false, k).is_some())
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = all.iter().all(|c| {
        ["cpu", "memory"].iter().all(|k| {
            let l = get(c, true, k);
            l.is_some() && get(c, false, k).is_none_or(|r| Some(r) == l)
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use rkube_runtime::ExitInfo;

    use super::*;
    use crate::pods::state::Instance;

    fn pod(policy: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "d", "uid": "u"},
            "spec": {"restartPolicy": policy, "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"conditions": [{"type": "PodScheduled", "status": "True"}]},
        }))
        .unwrap()
    }

    fn running() -> ContainerState {
        let mut c = ContainerState::new("c", "busybox", false);
        c.instance = Some(Instance {
            id: "u-c-0".into(),
            started_at: SystemTime::UNIX_EPOCH,
            exit: None,
            cannot_run: None,
        });
        c.ready = true;
        c
    }

    fn exited(code: i32, oom: bool) -> ContainerState {
        let mut c = running();
        c.instance.as_mut().unwrap().exit = Some(ExitInfo {
            exit_code: code,
            signal: None,
            oom_killed: oom,
            finished_at: SystemTime::UNIX_EPOCH + Duration::from_secs(5),
        });
        c
    }

    fn view<'a>(p: &'a Pod, cs: &'a [ContainerState]) -> View<'a> {
        View {
            pod: p,
            host_ip: "10.0.0.5",
            pod_ip: Some("10.42.0.2"),
            start_time: Some("1970-01-01T00:00:00Z"),
            sandbox_ready: true,
            init: &[],
            containers: cs,
            now: "1970-01-01T00:00:09Z",
        }
    }

    #[test]
    fn running_and_ready() {
        let p = pod("Always");
        let cs = [running()];
        let mut t = Transitions::new();
        let s = build(&view(&p, &cs), &mut t);
        assert_eq!(s["phase"], "Running");
        assert_eq!(s["containerStatuses"][0]["ready"], true);
        assert_eq!(
            s["containerStatuses"][0]["containerID"],
            "libcontainer://u-c-0"
        );
        assert_eq!(s["conditions"][2]["type"], "Ready");
        assert_eq!(s["conditions"][2]["status"], "True");
        assert_eq!(s["conditions"][4]["type"], "PodScheduled");
        // The pod's own PodScheduled is replaced, not repeated.
        assert_eq!(s["conditions"].as_array().unwrap().len(), 5);
        assert_eq!(s["qosClass"], "BestEffort");
        let _: k8s_openapi::api::core::v1::PodStatus = serde_json::from_value(s).unwrap();
    }

    #[test]
    fn phases_follow_restart_policy() {
        let p = pod("Never");
        assert_eq!(phase(&view(&p, &[exited(0, false)])), "Succeeded");
        assert_eq!(phase(&view(&p, &[exited(1, false)])), "Failed");
        let p = pod("OnFailure");
        assert_eq!(phase(&view(&p, &[exited(0, false)])), "Succeeded");
        let mut crash = exited(1, false);
        crash.last = crash.terminated();
        crash.waiting = Some(("CrashLoopBackOff".into(), "back-off".into()));
        assert_eq!(phase(&view(&p, &[crash.clone()])), "Running");
        let p = pod("Always");
        assert_eq!(
            phase(&view(&p, &[ContainerState::new("c", "b", false)])),
            "Pending"
        );
        let s = build(&view(&p, &[crash]), &mut Transitions::new());
        assert_eq!(
            s["containerStatuses"][0]["state"]["waiting"]["reason"],
            "CrashLoopBackOff"
        );
        assert_eq!(
            s["containerStatuses"][0]["lastState"]["terminated"]["reason"],
            "Error"
        );
        let s = build(
            &view(&pod("Never"), &[exited(137, true)]),
            &mut Transitions::new(),
        );
        assert_eq!(
            s["containerStatuses"][0]["state"]["terminated"]["reason"],
            "OOMKilled"
        );
        assert_eq!(s["conditions"][2]["reason"], "PodCompleted");
    }

    #[test]
    fn transitions_are_kept() {
        let p = pod("Always");
        let mut t = Transitions::new();
        let cs = [running()];
        let mut v = view(&p, &cs);
        build(&v, &mut t);
        v.now = "1970-01-01T00:00:10Z";
        let s = build(&v, &mut t);
        assert_eq!(
            s["conditions"][2]["lastTransitionTime"],
            "1970-01-01T00:00:09Z"
        );
    }

    #[test]
    fn readiness_gates_hold_ready_back() {
        let mut p = pod("Always");
        p.spec.as_mut().unwrap().readiness_gates =
            Some(vec![k8s_openapi::api::core::v1::PodReadinessGate {
                condition_type: "example.com/lb".into(),
            }]);
        let cs = [running()];
        let mut t = Transitions::new();
        let s = build(&view(&p, &cs), &mut t);
        assert_eq!(s["conditions"][2]["type"], "Ready");
        assert_eq!(s["conditions"][2]["status"], "False");
        assert_eq!(s["conditions"][2]["reason"], "ReadinessGatesNotReady");
        assert_eq!(
            s["conditions"][2]["message"],
            "corresponding condition of pod readiness gate \"example.com/lb\" does not exist."
        );
        assert_eq!(s["conditions"][3]["type"], "ContainersReady");
        assert_eq!(s["conditions"][3]["status"], "True");
        let gate = |status: &str| k8s_openapi::api::core::v1::PodCondition {
            type_: "example.com/lb".into(),
            status: status.into(),
            ..Default::default()
        };
        let conds = p.status.as_mut().unwrap().conditions.as_mut().unwrap();
        conds.push(gate("False"));
        let s = build(&view(&p, &cs), &mut t);
        assert_eq!(
            s["conditions"][2]["message"],
            "the status of pod readiness gate \"example.com/lb\" is not \"True\", but False"
        );
        let conds = p.status.as_mut().unwrap().conditions.as_mut().unwrap();
        *conds.last_mut().unwrap() = gate("True");
        let s = build(&view(&p, &cs), &mut t);
        assert_eq!(s["conditions"][2]["status"], "True");
        // reason/message are cleared explicitly: the patch merges conditions by type.
        assert_eq!(s["conditions"][2]["reason"], Value::Null);
        assert_eq!(s["conditions"][2]["message"], Value::Null);
        // Only the kubelet's own conditions are sent; the gate's stays as the API has it.
        assert_eq!(s["conditions"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn sidecars_do_not_complete_but_count_in_ready() {
        let p = pod("Never");
        let mut side = running();
        side.name = "side".into();
        side.init = true;
        side.sidecar = true;
        side.ready = false;
        let app = [running()];
        let mut v = view(&p, &app);
        let init = [side.clone()];
        v.init = &init;
        // Not started yet (startupProbe pending): the pod is still initializing.
        assert_eq!(phase(&v), "Pending");
        let s = build(&v, &mut Transitions::new());
        assert_eq!(s["conditions"][1]["status"], "False");
        side.started_once = true;
        let init = [side.clone()];
        v.init = &init;
        assert_eq!(phase(&v), "Running");
        let s = build(&v, &mut Transitions::new());
        assert_eq!(s["conditions"][1]["status"], "True");
        assert_eq!(s["conditions"][3]["status"], "False");
        assert_eq!(
            s["conditions"][3]["message"],
            "containers with unready status: [side]"
        );
        assert_eq!(s["initContainerStatuses"][0]["started"], true);
        assert!(s["initContainerStatuses"][0]["state"]["running"].is_object());
        side.ready = true;
        let init = [side.clone()];
        v.init = &init;
        let s = build(&v, &mut Transitions::new());
        assert_eq!(s["conditions"][2]["status"], "True");
        // The app containers finish: the pod is done, whatever the sidecar does.
        let app = [exited(0, false)];
        v.containers = &app;
        assert_eq!(phase(&v), "Succeeded");
    }

    #[test]
    fn qos() {
        let p: Pod = serde_json::from_value(json!({"spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}))
        .unwrap();
        assert_eq!(qos_class(&p), "Guaranteed");
        let p: Pod = serde_json::from_value(json!({"spec": {"containers": [
            {"name": "a", "resources": {"requests": {"cpu": "1"}}}]}}))
        .unwrap();
        assert_eq!(qos_class(&p), "Burstable");
    }
}
