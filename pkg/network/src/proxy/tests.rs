//! Rule generation and incremental updates: the JSON handed to `nft -j`, checked structurally, and
//! accepted by the nftables crate's schema. (pkg/network/tests/proxy_nft.rs hands it to the
//! kernel; the e2e test services.rs sends real packets through it.)

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

/// Each command against the crate's schema, except two it does not model (a `verdict` map type,
/// `delete set` without the set's type): those are checked by the kernel test.
fn schema_ok(doc: &Value) {
    for c in cmds(doc) {
        if c["add"].get("map").is_some() || c["delete"].get("set").is_some() {
            continue;
        }
        let parsed: Result<nftables::schema::NfObject<'_>, _> = serde_json::from_value(c.clone());
        assert!(parsed.is_ok(), "{parsed:?}\n{c:#}");
    }
}

fn cmds(doc: &Value) -> &Vec<Value> {
    doc["nftables"].as_array().unwrap()
}

/// `add element` commands of `map`, as `[key, verdict]` JSON text.
fn elements(doc: &Value, map: &str) -> Vec<String> {
    cmds(doc)
        .iter()
        .filter_map(|c| c["add"].get("element"))
        .filter(|e| e["name"] == map)
        .map(|e| e["elem"][0].to_string())
        .collect()
}

/// Every command as `op kind name` (rules: their chain), for checking what a batch touches.
fn touched(doc: &Value) -> Vec<String> {
    cmds(doc)
        .iter()
        .map(|c| {
            let (op, body) = c.as_object().unwrap().iter().next().unwrap();
            let (kind, obj) = body.as_object().unwrap().iter().next().unwrap();
            let name = obj.get("chain").or(obj.get("name")).unwrap();
            format!("{op} {kind} {}", name.as_str().unwrap())
        })
        .collect()
}

const KEY: &str = "ns/web/tcp/http";

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
    let cmds = cmds(&doc);
    // Atomic replace of our own table only.
    assert_eq!(
        cmds[0],
        json!({"add": {"table": {"family": "ip", "name": "rkube-proxy-rkube0"}}})
    );
    assert_eq!(
        cmds[1],
        json!({"delete": {"table": {"family": "ip", "name": "rkube-proxy-rkube0"}}})
    );
    // clusterIP . tcp . 80 dispatches to the service's chain.
    assert_eq!(
        elements(&doc, "service-ips"),
        [format!(
            r#"[{{"concat":["10.43.0.20","tcp",80]}},{{"goto":{{"target":"svc-{KEY}"}}}}]"#
        )]
    );
    // Its chain: masquerade for traffic from off the pod network, then the random pick.
    let svc = chain_rules(&doc, &format!("svc-{KEY}"));
    assert_eq!(svc.len(), 2, "{svc:?}");
    assert!(svc[0].contains("10.42.0.0") && svc[0].contains("mark-for-masquerade"));
    assert!(
        svc[1].contains(r#""numgen":{"mod":2,"mode":"random","offset":0}"#),
        "{svc:?}"
    );
    assert!(
        svc[1].contains(&format!("ep-{KEY}__10.42.0.5/8080"))
            && svc[1].contains(&format!("ep-{KEY}__10.42.0.6/8080"))
    );
    assert!(chain_rules(&doc, &format!("cluster-{KEY}")).is_empty());
    // Not-ready 10.42.0.7 is left out; the named targetPort resolves to the slice's 8080.
    let all = doc.to_string();
    assert!(!all.contains("10.42.0.7"));
    let ep = chain_rules(&doc, &format!("ep-{KEY}__10.42.0.6/8080"));
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
    assert!(elements(&doc, "no-endpoint-services").is_empty());
}

#[test]
fn no_ready_endpoints_reject_for_cluster_ip_and_node_port() {
    let s = web(json!({"type": "NodePort", "ports": [
        {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}
    ]}));
    let (doc, _) = cfg().ruleset(&[s], &[web_slice(&[("10.42.0.5", Some(false), "n1")])]);
    schema_ok(&doc);
    assert_eq!(
        elements(&doc, "no-endpoint-services"),
        [r#"[{"concat":["10.43.0.20","tcp",80]},{"goto":{"target":"reject-chain"}}]"#]
    );
    assert_eq!(
        elements(&doc, "no-endpoint-nodeports"),
        [r#"[{"concat":["tcp",30080]},{"goto":{"target":"reject-chain"}}]"#]
    );
    assert_eq!(chain_rules(&doc, "reject-chain"), [r#"[{"reject":null}]"#]);
    assert!(elements(&doc, "service-ips").is_empty());
    assert!(elements(&doc, "service-nodeports").is_empty());
    // New connections to them are rejected in the filter hooks (before DNAT).
    let fwd = chain_rules(&doc, "filter-forward");
    assert!(fwd[0].contains("@no-endpoint-services"), "{fwd:?}");
    let input = chain_rules(&doc, "filter-input");
    assert!(input[0].contains("@no-endpoint-nodeports"), "{input:?}");
}

#[test]
fn headless_and_external_name_services_get_no_rules() {
    let headless = web(json!({"clusterIP": "None"}));
    let ext = svc(json!({"metadata": {"namespace": "ns", "name": "x"},
        "spec": {"type": "ExternalName", "externalName": "example.com"}}));
    let (doc, n) = cfg().ruleset(&[headless, ext], &[web_slice(&[("10.42.0.5", None, "n1")])]);
    assert_eq!(n, 0);
    assert!(!touched(&doc).iter().any(|t| t.contains("element")));
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
    let sets: Vec<&Value> = cmds(&doc)
        .iter()
        .filter_map(|c| c["add"].get("set"))
        .collect();
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[0]["name"], format!("aff-{KEY}__10.42.0.5/8080"));
    assert_eq!(sets[0]["timeout"], 60);
    assert_eq!(sets[0]["flags"], json!(["timeout"]));
    let svc = chain_rules(&doc, &format!("svc-{KEY}"));
    assert_eq!(
        svc.len(),
        4,
        "masquerade, two sticky lookups, the random pick"
    );
    assert!(
        svc[1].contains(&format!("@aff-{KEY}__10.42.0.5/8080"))
            && svc[1].contains(&format!("ep-{KEY}__10.42.0.5/8080"))
    );
    let ep = chain_rules(&doc, &format!("ep-{KEY}__10.42.0.5/8080"));
    assert!(ep[1].contains(r#""op":"update""#) && ep[1].contains("@aff-"));
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
    let svc = chain_rules(&doc, &format!("svc-{KEY}"));
    assert!(svc[1].contains(&format!("local-{KEY}")), "{svc:?}");
    let local = chain_rules(&doc, &format!("local-{KEY}"));
    // One endpoint: a plain goto, no random pick.
    assert_eq!(
        local,
        [format!(
            r#"[{{"goto":{{"target":"ep-{KEY}__10.42.0.5/8080"}}}}]"#
        )]
    );
    // External: pods and the host go cluster-wide, others only locally.
    let ext = chain_rules(&doc, &format!("ext-{KEY}"));
    assert!(ext[0].contains("10.42.0.0") && ext[0].contains(&format!("cluster-{KEY}")));
    assert!(ext.last().unwrap().contains(&format!("local-{KEY}")));

    // On a node without a local endpoint: dropped, not sent elsewhere.
    let other = ProxyConfig {
        node_name: "n3".into(),
        ..cfg()
    };
    let (doc, _) = other.ruleset(&[s], &[web_slice(&eps)]);
    schema_ok(&doc);
    assert!(chain_rules(&doc, &format!("svc-{KEY}"))[1].contains(r#""drop":null"#));
    assert!(chain_rules(&doc, &format!("ext-{KEY}"))
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
    assert_eq!(
        elements(&doc, "service-nodeports"),
        [r#"[{"concat":["udp",30080]},{"goto":{"target":"ext-ns/web/udp/http"}}]"#]
    );
    let ext = chain_rules(&doc, "ext-ns/web/udp/http");
    assert!(ext[0].contains("mark-for-masquerade") && ext[1].contains("svc-ns/web/udp/http"));
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
    assert_eq!(elements(&doc, "no-endpoint-services").len(), 1);
}

/// `web` plus `n` other Services `s0..` with one endpoint each.
fn many(n: usize) -> (Vec<Service>, Vec<EndpointSlice>) {
    let mut svcs = vec![web(json!({"sessionAffinity": "ClientIP"}))];
    let mut slices = vec![web_slice(&[("10.42.0.5", None, "n1")])];
    for i in 0..n {
        svcs.push(svc(json!({
            "metadata": {"namespace": "ns", "name": format!("s{i}")},
            "spec": {"clusterIP": format!("10.43.1.{i}"), "sessionAffinity": "ClientIP",
                     "ports": [{"name": "http", "port": 80}]}
        })));
        slices.push(slice(json!({
            "metadata": {"namespace": "ns", "name": format!("s{i}-x"),
                         "labels": {"kubernetes.io/service-name": format!("s{i}")}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
            "endpoints": [{"addresses": [format!("10.42.2.{i}")]}]
        })));
    }
    (svcs, slices)
}

fn ports(svcs: &[Service], slices: &[EndpointSlice]) -> Vec<ServicePort> {
    service_ports(svcs, slices, "n1")
}

/// A Proxier that believes `p` is applied (what a successful sync leaves).
fn applied(p: &[ServicePort]) -> Proxier {
    let mut proxier = Proxier::new(cfg());
    proxier.mark_applied(p.to_vec());
    proxier
}

#[test]
fn an_endpoint_change_touches_only_that_service() {
    let (svcs, mut slices) = many(50);
    let proxier = applied(&ports(&svcs, &slices));
    slices[0] = web_slice(&[("10.42.0.5", None, "n1"), ("10.42.0.6", None, "n1")]);
    let (doc, stats) = proxier.plan(&ports(&svcs, &slices));
    let doc = doc.expect("a change");
    schema_ok(&doc);
    assert_eq!(
        (stats.changed, stats.full, stats.service_ports),
        (1, false, 51)
    );
    let touched = touched(&doc);
    assert!(
        touched.iter().all(|t| t.contains(KEY)),
        "only web's objects: {touched:#?}"
    );
    // The new endpoint gets its chain and set; the dispatch chain is rewritten in place; the
    // remaining endpoint's chain and affinity set are left alone (its clients stay sticky).
    assert_eq!(
        touched,
        [
            format!("flush chain svc-{KEY}"),
            format!("add set aff-{KEY}__10.42.0.6/8080"),
            format!("add chain ep-{KEY}__10.42.0.6/8080"),
            format!("add rule ep-{KEY}__10.42.0.6/8080"),
            format!("add rule ep-{KEY}__10.42.0.6/8080"),
            format!("add rule ep-{KEY}__10.42.0.6/8080"),
            format!("add rule svc-{KEY}"),
            format!("add rule svc-{KEY}"),
            format!("add rule svc-{KEY}"),
            format!("add rule svc-{KEY}"),
        ]
    );
    // Nothing changed: nothing to send.
    let proxier = applied(&ports(&svcs, &slices));
    let (doc, stats) = proxier.plan(&ports(&svcs, &slices));
    assert!(doc.is_none());
    assert_eq!((stats.changed, stats.commands), (0, 0));
}

#[test]
fn removing_and_emptying_services_deletes_their_objects_in_reference_order() {
    let (svcs, slices) = many(2);
    let proxier = applied(&ports(&svcs, &slices));
    // s0 goes away; s1 loses its endpoint.
    let svcs2: Vec<Service> = svcs
        .iter()
        .filter(|s| s.metadata.name.as_deref() != Some("s0"))
        .cloned()
        .collect();
    let mut slices2 = slices.clone();
    slices2[2].endpoints.clear();
    let (doc, stats) = proxier.plan(&ports(&svcs2, &slices2));
    let doc = doc.unwrap();
    schema_ok(&doc);
    assert_eq!(stats.changed, 2);
    let touched = touched(&doc);
    let pos = |t: &str| {
        touched
            .iter()
            .position(|x| x == t)
            .unwrap_or_else(|| panic!("{t:?} not in {touched:#?}"))
    };
    for key in ["ns/s0/tcp/http", "ns/s1/tcp/http"] {
        let ep = format!("ep-{key}__10.42.2.{}/80", &key[4..5]);
        let aff = format!("aff-{key}__10.42.2.{}/80", &key[4..5]);
        // The map element first, then flushes, then the chains and sets they referred to.
        assert!(pos("delete element service-ips") < pos(&format!("flush chain svc-{key}")));
        assert!(pos(&format!("flush chain svc-{key}")) < pos(&format!("delete chain {ep}")));
        assert!(
            pos(&format!(
                "flush chain ep-{key}__{}",
                &ep[ep.find("__").unwrap() + 2..]
            )) < pos(&format!("delete set {aff}"))
        );
        assert!(pos(&format!("delete chain {ep}")) > pos(&format!("flush chain {ep}")));
    }
    assert!(
        touched.iter().all(|t| !t.contains("ns/web/")),
        "{touched:#?}"
    );
    assert_eq!(
        elements(&doc, "no-endpoint-services"),
        [r#"[{"concat":["10.43.1.1","tcp",80]},{"goto":{"target":"reject-chain"}}]"#]
    );
}

#[test]
fn a_new_affinity_timeout_recreates_the_sets_and_the_chains_using_them() {
    let (svcs, slices) = many(1);
    let proxier = applied(&ports(&svcs, &slices));
    let mut svcs2 = svcs.clone();
    svcs2[0] = web(json!({"sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 30}}}));
    let (doc, _) = proxier.plan(&ports(&svcs2, &slices));
    let touched = touched(&doc.unwrap());
    let pos = |t: String| touched.iter().position(|x| *x == t).unwrap();
    let ep = format!("ep-{KEY}__10.42.0.5/8080");
    let aff = format!("aff-{KEY}__10.42.0.5/8080");
    assert!(pos(format!("flush chain {ep}")) < pos(format!("delete set {aff}")));
    assert!(pos(format!("delete set {aff}")) < pos(format!("add set {aff}")));
    assert!(pos(format!("add set {aff}")) < pos(format!("add rule {ep}")));
}

#[test]
fn a_taken_cluster_ip_port_or_node_port_is_programmed_once() {
    let np = |name: &str, ip: &str, node_port: u16| {
        svc(json!({"metadata": {"namespace": "ns", "name": name},
            "spec": {"clusterIP": ip, "type": "NodePort", "ports": [
                {"name": "http", "port": 80, "nodePort": node_port}]}}))
    };
    let ports = service_ports(
        &[
            np("a", "10.43.0.30", 30001),
            np("b", "10.43.0.30", 30002),
            np("c", "10.43.0.31", 30001),
            np("d", "10.43.0.32", 30003),
        ],
        &[] as &[EndpointSlice],
        "n1",
    );
    let ids: Vec<&str> = ports.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["ns/a:http", "ns/d:http"]);
}
