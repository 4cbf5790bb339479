//! Lease (coordination.k8s.io), EndpointSlice (discovery.k8s.io) and Event (core and
//! events.k8s.io), as upstream's validation for those groups.
use std::collections::HashSet;

use serde_json::Value;

use super::field_error::{go_literal, go_quote, FieldError, Path};
use super::meta::{self, FIELD_IMMUTABLE};
use super::names;
use super::util::{
    arr_of, as_int, get, go_time, int_of, opt_str, semantic_eq, str_of, validate_labels,
};

type Errs = Vec<FieldError>;

pub(crate) fn validate_lease(obj: &Value, old: Option<&Value>) -> Errs {
    let mut errs = match old {
        Some(old) => meta::validate_object_meta_update(obj, old, false),
        None => meta::validate_object_meta(obj, true, names::name_is_dns_subdomain, false),
    };
    let spec = get(Some(obj), "spec");
    let path = Path::new("spec");
    if let Some(d) = int_of(spec, "leaseDurationSeconds").filter(|d| *d <= 0) {
        errs.push(FieldError::invalid(
            &path.child("leaseDurationSeconds"),
            d,
            "must be greater than 0",
        ));
    }
    if let Some(t) = int_of(spec, "leaseTransitions").filter(|t| *t < 0) {
        errs.push(FieldError::invalid(
            &path.child("leaseTransitions"),
            t,
            "must be greater than or equal to 0",
        ));
    }
    let strategy = opt_str(spec, "strategy");
    if let Some(s) = strategy {
        let sp = path.child("strategy").child("strategy");
        if !s.contains('/') {
            if s != "OldestEmulationVersion" {
                errs.push(FieldError::not_supported(
                    &sp,
                    s,
                    &["OldestEmulationVersion"],
                ));
            }
        } else {
            for m in names::is_qualified_name(s) {
                errs.push(FieldError::invalid(&sp, s, &m));
            }
        }
    }
    if opt_str(spec, "preferredHolder").is_some_and(|h| !h.is_empty())
        && strategy.is_none_or(str::is_empty)
    {
        errs.push(FieldError::forbidden(
            &path.child("preferredHolder"),
            "may only be specified if `strategy` is defined",
        ));
    }
    errs
}

pub(crate) fn validate_endpoint_slice(obj: &Value, old: Option<&Value>) -> Errs {
    let mut errs = Vec::new();
    let mut address_types = vec!["FQDN", "IPv4", "IPv6"];
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(obj, old, true));
        address_types = vec!["FQDN", "IP", "IPv4", "IPv6"];
    } else {
        errs.extend(meta::validate_object_meta(
            obj,
            true,
            names::name_is_dns_subdomain,
            true,
        ));
    }
    let o = Some(obj);
    let address_type = str_of(o, "addressType");
    if address_type.is_empty() {
        errs.push(FieldError::required(&Path::new("addressType"), ""));
    } else if !address_types.contains(&address_type) {
        errs.push(FieldError::not_supported(
            &Path::new("addressType"),
            address_type,
            &address_types,
        ));
    }
    let endpoints = arr_of(o, "endpoints");
    let ep_path = Path::new("endpoints");
    if endpoints.len() > 1000 {
        errs.push(FieldError::too_many(&ep_path, endpoints.len(), 1000));
    } else {
        for (i, ep) in endpoints.iter().enumerate() {
            let p = ep_path.index(i);
            let ap = p.child("addresses");
            let addrs = arr_of(Some(ep), "addresses");
            if addrs.is_empty() {
                errs.push(FieldError::required(&ap, "must contain at least 1 address"));
            } else if addrs.len() > 100 {
                errs.push(FieldError::too_many(&ap, addrs.len(), 100));
            }
            for (j, a) in addrs.iter().enumerate() {
                let a = a.as_str().unwrap_or("");
                let aip = ap.index(j);
                match address_type {
                    "IPv4" | "IPv6" | "IP" => {
                        let msgs = names::is_valid_ip(a);
                        if !msgs.is_empty() {
                            for m in msgs {
                                errs.push(FieldError::invalid(&aip, a, &m));
                            }
                            continue;
                        }
                        let v6 = names::parse_ip_sloppy(a).is_some_and(|ip| ip.is_ipv6());
                        if address_type == "IPv4" && v6 {
                            errs.push(FieldError::invalid(&aip, a, "must be an IPv4 address"));
                        }
                        if address_type == "IPv6" && !v6 {
                            errs.push(FieldError::invalid(&aip, a, "must be an IPv6 address"));
                        }
                        if address_type != "IP" {
                            for m in names::non_special_ip(a) {
                                errs.push(FieldError::invalid(&aip, a, &m));
                            }
                        }
                    }
                    "FQDN" => errs.extend(validate_fqdn(a, &aip)),
                    _ => {}
                }
            }
            let tp = p.child("topology");
            let topology = get(Some(ep), "deprecatedTopology");
            let n = topology.and_then(Value::as_object).map_or(0, |m| m.len());
            if n > 16 {
                errs.push(FieldError::too_many(&tp, n, 16));
            }
            errs.extend(validate_labels(topology, &tp));
            if let Some(h) = opt_str(Some(ep), "hostname") {
                for m in names::is_dns1123_label(h) {
                    errs.push(FieldError::invalid(&p.child("hostname"), h, &m));
                }
            }
        }
    }
    let ports = arr_of(o, "ports");
    let pp = Path::new("ports");
    if ports.len() > 100 {
        errs.push(FieldError::too_many(&pp, ports.len(), 100));
    } else {
        let mut seen = HashSet::new();
        for (i, port) in ports.iter().enumerate() {
            let p = pp.index(i);
            let port = Some(port);
            let name = str_of(port, "name");
            if !name.is_empty() {
                for m in names::is_dns1123_label(name) {
                    errs.push(FieldError::invalid(&p.child("name"), name, &m));
                }
            }
            if !seen.insert(name) {
                errs.push(FieldError::duplicate(&p.child("name"), name));
            }
            match opt_str(port, "protocol") {
                None => errs.push(FieldError::required(&p.child("protocol"), "")),
                Some("TCP" | "UDP" | "SCTP") => {}
                Some(other) => errs.push(FieldError::not_supported(
                    &p.child("protocol"),
                    other,
                    &["SCTP", "TCP", "UDP"],
                )),
            }
            if let Some(ap) = opt_str(port, "appProtocol") {
                for m in names::is_qualified_name(ap) {
                    errs.push(FieldError::invalid(&p.child("appProtocol"), ap, &m));
                }
            }
        }
    }
    if let Some(old) = old {
        let oa = str_of(Some(old), "addressType");
        if oa != address_type {
            errs.push(FieldError::invalid(
                &Path::new("addressType"),
                address_type,
                FIELD_IMMUTABLE,
            ));
        }
    }
    errs
}

/// Upstream's `IsFullyQualifiedDomainName`.
fn validate_fqdn(name: &str, path: &Path) -> Errs {
    if name.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let msgs = names::is_dns1123_subdomain(name);
    if !msgs.is_empty() {
        return vec![FieldError::invalid(path, name, &msgs.join(","))];
    }
    if name.split('.').count() < 2 {
        return vec![FieldError::invalid(
            path,
            name,
            "should be a domain with at least two segments separated by dots",
        )];
    }
    for label in name.split('.') {
        let msgs = names::is_dns1123_label(label);
        if !msgs.is_empty() {
            return vec![FieldError::invalid(path, label, &msgs.join(","))];
        }
    }
    vec![]
}

/// The JSON names of an Event's fields in the served version (core/v1 or events.k8s.io/v1).
struct EventFields {
    involved_object: &'static str,
    message: &'static str,
    source: &'static str,
    first_timestamp: &'static str,
    last_timestamp: &'static str,
    count: &'static str,
    reporting_controller: &'static str,
}

const CORE_EVENT: EventFields = EventFields {
    involved_object: "involvedObject",
    message: "message",
    source: "source",
    first_timestamp: "firstTimestamp",
    last_timestamp: "lastTimestamp",
    count: "count",
    reporting_controller: "reportingComponent",
};

const V1_EVENT: EventFields = EventFields {
    involved_object: "regarding",
    message: "note",
    source: "deprecatedSource",
    first_timestamp: "deprecatedFirstTimestamp",
    last_timestamp: "deprecatedLastTimestamp",
    count: "deprecatedCount",
    reporting_controller: "reportingController",
};

fn present_time(v: Option<&Value>, key: &str) -> bool {
    opt_str(v, key).is_some_and(|s| !s.is_empty())
}

/// Upstream's `legacyValidateEvent` (paths use the internal field names, as upstream).
fn legacy_validate_event(obj: &Value, f: &EventFields) -> Errs {
    let mut errs = Vec::new();
    let o = Some(obj);
    let namespace = str_of(get(o, "metadata"), "namespace");
    let involved_ns = str_of(get(o, f.involved_object), "namespace");
    let ns_path = Path::new("involvedObject").child("namespace");
    let mismatch = "does not match event.namespace";
    if !present_time(o, "eventTime") {
        if involved_ns.is_empty() {
            if !namespace.is_empty() && namespace != "default" {
                errs.push(FieldError::invalid(&ns_path, involved_ns, mismatch));
            }
        } else if namespace != involved_ns {
            errs.push(FieldError::invalid(&ns_path, involved_ns, mismatch));
        }
    } else {
        if involved_ns.is_empty() && namespace != "default" && namespace != "kube-system" {
            errs.push(FieldError::invalid(&ns_path, involved_ns, mismatch));
        }
        let rc = str_of(o, f.reporting_controller);
        if rc.is_empty() {
            errs.push(FieldError::required(&Path::new("reportingController"), ""));
        }
        for m in names::is_qualified_name(rc) {
            errs.push(FieldError::invalid(
                &Path::new("reportingController"),
                rc,
                &m,
            ));
        }
        let limits = [
            ("reportingInstance", "reportingInstance", 128),
            ("action", "action", 128),
            ("reason", "reason", 128),
        ];
        for (json, internal, limit) in limits {
            let v = str_of(o, json);
            if v.is_empty() {
                errs.push(FieldError::required(&Path::new(internal), ""));
            }
            if v.len() > limit {
                errs.push(FieldError::invalid(
                    &Path::new(internal),
                    "",
                    &format!("can have at most {limit} characters"),
                ));
            }
        }
        if str_of(o, f.message).len() > 1024 {
            errs.push(FieldError::invalid(
                &Path::new("message"),
                "",
                "can have at most 1024 characters",
            ));
        }
    }
    for m in names::is_dns1123_subdomain(namespace) {
        errs.push(FieldError::invalid(&Path::new("namespace"), namespace, &m));
    }
    errs
}

/// A core/v1 Event: legacy validation, then the generic name checks every object gets.
pub(crate) fn validate_core_event(obj: &Value, old: Option<&Value>, namespaced: bool) -> Errs {
    let errs = legacy_validate_event(obj, &CORE_EVENT);
    if !errs.is_empty() {
        return errs;
    }
    match old {
        Some(old) => meta::validate_object_meta_update(obj, old, false),
        None => meta::validate_generic_meta(obj, namespaced),
    }
}

fn validate_series(obj: &Value) -> Errs {
    let mut errs = Vec::new();
    if let Some(series) = get(Some(obj), "series") {
        if int_of(Some(series), "count").unwrap_or(0) < 2 {
            errs.push(FieldError::invalid(
                &Path::new("series.count"),
                "",
                "should be at least 2",
            ));
        }
        if !present_time(Some(series), "lastObservedTime") {
            errs.push(FieldError::required(
                &Path::new("series.lastObservedTime"),
                "",
            ));
        }
    }
    errs
}

fn render_object_reference(v: Option<&Value>) -> Value {
    if v.is_none() {
        return Value::Null;
    }
    go_literal(format!(
        "core.ObjectReference{{Kind:{}, Namespace:{}, Name:{}, UID:{}, APIVersion:{}, ResourceVersion:{}, FieldPath:{}}}",
        go_quote(str_of(v, "kind")),
        go_quote(str_of(v, "namespace")),
        go_quote(str_of(v, "name")),
        go_quote(str_of(v, "uid")),
        go_quote(str_of(v, "apiVersion")),
        go_quote(str_of(v, "resourceVersion")),
        go_quote(str_of(v, "fieldPath"))
    ))
}

/// An events.k8s.io/v1 Event (strict validation on create, immutable fields on update).
pub(crate) fn validate_v1_event(obj: &Value, old: Option<&Value>) -> Errs {
    let f = &V1_EVENT;
    let o = Some(obj);
    let mut errs = legacy_validate_event(obj, f);
    match old {
        None => {
            errs.extend(meta::validate_object_meta(
                obj,
                true,
                names::name_is_dns_subdomain,
                true,
            ));
            errs.extend(validate_series(obj));
            if !present_time(o, "eventTime") {
                errs.push(FieldError::required(&Path::new("eventTime"), ""));
            }
            let typ = str_of(o, "type");
            if typ != "Normal" && typ != "Warning" {
                errs.push(FieldError::invalid(
                    &Path::new("type"),
                    "",
                    &format!("has invalid value: {typ}"),
                ));
            }
            if present_time(o, f.first_timestamp) {
                errs.push(FieldError::invalid(
                    &Path::new("firstTimestamp"),
                    "",
                    "needs to be unset",
                ));
            }
            if present_time(o, f.last_timestamp) {
                errs.push(FieldError::invalid(
                    &Path::new("lastTimestamp"),
                    "",
                    "needs to be unset",
                ));
            }
            if int_of(o, f.count).unwrap_or(0) != 0 {
                errs.push(FieldError::invalid(
                    &Path::new("count"),
                    "",
                    "needs to be unset",
                ));
            }
            let src = get(o, f.source);
            if !str_of(src, "component").is_empty() || !str_of(src, "host").is_empty() {
                errs.push(FieldError::invalid(
                    &Path::new("source"),
                    "",
                    "needs to be unset",
                ));
            }
        }
        Some(old) => {
            let old_o = Some(old);
            errs.extend(meta::validate_object_meta_update(obj, old, true));
            if !semantic_eq(get(o, "series"), get(old_o, "series")) {
                errs.extend(validate_series(obj));
            }
            let immutable = |errs: &mut Errs,
                             path: &str,
                             json: &str,
                             render: &dyn Fn(Option<&Value>) -> Value| {
                let (n, p) = (get(o, json), get(old_o, json));
                if !semantic_eq(n, p) {
                    errs.push(FieldError::invalid(
                        &Path::new(path),
                        render(n),
                        FIELD_IMMUTABLE,
                    ));
                }
            };
            let string = |v: Option<&Value>| Value::from(v.and_then(Value::as_str).unwrap_or(""));
            let time = |v: Option<&Value>| go_literal(go_time(v.and_then(Value::as_str)));
            let int = |v: Option<&Value>| Value::from(v.and_then(as_int).unwrap_or(0));
            let source = |v: Option<&Value>| {
                go_literal(format!(
                    "core.EventSource{{Component:{}, Host:{}}}",
                    go_quote(str_of(v, "component")),
                    go_quote(str_of(v, "host"))
                ))
            };
            immutable(
                &mut errs,
                "involvedObject",
                f.involved_object,
                &render_object_reference,
            );
            immutable(&mut errs, "reason", "reason", &string);
            immutable(&mut errs, "message", f.message, &string);
            immutable(&mut errs, "source", f.source, &source);
            immutable(&mut errs, "firstTimestamp", f.first_timestamp, &time);
            immutable(&mut errs, "lastTimestamp", f.last_timestamp, &time);
            immutable(&mut errs, "count", f.count, &int);
            immutable(&mut errs, "reason", "reason", &string);
            immutable(&mut errs, "type", "type", &string);
            immutable(&mut errs, "eventTime", "eventTime", &time);
            immutable(&mut errs, "action", "action", &string);
            immutable(&mut errs, "related", "related", &render_object_reference);
            immutable(
                &mut errs,
                "reportingController",
                f.reporting_controller,
                &string,
            );
            immutable(&mut errs, "reportingInstance", "reportingInstance", &string);
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn lease_duration() {
        let l = json!({"metadata": {"name": "l", "namespace": "kube-node-lease"}, "spec": {"leaseDurationSeconds": 0}});
        assert_eq!(
            msgs(&validate_lease(&l, None)),
            vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
        );
    }

    #[test]
    fn endpoint_slices() {
        let es = json!({"metadata": {"name": "s", "namespace": "d"}, "endpoints": [{"addresses": []}], "ports": [{"name": "", "protocol": "TCP"}]});
        assert_eq!(
            msgs(&validate_endpoint_slice(&es, None)),
            vec![
                "addressType: Required value",
                "endpoints[0].addresses: Required value: must contain at least 1 address"
            ]
        );
        let old = json!({"metadata": {"name": "s", "namespace": "d"}, "addressType": "IPv4"});
        let new = json!({"metadata": {"name": "s", "namespace": "d"}, "addressType": "IPv6"});
        assert_eq!(
            msgs(&validate_endpoint_slice(&new, Some(&old))),
            vec!["addressType: Invalid value: \"IPv6\": field is immutable"]
        );
    }

    #[test]
    fn core_events() {
        let ev = json!({"metadata": {"name": "e.1", "namespace": "default"}, "involvedObject": {"kind": "Pod", "namespace": "other"}});
        assert_eq!(
            msgs(&validate_core_event(&ev, None, true)),
            vec!["involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"]
        );
        let ok = json!({"metadata": {"name": "e.1", "namespace": "default"}, "involvedObject": {"kind": "Pod", "namespace": "default"}});
        assert!(validate_core_event(&ok, None, true).is_empty());
    }
}
