//! Service ports -> nftables objects, following upstream kube-proxy's nftables mode: verdict maps
//! keyed by clusterIP/protocol/port (and protocol/nodePort) dispatch to per-service chains,
//! `numgen random mod N` verdict maps over per-endpoint DNAT chains, ClientIP affinity in
//! dynamic sets with timeouts, a masquerade mark, and reject for services without endpoints.
//! Every object a service port needs is named after its stable key, so a change is a diff of
//! two `Objects` (see diff.rs). Pure: no I/O, so the rules are unit-tested.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::model::{Endpoint, ServicePort};
use crate::cidr::Ipv4Cidr;

/// The mark bit asking for masquerade in postrouting (upstream's 0x4000).
const MASQ_MARK: u32 = 0x4000;
const DSTNAT: i32 = -100;
const SRCNAT: i32 = 100;
/// Before DNAT (-100), like upstream's filter chains.
const FILTER_PRIO: i32 = -110;

/// clusterIP . protocol . port -> goto the service's chain.
pub const SERVICE_IPS: &str = "service-ips";
/// protocol . nodePort -> goto the service's external chain.
pub const SERVICE_NODEPORTS: &str = "service-nodeports";
/// clusterIP . protocol . port of services without endpoints -> goto reject-chain.
pub const NO_ENDPOINT_SERVICES: &str = "no-endpoint-services";
/// protocol . nodePort of services without endpoints -> goto reject-chain.
pub const NO_ENDPOINT_NODEPORTS: &str = "no-endpoint-nodeports";
/// Verdict maps cannot say `reject`: their elements go to this chain instead.
const REJECT_CHAIN: &str = "reject-chain";

pub struct Rules<'a> {
    pub table: &'a str,
    /// Pods' traffic arrives on this bridge; only it is matched for ClusterIPs in prerouting,
    /// so parallel clusters on one host (tests) never rewrite each other's pod traffic.
    pub bridge: &'a str,
    pub cluster_cidr: &'a Ipv4Cidr,
}

/// One rule: its statements and an optional comment.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub expr: Vec<Value>,
    pub comment: Option<String>,
}

/// The nftables objects owned by one or more service ports.
#[derive(Debug, Default, PartialEq)]
pub struct Objects {
    /// Chain name -> its rules, in order.
    pub chains: BTreeMap<String, Vec<Rule>>,
    /// Affinity set name -> element timeout in seconds.
    pub sets: BTreeMap<String, u32>,
    /// (map, key as JSON text) -> (key, verdict).
    pub elements: BTreeMap<(&'static str, String), (Value, Value)>,
}

impl Objects {
    fn rule(&mut self, chain: &str, expr: Vec<Value>, comment: Option<&str>) {
        self.chains
            .entry(chain.to_string())
            .or_default()
            .push(Rule {
                expr,
                comment: comment.map(str::to_string),
            });
    }
    fn element(&mut self, map: &'static str, key: Value, verdict: Value) {
        self.elements.insert((map, key.to_string()), (key, verdict));
    }
    /// Adds `other`'s objects (names never collide: they carry the service port's key).
    pub fn merge(&mut self, other: Objects) {
        self.chains.extend(other.chains);
        self.sets.extend(other.sets);
        self.elements.extend(other.elements);
    }
}

fn m(left: Value, op: &str, right: Value) -> Value {
    json!({"match": {"op": op, "left": left, "right": right}})
}
fn payload(protocol: &str, field: &str) -> Value {
    json!({"payload": {"protocol": protocol, "field": field}})
}
fn meta(key: &str) -> Value {
    json!({"meta": {"key": key}})
}
fn prefix(c: &Ipv4Cidr) -> Value {
    json!({"prefix": {"addr": c.network().to_string(), "len": c.prefix_len()}})
}
fn goto(chain: &str) -> Value {
    json!({"goto": {"target": chain}})
}
fn jump(chain: &str) -> Value {
    json!({"jump": {"target": chain}})
}
fn vmap(key: Vec<Value>, map: &str) -> Value {
    json!({"vmap": {"key": {"concat": key}, "data": format!("@{map}")}})
}
fn fib_local(flag: &str) -> Value {
    m(
        json!({"fib": {"result": "type", "flags": [flag]}}),
        "==",
        json!("local"),
    )
}
fn not_loopback() -> Value {
    m(
        payload("ip", "daddr"),
        "!=",
        json!({"prefix": {"addr": "127.0.0.0", "len": 8}}),
    )
}
fn ip_key(ip: std::net::Ipv4Addr, sp: &ServicePort) -> Value {
    json!({"concat": [ip.to_string(), sp.protocol, sp.port]})
}
fn node_port_key(sp: &ServicePort, np: u16) -> Value {
    json!({"concat": [sp.protocol, np]})
}

// Names after upstream's (`service-<hash>-ns/name/tcp/port`); the key is unique on its own.
pub fn svc_chain(key: &str) -> String {
    format!("svc-{key}")
}
pub fn cluster_chain(key: &str) -> String {
    format!("cluster-{key}")
}
pub fn local_chain(key: &str) -> String {
    format!("local-{key}")
}
pub fn ext_chain(key: &str) -> String {
    format!("ext-{key}")
}
pub fn ep_chain(key: &str, ep: &Endpoint) -> String {
    format!("ep-{key}__{}/{}", ep.ip, ep.port)
}
pub fn affinity_set(key: &str, ep: &Endpoint) -> String {
    format!("aff-{key}__{}/{}", ep.ip, ep.port)
}

/// Commands of one nftables JSON transaction on one table.
pub struct Batch<'a> {
    table: &'a str,
    pub cmds: Vec<Value>,
}

impl<'a> Batch<'a> {
    pub fn new(table: &'a str) -> Self {
        Self {
            table,
            cmds: Vec::new(),
        }
    }
    pub fn into_doc(self) -> Value {
        json!({"nftables": self.cmds})
    }
    fn obj(&self, name: &str) -> Value {
        json!({"family": "ip", "table": self.table, "name": name})
    }
    pub fn chain(&mut self, name: &str) {
        let c = self.obj(name);
        self.cmds.push(json!({"add": {"chain": c}}));
    }
    pub fn flush_chain(&mut self, name: &str) {
        let c = self.obj(name);
        self.cmds.push(json!({"flush": {"chain": c}}));
    }
    pub fn delete_chain(&mut self, name: &str) {
        let c = self.obj(name);
        self.cmds.push(json!({"delete": {"chain": c}}));
    }
    fn base_chain(&mut self, name: &str, kind: &str, hook: &str, prio: i32) {
        self.cmds.push(json!({"add": {"chain": {
            "family": "ip", "table": self.table, "name": name,
            "type": kind, "hook": hook, "prio": prio, "policy": "accept",
        }}}));
    }
    pub fn rule(&mut self, chain: &str, rule: &Rule) {
        let mut r = json!({"family": "ip", "table": self.table, "chain": chain, "expr": rule.expr});
        if let Some(c) = &rule.comment {
            r["comment"] = json!(c);
        }
        self.cmds.push(json!({"add": {"rule": r}}));
    }
    fn simple_rule(&mut self, chain: &str, expr: Vec<Value>) {
        self.rule(
            chain,
            &Rule {
                expr,
                comment: None,
            },
        );
    }
    pub fn set(&mut self, name: &str, timeout: u32) {
        self.cmds.push(json!({"add": {"set": {
            "family": "ip", "table": self.table, "name": name, "type": "ipv4_addr",
            "flags": ["timeout"], "timeout": timeout,
        }}}));
    }
    pub fn delete_set(&mut self, name: &str) {
        let s = self.obj(name);
        self.cmds.push(json!({"delete": {"set": s}}));
    }
    fn map(&mut self, name: &str, key: &[&str]) {
        self.cmds.push(json!({"add": {"map": {
            "family": "ip", "table": self.table, "name": name, "type": key, "map": "verdict",
        }}}));
    }
    pub fn element(&mut self, map: &str, key: &Value, verdict: &Value) {
        let mut e = self.obj(map);
        e["elem"] = json!([[key, verdict]]);
        self.cmds.push(json!({"add": {"element": e}}));
    }
    pub fn delete_element(&mut self, map: &str, key: &Value) {
        let mut e = self.obj(map);
        e["elem"] = json!([key]);
        self.cmds.push(json!({"delete": {"element": e}}));
    }
}

impl Rules<'_> {
    /// `add table; delete table; add table`: replaces the table atomically whether it exists or
    /// not, and never touches any other table; then the chains and maps every table has.
    pub fn replace_table(&self, b: &mut Batch<'_>) {
        let table = json!({"family": "ip", "name": self.table});
        b.cmds.push(json!({"add": {"table": table}}));
        b.cmds.push(json!({"delete": {"table": table}}));
        b.cmds.push(json!({"add": {"table": table}}));
        self.skeleton(b);
    }

    fn skeleton(&self, b: &mut Batch<'_>) {
        let ip_port = ["ipv4_addr", "inet_proto", "inet_service"];
        let node_port = ["inet_proto", "inet_service"];
        b.map(SERVICE_IPS, &ip_port);
        b.map(SERVICE_NODEPORTS, &node_port);
        b.map(NO_ENDPOINT_SERVICES, &ip_port);
        b.map(NO_ENDPOINT_NODEPORTS, &node_port);
        for c in [
            "services",
            "nodeports",
            "mark-for-masquerade",
            "masquerading",
            REJECT_CHAIN,
        ] {
            b.chain(c);
        }
        b.base_chain("nat-prerouting", "nat", "prerouting", DSTNAT);
        b.base_chain("nat-output", "nat", "output", DSTNAT);
        b.base_chain("nat-postrouting", "nat", "postrouting", SRCNAT);
        b.base_chain("filter-forward", "filter", "forward", FILTER_PRIO);
        b.base_chain("filter-output", "filter", "output", FILTER_PRIO);
        b.base_chain("filter-input", "filter", "input", FILTER_PRIO);

        let dst = || {
            vec![
                payload("ip", "daddr"),
                meta("l4proto"),
                payload("th", "dport"),
            ]
        };
        let np = || vec![meta("l4proto"), payload("th", "dport")];
        let iif = m(meta("iifname"), "==", json!(self.bridge));
        b.simple_rule("nat-prerouting", vec![iif, jump("services")]);
        b.simple_rule("nat-output", vec![jump("services")]);
        // Like upstream's nftables mode, NodePorts are not served on localhost.
        for chain in ["nat-prerouting", "nat-output"] {
            b.simple_rule(
                chain,
                vec![fib_local("daddr"), not_loopback(), jump("nodeports")],
            );
        }
        b.simple_rule("services", vec![vmap(dst(), SERVICE_IPS)]);
        b.simple_rule("nodeports", vec![vmap(np(), SERVICE_NODEPORTS)]);
        b.simple_rule("nat-postrouting", vec![jump("masquerading")]);
        let mark = meta("mark");
        b.simple_rule(
            "masquerading",
            vec![
                m(json!({"&": [mark, MASQ_MARK]}), "==", json!(0)),
                json!({"return": null}),
            ],
        );
        b.simple_rule(
            "masquerading",
            vec![
                json!({"mangle": {"key": mark, "value": {"^": [mark, MASQ_MARK]}}}),
                json!({"masquerade": null}),
            ],
        );
        b.simple_rule(
            "mark-for-masquerade",
            vec![json!({"mangle": {"key": mark, "value": {"|": [mark, MASQ_MARK]}}})],
        );
        // Refused at once (ICMP port unreachable -> ECONNREFUSED) instead of a hang.
        b.simple_rule(REJECT_CHAIN, vec![json!({"reject": null})]);
        let new = m(json!({"ct": {"key": "state"}}), "in", json!("new"));
        for chain in ["filter-forward", "filter-output"] {
            b.simple_rule(chain, vec![new.clone(), vmap(dst(), NO_ENDPOINT_SERVICES)]);
        }
        b.simple_rule(
            "filter-input",
            vec![
                new,
                fib_local("daddr"),
                not_loopback(),
                vmap(np(), NO_ENDPOINT_NODEPORTS),
            ],
        );
    }

    /// Everything one service port needs, named after its key.
    pub fn objects(&self, sp: &ServicePort) -> Objects {
        let mut o = Objects::default();
        let key = sp.key.as_str();
        let comment = Some(sp.id.as_str());
        if sp.endpoints.is_empty() {
            if let Some(ip) = sp.cluster_ip {
                o.element(NO_ENDPOINT_SERVICES, ip_key(ip, sp), goto(REJECT_CHAIN));
            }
            if let Some(np) = sp.node_port {
                o.element(
                    NO_ENDPOINT_NODEPORTS,
                    node_port_key(sp, np),
                    goto(REJECT_CHAIN),
                );
            }
            return o;
        }
        let local: Vec<&Endpoint> = sp.endpoints.iter().filter(|e| e.local).collect();
        for ep in &sp.endpoints {
            self.endpoint(&mut o, sp, ep);
        }
        // The cluster-wide pick lives in the service's own chain, after its masquerade rule
        // (a no-op for pods, and the host's traffic is marked anyway): one chain fewer per
        // service. Only internalTrafficPolicy Local needs it apart, for NodePort's short-circuit.
        let svc = svc_chain(key);
        let cluster = if sp.internal_local {
            cluster_chain(key)
        } else {
            svc.clone()
        };
        // Traffic from outside the pod network (the host) is masqueraded so replies come back
        // through this node, as upstream does with a cluster CIDR configured.
        o.rule(
            &svc,
            vec![
                m(payload("ip", "saddr"), "!=", prefix(self.cluster_cidr)),
                jump("mark-for-masquerade"),
            ],
            None,
        );
        if sp.internal_local {
            let to = if local.is_empty() {
                // internalTrafficPolicy Local without a local endpoint: dropped, as upstream.
                json!({"drop": null})
            } else {
                goto(&local_chain(key))
            };
            o.rule(&svc, vec![to], comment);
        }
        let all: Vec<&Endpoint> = sp.endpoints.iter().collect();
        dispatch(&mut o, &cluster, sp, &all);
        let needs_local = sp.internal_local || (sp.external_local && sp.node_port.is_some());
        if needs_local && !local.is_empty() {
            dispatch(&mut o, &local_chain(key), sp, &local);
        }
        if let Some(ip) = sp.cluster_ip {
            o.element(SERVICE_IPS, ip_key(ip, sp), goto(&svc));
        }

        if let Some(np) = sp.node_port {
            let ext = ext_chain(key);
            o.element(SERVICE_NODEPORTS, node_port_key(sp, np), goto(&ext));
            if sp.external_local {
                // Pods and the node itself are treated as internal traffic (upstream's
                // short-circuit); only outside clients are limited to local endpoints.
                o.rule(
                    &ext,
                    vec![
                        m(payload("ip", "saddr"), "==", prefix(self.cluster_cidr)),
                        goto(&cluster),
                    ],
                    None,
                );
                o.rule(
                    &ext,
                    vec![fib_local("saddr"), jump("mark-for-masquerade")],
                    None,
                );
                o.rule(&ext, vec![fib_local("saddr"), goto(&cluster)], None);
                if local.is_empty() {
                    o.rule(
                        &ext,
                        vec![json!({"drop": null})],
                        Some("no local endpoints"),
                    );
                } else {
                    o.rule(&ext, vec![goto(&local_chain(key))], None);
                }
            } else {
                o.rule(&ext, vec![jump("mark-for-masquerade")], None);
                o.rule(&ext, vec![goto(&cluster)], comment);
            }
        }
        o
    }

    fn endpoint(&self, o: &mut Objects, sp: &ServicePort, ep: &Endpoint) {
        let chain = ep_chain(&sp.key, ep);
        let ip = ep.ip.to_string();
        // Hairpin: a pod reaching itself through its Service must see a reply from elsewhere.
        o.rule(
            &chain,
            vec![
                m(payload("ip", "saddr"), "==", json!(ip)),
                jump("mark-for-masquerade"),
            ],
            None,
        );
        if let Some(timeout) = sp.affinity_seconds {
            let set = affinity_set(&sp.key, ep);
            o.rule(
                &chain,
                vec![json!({"set": {"op": "update", "elem": payload("ip", "saddr"), "set": format!("@{set}")}})],
                None,
            );
            o.sets.insert(set, timeout);
        }
        o.rule(
            &chain,
            vec![
                m(meta("l4proto"), "==", json!(sp.protocol)),
                json!({"dnat": {"addr": ip, "port": ep.port}}),
            ],
            Some(&format!("{} -> {}:{}", sp.id, ep.ip, ep.port)),
        );
    }
}

/// The transaction that removes `table` (absent is fine: the add makes the delete valid).
pub fn removal(table: &str) -> Value {
    let table = json!({"family": "ip", "name": table});
    json!({"nftables": [{"add": {"table": table}}, {"delete": {"table": table}}]})
}

/// Sticky clients first (ClientIP affinity), then a random pick among `eps`. One endpoint is a
/// plain goto: no anonymous map, which every later `nft` run would have to load.
fn dispatch(o: &mut Objects, chain: &str, sp: &ServicePort, eps: &[&Endpoint]) {
    if let [ep] = eps {
        o.rule(chain, vec![goto(&ep_chain(&sp.key, ep))], None);
        return;
    }
    if sp.affinity_seconds.is_some() {
        for ep in eps {
            o.rule(
                chain,
                vec![
                    m(
                        payload("ip", "saddr"),
                        "==",
                        json!(format!("@{}", affinity_set(&sp.key, ep))),
                    ),
                    goto(&ep_chain(&sp.key, ep)),
                ],
                None,
            );
        }
    }
    let map: Vec<Value> = eps
        .iter()
        .enumerate()
        .map(|(k, ep)| json!([k, goto(&ep_chain(&sp.key, ep))]))
        .collect();
    o.rule(
        chain,
        vec![json!({"vmap": {
            "key": {"numgen": {"mode": "random", "mod": eps.len(), "offset": 0}},
            "data": {"set": map},
        }})],
        None,
    );
}
