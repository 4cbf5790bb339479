//! `rkube killall`: stop every container of this node's agent and remove the pods' host state
//! (mounts, cgroups, namespaces, veths, the pod bridge and its nftables table), like
//! k3s-killall.sh. Run it with the server stopped.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct KillallArgs {
    /// rkube's data directory.
    #[arg(long, default_value = "/var/lib/rkube", value_name = "DIR")]
    data_dir: PathBuf,
    /// The pod bridge the agent used (`rkube server --pod-bridge`).
    #[arg(long, default_value = "rkube0", value_name = "NAME")]
    pod_bridge: String,
}

pub fn run(args: KillallArgs) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("locating the rkube binary: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    let n = runtime
        .block_on(rkube_kubelet::killall(
            &args.data_dir.join("agent"),
            &exe,
            &args.pod_bridge,
        ))
        .map_err(|e| e.to_string())?;
    println!(
        "stopped {n} containers; pod network {} removed",
        args.pod_bridge
    );
    Ok(())
}
