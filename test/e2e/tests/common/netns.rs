//! A second "machine" on this host for multi-node tests: a network namespace `rkn<n>` joined to
//! the host by a veth pair (host end `rkv<n>h` = 10.251.<n>.1/30, namespace end `rkv<n>p` =
//! 10.251.<n>.2/30), both removed on drop; commands run inside with `nsenter --net` (only the
//! network namespace: mounts and cgroups stay the host's, so `rkube killall` sees them). Plus a
//! TCP forwarder, for servers that listen on loopback only. Namespaces on other 10.<octet>/16
//! ranges with a default route via the host are nodes on different L2 segments (the host routes).

use std::{
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    process::{Command, Output},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

/// Test range 10.251.<n>.0/30 (no other test or route uses 10.251/16).
const SECOND_OCTET: u8 = 251;

#[derive(Debug)]
pub struct LinkedNetns {
    pub name: String,
    pub n: u8,
    pub host_link: String,
    /// The host's end of the link.
    pub host_ip: Ipv4Addr,
    /// The namespace's end of the link.
    pub ns_ip: Ipv4Addr,
}

impl LinkedNetns {
    /// Takes the first free `rkn<n>` from a per-process start: the namespace name is the lock
    /// (`ip netns add` fails when it exists), so parallel tests never share a range.
    pub fn create() -> Self {
        Self::create_on(SECOND_OCTET)
    }

    /// [`Self::create`] on 10.`second_octet`.<n>.0/30 (a range no other test uses): several
    /// namespaces on distinct octets are distinct L2 segments, routed between by the host.
    pub fn create_on(second_octet: u8) -> Self {
        let start = std::process::id() as usize % 250;
        for i in 0..250 {
            let n = ((start + i) % 250) as u8;
            let name = format!("rkn{n}");
            let out = ip(&["netns", "add", &name]);
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("File exists"), "ip netns add {name}: {err}");
                continue;
            }
            // From here on, drop removes the namespace and the link whatever fails next.
            let ns = LinkedNetns {
                name,
                n,
                host_link: format!("rkv{n}h"),
                host_ip: Ipv4Addr::new(10, second_octet, n, 1),
                ns_ip: Ipv4Addr::new(10, second_octet, n, 2),
            };
            let peer = format!("rkv{n}p");
            let host_cidr = format!("{}/30", ns.host_ip);
            let ns_cidr = format!("{}/30", ns.ns_ip);
            // A link left by a crashed run of the same n would make the add fail.
            let _ = ip(&["link", "del", &ns.host_link]);
            for args in [
                &[
                    "link",
                    "add",
                    &ns.host_link,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    &peer,
                ][..],
                &["link", "set", &peer, "netns", &ns.name][..],
                &["addr", "add", &host_cidr, "dev", &ns.host_link][..],
                &["link", "set", &ns.host_link, "up"][..],
                &["-n", &ns.name, "addr", "add", &ns_cidr, "dev", &peer][..],
                &["-n", &ns.name, "link", "set", &peer, "up"][..],
                &["-n", &ns.name, "link", "set", "lo", "up"][..],
            ] {
                let out = ip(args);
                assert!(
                    out.status.success(),
                    "ip {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            return ns;
        }
        panic!("no free rkn<n> network namespace");
    }

    /// Routes everything not on the link through the host (the namespace's "router").
    pub fn default_route_via_host(&self) {
        self.ip(&["route", "add", "default", "via", &self.host_ip.to_string()]);
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/var/run/netns").join(&self.name)
    }

    /// `ip <args>` inside the namespace; its stdout, which must succeed.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        let out = ip(&all);
        assert!(
            out.status.success(),
            "ip {all:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for LinkedNetns {
    fn drop(&mut self) {
        // The namespace's end goes with the namespace, and the host end with it.
        let out = ip(&["netns", "del", &self.name]);
        if !out.status.success() {
            eprintln!(
                "ip netns del {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let _ = ip(&["link", "del", &self.host_link]);
    }
}

/// `ip <args>` in the host namespace.
pub fn ip(args: &[&str]) -> Output {
    Command::new("ip").args(args).output().expect("running ip")
}

/// Whether a namespace called `name` exists.
pub fn netns_exists(name: &str) -> bool {
    PathBuf::from("/var/run/netns").join(name).exists()
}

/// Forwards TCP connections from `listen` to `target` (a thread per direction per connection)
/// until dropped; connections in flight end with the peers.
pub struct TcpForward {
    listen: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TcpForward {
    pub fn start(listen: SocketAddr, target: SocketAddr) -> Self {
        let listener = TcpListener::bind(listen).unwrap_or_else(|e| panic!("bind {listen}: {e}"));
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(down) = conn else { continue };
                let Ok(up) = TcpStream::connect(target) else {
                    continue;
                };
                splice(down, up);
            }
        });
        Self {
            listen,
            stop,
            thread: Some(thread),
        }
    }
}

fn splice(a: TcpStream, b: TcpStream) {
    for (mut from, mut to) in [(a.try_clone().unwrap(), b.try_clone().unwrap()), (b, a)] {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(std::net::Shutdown::Write);
        });
    }
}

impl Drop for TcpForward {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and closes the listener. Join only when the
        // wake-up connected: with the address already gone, accept never returns (the thread
        // ends with the test process).
        let woke = TcpStream::connect_timeout(&self.listen, std::time::Duration::from_secs(2));
        if let (Ok(_), Some(t)) = (woke, self.thread.take()) {
            let _ = t.join();
        }
    }
}
