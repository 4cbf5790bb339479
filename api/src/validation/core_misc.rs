//! The smaller core kinds: Namespace, Node, Endpoints, ServiceAccount, PodTemplate and
//! ReplicationController, as upstream's `pkg/apis/core/validation`.
use std::collections::HashSet;

use serde_json::Value;

use super::field_error::{go_literal, go_quote, FieldError, Path};
use super::meta;
use super::names;
use super::pod::{validate_pod_template_spec, validate_protocol, validate_taint_effect};
use super::util::{arr_of, get, int_of, obj_of, opt_str, str_of, validate_label_name};

type Errs = Vec<FieldError>;

fn with_update(obj: &Value, old: Option<&Value>, kube: bool) -> Errs {
    match old {
        Some(old) => meta::validate_object_meta_update(obj, old, kube),
        None => Vec::new(),
    }
}

pub(crate) fn validate_namespace(obj: &Value, old: Option<&Value>) -> Errs {
    if let Some(old) = old {
        return meta::validate_object_meta_update(obj, old, true);
    }
    let mut errs = meta::validate_object_meta(obj, false, names::name_is_dns_label, true);
    let p = Path::new("spec").child("finalizers");
    for f in arr_of(get(Some(obj), "spec"), "finalizers") {
        let f = f.as_str().unwrap_or("");
        for m in names::is_qualified_name(f) {
            errs.push(FieldError::invalid(&p, f, &m));
        }
        if !f.contains('/') && !["kubernetes", "orphan", "foregroundDeletion"].contains(&f) {
            errs.push(FieldError::invalid(
                &p,
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

pub(crate) fn validate_service_account(obj: &Value, old: Option<&Value>) -> Errs {
    let mut errs = with_update(obj, old, true);
    errs.extend(meta::validate_object_meta(
        obj,
        true,
        names::name_is_dns_subdomain,
        true,
    ));
    errs
}

pub(crate) fn validate_pod_template(obj: &Value, old: Option<&Value>) -> Errs {
    let mut errs = match old {
        Some(old) => meta::validate_object_meta_update(obj, old, true),
        None => meta::validate_object_meta(obj, true, names::name_is_dns_subdomain, true),
    };
    errs.extend(validate_pod_template_spec(
        get(Some(obj), "template"),
        &Path::new("template"),
    ));
    errs
}

pub(crate) fn validate_replication_controller(obj: &Value, old: Option<&Value>) -> Errs {
    let mut errs = match old {
        Some(old) => meta::validate_object_meta_update(obj, old, true),
        None => meta::validate_object_meta(obj, true, names::name_is_dns_subdomain, true),
    };
    let spec = get(Some(obj), "spec");
    let path = Path::new("spec");
    if let Some(v) = int_of(spec, "minReadySeconds").filter(|v| *v < 0) {
        errs.push(FieldError::invalid(
            &path.child("minReadySeconds"),
            v,
            "must be greater than or equal to 0",
        ));
    }
    let selector = obj_of(spec, "selector");
    if selector.is_none_or(|s| s.is_empty()) {
        errs.push(FieldError::required(&path.child("selector"), ""));
    }
    if let Some(v) = int_of(spec, "replicas").filter(|v| *v < 0) {
        errs.push(FieldError::invalid(
            &path.child("replicas"),
            v,
            "must be greater than or equal to 0",
        ));
    }
    let tp = path.child("template");
    match get(spec, "template") {
        None => errs.push(FieldError::required(&tp, "")),
        Some(t) => {
            let labels = get(get(Some(t), "metadata"), "labels");
            if let Some(sel) = selector.filter(|s| !s.is_empty()) {
                let matches = sel.iter().all(|(k, v)| get(labels, k) == Some(v));
                if !matches {
                    errs.push(FieldError::invalid(
                        &tp.child("metadata").child("labels"),
                        go_literal(super::field_error::go_string_map(labels)),
                        "`selector` does not match template `labels`",
                    ));
                }
            }
            errs.extend(validate_pod_template_spec(Some(t), &tp));
            let ts = get(Some(t), "spec");
            let rp = str_of(ts, "restartPolicy");
            if rp != "Always" {
                errs.push(FieldError::not_supported(
                    &tp.child("spec").child("restartPolicy"),
                    rp,
                    &["Always"],
                ));
            }
            if get(ts, "activeDeadlineSeconds").is_some() {
                errs.push(FieldError::forbidden(
                    &tp.child("spec").child("activeDeadlineSeconds"),
                    "activeDeadlineSeconds in ReplicationController is not Supported",
                ));
            }
        }
    }
    errs
}

fn validate_node_taints(taints: &[Value], path: &Path) -> Errs {
    let mut errs = Vec::new();
    let mut unique: HashSet<(&str, &str)> = HashSet::new();
    for (i, t) in taints.iter().enumerate() {
        let p = path.index(i);
        let t = Some(t);
        let key = str_of(t, "key");
        let value = str_of(t, "value");
        let effect = str_of(t, "effect");
        errs.extend(validate_label_name(key, &p.child("key")));
        let msgs = names::is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                &p.child("value"),
                value,
                &msgs.join(";"),
            ));
        }
        errs.extend(validate_taint_effect(effect, false, &p.child("effect")));
        if !unique.insert((effect, key)) {
            let time_added = match opt_str(t, "timeAdded") {
                Some(_) => "(*v1.Time)(0xc000000000)",
                None => "(*v1.Time)(nil)",
            };
            let mut e = FieldError::duplicate(
                &p,
                go_literal(format!(
                    "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:{time_added}}}",
                    go_quote(key),
                    go_quote(value),
                    go_quote(effect)
                )),
            );
            e.detail = "taints must be unique by key and effect pair".to_string();
            errs.push(e);
        }
    }
    errs
}

pub(crate) fn validate_node(obj: &Value, old: Option<&Value>) -> Errs {
    let meta_path = Path::new("metadata");
    let spec = get(Some(obj), "spec");
    let mut errs = Vec::new();
    match old {
        None => {
            errs.extend(meta::validate_object_meta(
                obj,
                false,
                names::name_is_dns_subdomain,
                true,
            ));
            errs.extend(validate_node_taints(
                arr_of(spec, "taints"),
                &meta_path.child("taints"),
            ));
            let cidrs = arr_of(spec, "podCIDRs");
            let p = Path::new("spec").child("podCIDRs");
            for (i, c) in cidrs.iter().enumerate() {
                let c = c.as_str().unwrap_or("");
                for m in names::is_valid_cidr(c) {
                    errs.push(FieldError::invalid(&p.index(i), c, &m));
                }
            }
            let mut seen = HashSet::new();
            for (i, c) in cidrs.iter().enumerate() {
                let c = c.as_str().unwrap_or("");
                if !seen.insert(c) {
                    errs.push(FieldError::duplicate(&p.index(i), c));
                }
            }
        }
        Some(old) => {
            errs.extend(meta::validate_object_meta_update(obj, old, true));
            let os = get(Some(old), "spec");
            let (oc, nc) = (arr_of(os, "podCIDRs"), arr_of(spec, "podCIDRs"));
            if !oc.is_empty() {
                let msg = "node updates may not change podCIDR except from \"\" to valid";
                if oc.len() != nc.len() {
                    errs.push(FieldError::forbidden(
                        &Path::new("spec").child("podCIDRs"),
                        msg,
                    ));
                } else {
                    for (o, n) in oc.iter().zip(nc) {
                        if o != n {
                            errs.push(FieldError::forbidden(
                                &Path::new("spec").child("podCIDRs"),
                                msg,
                            ));
                        }
                    }
                }
            }
            let (op, np) = (str_of(os, "providerID"), str_of(spec, "providerID"));
            if !op.is_empty() && op != np {
                errs.push(FieldError::forbidden(
                    &Path::new("spec").child("providerID"),
                    "node updates may not change providerID except from \"\" to valid",
                ));
            }
            errs.extend(validate_node_taints(
                arr_of(spec, "taints"),
                &meta_path.child("taints"),
            ));
            if str_of(spec, "externalID") != str_of(os, "externalID") {
                errs.push(FieldError::forbidden(
                    &Path::new("spec").child("externalID"),
                    "may not be updated",
                ));
            }
        }
    }
    errs
}

pub(crate) fn validate_endpoints(obj: &Value, old: Option<&Value>) -> Errs {
    let mut errs = with_update(obj, old, true);
    errs.extend(meta::validate_object_meta(
        obj,
        true,
        names::name_is_dns_subdomain,
        true,
    ));
    let path = Path::new("subsets");
    for (i, ss) in arr_of(Some(obj), "subsets").iter().enumerate() {
        let p = path.index(i);
        let ss = Some(ss);
        let (addrs, not_ready) = (arr_of(ss, "addresses"), arr_of(ss, "notReadyAddresses"));
        if addrs.is_empty() && not_ready.is_empty() {
            errs.push(FieldError::required(
                &p,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (field, list) in [("addresses", addrs), ("notReadyAddresses", not_ready)] {
            for (j, a) in list.iter().enumerate() {
                errs.extend(validate_endpoint_address(a, &p.child(field).index(j)));
            }
        }
        let ports = arr_of(ss, "ports");
        for (j, port) in ports.iter().enumerate() {
            let pp = p.child("ports").index(j);
            let port = Some(port);
            let name = str_of(port, "name");
            if ports.len() > 1 && name.is_empty() {
                errs.push(FieldError::required(&pp.child("name"), ""));
            } else if !name.is_empty() {
                for m in names::is_dns1123_label(name) {
                    errs.push(FieldError::invalid(&pp.child("name"), name, &m));
                }
            }
            let n = int_of(port, "port").unwrap_or(0);
            for m in names::is_valid_port_num(n) {
                errs.push(FieldError::invalid(&pp.child("port"), n, &m));
            }
            errs.extend(validate_protocol(
                str_of(port, "protocol"),
                &pp.child("protocol"),
            ));
            if let Some(ap) = opt_str(port, "appProtocol") {
                for m in names::is_qualified_name(ap) {
                    errs.push(FieldError::invalid(&pp.child("appProtocol"), ap, &m));
                }
            }
        }
    }
    errs
}

fn validate_endpoint_address(a: &Value, path: &Path) -> Errs {
    let mut errs = Vec::new();
    let a = Some(a);
    let ip = str_of(a, "ip");
    for m in names::is_valid_ip(ip) {
        errs.push(FieldError::invalid(&path.child("ip"), ip, &m));
    }
    let hostname = str_of(a, "hostname");
    if !hostname.is_empty() {
        for m in names::is_dns1123_label(hostname) {
            errs.push(FieldError::invalid(&path.child("hostname"), hostname, &m));
        }
    }
    if let Some(node) = opt_str(a, "nodeName") {
        for m in names::name_is_dns_subdomain(node, false) {
            errs.push(FieldError::invalid(&path.child("nodeName"), node, &m));
        }
    }
    for m in names::non_special_ip(ip) {
        errs.push(FieldError::invalid(&path.child("ip"), ip, &m));
    }
    errs
}

/// Generic validation for kinds without their own rules.
pub(crate) fn validate_generic(obj: &Value, old: Option<&Value>, namespaced: bool) -> Errs {
    match old {
        Some(old) => meta::validate_object_meta_update(obj, old, false),
        None => meta::validate_generic_meta(obj, namespaced),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn namespace_names() {
        assert!(validate_namespace(&json!({"metadata": {"name": "dev"}}), None).is_empty());
        assert_eq!(
            msgs(&validate_namespace(
                &json!({"metadata": {"name": "a.b"}}),
                None
            )),
            vec!["metadata.name: Invalid value: \"a.b\": must not contain dots"]
        );
    }

    #[test]
    fn endpoints_addresses() {
        let ep = json!({"metadata": {"name": "e", "namespace": "d"}, "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 80, "protocol": "TCP"}]}, {}]});
        assert_eq!(
            msgs(&validate_endpoints(&ep, None)),
            vec![
                "subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
                "subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`",
            ]
        );
    }

    #[test]
    fn node_taints() {
        let node = json!({"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoSchedule"}, {"key": "j", "effect": "Bad"}]}});
        assert_eq!(
            msgs(&validate_node(&node, None)),
            vec![
                "metadata.taints[1]: Duplicate value: core.Taint{Key:\"k\", Value:\"\", Effect:\"NoSchedule\", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair",
                "metadata.taints[2].effect: Unsupported value: \"Bad\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
            ]
        );
    }
}
