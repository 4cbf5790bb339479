//! Service ports -> one nftables JSON transaction that replaces rkube's proxy table, following
//! upstream kube-proxy's nftables mode: ClusterIP and NodePort dispatch to per-service chains,
//! `numgen random mod N` verdict maps over per-endpoint DNAT chains, ClientIP affinity in
//! dynamic sets with timeouts, a masquerade mark, and reject for services without endpoints.
//! Pure: no I/O, so the whole ruleset is unit-tested.

use serde_json::{json, Value};

use super::model::{Endpoint, ServicePort};
use crate::cidr::Ipv4Cidr;

/// The mark bit asking for masquerade in postrouting (upstream's 0x4000).
const MASQ_MARK: u32 = 0x4000;
const DSTNAT: i32 = -100;
const SRCNAT: i32 = 100;
/// Before DNAT (-100), like upstream's filter chains.
const FILTER_PRIO: i32 = -110;

pub struct Rules<'a> {
    pub table: &'a str,
    /// Pods' traffic arrives on this bridge; only it is matched for ClusterIPs in prerouting,
    /// so parallel clusters on one host (tests) never rewrite each other's pod traffic.
    pub bridge: &'a str,
    pub cluster_cidr: &'a Ipv4Cidr,
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
fn dport(sp: &ServicePort, port: u16) -> Value {
    m(payload(sp.protocol, "dport"), "==", json!(port))
}
fn to_cluster_ip(sp: &ServicePort) -> Option<[Value; 2]> {
    let ip = sp.cluster_ip?;
    Some([
        m(payload("ip", "daddr"), "==", json!(ip.to_string())),
        dport(sp, sp.port),
    ])
}

fn svc_chain(i: usize) -> String {
    format!("svc-{i}")
}
fn local_chain(i: usize) -> String {
    format!("local-{i}")
}
fn ext_chain(i: usize) -> String {
    format!("ext-{i}")
}
fn ep_chain(i: usize, j: usize) -> String {
    format!("ep-{i}-{j}")
}
fn affinity_set(i: usize, j: usize) -> String {
    format!("affinity-{i}-{j}")
}

struct Batch<'a> {
    table: &'a str,
    cmds: Vec<Value>,
}

impl Batch<'_> {
    fn chain(&mut self, name: &str) {
        self.cmds.push(json!({"add": {"chain": {
            "family": "ip", "table": self.table, "name": name,
        }}}));
    }
    fn base_chain(&mut self, name: &str, kind: &str, hook: &str, prio: i32) {
        self.cmds.push(json!({"add": {"chain": {
            "family": "ip", "table": self.table, "name": name,
            "type": kind, "hook": hook, "prio": prio, "policy": "accept",
        }}}));
    }
    fn rule(&mut self, chain: &str, expr: Vec<Value>, comment: Option<&str>) {
        let mut rule = json!({"family": "ip", "table": self.table, "chain": chain, "expr": expr});
        if let Some(c) = comment {
            rule["comment"] = json!(c);
        }
        self.cmds.push(json!({"add": {"rule": rule}}));
    }
}

impl Rules<'_> {
    /// The whole transaction: `add table; delete table; add table; ...` replaces the table
    /// atomically whether it exists or not, and never touches any other table.
    pub fn transaction(&self, ports: &[ServicePort]) -> Value {
        let table = json!({"family": "ip", "name": self.table});
        let mut b = Batch {
            table: self.table,
            cmds: vec![
                json!({"add": {"table": table}}),
                json!({"delete": {"table": table}}),
                json!({"add": {"table": table}}),
            ],
        };
        self.skeleton(&mut b);
        for (i, sp) in ports.iter().enumerate() {
            self.service(&mut b, i, sp);
        }
        json!({"nftables": b.cmds})
    }

    fn skeleton(&self, b: &mut Batch<'_>) {
        for c in [
            "services",
            "nodeports",
            "mark-for-masquerade",
            "masquerading",
        ] {
            b.chain(c);
        }
        for c in ["reject-services", "reject-nodeports"] {
            b.chain(c);
        }
        b.base_chain("nat-prerouting", "nat", "prerouting", DSTNAT);
        b.base_chain("nat-output", "nat", "output", DSTNAT);
        b.base_chain("nat-postrouting", "nat", "postrouting", SRCNAT);
        b.base_chain("filter-forward", "filter", "forward", FILTER_PRIO);
        b.base_chain("filter-output", "filter", "output", FILTER_PRIO);
        b.base_chain("filter-input", "filter", "input", FILTER_PRIO);

        let iif = m(meta("iifname"), "==", json!(self.bridge));
        b.rule("nat-prerouting", vec![iif, jump("services")], None);
        b.rule("nat-output", vec![jump("services")], None);
        // Like upstream's nftables mode, NodePorts are not served on localhost.
        for chain in ["nat-prerouting", "nat-output"] {
            b.rule(
                chain,
                vec![fib_local("daddr"), not_loopback(), jump("nodeports")],
                None,
            );
        }
        b.rule("nat-postrouting", vec![jump("masquerading")], None);
        let mark = meta("mark");
        b.rule(
            "masquerading",
            vec![
                m(json!({"&": [mark, MASQ_MARK]}), "==", json!(0)),
                json!({"return": null}),
            ],
            None,
        );
        b.rule(
            "masquerading",
            vec![
                json!({"mangle": {"key": mark, "value": {"^": [mark, MASQ_MARK]}}}),
                json!({"masquerade": null}),
            ],
            None,
        );
        b.rule(
            "mark-for-masquerade",
            vec![json!({"mangle": {"key": mark, "value": {"|": [mark, MASQ_MARK]}}})],
            None,
        );
        let new = m(json!({"ct": {"key": "state"}}), "in", json!("new"));
        for chain in ["filter-forward", "filter-output"] {
            b.rule(chain, vec![new.clone(), jump("reject-services")], None);
        }
        b.rule(
            "filter-input",
            vec![
                new,
                fib_local("daddr"),
                not_loopback(),
                jump("reject-nodeports"),
            ],
            None,
        );
    }

    fn service(&self, b: &mut Batch<'_>, i: usize, sp: &ServicePort) {
        let comment = Some(sp.id.as_str());
        if sp.endpoints.is_empty() {
            // Refused at once (ICMP port unreachable -> ECONNREFUSED) instead of a hang.
            if let Some(dst) = to_cluster_ip(sp) {
                let mut e = dst.to_vec();
                e.push(json!({"reject": null}));
                b.rule("reject-services", e, comment);
            }
            if let Some(np) = sp.node_port {
                b.rule(
                    "reject-nodeports",
                    vec![dport(sp, np), json!({"reject": null})],
                    comment,
                );
            }
            return;
        }
        let all: Vec<usize> = (0..sp.endpoints.len()).collect();
        let local: Vec<usize> = sp
            .endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| e.local)
            .map(|(j, _)| j)
            .collect();
        for (j, ep) in sp.endpoints.iter().enumerate() {
            self.endpoint(b, i, j, sp, ep);
        }
        b.chain(&svc_chain(i));
        dispatch(b, &svc_chain(i), i, sp, &all);
        let needs_local = sp.internal_local || (sp.external_local && sp.node_port.is_some());
        if needs_local && !local.is_empty() {
            b.chain(&local_chain(i));
            dispatch(b, &local_chain(i), i, sp, &local);
        }

        if let Some(dst) = to_cluster_ip(sp) {
            // Traffic from outside the pod network (the host) is masqueraded so replies come back
            // through this node, as upstream does with a cluster CIDR configured.
            let mut e = dst.to_vec();
            e.push(m(payload("ip", "saddr"), "!=", prefix(self.cluster_cidr)));
            e.push(jump("mark-for-masquerade"));
            b.rule("services", e, comment);
            let mut e = dst.to_vec();
            match (sp.internal_local, local.is_empty()) {
                (false, _) => e.push(goto(&svc_chain(i))),
                (true, false) => e.push(goto(&local_chain(i))),
                // internalTrafficPolicy Local without a local endpoint: dropped, as upstream.
                (true, true) => e.push(json!({"drop": null})),
            }
            b.rule("services", e, comment);
        }

        if let Some(np) = sp.node_port {
            let ext = ext_chain(i);
            b.chain(&ext);
            b.rule("nodeports", vec![dport(sp, np), goto(&ext)], comment);
            if sp.external_local {
                // Pods and the node itself are treated as internal traffic (upstream's
                // short-circuit); only outside clients are limited to local endpoints.
                b.rule(
                    &ext,
                    vec![
                        m(payload("ip", "saddr"), "==", prefix(self.cluster_cidr)),
                        goto(&svc_chain(i)),
                    ],
                    None,
                );
                b.rule(
                    &ext,
                    vec![fib_local("saddr"), jump("mark-for-masquerade")],
                    None,
                );
                b.rule(&ext, vec![fib_local("saddr"), goto(&svc_chain(i))], None);
                if local.is_empty() {
                    b.rule(
                        &ext,
                        vec![json!({"drop": null})],
                        Some("no local endpoints"),
                    );
                } else {
                    b.rule(&ext, vec![goto(&local_chain(i))], None);
                }
            } else {
                b.rule(&ext, vec![jump("mark-for-masquerade")], None);
                b.rule(&ext, vec![goto(&svc_chain(i))], None);
            }
        }
    }

    fn endpoint(&self, b: &mut Batch<'_>, i: usize, j: usize, sp: &ServicePort, ep: &Endpoint) {
        let chain = ep_chain(i, j);
        b.chain(&chain);
        let ip = ep.ip.to_string();
        // Hairpin: a pod reaching itself through its Service must see a reply from elsewhere.
        b.rule(
            &chain,
            vec![
                m(payload("ip", "saddr"), "==", json!(ip)),
                jump("mark-for-masquerade"),
            ],
            None,
        );
        if let Some(timeout) = sp.affinity_seconds {
            let set = affinity_set(i, j);
            b.cmds.push(json!({"add": {"set": {
                "family": "ip", "table": b.table, "name": set, "type": "ipv4_addr",
                "flags": ["timeout"], "timeout": timeout,
            }}}));
            b.rule(
                &chain,
                vec![json!({"set": {"op": "update", "elem": payload("ip", "saddr"), "set": format!("@{set}")}})],
                None,
            );
        }
        b.rule(
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

/// Sticky clients first (ClientIP affinity), then a random pick among `eps`.
fn dispatch(b: &mut Batch<'_>, chain: &str, i: usize, sp: &ServicePort, eps: &[usize]) {
    if sp.affinity_seconds.is_some() {
        for &j in eps {
            b.rule(
                chain,
                vec![
                    m(
                        payload("ip", "saddr"),
                        "==",
                        json!(format!("@{}", affinity_set(i, j))),
                    ),
                    goto(&ep_chain(i, j)),
                ],
                None,
            );
        }
    }
    let map: Vec<Value> = eps
        .iter()
        .enumerate()
        .map(|(k, &j)| json!([k, goto(&ep_chain(i, j))]))
        .collect();
    b.rule(
        chain,
        vec![json!({"vmap": {
            "key": {"numgen": {"mode": "random", "mod": eps.len(), "offset": 0}},
            "data": {"set": map},
        }})],
        None,
    );
}
