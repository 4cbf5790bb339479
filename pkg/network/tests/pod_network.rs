//! The pod network for real (root): a test bridge with a random name and pod CIDR, network
//! namespaces made by the test, pings through busybox. Everything is removed by Drop guards,
//! also when an assertion fails.

use std::{
    net::Ipv4Addr,
    path::PathBuf,
    process::{Command, Output},
    sync::atomic::{AtomicU32, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use rkube_network::{
    host_interface, masquerade_table, Attachment, Error, NetworkConfig, PodNetwork,
};

/// A short unique tag per test (pid, time and a counter), for interface and netns names.
fn tag() -> u32 {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    (std::process::id().wrapping_mul(7919) ^ nanos ^ N.fetch_add(1, Ordering::Relaxed) << 20)
        & 0xff_ffff
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn ok(program: &str, args: &[&str]) -> bool {
    run(program, args).status.success()
}

/// A network namespace made with `ip netns add`, deleted on drop (its veth ends go with it).
struct Netns {
    name: String,
}

impl Netns {
    fn new(name: String) -> Self {
        let out = run("ip", &["netns", "add", &name]);
        assert!(out.status.success(), "ip netns add {name}: {out:?}");
        Self { name }
    }

    fn path(&self) -> PathBuf {
        PathBuf::from("/var/run/netns").join(&self.name)
    }

    fn exec(&self, args: &[&str]) -> Output {
        let mut all = vec!["netns", "exec", &self.name];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    fn ping(&self, ip: Ipv4Addr) -> bool {
        self.exec(&["busybox", "ping", "-c", "1", "-W", "2", &ip.to_string()])
            .status
            .success()
    }

    fn has_link(&self, name: &str) -> bool {
        self.exec(&["ip", "link", "show", name]).status.success()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.name]);
    }
}

/// Removes the test bridge, its nft table and state dir whatever happened.
struct Cleanup {
    bridge: String,
    _state: tempfile::TempDir,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = run("ip", &["link", "del", &self.bridge]);
        let _ = run(
            "nft",
            &["delete", "table", "ip", &masquerade_table(&self.bridge)],
        );
    }
}

fn config(t: u32, pod_cidr: String, cluster_cidr: &str) -> (NetworkConfig, Cleanup) {
    let state = tempfile::tempdir().unwrap();
    let bridge = format!("rkt{t:06x}");
    let cfg = NetworkConfig {
        pod_cidr,
        cluster_cidr: cluster_cidr.into(),
        bridge: bridge.clone(),
        state_dir: state.path().to_path_buf(),
        mtu: 1500,
    };
    (
        cfg,
        Cleanup {
            bridge,
            _state: state,
        },
    )
}

fn link_exists(name: &str) -> bool {
    ok("ip", &["link", "show", name])
}

fn nft_table_exists(bridge: &str) -> bool {
    ok("nft", &["list", "table", "ip", &masquerade_table(bridge)])
}

#[tokio::test]
async fn pods_reach_each_other_the_gateway_and_outside_and_keep_their_addresses() {
    let t = tag();
    let x = (t & 0xff) as u8;
    let (cfg, _cleanup) = config(t, format!("10.250.{x}.0/24"), "10.250.0.0/16");
    let a = Netns::new(format!("rkt-{t:06x}-a"));
    let b = Netns::new(format!("rkt-{t:06x}-b"));

    let net = PodNetwork::new(cfg.clone()).await.unwrap();
    assert!(link_exists(&cfg.bridge));
    assert!(nft_table_exists(&cfg.bridge));

    let att_a = net.attach("pod-a", &a.path()).await.unwrap();
    let att_b = net.attach("pod-b", &b.path()).await.unwrap();
    let gateway = Ipv4Addr::new(10, 250, x, 1);
    assert_eq!(att_a.gateway, gateway);
    assert_eq!(att_a.prefix_len, 24);
    assert_ne!(att_a.ip, att_b.ip);
    for ip in [att_a.ip, att_b.ip] {
        assert!(ip.octets()[..3] == [10, 250, x] && ip != gateway, "{ip}");
    }
    assert!(link_exists(&host_interface("pod-a")));
    let hairpin = format!(
        "/sys/class/net/{}/brport/hairpin_mode",
        host_interface("pod-a")
    );
    assert_eq!(std::fs::read_to_string(hairpin).unwrap().trim(), "1");
    let master = std::fs::read_link(format!("/sys/class/net/{}/master", host_interface("pod-a")));
    assert!(master.unwrap().ends_with(&cfg.bridge), "veth on the bridge");
    assert!(a.has_link("eth0"));

    assert!(a.ping(att_b.ip), "a -> b");
    assert!(b.ping(att_a.ip), "b -> a");
    assert!(a.ping(gateway), "a -> gateway");
    assert!(b.ping(gateway), "b -> gateway");

    // Outside the cluster CIDR: a namespace with a route back only to the host, so its replies
    // reach the pod only if the pod's traffic was masqueraded to the host's address.
    let outside = Netns::new(format!("rkt-{t:06x}-o"));
    let (host_ip, out_ip) = (format!("10.253.{x}.1"), format!("10.253.{x}.2"));
    let host_if = format!("rko{t:06x}");
    assert!(ok(
        "ip",
        &[
            "link",
            "add",
            &host_if,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &outside.name
        ]
    ));
    assert!(ok(
        "ip",
        &["addr", "add", &format!("{host_ip}/30"), "dev", &host_if]
    ));
    assert!(ok("ip", &["link", "set", &host_if, "up"]));
    assert!(outside
        .exec(&["ip", "addr", "add", &format!("{out_ip}/30"), "dev", "eth0"])
        .status
        .success());
    assert!(outside
        .exec(&["ip", "link", "set", "eth0", "up"])
        .status
        .success());
    assert!(
        a.ping(out_ip.parse().unwrap()),
        "a -> outside (masqueraded)"
    );

    // Idempotent attach: same answer, same interface.
    assert_eq!(net.attach("pod-a", &a.path()).await.unwrap(), att_a);

    // A new instance (an agent restart) adopts the bridge and the addresses.
    let again = PodNetwork::new(cfg.clone()).await.unwrap();
    assert_eq!(again.address_of("pod-a"), Some(att_a.ip));
    assert_eq!(again.address_of("pod-b"), Some(att_b.ip));
    assert_eq!(again.attach("pod-b", &b.path()).await.unwrap(), att_b);
    assert!(a.ping(att_b.ip), "still connected after the restart");

    // Detach removes the veth (both ends) and releases the address; twice is fine.
    again.detach("pod-a").await.unwrap();
    assert!(!link_exists(&host_interface("pod-a")));
    assert!(!a.has_link("eth0"));
    assert_eq!(again.address_of("pod-a"), None);
    again.detach("pod-a").await.unwrap();
    assert!(!b.ping(att_a.ip), "a is gone");

    again.teardown().await.unwrap();
    assert!(!link_exists(&cfg.bridge));
    assert!(!nft_table_exists(&cfg.bridge));
    assert!(
        !link_exists(&host_interface("pod-b")),
        "teardown removes veths on the bridge"
    );
    again.teardown().await.unwrap();
}

#[tokio::test]
async fn a_full_range_gives_exhausted_and_keeps_state() {
    let t = tag();
    let x = (t & 0xff) as u8;
    // A /30 holds the gateway and exactly one pod.
    let (cfg, _cleanup) = config(t, format!("10.251.{x}.0/30"), "10.251.0.0/16");
    let a = Netns::new(format!("rkt-{t:06x}-a"));
    let b = Netns::new(format!("rkt-{t:06x}-b"));
    let net = PodNetwork::new(cfg.clone()).await.unwrap();

    let att = net.attach("only", &a.path()).await.unwrap();
    assert_eq!(
        att,
        Attachment {
            ip: Ipv4Addr::new(10, 251, x, 2),
            gateway: Ipv4Addr::new(10, 251, x, 1),
            prefix_len: 30
        }
    );
    match net.attach("one-too-many", &b.path()).await {
        Err(Error::Exhausted(range)) => assert_eq!(range, format!("10.251.{x}.0/30")),
        other => panic!("expected Exhausted, got {other:?}"),
    }
    assert!(!b.has_link("eth0"));
    assert!(!link_exists(&host_interface("one-too-many")));
    assert_eq!(net.address_of("only"), Some(att.ip));

    // Releasing makes room again.
    net.detach("only").await.unwrap();
    let second = net.attach("one-too-many", &b.path()).await.unwrap();
    assert_eq!(second.ip, att.ip);
    assert!(b.ping(second.gateway));

    net.teardown().await.unwrap();
    assert!(!link_exists(&cfg.bridge));
    assert!(!nft_table_exists(&cfg.bridge));
}

#[tokio::test]
async fn a_missing_netns_costs_no_address() {
    let t = tag();
    let x = (t & 0xff) as u8;
    let (cfg, _cleanup) = config(t, format!("10.252.{x}.0/24"), "10.252.0.0/16");
    let net = PodNetwork::new(cfg).await.unwrap();
    let err = net
        .attach(
            "ghost",
            std::path::Path::new("/var/run/netns/rkt-does-not-exist"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Other(_)), "{err:?}");
    assert_eq!(net.address_of("ghost"), None);
    net.teardown().await.unwrap();
}

#[tokio::test]
async fn an_adopted_bridge_keeps_only_the_current_gateway() {
    let t = tag();
    let x = (t & 0xff) as u8;
    let (cfg, _cleanup) = config(t, format!("10.248.{x}.0/24"), "10.248.0.0/16");
    // Left over from an earlier pod range.
    assert!(ok("ip", &["link", "add", &cfg.bridge, "type", "bridge"]));
    assert!(ok(
        "ip",
        &["addr", "add", "10.247.9.1/24", "dev", &cfg.bridge]
    ));
    let net = PodNetwork::new(cfg.clone()).await.unwrap();
    let out = run("ip", &["-4", "-o", "addr", "show", "dev", &cfg.bridge]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("10.248.{x}.1/24")), "{text}");
    assert!(!text.contains("10.247.9.1"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    // Administratively up (IFF_UP) even without ports.
    let flags = std::fs::read_to_string(format!("/sys/class/net/{}/flags", cfg.bridge)).unwrap();
    let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "bridge is up");
    net.teardown().await.unwrap();
}
