//! ClusterIP and NodePort allocation. Each allocated IP or port is a key of its own in the
//! store, created in the same transaction as its Service and deleted with it: allocation is
//! atomic (two Services can never share one), survives restarts, and needs no bitmap.

use std::net::Ipv4Addr;

use serde_json::{json, Value};

use crate::status::ApiError;

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

/// What a Service holds: its cluster IP (unless headless or ExternalName) and node ports.
pub fn held_keys(svc: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(ip) = svc.pointer("/spec/clusterIP").and_then(Value::as_str) {
        if !ip.is_empty() && ip != "None" {
            keys.push(ip_key(ip));
        }
    }
    for p in svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(n) = p.get("nodePort").and_then(Value::as_i64).filter(|n| *n > 0) {
            keys.push(port_key(n));
        }
    }
    keys
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

/// Fills in the cluster IP and node ports a new Service needs (attempt `n` picks other
/// candidates after a collision); explicit values are checked against the ranges.
pub fn assign(svc: &mut Value, ranges: &Ranges, seed: u64, n: u32) -> Result<(), ApiError> {
    let ty = svc
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    let name = crate::object::name(svc).to_string();
    let invalid = |field: &str, value: Value, detail: String| {
        let def = rkube_api::registry::find("", "v1", "services").expect("services are served");
        ApiError::invalid(
            def,
            &name,
            &[rkube_api::FieldError {
                kind: rkube_api::FieldErrorKind::Invalid(value),
                field: field.into(),
                detail,
            }],
        )
    };
    if ty != "ExternalName" {
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
                    "spec.clusterIPs[0]",
                    json!(ip),
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into(),
                )
            })?;
            if !ranges.contains(parsed) {
                return Err(invalid(
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
    }
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
        let mut k = 0u32;
        if let Some(ports) = svc.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for (i, p) in ports.iter_mut().enumerate() {
                match p.get("nodePort").and_then(Value::as_i64) {
                    Some(np) if np != 0 => {
                        let ok = u16::try_from(np).is_ok_and(|v| ranges.node_ports.contains(&v));
                        if !ok {
                            return Err(invalid(
                                &format!("spec.ports[{i}].nodePort"),
                                json!(np),
                                format!(
                                    "provided port is not in the valid range. The range of valid ports is {}-{}",
                                    ranges.node_ports.start(),
                                    ranges.node_ports.end()
                                ),
                            ));
                        }
                    }
                    _ => {
                        p["nodePort"] = json!(ranges.port_candidate(seed, n * 31 + k));
                        k += 1;
                    }
                }
            }
        }
    }
    Ok(())
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
