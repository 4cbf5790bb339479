//! The pod's /etc/hosts and /etc/resolv.conf, rendered as the kubelet does.

use k8s_openapi::api::core::v1::Pod;

/// /etc/hosts: the kubelet's header, the pod's own name (with its subdomain FQDN when it has one)
/// and hostAliases. `ip` is None before the network is attached.
pub fn hosts_file(pod: &Pod, ip: Option<&str>, cluster_domain: &str) -> String {
    let mut out = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    let spec = pod.spec.as_ref();
    if let Some(ip) = ip {
        let host = hostname(pod);
        match spec
            .and_then(|s| s.subdomain.as_deref())
            .filter(|s| !s.is_empty())
        {
            Some(sub) => {
                let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
                out.push_str(&format!(
                    "{ip}\t{host}.{sub}.{ns}.svc.{cluster_domain}\t{host}\n"
                ));
            }
            None => out.push_str(&format!("{ip}\t{host}\n")),
        }
    }
    let aliases = spec.and_then(|s| s.host_aliases.as_ref());
    if let Some(aliases) = aliases.filter(|a| !a.is_empty()) {
        out.push_str("\n# Entries added by HostAliases.\n");
        for a in aliases {
            let names = a.hostnames.clone().unwrap_or_default().join("\t");
            out.push_str(&format!("{}\t{names}\n", a.ip));
        }
    }
    out
}

/// spec.hostname, else the pod name (truncated to 63 characters as upstream).
pub fn hostname(pod: &Pod) -> String {
    let h = pod
        .spec
        .as_ref()
        .and_then(|s| s.hostname.clone())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| pod.metadata.name.clone().unwrap_or_default());
    let mut h: String = h.chars().take(63).collect();
    while h.ends_with(['-', '.']) {
        h.pop();
    }
    h
}

/// resolv.conf per dnsPolicy: ClusterFirst (default; Default for hostNetwork pods unless
/// ClusterFirstWithHostNet), Default (the host's), None (dnsConfig only); dnsConfig merges in.
pub fn resolv_conf(
    pod: &Pod,
    cluster_dns: &str,
    cluster_domain: &str,
    host_resolv: &str,
) -> String {
    let spec = pod.spec.as_ref();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let policy = spec
        .and_then(|s| s.dns_policy.as_deref())
        .unwrap_or("ClusterFirst");
    let (mut servers, mut searches, mut options): (Vec<String>, Vec<String>, Vec<String>) =
        match policy {
            "None" => (vec![], vec![], vec![]),
            "ClusterFirst" if host_network => parse_host(host_resolv),
            "Default" => parse_host(host_resolv),
            _ => {
                let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
                let (_, host_search, _) = parse_host(host_resolv);
                let mut search = vec![
                    format!("{ns}.svc.{cluster_domain}"),
                    format!("svc.{cluster_domain}"),
                    cluster_domain.to_string(),
                ];
                search.extend(host_search);
                (
                    vec![cluster_dns.to_string()],
                    search,
                    vec!["ndots:5".into()],
                )
            }
        };
    if let Some(dc) = spec.and_then(|s| s.dns_config.as_ref()) {
        for s in dc.nameservers.iter().flatten() {
            if !servers.contains(s) {
                servers.push(s.clone());
            }
        }
        for s in dc.searches.iter().flatten() {
            if !searches.contains(s) {
                searches.push(s.clone());
            }
        }
        for o in dc.options.iter().flatten() {
            let rendered = match &o.value {
                Some(v) => format!("{}:{v}", o.name.as_deref().unwrap_or_default()),
                None => o.name.clone().unwrap_or_default(),
            };
            let name = o.name.as_deref().unwrap_or_default();
            options.retain(|x| x.split(':').next() != Some(name));
            options.push(rendered);
        }
    }
    servers.truncate(3);
    searches.truncate(32);
    let mut out = String::new();
    if !searches.is_empty() {
        out.push_str(&format!("search {}\n", searches.join(" ")));
    }
    for s in &servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

fn parse_host(text: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut servers, mut search, mut options) = (vec![], vec![], vec![]);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => servers.extend(words.next().map(String::from)),
            Some("search") | Some("domain") => search = words.map(String::from).collect(),
            Some("options") => options.extend(words.map(String::from)),
            _ => {}
        }
    }
    // A loopback resolver on the host is unreachable from a pod's network namespace.
    servers.retain(|s| !s.starts_with("127.") && s != "::1");
    if servers.is_empty() {
        servers.push("8.8.8.8".into());
    }
    (servers, search, options)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-1", "namespace": "shop", "uid": "u"},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn cluster_first_and_default() {
        let host = "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp.example\n";
        let p = pod(json!({"containers": []}));
        assert_eq!(
            resolv_conf(&p, "10.43.0.10", "cluster.local", host),
            "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\n\
             nameserver 10.43.0.10\noptions ndots:5\n"
        );
        let p = pod(json!({"containers": [], "dnsPolicy": "Default"}));
        assert_eq!(
            resolv_conf(&p, "10.43.0.10", "cluster.local", host),
            "search corp.example\nnameserver 10.0.0.2\n"
        );
        let p = pod(json!({"containers": [], "dnsPolicy": "None",
            "dnsConfig": {"nameservers": ["1.1.1.1"], "options": [{"name": "ndots", "value": "2"}]}}));
        assert_eq!(
            resolv_conf(&p, "10.43.0.10", "cluster.local", host),
            "nameserver 1.1.1.1\noptions ndots:2\n"
        );
    }

    #[test]
    fn hosts_lists_the_pod_and_aliases() {
        let p = pod(
            json!({"containers": [], "hostname": "db", "subdomain": "dbs",
            "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["a", "b"]}]}),
        );
        let h = hosts_file(&p, Some("10.42.0.7"), "cluster.local");
        assert!(h.starts_with("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"));
        assert!(
            h.contains("10.42.0.7\tdb.dbs.shop.svc.cluster.local\tdb\n"),
            "{h}"
        );
        assert!(
            h.ends_with("# Entries added by HostAliases.\n1.2.3.4\ta\tb\n"),
            "{h}"
        );
        let p = pod(json!({"containers": []}));
        assert!(hosts_file(&p, Some("10.42.0.7"), "x").ends_with("10.42.0.7\tweb-1\n"));
    }
}
