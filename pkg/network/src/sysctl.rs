//! The kernel settings the pod network needs: IPv4 forwarding, so pod traffic is routed off the
//! bridge (and masqueraded), and br_netfilter's `bridge-nf-call-iptables`, so traffic bridged
//! between two pods of this node goes through the `ip` family hooks. Without the latter a pod
//! reaching a Service whose backend sits on the same bridge breaks: the request is routed (to
//! the ClusterIP) and DNATed, but the backend's reply goes straight to the client over the
//! bridge, never un-DNATed, so the client sees an answer from an address it never asked and
//! drops it. kube-proxy has the same requirement (kubeadm's preflight checks it).

use std::{fs, path::Path, process::Command};

use tracing::{info, warn};

use crate::{Error, Result};

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";
/// Present only once br_netfilter is loaded (or built in); per network namespace.
const BRIDGE_SYSCTLS: &str = "/proc/sys/net/bridge";
const BRIDGE_NF_CALL_IPTABLES: &str = "/proc/sys/net/bridge/bridge-nf-call-iptables";

pub(crate) fn enable_ip_forward() -> Result<()> {
    if set_to_one(Path::new(IP_FORWARD))? {
        info!("net.ipv4.ip_forward enabled");
    }
    Ok(())
}

/// Loads br_netfilter when its sysctls are missing and turns on `bridge-nf-call-iptables`.
/// Never fatal: a host without the module still runs pods (only same-node Service traffic
/// suffers), so a failure is a warning saying what to do.
pub(crate) fn ensure_bridge_netfilter() {
    if !Path::new(BRIDGE_SYSCTLS).exists() {
        // The kernel's own module autoload has no trigger for br_netfilter: ask modprobe.
        match Command::new("modprobe").arg("br_netfilter").output() {
            Ok(out) if out.status.success() => info!("br_netfilter module loaded"),
            Ok(out) => warn!(
                stderr = %String::from_utf8_lossy(&out.stderr).trim(),
                "modprobe br_netfilter failed: pods reaching a Service backed by a pod on the same node will not get answers"
            ),
            Err(e) => warn!(
                error = %e,
                "cannot run modprobe br_netfilter: pods reaching a Service backed by a pod on the same node will not get answers"
            ),
        }
    }
    match set_to_one(Path::new(BRIDGE_NF_CALL_IPTABLES)) {
        Ok(true) => info!("net.bridge.bridge-nf-call-iptables enabled"),
        Ok(false) => {}
        Err(e) => warn!(
            error = %e,
            "net.bridge.bridge-nf-call-iptables not set: pods reaching a Service backed by a pod on the same node will not get answers"
        ),
    }
}

/// Writes `1` to a boolean sysctl unless it already holds it; whether it changed.
fn set_to_one(path: &Path) -> Result<bool> {
    let current = fs::read_to_string(path)
        .map_err(|e| Error::Other(format!("read {}: {e}", path.display())))?;
    if current.trim() == "1" {
        return Ok(false);
    }
    fs::write(path, "1").map_err(|e| Error::Other(format!("write {}: {e}", path.display())))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_to_one_writes_only_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("knob");
        fs::write(&p, "0\n").unwrap();
        assert!(set_to_one(&p).unwrap());
        assert_eq!(fs::read_to_string(&p).unwrap(), "1");
        assert!(!set_to_one(&p).unwrap(), "already 1");
        assert!(set_to_one(&dir.path().join("missing")).is_err());
    }

    /// The real knob, in a network namespace of this test's own (the bridge sysctls are per
    /// namespace): off before, on after the call; the host's setting is never touched.
    #[test]
    fn bridge_netfilter_is_turned_on() {
        std::thread::spawn(|| {
            // Only this thread moves; its namespace goes when the thread ends.
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare (root)");
            fs::write(BRIDGE_NF_CALL_IPTABLES, "0").expect("br_netfilter is available");
            ensure_bridge_netfilter();
            let v = fs::read_to_string(BRIDGE_NF_CALL_IPTABLES).unwrap();
            assert_eq!(v.trim(), "1");
        })
        .join()
        .unwrap();
    }
}
