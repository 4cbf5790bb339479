use serde_json::json;

use super::*;

fn ranges() -> Ranges {
    Ranges::parse("10.43.0.0/16", 30000..=32767).unwrap()
}

fn node_port_svc() -> Value {
    json!({"metadata": {"name": "web"}, "spec": {
        "type": "NodePort", "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"],
        "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
        "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
        "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30215}]},
        "status": {"loadBalancer": {}}})
}

#[test]
fn changed_cluster_ip_moves_cluster_ips_along() {
    let old = node_port_svc();
    let mut new = old.clone();
    new["spec"]["clusterIP"] = json!("10.43.0.99");
    normalize_cluster_ips(&mut new, &old);
    assert_eq!(new["spec"]["clusterIPs"], json!(["10.43.0.99"]));
    // clusterIPs left out with clusterIP unchanged: the stored ones stay.
    let mut new = old.clone();
    new["spec"].as_object_mut().unwrap().remove("clusterIPs");
    normalize_cluster_ips(&mut new, &old);
    assert_eq!(new["spec"]["clusterIPs"], json!(["10.43.0.10"]));
}

#[test]
fn node_port_to_cluster_ip_drops_node_ports_and_traffic_policy() {
    let old = node_port_svc();
    let mut new = old.clone();
    new["spec"]["type"] = json!("ClusterIP");
    drop_type_dependent_fields(&mut new, &old);
    assert!(new["spec"]["ports"][0].get("nodePort").is_none());
    assert!(new["spec"].get("externalTrafficPolicy").is_none());
    assert_eq!(new["spec"]["clusterIP"], "10.43.0.10");
    // A node port the client changed stays, for validation to refuse.
    let mut new = old.clone();
    new["spec"]["type"] = json!("ClusterIP");
    new["spec"]["ports"][0]["nodePort"] = json!(30216);
    drop_type_dependent_fields(&mut new, &old);
    assert_eq!(new["spec"]["ports"][0]["nodePort"], 30216);
}

#[test]
fn to_external_name_drops_cluster_ips_and_families() {
    let old = node_port_svc();
    let mut new = old.clone();
    new["spec"]["type"] = json!("ExternalName");
    new["spec"]["externalName"] = json!("example.com");
    drop_type_dependent_fields(&mut new, &old);
    for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        assert!(new["spec"].get(f).is_none(), "{f} kept");
    }
    assert!(crate::alloc::held_keys(&new).is_empty());
}

#[test]
fn assigns_what_the_new_type_needs() {
    let r = ranges();
    let old = json!({"metadata": {"name": "web"}, "spec": {"type": "ExternalName",
        "externalName": "example.com", "ports": [{"port": 80}]}});
    let mut new = old.clone();
    new["spec"]["type"] = json!("NodePort");
    assign_update(&mut new, &old, &r, 7, 0).unwrap();
    let ip = new["spec"]["clusterIP"].as_str().unwrap();
    assert!(r.contains(ip.parse().unwrap()));
    assert_eq!(new["spec"]["clusterIPs"], json!([ip]));
    let np = new["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&np));
    // A port added to a NodePort Service gets one other than those of the other ports.
    let old = node_port_svc();
    let mut new = old.clone();
    new["spec"]["ports"] = json!([{"port": 80, "nodePort": 30215}, {"port": 81}]);
    for n in 0..50 {
        let mut c = new.clone();
        assign_update(&mut c, &old, &r, 30215 - 30000, n).unwrap();
        let added = c["spec"]["ports"][1]["nodePort"].as_i64().unwrap();
        assert_ne!(added, 30215);
        assert_eq!(c["spec"]["clusterIP"], "10.43.0.10");
    }
    // One asked for outside the range is refused; a kept one is not checked again.
    let mut bad = new.clone();
    bad["spec"]["ports"][1]["nodePort"] = json!(80);
    let err = assign_update(&mut bad, &old, &r, 1, 0).unwrap_err();
    assert_eq!(err.code, 422);
    assert!(
        err.message.contains("spec.ports[1].nodePort"),
        "{}",
        err.message
    );
}

#[test]
fn load_balancer_without_node_ports_gets_only_those_asked_for() {
    let old = node_port_svc();
    let mut new = old.clone();
    new["spec"]["type"] = json!("LoadBalancer");
    new["spec"]["allocateLoadBalancerNodePorts"] = json!(false);
    new["spec"]["ports"] = json!([{"port": 80, "nodePort": 30215}, {"port": 81}]);
    assign_update(&mut new, &old, &ranges(), 1, 0).unwrap();
    assert!(new["spec"]["ports"][1].get("nodePort").is_none());
}
