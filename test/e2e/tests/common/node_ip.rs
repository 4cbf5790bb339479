//! A non-loopback node IP for a test cluster: 10.250.<n>.1/32 added to `lo`, removed on drop (a
//! failing test unwinds through it too). Needed where the node IP ends up in Endpoints
//! (kube-dns): upstream validation rejects 127.0.0.0/8 there, and DNAT from a pod to 127.0.0.1
//! would need route_localnet. On `lo` rather than a dummy link: this machine's kernel has no
//! dummy driver (nor modules), and `lo` is always up; Linux accepts a local address on any
//! interface.

use std::{
    net::{IpAddr, Ipv4Addr},
    process::Command,
};

use super::{registry::Registry, Cluster};

/// The test range: 10.250.<n>.1, n in 0..250 (no other test or route uses 10.250/16).
const SECOND_OCTET: u8 = 250;
const LINK: &str = "lo";

#[derive(Debug)]
pub struct NodeIp {
    pub addr: IpAddr,
    /// `<n>`: unique among live test clusters, to derive other per-cluster ranges from.
    pub n: u8,
}

impl NodeIp {
    /// Takes the first free 10.250.<n>.1 from a per-process start: adding an address that
    /// exists fails, so the address is its own lock and parallel test processes never share one.
    pub fn create() -> Self {
        let start = std::process::id() as usize % 250;
        for i in 0..250 {
            let n = (start + i) % 250;
            let addr = Ipv4Addr::new(10, SECOND_OCTET, n as u8, 1);
            let out = ip(&["addr", "add", &format!("{addr}/32"), "dev", LINK]);
            if out.status.success() {
                return NodeIp {
                    addr: addr.into(),
                    n: n as u8,
                };
            }
            let err = String::from_utf8_lossy(&out.stderr);
            // iproute2 with extended acks says "Address already assigned", older ones EEXIST's text.
            assert!(
                err.contains("already assigned") || err.contains("File exists"),
                "ip addr add {addr}/32: {err}"
            );
        }
        panic!("no free node IP in 10.{SECOND_OCTET}.0.0/16");
    }
}

impl Drop for NodeIp {
    fn drop(&mut self) {
        let cidr = format!("{}/32", self.addr);
        let out = ip(&["addr", "del", &cidr, "dev", LINK]);
        if !out.status.success() {
            eprintln!(
                "ip addr del {cidr}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn ip(args: &[&str]) -> std::process::Output {
    Command::new("ip").args(args).output().expect("running ip")
}

impl Cluster {
    /// [`Cluster::start_with_agent`] on a node IP of its own ([`NodeIp::create`]), which the
    /// cluster keeps (and removes after its own teardown).
    pub fn start_with_node_ip(registry: &Registry, node_ip: NodeIp, extra: &[&str]) -> Self {
        let mut c = Cluster::start_with_agent_on(registry, node_ip.addr, extra);
        c.node_ip = Some(node_ip);
        c
    }

    /// The node IP's address, when the cluster has one of its own.
    pub fn own_node_ip(&self) -> Option<IpAddr> {
        self.node_ip.as_ref().map(|n| n.addr)
    }
}
