//! Service validation, as upstream's `ValidateService` / `ValidateServiceUpdate`.
use std::collections::HashSet;

use serde_json::Value;

use super::field_error::{go_literal, go_quote, FieldError, Path};
use super::meta;
use super::names;
use super::pod::{validate_port_num_or_name, validate_protocol};
use super::util::{arr_of, as_int, get, int_of, opt_str, str_of, validate_labels};

type Errs = Vec<FieldError>;

pub(crate) fn validate_service(obj: &Value, old: Option<&Value>) -> Errs {
    match old {
        None => validate(obj),
        Some(old) => {
            let mut errs = meta::validate_object_meta_update(obj, old, true);
            errs.extend(validate_cluster_ips_update(old, obj));
            errs.extend(validate_ip_families_update(old, obj));
            let (ns, os) = (spec(obj), spec(old));
            if str_of(os, "type") == "LoadBalancer"
                && str_of(ns, "type") == "LoadBalancer"
                && opt_str(os, "loadBalancerClass") != opt_str(ns, "loadBalancerClass")
            {
                errs.push(FieldError::invalid(
                    &Path::new("spec").child("loadBalancerClass"),
                    get(ns, "loadBalancerClass").cloned().unwrap_or(Value::Null),
                    "may not change once set",
                ));
            }
            if needs_health_check(os)
                && needs_health_check(ns)
                && int_of(os, "healthCheckNodePort") != int_of(ns, "healthCheckNodePort")
            {
                errs.push(FieldError::forbidden(
                    &Path::new("spec").child("healthCheckNodePort"),
                    "field is immutable",
                ));
            }
            errs.extend(validate(obj));
            errs
        }
    }
}

fn spec(obj: &Value) -> Option<&Value> {
    get(Some(obj), "spec")
}

fn cluster_ips(spec: Option<&Value>) -> Vec<&str> {
    arr_of(spec, "clusterIPs")
        .iter()
        .map(|v| v.as_str().unwrap_or(""))
        .collect()
}

fn is_headless(spec: Option<&Value>) -> bool {
    let ips = cluster_ips(spec);
    ips.len() == 1 && ips[0] == "None"
}

/// Upstream's `apiservice.ExternallyAccessible`.
pub(crate) fn externally_accessible(spec: Option<&Value>) -> bool {
    match str_of(spec, "type") {
        "LoadBalancer" | "NodePort" => true,
        "ClusterIP" => !arr_of(spec, "externalIPs").is_empty(),
        _ => false,
    }
}

fn needs_health_check(spec: Option<&Value>) -> bool {
    str_of(spec, "type") == "LoadBalancer" && str_of(spec, "externalTrafficPolicy") == "Local"
}

fn string_list(v: &[&str]) -> Value {
    Value::from(v.iter().map(|s| Value::from(*s)).collect::<Vec<_>>())
}

fn validate(obj: &Value) -> Errs {
    let spec_path = Path::new("spec");
    let mut errs = meta::validate_object_meta(obj, true, names::name_is_dns1035_label, true);
    let s = spec(obj);
    let typ = str_of(s, "type");
    let headless = is_headless(s);
    let ports = arr_of(s, "ports");
    if ports.is_empty() && !headless && typ != "ExternalName" {
        errs.push(FieldError::required(&spec_path.child("ports"), ""));
    }
    match typ {
        "LoadBalancer" | "NodePort" if headless => errs.push(FieldError::invalid(
            &spec_path.child("clusterIPs").index(0),
            "None",
            &format!("may not be set to 'None' for {typ} services"),
        )),
        "ExternalName" => {
            if !cluster_ips(s).is_empty() {
                errs.push(FieldError::forbidden(
                    &spec_path.child("clusterIPs"),
                    "may not be set for ExternalName services",
                ));
            }
            if !arr_of(s, "ipFamilies").is_empty() {
                errs.push(FieldError::forbidden(
                    &spec_path.child("ipFamilies"),
                    "may not be set for ExternalName services",
                ));
            }
            if get(s, "ipFamilyPolicy").is_some() {
                errs.push(FieldError::forbidden(
                    &spec_path.child("ipFamilyPolicy"),
                    "may not be set for ExternalName services",
                ));
            }
            let cname = str_of(s, "externalName");
            let cname = cname.strip_suffix('.').unwrap_or(cname);
            if cname.is_empty() {
                errs.push(FieldError::required(&spec_path.child("externalName"), ""));
            } else {
                for m in names::is_dns1123_subdomain(cname) {
                    errs.push(FieldError::invalid(
                        &spec_path.child("externalName"),
                        cname,
                        &m,
                    ));
                }
            }
        }
        _ => {}
    }
    let mut port_names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        errs.extend(validate_service_port(
            port,
            ports.len() > 1,
            &mut port_names,
            &spec_path.child("ports").index(i),
        ));
    }
    if get(s, "selector").is_some() {
        errs.extend(validate_labels(
            get(s, "selector"),
            &spec_path.child("selector"),
        ));
    }
    let affinity = str_of(s, "sessionAffinity");
    match affinity {
        "" => errs.push(FieldError::required(
            &spec_path.child("sessionAffinity"),
            "",
        )),
        "ClientIP" | "None" => {}
        _ => errs.push(FieldError::not_supported(
            &spec_path.child("sessionAffinity"),
            affinity,
            &["ClientIP", "None"],
        )),
    }
    let config_path = spec_path.child("sessionAffinityConfig");
    if affinity == "ClientIP" {
        let config = get(s, "sessionAffinityConfig");
        let client_ip = get(config, "clientIP");
        let timeout = get(client_ip, "timeoutSeconds");
        let when = "when session affinity type is ClientIP";
        if config.is_none() {
            errs.push(FieldError::required(&config_path, when));
        } else if client_ip.is_none() {
            errs.push(FieldError::required(&config_path.child("clientIP"), when));
        } else if let Some(t) = timeout.and_then(as_int) {
            if t <= 0 || t > 86400 {
                errs.push(FieldError::invalid(
                    &config_path.child("clientIP").child("timeoutSeconds"),
                    t,
                    "must be greater than 0 and less than 86400",
                ));
            }
        } else {
            errs.push(FieldError::required(
                &config_path.child("clientIP").child("timeoutSeconds"),
                when,
            ));
        }
    } else if affinity == "None" && get(s, "sessionAffinityConfig").is_some() {
        errs.push(FieldError::forbidden(
            &config_path,
            "must not be set when session affinity is None",
        ));
    }
    errs.extend(validate_cluster_ips_related(s, typ));
    for (i, ip) in arr_of(s, "externalIPs").iter().enumerate() {
        let ip = ip.as_str().unwrap_or("");
        let p = spec_path.child("externalIPs").index(i);
        let msgs = names::is_valid_ip(ip);
        if msgs.is_empty() {
            for m in names::non_special_ip(ip) {
                errs.push(FieldError::invalid(&p, ip, &m));
            }
        } else {
            for m in msgs {
                errs.push(FieldError::invalid(&p, ip, &m));
            }
        }
    }
    match typ {
        "" => errs.push(FieldError::required(&spec_path.child("type"), "")),
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName" => {}
        _ => errs.push(FieldError::not_supported(
            &spec_path.child("type"),
            typ,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }
    if typ == "ClusterIP" {
        for (i, port) in ports.iter().enumerate() {
            if int_of(Some(port), "nodePort").unwrap_or(0) != 0 {
                errs.push(FieldError::forbidden(
                    &spec_path.child("ports").index(i).child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let np = int_of(Some(port), "nodePort").unwrap_or(0);
        if np == 0 {
            continue;
        }
        if !node_ports.insert((str_of(Some(port), "protocol"), np)) {
            errs.push(FieldError::duplicate(
                &spec_path.child("ports").index(i).child("nodePort"),
                np,
            ));
        }
    }
    let mut seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let protocol = str_of(Some(port), "protocol");
        let number = int_of(Some(port), "port").unwrap_or(0);
        if !seen.insert((protocol, number)) {
            errs.push(FieldError::duplicate(
                &spec_path.child("ports").index(i),
                go_literal(format!(
                    "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{number}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                    go_quote(protocol)
                )),
            ));
        }
    }
    let ranges = arr_of(s, "loadBalancerSourceRanges");
    if !ranges.is_empty() {
        let p = spec_path.child("LoadBalancerSourceRanges");
        if typ != "LoadBalancer" {
            errs.push(FieldError::forbidden(
                &p,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            let r = r.as_str().unwrap_or("").trim();
            for m in names::is_valid_cidr(r) {
                errs.push(FieldError::invalid(&p.index(i), r, &m));
            }
        }
    }
    if get(s, "allocateLoadBalancerNodePorts").is_some() && typ != "LoadBalancer" {
        errs.push(FieldError::forbidden(
            &spec_path.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if typ == "LoadBalancer" && get(s, "allocateLoadBalancerNodePorts").is_none() {
        errs.push(FieldError::required(
            &Path::new("allocateLoadBalancerNodePorts"),
            "",
        ));
    }
    if let Some(class) = opt_str(s, "loadBalancerClass") {
        if typ == "LoadBalancer" {
            for m in names::is_qualified_name(class) {
                errs.push(FieldError::invalid(
                    &spec_path.child("loadBalancerClass"),
                    class,
                    &m,
                ));
            }
        } else {
            errs.push(FieldError::forbidden(
                &spec_path.child("loadBalancerClass"),
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
    }
    let etp = str_of(s, "externalTrafficPolicy");
    if !externally_accessible(s) {
        if !etp.is_empty() {
            errs.push(FieldError::invalid(
                &spec_path.child("externalTrafficPolicy"),
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(FieldError::required(
            &spec_path.child("externalTrafficPolicy"),
            "",
        ));
    } else if etp != "Cluster" && etp != "Local" {
        errs.push(FieldError::not_supported(
            &spec_path.child("externalTrafficPolicy"),
            etp,
            &["Cluster", "Local"],
        ));
    }
    let hcnp = int_of(s, "healthCheckNodePort").unwrap_or(0);
    if !needs_health_check(s) {
        if hcnp != 0 {
            errs.push(FieldError::invalid(
                &spec_path.child("healthCheckNodePort"),
                hcnp,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hcnp == 0 {
        errs.push(FieldError::required(
            &spec_path.child("healthCheckNodePort"),
            "",
        ));
    } else {
        for m in names::is_valid_port_num(hcnp) {
            errs.push(FieldError::invalid(
                &spec_path.child("healthCheckNodePort"),
                hcnp,
                &m,
            ));
        }
    }
    match opt_str(s, "internalTrafficPolicy") {
        None => {
            if matches!(typ, "NodePort" | "LoadBalancer" | "ClusterIP") {
                errs.push(FieldError::required(
                    &spec_path.child("internalTrafficPolicy"),
                    "",
                ));
            }
        }
        Some("Cluster" | "Local") => {}
        Some(other) => errs.push(FieldError::not_supported(
            &spec_path.child("internalTrafficPolicy"),
            other,
            &["Cluster", "Local"],
        )),
    }
    if let Some(td) = opt_str(s, "trafficDistribution") {
        if td != "PreferClose" {
            errs.push(FieldError::not_supported(
                &spec_path.child("trafficDistribution"),
                td,
                &["PreferClose"],
            ));
        }
    }
    errs
}

fn validate_service_port(
    port: &Value,
    require_name: bool,
    names_seen: &mut HashSet<String>,
    path: &Path,
) -> Errs {
    let mut errs = Vec::new();
    let p = Some(port);
    let name = str_of(p, "name");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    } else if !name.is_empty() {
        for m in names::is_dns1123_label(name) {
            errs.push(FieldError::invalid(&path.child("name"), name, &m));
        }
        if !names_seen.insert(name.to_string()) {
            errs.push(FieldError::duplicate(&path.child("name"), name));
        }
    }
    let number = int_of(p, "port").unwrap_or(0);
    for m in names::is_valid_port_num(number) {
        errs.push(FieldError::invalid(&path.child("port"), number, &m));
    }
    errs.extend(validate_protocol(
        str_of(p, "protocol"),
        &path.child("protocol"),
    ));
    errs.extend(validate_port_num_or_name(
        get(p, "targetPort"),
        &path.child("targetPort"),
    ));
    if let Some(ap) = opt_str(p, "appProtocol") {
        for m in names::is_qualified_name(ap) {
            errs.push(FieldError::invalid(&path.child("appProtocol"), ap, &m));
        }
    }
    errs
}

fn validate_cluster_ips_related(s: Option<&Value>, typ: &str) -> Errs {
    let mut errs = Vec::new();
    if typ == "ExternalName" {
        return errs;
    }
    let spec_path = Path::new("spec");
    let ips_path = spec_path.child("clusterIPs");
    let fam_path = spec_path.child("ipFamilies");
    let ips = cluster_ips(s);
    let cluster_ip = str_of(s, "clusterIP");
    if !cluster_ip.is_empty() {
        if ips.is_empty() {
            errs.push(FieldError::required(&ips_path, ""));
        } else if ips[0] != cluster_ip {
            errs.push(FieldError::invalid(
                &ips_path,
                string_list(&ips),
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errs.push(FieldError::invalid(
            &ips_path,
            string_list(&ips),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let families: Vec<&str> = arr_of(s, "ipFamilies")
        .iter()
        .map(|v| v.as_str().unwrap_or(""))
        .collect();
    let mut seen = HashSet::new();
    for (i, f) in families.iter().enumerate() {
        if *f != "IPv4" && *f != "IPv6" {
            errs.push(FieldError::not_supported(
                &fam_path.index(i),
                *f,
                &["IPv4", "IPv6"],
            ));
        }
        if !seen.insert(*f) {
            errs.push(FieldError::duplicate(&fam_path.index(i), *f));
        }
    }
    if let Some(p) = opt_str(s, "ipFamilyPolicy") {
        if !["SingleStack", "PreferDualStack", "RequireDualStack"].contains(&p) {
            errs.push(FieldError::not_supported(
                &spec_path.child("ipFamilyPolicy"),
                p,
                &["PreferDualStack", "RequireDualStack", "SingleStack"],
            ));
        }
    }
    let mut invalid = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && *ip == "None" {
            if ips.len() > 1 {
                invalid = true;
                errs.push(FieldError::invalid(
                    &ips_path,
                    string_list(&ips),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        for m in names::is_valid_ip(ip) {
            invalid = true;
            errs.push(FieldError::invalid(&ips_path.index(i), *ip, &m));
        }
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(
            &ips_path,
            string_list(&ips),
            "may only hold up to 2 values",
        ));
    }
    if invalid {
        return errs;
    }
    if ips.len() > 1 {
        let v6: Vec<bool> = ips
            .iter()
            .map(|ip| names::parse_ip_sloppy(ip).is_some_and(|a| a.is_ipv6()))
            .collect();
        let dual = ips.len() == 2 && v6[0] != v6[1];
        if !dual {
            errs.push(FieldError::invalid(
                &ips_path,
                string_list(&ips),
                "may specify no more than one IP for each IP family",
            ));
        }
    }
    if !is_headless(s) {
        for (i, ip) in ips.iter().enumerate() {
            let Some(family) = families.get(i) else { break };
            let is_v6 = names::parse_ip_sloppy(ip).is_some_and(|a| a.is_ipv6());
            if *family == "IPv4" && is_v6 {
                errs.push(FieldError::invalid(
                    &ips_path.index(i),
                    *ip,
                    &format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
            if *family == "IPv6" && !is_v6 {
                errs.push(FieldError::invalid(
                    &ips_path.index(i),
                    *ip,
                    &format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
    errs
}

fn validate_cluster_ips_update(old: &Value, new: &Value) -> Errs {
    let mut errs = Vec::new();
    let (os, ns) = (spec(old), spec(new));
    if str_of(ns, "type") == "ExternalName" || str_of(os, "type") == "ExternalName" {
        return errs;
    }
    if is_headless(os) && is_headless(ns) {
        return errs;
    }
    let (oi, ni) = (cluster_ips(os), cluster_ips(ns));
    let p = Path::new("spec").child("clusterIPs");
    let change = "may not change once set";
    if oi.len() == ni.len() {
        for (i, ip) in oi.iter().enumerate() {
            if *ip != ni[i] {
                errs.push(FieldError::invalid(&p.index(i), string_list(&ni), change));
            }
        }
    } else if oi.len() > ni.len() {
        if ni.is_empty() {
            errs.push(FieldError::invalid(
                &p.index(0),
                string_list(&ni),
                "primary clusterIP can not be unset",
            ));
        }
        if !oi.is_empty() && !ni.is_empty() && ni[0] != oi[0] {
            errs.push(FieldError::invalid(&p.index(0), string_list(&ni), change));
        }
        if ni.len() == 1 && opt_str(ns, "ipFamilyPolicy") != Some("SingleStack") {
            errs.push(FieldError::invalid(
                &Path::new("spec").child("ipFamilyPolicy"),
                get(ns, "ipFamilyPolicy").cloned().unwrap_or(Value::Null),
                "must be set to 'SingleStack' when releasing the secondary clusterIP",
            ));
        }
    } else if !oi.is_empty() && ni[0] != oi[0] {
        errs.push(FieldError::invalid(&p.index(0), string_list(&ni), change));
    }
    errs
}

fn validate_ip_families_update(old: &Value, new: &Value) -> Errs {
    let mut errs = Vec::new();
    let (os, ns) = (spec(old), spec(new));
    if str_of(ns, "type") == "ExternalName" || str_of(os, "type") == "ExternalName" {
        return errs;
    }
    if is_headless(os) != is_headless(ns) || is_headless(ns) {
        return errs;
    }
    let fam = |s| -> Vec<&str> {
        arr_of(s, "ipFamilies")
            .iter()
            .map(|v| v.as_str().unwrap_or(""))
            .collect()
    };
    let (of, nf) = (fam(os), fam(ns));
    let p = Path::new("spec").child("ipFamilies").index(0);
    let change = "may not change once set";
    if of.len() == nf.len() {
        for (i, f) in of.iter().enumerate() {
            if *f != nf[i] {
                errs.push(FieldError::invalid(&p, string_list(&nf), change));
            }
        }
    } else if of.len() > nf.len() {
        if cluster_ips(ns).is_empty() {
            errs.push(FieldError::invalid(
                &p,
                string_list(&nf),
                "primary ipFamily can not be unset",
            ));
        }
        if !nf.is_empty() && nf[0] != of[0] {
            errs.push(FieldError::invalid(
                &p,
                string_list(&cluster_ips(ns)),
                change,
            ));
        }
        if nf.len() == 1 && opt_str(ns, "ipFamilyPolicy") != Some("SingleStack") {
            errs.push(FieldError::invalid(
                &Path::new("spec").child("ipFamilyPolicy"),
                get(ns, "ipFamilyPolicy").cloned().unwrap_or(Value::Null),
                "must be set to 'SingleStack' when releasing the secondary ipFamily",
            ));
        }
    } else if !of.is_empty() && !nf.is_empty() && nf[0] != of[0] {
        errs.push(FieldError::invalid(
            &p,
            string_list(&cluster_ips(ns)),
            change,
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(spec: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    fn base() -> Value {
        json!({"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
               "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"],
               "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]})
    }

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn valid_service_passes() {
        assert!(validate_service(&svc(base()), None).is_empty());
    }

    #[test]
    fn names_ports_and_types() {
        let mut obj = svc(base());
        obj["metadata"]["name"] = json!("1web");
        assert_eq!(
            msgs(&validate_service(&obj, None)),
            vec!["metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]
        );
        let mut s = base();
        s["ports"] = json!([{"port": 0, "protocol": "TCP", "targetPort": 80}, {"port": 81, "protocol": "TCP", "targetPort": "http", "name": "b"}]);
        s["type"] = json!("Weird");
        let errs = validate_service(&svc(s), None);
        assert_eq!(
            msgs(&errs),
            vec![
                "spec.ports[0].name: Required value",
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.type: Unsupported value: \"Weird\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
            ]
        );
        let mut s = base();
        s["ports"] = json!([]);
        assert_eq!(
            msgs(&validate_service(&svc(s), None)),
            vec!["spec.ports: Required value"]
        );
    }

    #[test]
    fn duplicate_ports() {
        let mut s = base();
        s["ports"] = json!([{"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80}, {"name": "b", "port": 80, "protocol": "TCP", "targetPort": 81}]);
        assert_eq!(
            msgs(&validate_service(&svc(s), None)),
            vec!["spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}"]
        );
    }

    #[test]
    fn cluster_ip_immutable() {
        let mut s = base();
        s["clusterIP"] = json!("10.43.0.10");
        s["clusterIPs"] = json!(["10.43.0.10"]);
        let old = svc(s.clone());
        s["clusterIP"] = json!("10.43.0.11");
        s["clusterIPs"] = json!(["10.43.0.11"]);
        assert_eq!(
            msgs(&validate_service(&svc(s), Some(&old))),
            vec!["spec.clusterIPs[0]: Invalid value: []string{\"10.43.0.11\"}: may not change once set"]
        );
    }
}
