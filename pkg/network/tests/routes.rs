//! Pod routes for real (root), inside a network namespace made by the test so the host's routing
//! table is never touched: reachability answers, idempotent replace, and cleanup that removes
//! only rkube's own routes.

use std::net::Ipv4Addr;

use rkube_network::routes::{self, PodRoute, PodRoutes, Reach, ROUTE_PROTOCOL};

mod common;
use common::Netns;

fn route(cidr: &str, via: &str) -> PodRoute {
    PodRoute {
        pod_cidr: cidr.parse().unwrap(),
        via: via.parse().unwrap(),
    }
}

#[test]
fn routes_are_replaced_idempotently_and_cleanup_spares_foreign_routes() {
    let ns = Netns::new("rkr");
    // A veth pair with both ends inside (no dummy module needed): one connected /24.
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    ns.ip(&["addr", "add", "192.168.77.1/24", "dev", "v0"]);
    ns.ip(&["link", "set", "v1", "up"]);
    ns.ip(&["link", "set", "v0", "up"]);
    ns.ip(&[
        "route",
        "add",
        "10.9.0.0/16",
        "via",
        "192.168.77.254",
        "proto",
        "static",
    ]);
    // Someone else's route inside the cluster range: rkube must never remove it.
    ns.ip(&["route", "add", "10.42.6.0/24", "via", "192.168.77.3"]);

    let reach = ns.within(async {
        let mut out = Vec::new();
        for ip in ["192.168.77.2", "192.168.77.1", "10.9.1.1", "8.8.8.8"] {
            out.push(routes::reach(ip.parse().unwrap()).await.unwrap());
        }
        out
    });
    assert_eq!(
        reach,
        vec![
            Reach::Direct,
            Reach::Local,
            Reach::ViaGateway(Ipv4Addr::new(192, 168, 77, 254)),
            Reach::Unreachable,
        ]
    );

    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_path_buf();
    let (listed, recorded) = ns.within(async move {
        let table = PodRoutes::open(&dir).unwrap();
        table
            .set(route("10.42.5.0/24", "192.168.77.2"))
            .await
            .unwrap();
        // Twice is fine; a changed address replaces the route.
        table
            .set(route("10.42.5.0/24", "192.168.77.2"))
            .await
            .unwrap();
        table
            .set(route("10.42.7.0/24", "192.168.77.9"))
            .await
            .unwrap();
        table
            .set(route("10.42.7.0/24", "192.168.77.8"))
            .await
            .unwrap();
        (routes::list().await.unwrap(), table.recorded())
    });
    let want = vec![
        route("10.42.5.0/24", "192.168.77.2"),
        route("10.42.7.0/24", "192.168.77.8"),
    ];
    assert_eq!(recorded, want);
    let mut listed = listed;
    listed.sort_by_key(|r| r.pod_cidr.network());
    assert_eq!(listed, want, "only rkube's routes are listed");
    let shown = ns.ip(&["route", "show", "proto", &ROUTE_PROTOCOL.to_string()]);
    assert!(
        shown.contains("10.42.5.0/24 via 192.168.77.2")
            && shown.contains("10.42.7.0/24 via 192.168.77.8"),
        "{shown}"
    );

    let dir = state.path().to_path_buf();
    let (foreign_deleted, removed) = ns.within(async move {
        let foreign = routes::delete(&"10.42.6.0/24".parse().unwrap())
            .await
            .unwrap();
        // Nor is it taken over by a replace, and no record is left for it.
        let table = PodRoutes::open(&dir).unwrap();
        let err = table
            .set(route("10.42.6.0/24", "192.168.77.2"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("did not add"), "{err}");
        assert_eq!(table.recorded().len(), 2);
        let table = PodRoutes::open(&dir).unwrap();
        let n = table.remove_all().await.unwrap();
        // Again: nothing left, no error.
        assert_eq!(
            PodRoutes::open(&dir).unwrap().remove_all().await.unwrap(),
            0
        );
        (foreign, n)
    });
    assert!(!foreign_deleted, "a route of another protocol was deleted");
    assert!(
        !state.path().join("routes").exists(),
        "cleanup left the records directory"
    );
    assert_eq!(removed, 2);
    let all = ns.ip(&["route", "show"]);
    assert!(
        !all.contains("10.42.5.0") && !all.contains("10.42.7.0"),
        "{all}"
    );
    assert!(all.contains("10.42.6.0/24 via 192.168.77.3"), "{all}");
    assert!(all.contains("10.9.0.0/16 via 192.168.77.254"), "{all}");
}
