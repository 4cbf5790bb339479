//! The VXLAN endpoint for real (root), inside a network namespace made by the test: the device
//! (VNI 1, port 8472, local address, no learning, MTU from the link), its VTEP address,
//! idempotence (same MAC), a peer's neighbour/FDB entries and onlink route, their removal, and
//! `remove` deleting only the recorded device.

use rkube_network::{
    routes::{PodRoute, PodRoutes},
    vxlan::{self, Peer},
    Ipv4Cidr,
};

mod common;
use common::{run, Netns};

#[test]
fn vxlan_device_peers_and_cleanup() {
    let ns = Netns::new("rkx");
    // No dummy module on every kernel: one end of a veth pair is the "uplink".
    ns.ip(&[
        "link",
        "add",
        "uplink",
        "mtu",
        "9000",
        "type",
        "veth",
        "peer",
        "name",
        "uplink-peer",
        "mtu",
        "9000",
    ]);
    ns.ip(&["addr", "add", "192.0.2.10/24", "dev", "uplink"]);
    ns.ip(&["link", "set", "uplink", "up"]);
    // Someone else's VXLAN device, which cleanup must leave alone.
    ns.ip(&[
        "link", "add", "othervx", "type", "vxlan", "id", "7", "dstport", "4789", "dev", "uplink",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("network");
    let device = vxlan::device_name("node-a");

    let (first, again, mtu) = ns.within({
        let state = state.clone();
        let device = device.clone();
        async move {
            let cidr: Ipv4Cidr = "10.42.3.0/24".parse().unwrap();
            let local = "192.0.2.10".parse().unwrap();
            let mtu = vxlan::mtu_for(local).await.unwrap();
            let first = vxlan::ensure(&state, &device, local, &cidr, mtu)
                .await
                .unwrap();
            let again = vxlan::ensure(&state, &device, local, &cidr, mtu)
                .await
                .unwrap();
            (first, again, mtu)
        }
    });
    assert_eq!(mtu, 8950, "link MTU minus the VXLAN overhead");
    assert_eq!(first, again, "ensure is idempotent and keeps the MAC");
    // The node's address changes: the device is made again for it.
    ns.ip(&["addr", "add", "192.0.2.11/24", "dev", "uplink"]);
    let moved = ns.within({
        let state = state.clone();
        let device = device.clone();
        async move {
            let cidr: Ipv4Cidr = "10.42.3.0/24".parse().unwrap();
            vxlan::ensure(&state, &device, "192.0.2.11".parse().unwrap(), &cidr, 8950)
                .await
                .unwrap()
        }
    });
    assert!(ns
        .ip(&["-d", "link", "show", &device])
        .contains("local 192.0.2.11"));
    assert_ne!(moved.index, first.index, "a new device");
    let first = ns.within({
        let state = state.clone();
        let device = device.clone();
        async move {
            let cidr: Ipv4Cidr = "10.42.3.0/24".parse().unwrap();
            vxlan::ensure(&state, &device, "192.0.2.10".parse().unwrap(), &cidr, 8950)
                .await
                .unwrap()
        }
    });

    assert_eq!(vxlan::recorded(&state).as_deref(), Some(device.as_str()));
    let link = ns.ip(&["-d", "link", "show", &device]);
    for want in [
        "vxlan id 1 ",
        "local 192.0.2.10",
        "dstport 8472",
        "nolearning",
        "mtu 8950",
        &vxlan::format_mac(&first.mac),
    ] {
        assert!(link.contains(want), "{want:?} not in {link}");
    }
    assert!(link.contains("UP"), "{link}");
    let addr = ns.ip(&["-4", "addr", "show", "dev", &device]);
    assert!(addr.contains("inet 10.42.3.0/32"), "{addr}");

    // A peer behind a router: neighbour, FDB entry and onlink route.
    let peer = Peer {
        pod_cidr: "10.42.7.0/24".parse().unwrap(),
        mac: [0x0a, 0x58, 0x0a, 0x2a, 0x07, 0x00],
        public_ip: "198.51.100.7".parse().unwrap(),
    };
    ns.within({
        let state = state.clone();
        let vtep = first.clone();
        async move {
            vxlan::set_peer(&vtep, &peer).await.unwrap();
            // Twice: replace, not add.
            vxlan::set_peer(&vtep, &peer).await.unwrap();
            let table = PodRoutes::open(&state).unwrap();
            let route = PodRoute {
                pod_cidr: peer.pod_cidr,
                via: peer.vtep_ip(),
            };
            table.set_via_device(route, &vtep.device).await.unwrap();
            table.set_via_device(route, &vtep.device).await.unwrap();
            // A second peer, then gone (say, deleted while the agent was down): prune removes
            // its entries and keeps the first peer's.
            let gone = Peer {
                pod_cidr: "10.42.8.0/24".parse().unwrap(),
                mac: [0x0a, 0x58, 0x0a, 0x2a, 0x08, 0x00],
                public_ip: "198.51.100.8".parse().unwrap(),
            };
            vxlan::set_peer(&vtep, &gone).await.unwrap();
            assert_eq!(vxlan::prune(&vtep, &[peer]).await.unwrap(), 2);
            assert_eq!(vxlan::prune(&vtep, &[peer]).await.unwrap(), 0);
        }
    });
    let all = ns.ip(&["neigh", "show", "dev", &device]);
    assert!(!all.contains("10.42.8.0"), "{all}");
    let fdb = run("bridge", &["-n", &ns.0, "fdb", "show", "dev", &device]);
    assert!(!String::from_utf8_lossy(&fdb.stdout).contains("0a:58:0a:2a:08:00"));
    let neigh = ns.ip(&["neigh", "show", "dev", &device]);
    assert!(
        neigh.contains("10.42.7.0 lladdr 0a:58:0a:2a:07:00 PERMANENT"),
        "{neigh}"
    );
    let fdb = run("bridge", &["-n", &ns.0, "fdb", "show", "dev", &device]);
    let fdb = String::from_utf8_lossy(&fdb.stdout);
    assert!(
        fdb.contains("0a:58:0a:2a:07:00 dst 198.51.100.7 self permanent"),
        "{fdb}"
    );
    let routes = ns.ip(&["route", "show", "proto", "82"]);
    assert!(
        routes.contains(&format!("10.42.7.0/24 via 10.42.7.0 dev {device}"))
            && routes.contains("onlink"),
        "{routes}"
    );

    ns.within({
        let vtep = first.clone();
        async move {
            vxlan::remove_peer(&vtep, &peer).await.unwrap();
            // Absent entries are fine.
            vxlan::remove_peer(&vtep, &peer).await.unwrap();
        }
    });
    assert!(!ns
        .ip(&["neigh", "show", "dev", &device])
        .contains("10.42.7.0"));
    let fdb = run("bridge", &["-n", &ns.0, "fdb", "show", "dev", &device]);
    assert!(!String::from_utf8_lossy(&fdb.stdout).contains("0a:58:0a:2a:07:00"));

    // Cleanup: the recorded device (and its routes) go, the other VXLAN device stays.
    let removed = ns.within({
        let state = state.clone();
        async move {
            let removed = vxlan::remove(&state).await.unwrap();
            let again = vxlan::remove(&state).await.unwrap();
            (removed, again)
        }
    });
    assert_eq!(removed, (true, false));
    assert!(vxlan::recorded(&state).is_none());
    assert!(!ns.ip(&["link", "show"]).contains(&device));
    assert!(ns.ip(&["link", "show"]).contains("othervx"));
    assert_eq!(ns.ip(&["route", "show", "proto", "82"]).trim(), "");
}
