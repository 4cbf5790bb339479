//! Rule generation: the JSON handed to `nft -j`, checked structurally, and accepted by the
//! nftables crate's schema. (The e2e test services.rs sends real packets through it.)

use k8s_openapi::api::{core::v1::Service, discovery::v1::EndpointSlice};
use serde_json::{json, Value};

use super::*;

fn svc(v: Value) -> Service {
    serde_json::from_value(v).unwrap()
}
fn slice(v: Value) -> EndpointSlice {
    serde_json::from_value(v).unwrap()
}

fn web(extra: Value) -> Service {
    let mut s = json!({
        "metadata": {"namespace": "ns", "name": "web"},
        "spec": {"clusterIP": "10.43.0.20", "ports": [
            {"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}
        ]}
    });
    for (k, v) in extra.as_object().unwrap() {
        s["spec"][k] = v.clone();
    }
    svc(s)
}

fn web_slice(eps: &[(&str, Option<bool>, &str)]) -> EndpointSlice {
    slice(json!({
        "metadata": {"namespace": "ns", "name": "web-abc",
                     "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": eps.iter().map(|(ip, ready, node)| json!({
            "addresses": [ip], "conditions": {"ready": ready}, "nodeName": node
        })).collect::<Vec<_>>()
    }))
}

fn cfg() -> ProxyConfig {
    ProxyConfig {
        bridge: "rkube0".into(),
        node_name: "n1".into(),
        cluster_cidr: "10.42.0.0/16".parse().unwrap(),
    }
}

/// Every `add rule` as (chain, nft-ish text of its statements) for readable assertions.
fn rules(doc: &Value) -> Vec<(String, String)> {
    doc["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["add"].get("rule"))
        .map(|r| {
            (
                r["chain"].as_str().unwrap().to_string(),
                r["expr"].to_string(),
            )
        })
        .collect()
}

fn chain_rules(doc: &Value, chain: &str) -> Vec<String> {
    rules(doc)
        .into_iter()
        .filter(|(c, _)| c == chain)
        .map(|(_, r)| r)
        .collect()
}

fn schema_ok(doc: &Value) {
    let parsed: Result<nftables::schema::Nftables<'_>, _> = serde_json::from_value(doc.clone());
    assert!(parsed.is_ok(), "{parsed:?}\n{doc:#}");
}

#[test]
fn cluster_ip_balances_over_ready_endpoints_with_named_target_port() {
    let (doc, n) = cfg().ruleset(
        &[web(json!({}))],
        &[web_slice(&[
            ("10.42.0.5", Some(true), "n1"),
            ("10.42.0.6", None, "n2"),
            ("10.42.0.7", Some(false), "n1"),
        ])],
    );
    assert_eq!(n, 1);
    schema_ok(&doc);
    let cmds = doc["nftables"].as_array().unwrap();
    // Atomic replace of our own table only.
    assert_eq!(
        cmds[0],
        json!({"add": {"table": {"family": "ip", "name": "rkube-proxy-rkube0"}}})
    );
    assert_eq!(
        cmds[1],
        json!({"delete": {"table": {"family": "ip", "name": "rkube-proxy-rkube0"}}})
    );
    let services = chain_rules(&doc, "services");
    assert_eq!(services.len(), 2, "{services:?}");
    assert!(services[0].contains("10.43.0.20") && services[0].contains("mark-for-masquerade"));
    assert!(
        services[1].contains(r#""goto":{"target":"svc-0"}"#),
        "{services:?}"
    );
    let svc = chain_rules(&doc, "svc-0");
    assert_eq!(svc.len(), 1);
    assert!(
        svc[0].contains(r#""numgen":{"mod":2,"mode":"random","offset":0}"#),
        "{svc:?}"
    );
    assert!(svc[0].contains("ep-0-0") && svc[0].contains("ep-0-1"));
    // Not-ready 10.42.0.7 is left out; the named targetPort resolves to the slice's 8080.
    let all = doc.to_string();
    assert!(!all.contains("10.42.0.7"));
    let ep = chain_rules(&doc, "ep-0-1");
    assert!(
        ep[0].contains("10.42.0.6") && ep[0].contains("mark-for-masquerade"),
        "hairpin"
    );
    assert!(
        ep[1].contains(r#""dnat":{"addr":"10.42.0.6","port":8080}"#),
        "{ep:?}"
    );
    // Pods' traffic only from our bridge; the host's through output.
    let pre = chain_rules(&doc, "nat-prerouting");
    assert!(pre[0].contains(r#""right":"rkube0""#), "{pre:?}");
    assert!(chain_rules(&doc, "reject-services").is_empty());
}

#[test]
fn no_ready_endpoints_reject_for_cluster_ip_and_node_port() {
    let s = web(json!({"type": "NodePort", "ports": [
        {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}
    ]}));
    let (doc, _) = cfg().ruleset(&[s], &[web_slice(&[("10.42.0.5", Some(false), "n1")])]);
    schema_ok(&doc);
    let rej = chain_rules(&doc, "reject-services");
    assert_eq!(rej.len(), 1);
    assert!(rej[0].contains("10.43.0.20") && rej[0].contains(r#""reject":null"#));
    let rej = chain_rules(&doc, "reject-nodeports");
    assert!(rej[0].contains("30080") && rej[0].contains(r#""reject":null"#));
    assert!(chain_rules(&doc, "services").is_empty());
    assert!(chain_rules(&doc, "nodeports").is_empty());
}

#[test]
fn headless_and_external_name_services_get_no_rules() {
    let headless = web(json!({"clusterIP": "None"}));
    let ext = svc(json!({"metadata": {"namespace": "ns", "name": "x"},
        "spec": {"type": "ExternalName", "externalName": "example.com"}}));
    let (doc, n) = cfg().ruleset(&[headless, ext], &[web_slice(&[("10.42.0.5", None, "n1")])]);
    assert_eq!(n, 0);
    assert!(chain_rules(&doc, "services").is_empty());
    assert!(!doc.to_string().contains("10.42.0.5"));
}

#[test]
fn session_affinity_uses_timeout_sets() {
    let s = web(json!({"sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}));
    let (doc, _) = cfg().ruleset(
        &[s],
        &[web_slice(&[
            ("10.42.0.5", None, "n1"),
            ("10.42.0.6", None, "n1"),
        ])],
    );
    schema_ok(&doc);
    let sets: Vec<&Value> = doc["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["add"].get("set"))
        .collect();
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[0]["timeout"], 60);
    assert_eq!(sets[0]["flags"], json!(["timeout"]));
    let svc = chain_rules(&doc, "svc-0");
    assert_eq!(svc.len(), 3, "two sticky lookups, then the random pick");
    assert!(svc[0].contains("@affinity-0-0") && svc[0].contains("ep-0-0"));
    let ep = chain_rules(&doc, "ep-0-0");
    assert!(ep[1].contains(r#""op":"update""#) && ep[1].contains("@affinity-0-0"));
}

#[test]
fn traffic_policies_local() {
    let s = web(json!({"type": "NodePort", "externalTrafficPolicy": "Local",
        "internalTrafficPolicy": "Local", "ports": [
        {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}]}));
    let eps = [("10.42.0.5", None, "n1"), ("10.42.1.5", None, "n2")];
    let (doc, _) = cfg().ruleset(std::slice::from_ref(&s), &[web_slice(&eps)]);
    schema_ok(&doc);
    // Internal traffic: only the local endpoint.
    let services = chain_rules(&doc, "services");
    assert!(services[1].contains("local-0"), "{services:?}");
    let local = chain_rules(&doc, "local-0");
    assert!(local[0].contains(r#""mod":1"#) && local[0].contains("ep-0-0"));
    assert!(!local[0].contains("ep-0-1"));
    // External: pods and the host go cluster-wide, others only locally.
    let ext = chain_rules(&doc, "ext-0");
    assert!(ext[0].contains("10.42.0.0") && ext[0].contains("svc-0"));
    assert!(ext.last().unwrap().contains("local-0"));

    // On a node without a local endpoint: dropped, not sent elsewhere.
    let other = ProxyConfig {
        node_name: "n3".into(),
        ..cfg()
    };
    let (doc, _) = other.ruleset(&[s], &[web_slice(&eps)]);
    schema_ok(&doc);
    assert!(chain_rules(&doc, "services")[1].contains(r#""drop":null"#));
    assert!(chain_rules(&doc, "ext-0")
        .last()
        .unwrap()
        .contains(r#""drop":null"#));
}

#[test]
fn node_port_cluster_policy_masquerades_and_skips_loopback() {
    let s = web(json!({"type": "NodePort", "ports": [
        {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "UDP"}]}));
    let sl = slice(json!({
        "metadata": {"namespace": "ns", "name": "web-u",
                     "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "UDP"}],
        "endpoints": [{"addresses": ["10.42.0.5"]}]
    }));
    let (doc, _) = cfg().ruleset(&[s], &[sl]);
    schema_ok(&doc);
    let np = chain_rules(&doc, "nodeports");
    assert!(np[0].contains(r#""protocol":"udp""#) && np[0].contains("30080"));
    let ext = chain_rules(&doc, "ext-0");
    assert!(ext[0].contains("mark-for-masquerade") && ext[1].contains("svc-0"));
    let out = chain_rules(&doc, "nat-output");
    assert!(
        out[1].contains("127.0.0.0") && out[1].contains("nodeports"),
        "{out:?}"
    );
}

#[test]
fn a_slice_of_another_service_or_port_name_is_ignored() {
    let mut other = web_slice(&[("10.42.0.9", None, "n1")]);
    other.metadata.labels = Some([("kubernetes.io/service-name".into(), "api".into())].into());
    let (doc, _) = cfg().ruleset(&[web(json!({}))], &[other]);
    assert!(!doc.to_string().contains("10.42.0.9"));
    assert_eq!(chain_rules(&doc, "reject-services").len(), 1);
}

/// The real kernel accepts the whole ruleset (root; this machine and CI), and removal leaves
/// nothing behind.
#[test]
fn the_kernel_accepts_the_ruleset() {
    let bridge = format!("rkpt{}", std::process::id());
    let cfg = ProxyConfig {
        bridge: bridge.clone(),
        ..cfg()
    };
    let s = web(json!({"type": "NodePort", "sessionAffinity": "ClientIP",
        "externalTrafficPolicy": "Local", "ports": [
        {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}]}));
    let empty = svc(json!({"metadata": {"namespace": "ns", "name": "empty"},
        "spec": {"clusterIP": "10.43.0.21", "type": "NodePort", "ports": [
            {"port": 81, "nodePort": 30081}]}}));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listed = rt.block_on(async {
        let applied = cfg
            .apply(
                &[s, empty],
                &[web_slice(&[
                    ("10.42.0.5", None, "n1"),
                    ("10.42.1.5", None, "n2"),
                ])],
            )
            .await;
        let out = std::process::Command::new("nft")
            .args(["list", "table", "ip", &table_name(&bridge)])
            .output()
            .unwrap();
        delete(&bridge).await.unwrap();
        applied.unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    });
    for want in [
        // ns/empty sorts first: web is service port 1.
        "numgen random mod 2 vmap { 0 : goto ep-1-0, 1 : goto ep-1-1 }",
        "dnat to 10.42.0.5:8080",
        "update @affinity-1-0 { ip saddr }",
        "numgen random mod 1 vmap { 0 : goto ep-1-0 }",
        "ip daddr 10.43.0.21 tcp dport 81 reject",
        "flags dynamic,timeout",
    ] {
        assert!(listed.contains(want), "{want:?} not in\n{listed}");
    }
    let gone = std::process::Command::new("nft")
        .args(["list", "table", "ip", &table_name(&bridge)])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the table is removed");
}
