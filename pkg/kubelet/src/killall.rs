//! `rkube killall`: stops every container this agent runs and removes what pods hold on the
//! host (containers' mounts and cgroups, sandboxes' namespaces, veths, the pod bridge and its
//! nftables table, the routes to other nodes' pods, the VXLAN device) — k3s'
//! `k3s-killall.sh`. Used before uninstalling or reinstalling, and by tests, whose servers are
//! killed without a chance to clean up.

use std::{path::Path, time::Duration};

use tracing::{info, warn};

/// `agent_dir` is `<data-dir>/agent`; `helper_exe` the rkube binary (libcontainer's helper).
pub async fn killall(agent_dir: &Path, helper_exe: &Path, bridge: &str) -> crate::Result<usize> {
    let runtime = rkube_runtime::Runtime::new(rkube_runtime::RuntimeConfig {
        root: agent_dir.join("containers"),
        helper_exe: helper_exe.to_path_buf(),
        cgroup_parent: crate::CGROUP_PARENT.into(),
    })?;
    let containers = runtime.list().await?;
    let stopped = containers.len();
    for c in &containers {
        if c.running {
            let _ = runtime.kill(&c.id, 9).await;
            let _ = tokio::time::timeout(Duration::from_secs(10), runtime.wait(&c.id)).await;
        }
        if let Err(e) = runtime.remove_container(&c.id).await {
            warn!(container = %c.id, error = %e, "removing a container failed");
        }
    }
    // Sandboxes go with their namespaces; a pod's veth goes with its network namespace.
    let sandboxes = agent_dir.join("containers").join("sandboxes");
    if let Ok(entries) = std::fs::read_dir(&sandboxes) {
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if let Err(e) = runtime.remove_sandbox(&id).await {
                warn!(sandbox = %id, error = %e, "removing a sandbox failed");
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(agent_dir.join("pods")) {
        for e in entries.flatten() {
            crate::volumes::teardown(&e.path());
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    // Addresses are free again: nothing holds them any more.
    let _ = std::fs::remove_dir_all(agent_dir.join("network").join("ipam"));
    rkube_network::remove_bridge(bridge).await?;
    // The VXLAN device takes its routes, neighbour and FDB entries with it; only the device
    // this agent recorded.
    let vxlan = rkube_network::vxlan::remove(&agent_dir.join("network")).await?;
    // Only the routes this agent recorded: other agents on the host keep theirs.
    let routes = rkube_network::routes::PodRoutes::open(&agent_dir.join("network"))?
        .remove_all()
        .await?;
    info!(containers = stopped, routes, vxlan, "killall done");
    Ok(stopped)
}
