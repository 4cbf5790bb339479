//! ClusterIP and NodePort allocation. Each allocated IP or port is a key of its own in the
//! store, created in the same transaction as its Service and deleted with it: allocation is
//! atomic (two Services can never share one), survives restarts, and needs no bitmap.

use std::net::Ipv4Addr;

use serde_json::{json, Value};

use crate::status::ApiError;

pub mod update;

const IP_PREFIX: &str = "/registry/rkube/serviceips/";
const PORT_PREFIX: &str = "/registry/rkube/nodeports/";

/// The service CIDR and NodePort range.
#[derive(Debug, Clone)]
pub struct Ranges {
    pub network: u32,
    pub prefix_len: u8,
    pub node_ports: std::ops::RangeInclusive<u16>,
}

impl Ranges {
    pub fn parse(cidr: &str, node_ports: std::ops::RangeInclusive<u16>) -> Result<Self, String> {
        let (ip, len) = cidr
            .split_once('/')
            .ok_or_else(|| format!("{cidr:?} is not a CIDR"))?;
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("{cidr:?}: only IPv4 service CIDRs are supported"))?;
        let len: u8 = len
            .parse()
            .ok()
            .filter(|l| (8..=30).contains(l))
            .ok_or_else(|| format!("{cidr:?}: prefix length must be 8..30"))?;
        let mask = u32::MAX << (32 - len);
        Ok(Self {
            network: u32::from(ip) & mask,
            prefix_len: len,
            node_ports,
        })
    }

    fn size(&self) -> u32 {
        1 << (32 - self.prefix_len)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let ip = u32::from(ip);
        ip > self.network && ip < self.network + self.size() - 1
    }

    /// The first usable address: the `kubernetes` Service's.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 1)
    }

    /// The n-th candidate of a pseudo-random walk over the range.
    pub fn candidate(&self, seed: u64, n: u32) -> Ipv4Addr {
        let usable = self.size() - 2;
        let off = ((seed as u32).wrapping_add(n.wrapping_mul(2654435761))) % usable;
        Ipv4Addr::from(self.network + 1 + off)
    }

    pub fn port_candidate(&self, seed: u64, n: u32) -> u16 {
        let span = u32::from(*self.node_ports.end() - *self.node_ports.start()) + 1;
        *self.node_ports.start()
            + (((seed as u32).wrapping_add(n.wrapping_mul(40503))) % span) as u16
    }
}

pub fn ip_key(ip: &str) -> String {
    format!("{IP_PREFIX}{ip}")
}

pub fn port_key(port: i64) -> String {
    format!("{PORT_PREFIX}{port}")
}

/// What a Service holds: its cluster IP (unless headless or ExternalName) and node ports,
/// each once (two ports may share a node port, e.g. TCP and UDP on one number).
pub fn held_keys(svc: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(ip) = svc.pointer("/spec/clusterIP").and_then(Value::as_str) {
        if !ip.is_empty() && ip != "None" {
            keys.push(ip_key(ip));
        }
    }
    for n in node_ports(svc).into_iter().chain(health_check_port(svc)) {
        let k = port_key(n);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys
}

/// The Service's healthCheckNodePort, when set.
pub fn health_check_port(svc: &Value) -> Option<i64> {
    svc.pointer("/spec/healthCheckNodePort")
        .and_then(Value::as_i64)
        .filter(|n| *n > 0)
}

/// Picks a healthCheckNodePort for a Service that needs one and has none (upstream's
/// allocHealthCheckNodePort), apart from its ports' node ports.
pub fn assign_health_check_port(svc: &mut Value, ranges: &Ranges, seed: u64, n: u32) {
    if !update::needs_health_check(svc) || health_check_port(svc).is_some() {
        return;
    }
    let used = node_ports(svc);
    let mut k = 0u32;
    let chosen = loop {
        // Its own stream of candidates, apart from the ports' (see assign_node_ports).
        let c = i64::from(ranges.port_candidate(seed, n.wrapping_mul(31).wrapping_add(1000 + k)));
        k += 1;
        if !used.contains(&c) || k > 64 {
            break c;
        }
    };
    svc["spec"]["healthCheckNodePort"] = json!(chosen);
}

/// The non-zero node ports of a Service's ports, in order.
pub fn node_ports(svc: &Value) -> Vec<i64> {
    svc.pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
        .filter(|n| *n > 0)
        .collect()
}

/// The transaction that creates the object at `key` together with the keys of the cluster IP
/// and node ports it holds (all must be absent), each recording `owner` ("ns/name").
pub fn create_holding(key: &str, obj: &Value, owner: &str) -> rkube_store::Txn {
    use rkube_store::{Compare, Op, Txn};
    let mut compare = vec![Compare::mod_revision_eq(key, 0)];
    let mut ops = vec![Op::put(key, crate::object::to_stored(obj))];
    for k in held_keys(obj) {
        compare.push(Compare::mod_revision_eq(k.as_str(), 0));
        ops.push(Op::put(k.as_str(), owner.as_bytes()));
    }
    Txn::new().when(compare).and_then(ops)
}

/// The deletes of those of `keys` that `owner` holds, each guarded by a compare on its
/// owner: a key held by another Service (an older rkube let two share one) or by none is
/// left alone.
pub async fn release(
    store: &dyn rkube_store::Store,
    keys: &[String],
    owner: &str,
) -> Result<(Vec<rkube_store::Compare>, Vec<rkube_store::Op>), ApiError> {
    use rkube_store::{Compare, CompareResult, CompareTarget, Op, StoreExt};
    let (mut compare, mut ops) = (Vec::new(), Vec::new());
    for k in keys {
        let held = store.get(k.as_bytes()).await?;
        if held.is_some_and(|kv| kv.value == owner.as_bytes()) {
            compare.push(Compare::new(
                k.as_str(),
                CompareResult::Equal,
                CompareTarget::Value(owner.as_bytes().to_vec()),
            ));
            ops.push(Op::delete(k.as_str()));
        }
    }
    Ok((compare, ops))
}

/// Fills in the cluster IP and node ports a new Service needs (attempt `n` picks other
/// candidates after a collision); explicit values are checked against the ranges.
pub fn assign(svc: &mut Value, ranges: &Ranges, seed: u64, n: u32) -> Result<(), ApiError> {
    if service_type(svc) != "ExternalName" {
        assign_cluster_ip(svc, ranges, seed, n)?;
    }
    assign_node_ports(svc, ranges, seed, n, &[])?;
    assign_health_check_port(svc, ranges, seed, n);
    Ok(())
}

/// A Service's type; an absent one is ClusterIP.
pub fn service_type(svc: &Value) -> &str {
    svc.pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
}

/// Upstream's `needsNodePort`: the types whose ports get node ports.
pub fn needs_node_ports(svc: &Value) -> bool {
    matches!(service_type(svc), "NodePort" | "LoadBalancer")
}

/// A 422 about one field of the Service `svc`.
pub fn invalid(svc: &Value, field: &str, value: Value, detail: String) -> ApiError {
    let def = rkube_api::registry::find("", "v1", "services").expect("services are served");
    ApiError::invalid(
        def,
        crate::object::name(svc),
        &[rkube_api::FieldError {
            kind: rkube_api::FieldErrorKind::Invalid(value),
            field: field.into(),
            detail,
        }],
    )
}

/// Upstream's 422 when the held key `k` is a value the client asked for; `None` when it was
/// picked here.
pub fn refused(base: &Value, k: &str) -> Option<ApiError> {
    let ip = base
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !ip.is_empty() && ip_key(ip) == k {
        return Some(invalid(
            base,
            "spec.clusterIPs",
            json!([ip]),
            format!("failed to allocate IP {ip}: provided IP is already allocated"),
        ));
    }
    if let Some(hc) = health_check_port(base).filter(|hc| port_key(*hc) == k) {
        return Some(invalid(
            base,
            "spec.healthCheckNodePort",
            json!(hc),
            "provided port is already allocated".into(),
        ));
    }
    let ports = base.pointer("/spec/ports").and_then(Value::as_array)?;
    ports.iter().enumerate().find_map(|(i, p)| {
        let np = p.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
        (np > 0 && port_key(np) == k).then(|| {
            invalid(
                base,
                &format!("spec.ports[{i}].nodePort"),
                json!(np),
                "provided port is already allocated".into(),
            )
        })
    })
}

/// Picks a cluster IP when none is set, or checks the one asked for; clusterIPs follows.
pub fn assign_cluster_ip(
    svc: &mut Value,
    ranges: &Ranges,
    seed: u64,
    n: u32,
) -> Result<(), ApiError> {
    let ip = svc
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if ip.is_empty() {
        let chosen = ranges.candidate(seed, n).to_string();
        svc["spec"]["clusterIP"] = json!(chosen);
        svc["spec"]["clusterIPs"] = json!([chosen]);
    } else if ip == "None" {
        svc["spec"]["clusterIPs"] = json!(["None"]);
    } else {
        let parsed: Ipv4Addr = ip.parse().map_err(|_| {
            invalid(
                svc,
                "spec.clusterIPs[0]",
                json!(ip),
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into(),
            )
        })?;
        if !ranges.contains(parsed) {
            return Err(invalid(
                svc,
                "spec.clusterIPs",
                json!([ip]),
                format!(
                    "failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}/{}",
                    Ipv4Addr::from(ranges.network),
                    ranges.prefix_len
                ),
            ));
        }
        svc["spec"]["clusterIPs"] = json!([ip]);
    }
    Ok(())
}

/// Gives every port of a NodePort or LoadBalancer Service a node port: one asked for is
/// checked against the range unless `kept` (held already), a missing one is picked among
/// those no port of the Service uses. A LoadBalancer with allocateLoadBalancerNodePorts
/// false gets only the ones asked for.
pub fn assign_node_ports(
    svc: &mut Value,
    ranges: &Ranges,
    seed: u64,
    n: u32,
    kept: &[i64],
) -> Result<(), ApiError> {
    if !needs_node_ports(svc) {
        return Ok(());
    }
    let pick_missing = svc
        .pointer("/spec/allocateLoadBalancerNodePorts")
        .and_then(Value::as_bool)
        != Some(false)
        || service_type(svc) == "NodePort";
    let mut used = node_ports(svc);
    for np in used.clone() {
        let ok = u16::try_from(np).is_ok_and(|v| ranges.node_ports.contains(&v));
        if !ok && !kept.contains(&np) {
            let at = port_index(svc, np);
            return Err(invalid(
                svc,
                &format!("spec.ports[{at}].nodePort"),
                json!(np),
                format!(
                    "provided port is not in the valid range. The range of valid ports is {}-{}",
                    ranges.node_ports.start(),
                    ranges.node_ports.end()
                ),
            ));
        }
    }
    if !pick_missing {
        return Ok(());
    }
    // A healthCheckNodePort asked for is not picked again for a port.
    used.extend(health_check_port(svc));
    let mut k = 0u32;
    if let Some(ports) = svc.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut() {
            if p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0 {
                continue;
            }
            // Skip values another port of this Service has: each key is held once.
            let chosen = loop {
                let c = i64::from(ranges.port_candidate(seed, n.wrapping_mul(31).wrapping_add(k)));
                k += 1;
                if !used.contains(&c) || k > 64 {
                    break c;
                }
            };
            used.push(chosen);
            p["nodePort"] = json!(chosen);
        }
    }
    Ok(())
}

/// The index of the first port of `svc` with node port `np`.
fn port_index(svc: &Value, np: i64) -> usize {
    svc.pointer("/spec/ports")
        .and_then(Value::as_array)
        .and_then(|ps| {
            ps.iter()
                .position(|p| p.get("nodePort").and_then(Value::as_i64) == Some(np))
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_stay_in_range() {
        let r = Ranges::parse("10.43.0.0/16", 30000..=32767).unwrap();
        assert_eq!(r.first(), Ipv4Addr::new(10, 43, 0, 1));
        for n in 0..1000 {
            assert!(r.contains(r.candidate(12345, n)));
            assert!(r.node_ports.contains(&r.port_candidate(999, n)));
        }
        assert!(!r.contains(Ipv4Addr::new(10, 44, 0, 1)));
        assert!(Ranges::parse("nope", 1..=2).is_err());
    }

    #[test]
    fn assigns_ip_and_node_ports() {
        let r = Ranges::parse("10.43.0.0/16", 30000..=32767).unwrap();
        let mut svc = json!({"metadata": {"name": "a"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        assign(&mut svc, &r, 1, 0).unwrap();
        assert!(svc["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .starts_with("10.43."));
        assert_eq!(held_keys(&svc).len(), 2);
        let mut bad = json!({"metadata": {"name": "a"}, "spec": {"clusterIP": "1.2.3.4", "ports": [{"port": 80}]}});
        assert_eq!(assign(&mut bad, &r, 1, 0).unwrap_err().code, 422);
    }
}
