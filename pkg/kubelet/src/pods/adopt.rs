//! Re-adoption after an agent (kubelet) restart: a pod's containers that still run are kept
//! (same container ID, PID, restartCount, startedAt, pod IP) instead of being recreated.
//!
//! Where the rebuilt worker state comes from (chosen so nothing new is persisted):
//! - The runtime's on-disk records, one per container instance, named
//!   `<pod-uid>-<container>-<restart>`: the newest instance of each container is the current
//!   one; its suffix is the restartCount, its record gives startedAt, and whether it still runs
//!   (an instance that ended while no agent watched has exit code 255, unknown).
//! - The pod's status in the API: lastState.terminated (the previous instance's record is
//!   removed when it is replaced), imageID, and the readiness of an instance that still runs
//!   (so a restart does not flap endpoints; its probes correct it).
//!
//! Running containers are kept only when the pod's sandbox is still mounted and they are in
//! its namespaces. Otherwise (a reboot: containers and sandbox mounts gone) what is left is
//! stopped and the sandbox removed; the pod then starts again from the recorded restart counts,
//! so each lost instance shows as lastState with restartCount one higher. The pod IP is kept
//! either way (IPAM is per pod and its attach is idempotent).

use std::{
    os::unix::fs::MetadataExt,
    path::Path,
    time::{Duration, SystemTime},
};

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use rkube_runtime::{ContainerState as RtContainer, ExitInfo, Sandbox, SandboxSpec};
use tracing::{info, warn};

use super::{
    dns,
    state::{ContainerState, Instance, Terminated},
    Ctx,
};
use crate::status::CONTAINER_ID_PREFIX;

const SIGKILL: i32 = 9;
/// How long a re-adopting worker waits for the pod network (normally there within a second of
/// the agent's start: the node already has its podCIDR).
const NETWORK_WAIT: Duration = Duration::from_secs(30);

/// What the worker takes over.
#[derive(Debug, Default)]
pub struct Adopted {
    pub sandbox: Option<Sandbox>,
    pub pod_ip: Option<String>,
    /// Instances still running, to watch and probe: (init, index, container id).
    pub running: Vec<(bool, usize, String)>,
}

/// `<uid>-<name>-<restart>` -> (name, restart).
pub fn parse_id<'a>(uid: &str, id: &'a str) -> Option<(&'a str, i32)> {
    let rest = id.strip_prefix(uid)?.strip_prefix('-')?;
    let (name, n) = rest.rsplit_once('-')?;
    Some((name, n.parse().ok()?))
}

/// One instance found on disk; `exit` is `None` while it runs.
#[derive(Debug, Clone)]
pub struct Found {
    pub id: String,
    pub started_at: SystemTime,
    pub exit: Option<ExitInfo>,
}

/// Rebuilds the containers' states from the newest instance of each (`found` by name) and
/// the API's statuses. Pure. Returns the (init, index) of the instances still running.
pub fn rebuild(
    states: &mut [ContainerState],
    uid: &str,
    found: &[Found],
    api: &[ContainerStatus],
) -> Vec<(usize, String)> {
    let mut running = Vec::new();
    for (i, c) in states.iter_mut().enumerate() {
        let newest = found
            .iter()
            .filter_map(|f| parse_id(uid, &f.id).map(|(n, r)| (n, r, f)))
            .filter(|(n, _, _)| *n == c.name)
            .max_by_key(|(_, r, _)| *r);
        let Some((_, restart, f)) = newest else {
            continue;
        };
        let status = api.iter().find(|s| s.name == c.name);
        c.restart_count = restart;
        c.instance = Some(Instance {
            id: f.id.clone(),
            started_at: f.started_at,
            exit: f.exit.clone(),
            cannot_run: None,
        });
        if let Some(s) = status {
            c.image_id = s.image_id.clone();
            c.last = s
                .last_state
                .as_ref()
                .and_then(|l| l.terminated.as_ref())
                .map(|t| Terminated {
                    container_id: t
                        .container_id
                        .as_deref()
                        .unwrap_or_default()
                        .trim_start_matches(CONTAINER_ID_PREFIX)
                        .to_string(),
                    exit_code: t.exit_code,
                    signal: t.signal,
                    reason: t.reason.clone().unwrap_or_default(),
                    message: t.message.clone(),
                    started_at: t.started_at.as_ref().map_or(f.started_at, |x| x.0.into()),
                    finished_at: t.finished_at.as_ref().map_or(f.started_at, |x| x.0.into()),
                });
        }
        if f.exit.is_none() {
            let same = status.and_then(|s| s.container_id.as_deref())
                == Some(&format!("{CONTAINER_ID_PREFIX}{}", f.id));
            c.ready = same && status.is_some_and(|s| s.ready);
            running.push((i, f.id.clone()));
        }
    }
    running
}

/// Takes over what an earlier run left for `pod`: see the module docs.
pub async fn adopt(
    ctx: &Ctx,
    pod: &Pod,
    init: &mut [ContainerState],
    containers: &mut [ContainerState],
) -> Adopted {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let rt = &ctx.runtime;
    let mine: Vec<RtContainer> = match rt.list().await {
        Ok(l) => l.into_iter().filter(|c| c.sandbox_id == uid).collect(),
        Err(e) => {
            warn!(error = %e, "listing containers to re-adopt failed");
            return Adopted::default();
        }
    };
    if mine.is_empty() {
        // A sandbox without containers (stopped while pulling an image): made again.
        let _ = rt.remove_sandbox(&uid).await;
        return Adopted::default();
    }
    let mut found = Vec::new();
    for c in &mine {
        let exit = if c.running {
            None
        } else {
            // Recorded (or 255 when it ended unwatched): returns at once.
            rt.wait(&c.id).await.ok()
        };
        found.push(Found {
            id: c.id.clone(),
            started_at: c.started_at.unwrap_or_else(SystemTime::now),
            exit,
        });
    }
    let status = pod.status.as_ref();
    let empty = Vec::new();
    let init_api = status
        .and_then(|s| s.init_container_statuses.as_ref())
        .unwrap_or(&empty);
    let app_api = status
        .and_then(|s| s.container_statuses.as_ref())
        .unwrap_or(&empty);
    let mut running: Vec<(bool, usize, String)> = rebuild(init, &uid, &found, init_api)
        .into_iter()
        .map(|(i, id)| (true, i, id))
        .chain(
            rebuild(containers, &uid, &found, app_api)
                .into_iter()
                .map(|(i, id)| (false, i, id)),
        )
        .collect();
    // Older instances (and any not in the spec) are not needed any more.
    let current: Vec<&str> = init
        .iter()
        .chain(containers.iter())
        .filter_map(|c| c.instance.as_ref().map(|i| i.id.as_str()))
        .collect();
    for c in mine.iter().filter(|c| !current.contains(&c.id.as_str())) {
        stop_and_remove(ctx, &c.id, c.running).await;
    }
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    let sandbox = if running.is_empty() {
        None
    } else {
        existing_sandbox(ctx, pod, host_network, &mine, &running).await
    };
    let Some(sandbox) = sandbox else {
        // Nothing runs in a usable sandbox (a reboot, or killed while the agent was down):
        // stop what runs, drop the sandbox; the worker starts the pod again.
        for (init_c, i, id) in running.drain(..) {
            let _ = rt.kill(&id, SIGKILL).await;
            let exit = tokio::time::timeout(Duration::from_secs(10), rt.wait(&id))
                .await
                .ok()
                .and_then(Result::ok);
            let c = if init_c {
                &mut init[i]
            } else {
                &mut containers[i]
            };
            if let Some(inst) = c.instance.as_mut() {
                inst.exit = Some(exit.unwrap_or(ExitInfo {
                    exit_code: 255,
                    signal: None,
                    oom_killed: false,
                    finished_at: SystemTime::now(),
                }));
            }
            c.ready = false;
        }
        let _ = rt.remove_sandbox(&uid).await;
        info!(
            containers = mine.len(),
            "no running container to re-adopt; the pod starts again"
        );
        return Adopted::default();
    };
    let pod_ip = if host_network {
        Some(ctx.cfg.node_ip.to_string())
    } else {
        reattach(ctx, &uid, &sandbox).await.or_else(|| {
            status
                .and_then(|s| s.pod_ip.clone())
                .filter(|ip| !ip.is_empty())
        })
    };
    info!(running = running.len(), pod_ip = ?pod_ip, "re-adopted the pod's running containers");
    Adopted {
        sandbox: Some(sandbox),
        pod_ip,
        running,
    }
}

/// The pod's sandbox, if it is still mounted and the running containers are in it.
async fn existing_sandbox(
    ctx: &Ctx,
    pod: &Pod,
    host_network: bool,
    mine: &[RtContainer],
    running: &[(bool, usize, String)],
) -> Option<Sandbox> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    // create_sandbox returns a sandbox that is still mounted as it is; if it made a new one
    // instead, the namespace check below fails and it is removed by the caller.
    let sb = ctx
        .runtime
        .create_sandbox(&SandboxSpec {
            id: uid,
            hostname: dns::hostname(pod),
            host_network,
            hosts_file: String::new(),
            resolv_conf: String::new(),
        })
        .await
        .ok()?;
    let (kind, file) = match &sb.netns {
        Some(n) => ("net", n.clone()),
        None => ("ipc", sb.ipc_ns.clone()),
    };
    let ns = ns_id(&file)?;
    let all_in = running.iter().all(|(_, _, id)| {
        mine.iter()
            .find(|c| &c.id == id)
            .and_then(|c| c.pid)
            .and_then(|pid| ns_id(Path::new(&format!("/proc/{pid}/ns/{kind}"))))
            == Some(ns)
    });
    if !all_in {
        warn!("the running containers are not in the pod's sandbox; restarting the pod");
        return None;
    }
    Some(sb)
}

/// A namespace's identity (device and inode of its nsfs file).
fn ns_id(path: &Path) -> Option<(u64, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino()))
}

/// The pod's address again (the same one: IPAM is per pod), repairing the veth if needed.
async fn reattach(ctx: &Ctx, uid: &str, sandbox: &Sandbox) -> Option<String> {
    let netns = sandbox.netns.as_ref()?;
    let mut rx = ctx.network.clone();
    let net = tokio::time::timeout(NETWORK_WAIT, rx.wait_for(Option::is_some))
        .await
        .ok()?
        .ok()?
        .clone()?;
    match net.attach(uid, netns).await {
        Ok(att) => Some(att.ip.to_string()),
        Err(e) => {
            warn!(error = %e, "re-attaching the pod network failed");
            net.address_of(uid).map(|ip| ip.to_string())
        }
    }
}

async fn stop_and_remove(ctx: &Ctx, id: &str, running: bool) {
    let rt = &ctx.runtime;
    if running {
        let _ = rt.kill(id, SIGKILL).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), rt.wait(id)).await;
    }
    if let Err(e) = rt.remove_container(id).await {
        warn!(container = %id, error = %e, "removing an old instance failed");
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::core::v1::{ContainerState as ApiState, ContainerStateTerminated},
        apimachinery::pkg::apis::meta::v1::Time,
    };

    use super::*;

    const UID: &str = "0b6f-4e2a";

    fn found(id: &str, exit: Option<i32>) -> Found {
        Found {
            id: id.into(),
            started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(100),
            exit: exit.map(|code| ExitInfo {
                exit_code: code,
                signal: None,
                oom_killed: false,
                finished_at: SystemTime::UNIX_EPOCH + Duration::from_secs(200),
            }),
        }
    }

    #[test]
    fn ids_name_their_container_and_restart() {
        assert_eq!(parse_id(UID, "0b6f-4e2a-my-app-12"), Some(("my-app", 12)));
        assert_eq!(parse_id(UID, "0b6f-4e2a-app"), None);
        assert_eq!(parse_id(UID, "other-app-1"), None);
    }

    #[test]
    fn newest_instance_is_current_and_api_gives_last_state() {
        let mut states = vec![
            ContainerState::new("web", "busybox", false),
            ContainerState::new("side", "busybox", false),
            ContainerState::new("new", "busybox", false),
        ];
        let id_web = format!("{UID}-web-2");
        let api = vec![
            ContainerStatus {
                name: "web".into(),
                image_id: "sha256:abc".into(),
                ready: true,
                container_id: Some(format!("{CONTAINER_ID_PREFIX}{id_web}")),
                last_state: Some(ApiState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: 1,
                        reason: Some("Error".into()),
                        container_id: Some(format!("{CONTAINER_ID_PREFIX}{UID}-web-1")),
                        finished_at: Some(Time(
                            k8s_openapi::jiff::Timestamp::from_second(50).unwrap(),
                        )),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ContainerStatus {
                name: "side".into(),
                ready: true,
                container_id: Some(format!("{CONTAINER_ID_PREFIX}{UID}-side-0")),
                ..Default::default()
            },
        ];
        let on_disk = [
            found(&format!("{UID}-web-1"), Some(1)),
            found(&id_web, None),
            found(&format!("{UID}-side-0"), Some(255)),
        ];
        let running = rebuild(&mut states, UID, &on_disk, &api);
        assert_eq!(running, [(0, id_web.clone())]);
        let web = &states[0];
        assert_eq!(web.restart_count, 2);
        assert!(web.running() && web.ready);
        assert_eq!(web.image_id, "sha256:abc");
        let last = web.last.as_ref().unwrap();
        assert_eq!(
            (last.exit_code, last.container_id.as_str()),
            (1, format!("{UID}-web-1").as_str())
        );
        assert_eq!(
            last.finished_at,
            SystemTime::UNIX_EPOCH + Duration::from_secs(50)
        );
        // Ended while no agent watched: terminated (restarted by the worker), not ready.
        let side = &states[1];
        assert_eq!(side.terminated().unwrap().exit_code, 255);
        assert!(!side.ready);
        // Never started: untouched.
        assert!(states[2].instance.is_none() && states[2].restart_count == 0);
    }

    #[test]
    fn a_running_instance_the_api_does_not_know_is_not_ready() {
        let mut states = vec![ContainerState::new("web", "busybox", false)];
        let api = vec![ContainerStatus {
            name: "web".into(),
            ready: true,
            container_id: Some(format!("{CONTAINER_ID_PREFIX}{UID}-web-0")),
            ..Default::default()
        }];
        let running = rebuild(
            &mut states,
            UID,
            &[found(&format!("{UID}-web-1"), None)],
            &api,
        );
        assert_eq!(running.len(), 1);
        assert!(states[0].running() && !states[0].ready);
        assert_eq!(states[0].restart_count, 1);
    }
}
