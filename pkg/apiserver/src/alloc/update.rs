//! What a Service update does to its allocated fields, as upstream's Service storage does:
//! clusterIP and clusterIPs kept in step (`normalizeClusterIPs`), the fields a new type has
//! no use for dropped when the client left them as they were (`dropTypeDependentFields`),
//! then the cluster IP and node ports the new spec needs (`allocateUpdate`). Which keys
//! are taken and let go follows from `held_keys` of the old and new object
//! (`rest/update_service.rs`). The client's own omissions were filled in before, by
//! defaulting (`patchAllocatedValues`, rkube_api's `service_carry_over`).

use serde_json::{json, Value};

use super::{assign_cluster_ip, assign_node_ports, needs_node_ports, node_ports, service_type};
use super::{ApiError, Ranges};

fn str_at<'a>(svc: &'a Value, field: &str) -> &'a str {
    svc.get("spec")
        .and_then(|s| s.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn cluster_ips(svc: &Value) -> Vec<Value> {
    svc.pointer("/spec/clusterIPs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn spec_mut(svc: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !svc.get("spec").is_some_and(Value::is_object) {
        svc["spec"] = json!({});
    }
    svc["spec"].as_object_mut().expect("spec is an object")
}

fn needs_cluster_ip(svc: &Value) -> bool {
    service_type(svc) != "ExternalName"
}

/// Upstream's `ExternallyAccessible`: the Services externalTrafficPolicy applies to.
fn externally_accessible(svc: &Value) -> bool {
    match service_type(svc) {
        "NodePort" | "LoadBalancer" => true,
        "ClusterIP" => svc
            .pointer("/spec/externalIPs")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty()),
        _ => false,
    }
}

/// A changed clusterIP with clusterIPs left as stored means the client (one that knows only
/// the singular field) changed the IP: clusterIPs follows, and validation then says the
/// IP may not change, on clusterIPs[0] as upstream.
pub fn normalize_cluster_ips(new: &mut Value, old: &Value) {
    let (old_ip, new_ip) = (str_at(old, "clusterIP"), str_at(new, "clusterIP"));
    let (old_ips, new_ips) = (cluster_ips(old), cluster_ips(new));
    if !old_ips.is_empty() && new_ips.is_empty() && old_ip == new_ip {
        spec_mut(new).insert("clusterIPs".into(), json!(old_ips));
        return;
    }
    if old_ip != new_ip && !new_ip.is_empty() && old_ips == new_ips {
        let ip = new_ip.to_string();
        spec_mut(new).insert("clusterIPs".into(), json!([ip]));
    }
}

/// A type change clears what only the old type used, when the client did not change it
/// (else validation says why it may not stay); what was allocated for it is released.
pub fn drop_type_dependent_fields(new: &mut Value, old: &Value) {
    let same = |field: &str, new: &Value| {
        old.get("spec").and_then(|s| s.get(field)) == new.get("spec").and_then(|s| s.get(field))
    };
    if needs_cluster_ip(old) && !needs_cluster_ip(new) {
        let same_ips = same("clusterIP", new) && same("clusterIPs", new);
        let same_families = same("ipFamilies", new);
        let same_policy = same("ipFamilyPolicy", new);
        let spec = spec_mut(new);
        if same_ips {
            spec.remove("clusterIP");
            spec.remove("clusterIPs");
        }
        if same_families {
            spec.remove("ipFamilies");
        }
        if same_policy {
            spec.remove("ipFamilyPolicy");
        }
    }
    // Ports may be added, removed or changed, as long as no node port is new.
    let old_ports = node_ports(old);
    if needs_node_ports(old)
        && !needs_node_ports(new)
        && node_ports(new).iter().all(|n| old_ports.contains(n))
    {
        for p in spec_mut(new)
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(p) = p.as_object_mut() {
                p.remove("nodePort");
            }
        }
    }
    if needs_health_check(old) && !needs_health_check(new) && same("healthCheckNodePort", new) {
        spec_mut(new).remove("healthCheckNodePort");
    }
    if service_type(old) == "LoadBalancer" && service_type(new) != "LoadBalancer" {
        for field in ["allocateLoadBalancerNodePorts", "loadBalancerClass"] {
            if same(field, new) {
                spec_mut(new).remove(field);
            }
        }
    }
    if externally_accessible(old)
        && !externally_accessible(new)
        && same("externalTrafficPolicy", new)
    {
        spec_mut(new).remove("externalTrafficPolicy");
    }
    // The load balancer's status goes with the type, at once.
    if service_type(new) != "LoadBalancer" && new.get("status").is_some() {
        new["status"]["loadBalancer"] = json!({});
    }
}

/// Upstream's `needsHCNodePort`.
pub fn needs_health_check(svc: &Value) -> bool {
    service_type(svc) == "LoadBalancer" && str_at(svc, "externalTrafficPolicy") == "Local"
}

/// Allocates what the updated Service `new` needs and `old` did not have: a cluster IP when
/// leaving ExternalName, node ports for ports without one (`kept` ones, held already, are not
/// range-checked again). Attempt `n` picks other candidates after a collision.
pub fn assign_update(
    new: &mut Value,
    old: &Value,
    ranges: &Ranges,
    seed: u64,
    n: u32,
) -> Result<(), ApiError> {
    if !needs_cluster_ip(old) && needs_cluster_ip(new) {
        assign_cluster_ip(new, ranges, seed, n)?;
    }
    let kept = node_ports(old);
    assign_node_ports(new, ranges, seed, n, &kept)?;
    super::assign_health_check_port(new, ranges, seed, n);
    Ok(())
}

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;
