//! Service, Secret, Namespace, Endpoints, EndpointSlice and Node defaults.
use serde_json::{Map, Value};

use super::pod::list_mut;
use super::{b64, canonical_quantities, ensure_object, is_zero, set_if_absent, set_if_zero};

fn str_field<'a>(m: &'a Map<String, Value>, key: &str) -> &'a str {
    m.get(key).and_then(Value::as_str).unwrap_or("")
}

fn strings(m: &Map<String, Value>, key: &str) -> Vec<String> {
    m.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `SetDefaults_Service`, the strategy's clusterIP/clusterIPs normalization and the IP-family
/// fields kube-apiserver's allocator fills (single-stack IPv4 cluster).
pub(crate) fn service(obj: &mut Map<String, Value>) {
    let spec = ensure_object(obj, "spec");
    set_if_zero(spec, "sessionAffinity", Value::from("None"));
    match str_field(spec, "sessionAffinity") {
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    serde_json::json!({"clientIP": {"timeoutSeconds": 10800}}),
                );
            }
        }
        _ => {}
    }
    set_if_zero(spec, "type", Value::from("ClusterIP"));
    for p in list_mut(spec, "ports") {
        set_if_zero(p, "protocol", Value::from("TCP"));
        if is_zero(p.get("targetPort")) {
            let port = p.get("port").cloned().unwrap_or(Value::from(0));
            p.insert("targetPort".into(), port);
        }
    }
    let typ = str_field(spec, "type").to_string();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let externally_accessible =
        typ == "LoadBalancer" || typ == "NodePort" || (typ == "ClusterIP" && has_external_ips);
    if externally_accessible {
        set_if_zero(spec, "externalTrafficPolicy", Value::from("Cluster"));
    }
    if matches!(typ.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
        set_if_absent(spec, "internalTrafficPolicy", Value::from("Cluster"));
    }
    if typ == "LoadBalancer" {
        set_if_absent(spec, "allocateLoadBalancerNodePorts", Value::Bool(true));
    }
    // NormalizeClusterIPs: clusterIP and clusterIPs[0] agree.
    let cluster_ip = str_field(spec, "clusterIP").to_string();
    let ips = strings(spec, "clusterIPs");
    if ips.is_empty() && !cluster_ip.is_empty() {
        spec.insert(
            "clusterIPs".into(),
            Value::from(vec![Value::from(cluster_ip.clone())]),
        );
    } else if cluster_ip.is_empty() && !ips.is_empty() {
        spec.insert("clusterIP".into(), Value::from(ips[0].clone()));
    }
    if typ != "ExternalName" {
        let ips = strings(spec, "clusterIPs");
        let headless = ips.len() == 1 && ips[0] == "None";
        let has_selector = spec
            .get("selector")
            .and_then(Value::as_object)
            .is_some_and(|s| !s.is_empty());
        let families = strings(spec, "ipFamilies");
        if families.is_empty() {
            let mut derived: Vec<Value> = ips
                .iter()
                .filter(|ip| *ip != "None")
                .map(|ip| Value::from(if ip.contains(':') { "IPv6" } else { "IPv4" }))
                .collect();
            if derived.is_empty() {
                derived.push(Value::from("IPv4"));
            }
            spec.insert("ipFamilies".into(), Value::from(derived));
        }
        let policy = if (headless && !has_selector) || strings(spec, "ipFamilies").len() == 2 {
            "RequireDualStack"
        } else {
            "SingleStack"
        };
        set_if_absent(spec, "ipFamilyPolicy", Value::from(policy));
    }
    let is_lb = typ == "LoadBalancer";
    let status = ensure_object(obj, "status");
    let lb = ensure_object(status, "loadBalancer");
    if is_lb {
        for ing in list_mut(lb, "ingress") {
            if !is_zero(ing.get("ip")) {
                set_if_absent(ing, "ipMode", Value::from("VIP"));
            }
        }
    }
}

fn needs_node_port(spec: &Map<String, Value>) -> bool {
    match str_field(spec, "type") {
        "NodePort" => true,
        "LoadBalancer" => {
            spec.get("allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                != Some(false)
        }
        _ => false,
    }
}

/// The Service storage's `patchAllocatedValues` on update: allocated values the request
/// omitted are kept.
pub(crate) fn service_carry_over(obj: &mut Value, old: &Value) {
    let Some(os) = old.get("spec").and_then(Value::as_object) else {
        return;
    };
    let Some(ns) = obj.as_object_mut().map(|m| ensure_object(m, "spec")) else {
        return;
    };
    let needs_cluster_ip = |s: &Map<String, Value>| str_field(s, "type") != "ExternalName";
    // The type may be defaulted only later; an absent type is ClusterIP.
    if needs_cluster_ip(os) && needs_cluster_ip(ns) {
        if is_zero(ns.get("clusterIP")) && !is_zero(os.get("clusterIP")) {
            ns.insert("clusterIP".into(), os["clusterIP"].clone());
        }
        if strings(ns, "clusterIPs").is_empty() && !strings(os, "clusterIPs").is_empty() {
            ns.insert("clusterIPs".into(), os["clusterIPs"].clone());
        }
        if strings(ns, "ipFamilies").is_empty() && !strings(os, "ipFamilies").is_empty() {
            ns.insert("ipFamilies".into(), os["ipFamilies"].clone());
        }
        if ns.get("ipFamilyPolicy").is_none_or(Value::is_null) {
            if let Some(p) = os.get("ipFamilyPolicy").filter(|p| !p.is_null()) {
                ns.insert("ipFamilyPolicy".into(), p.clone());
            }
        }
    }
    if needs_node_port(os) && needs_node_port(ns) {
        let used = |s: &Map<String, Value>| -> Vec<i64> {
            s.get("ports")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
                        .filter(|n| *n != 0)
                        .collect()
                })
                .unwrap_or_default()
        };
        let old_used = used(os);
        let new_used = used(ns);
        let old_ports: Vec<(String, i64)> = os
            .get("ports")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|p| {
                        let name = p
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        (name, p.get("nodePort").and_then(Value::as_i64).unwrap_or(0))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for p in list_mut(ns, "ports") {
            if is_zero(p.get("nodePort")) {
                let name = str_field(p, "name");
                if let Some((_, np)) = old_ports.iter().rev().find(|(n, _)| n == name) {
                    let in_use = old_used.contains(np) && new_used.contains(np);
                    if *np != 0 && !in_use {
                        p.insert("nodePort".into(), Value::from(*np));
                    }
                }
            }
        }
    }
    let needs_hc = |s: &Map<String, Value>| {
        str_field(s, "type") == "LoadBalancer" && str_field(s, "externalTrafficPolicy") == "Local"
    };
    if needs_hc(os) && needs_hc(ns) && is_zero(ns.get("healthCheckNodePort")) {
        if let Some(v) = os.get("healthCheckNodePort") {
            ns.insert("healthCheckNodePort".into(), v.clone());
        }
    }
}

/// `SetDefaults_Secret` and the v1 conversion of `stringData` into `data`.
pub(crate) fn secret(obj: &mut Map<String, Value>) {
    if let Some(Value::Object(string_data)) = obj.remove("stringData") {
        let data = ensure_object(obj, "data");
        for (k, v) in string_data {
            data.insert(k, Value::from(b64(v.as_str().unwrap_or(""))));
        }
    }
    set_if_zero(obj, "type", Value::from("Opaque"));
}

/// `SetDefaults_Namespace` (the `kubernetes.io/metadata.name` label) and `SetDefaults_NamespaceStatus`.
pub(crate) fn namespace(obj: &mut Map<String, Value>) {
    let meta = ensure_object(obj, "metadata");
    let name = str_field(meta, "name").to_string();
    if !name.is_empty() {
        ensure_object(meta, "labels")
            .insert("kubernetes.io/metadata.name".into(), Value::from(name));
    }
    set_if_zero(ensure_object(obj, "status"), "phase", Value::from("Active"));
}

/// `SetDefaults_Endpoints`.
pub(crate) fn endpoints(obj: &mut Map<String, Value>) {
    for ss in list_mut(obj, "subsets") {
        for p in list_mut(ss, "ports") {
            set_if_zero(p, "protocol", Value::from("TCP"));
        }
    }
}

/// discovery/v1 `SetDefaults_EndpointPort`.
pub(crate) fn endpoint_slice(obj: &mut Map<String, Value>) {
    for p in list_mut(obj, "ports") {
        set_if_absent(p, "name", Value::from(""));
        set_if_absent(p, "protocol", Value::from("TCP"));
    }
}

/// `SetDefaults_NodeStatus` (allocatable from capacity) and canonical quantities.
pub(crate) fn node(obj: &mut Map<String, Value>) {
    let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) else {
        return;
    };
    for field in ["capacity", "allocatable"] {
        if let Some(Value::Object(list)) = status.get_mut(field) {
            canonical_quantities(list, true);
        }
    }
    if status.get("allocatable").is_none_or(Value::is_null) {
        if let Some(cap) = status.get("capacity").filter(|c| c.is_object()).cloned() {
            status.insert("allocatable".into(), cap);
        }
    }
}
