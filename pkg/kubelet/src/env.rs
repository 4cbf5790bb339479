//! A container's environment: image env first, then envFrom, then env (valueFrom: fieldRef,
//! resourceFieldRef, configMapKeyRef, secretKeyRef), with `$(VAR)` expansion as upstream.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::{
    api::core::v1::{ConfigMap, Container, Pod, Secret, Service},
    apimachinery::pkg::api::resource::Quantity,
};

/// What the kubelet shows as CreateContainerConfigError.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// ConfigMaps and Secrets of the pod's namespace fetched for this container (None = not found).
#[derive(Debug, Default, Clone)]
pub struct Sources {
    pub config_maps: HashMap<String, Option<ConfigMap>>,
    pub secrets: HashMap<String, Option<Secret>>,
    /// Service environment variables (`<SVC>_SERVICE_HOST`, docker links), see [`service_env`].
    pub services: Vec<(String, String)>,
}

/// Names of the ConfigMaps and Secrets the container's env refers to.
pub fn referenced(c: &Container) -> (Vec<String>, Vec<String>) {
    let (mut cms, mut secrets) = (Vec::new(), Vec::new());
    for f in c.env_from.iter().flatten() {
        if let Some(r) = &f.config_map_ref {
            cms.push(r.name.clone());
        }
        if let Some(r) = &f.secret_ref {
            secrets.push(r.name.clone());
        }
    }
    for e in c.env.iter().flatten() {
        let Some(v) = &e.value_from else { continue };
        if let Some(r) = &v.config_map_key_ref {
            cms.push(r.name.clone());
        }
        if let Some(r) = &v.secret_key_ref {
            secrets.push(r.name.clone());
        }
    }
    cms.sort();
    cms.dedup();
    secrets.sort();
    secrets.dedup();
    (cms, secrets)
}

/// Runtime facts env can refer to.
pub struct PodFacts<'a> {
    pub pod_ip: &'a str,
    pub host_ip: &'a str,
    pub node_name: &'a str,
}

/// The container's own env (envFrom then env), in order, `$(VAR)` expanded.
pub fn resolve(
    pod: &Pod,
    c: &Container,
    facts: &PodFacts<'_>,
    src: &Sources,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let set = |out: &mut Vec<(String, String)>, k: String, v: String| match out
        .iter_mut()
        .find(|(x, _)| *x == k)
    {
        Some(slot) => slot.1 = v,
        None => out.push((k, v)),
    };
    for f in c.env_from.iter().flatten() {
        let prefix = f.prefix.clone().unwrap_or_default();
        if let Some(r) = &f.config_map_ref {
            match src.config_maps.get(&r.name).cloned().flatten() {
                Some(cm) => {
                    for (k, v) in cm.data.unwrap_or_default() {
                        set(&mut out, format!("{prefix}{k}"), v);
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(ConfigError(format!("configmap \"{}\" not found", r.name))),
            }
        }
        if let Some(r) = &f.secret_ref {
            match src.secrets.get(&r.name).cloned().flatten() {
                Some(s) => {
                    for (k, v) in secret_strings(&s) {
                        set(&mut out, format!("{prefix}{k}"), v);
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(ConfigError(format!("secret \"{}\" not found", r.name))),
            }
        }
    }
    for e in c.env.iter().flatten() {
        let value = match &e.value_from {
            None => {
                // Declared variables first, then the service variables (upstream's mapping).
                let mut defined: HashMap<&str, &str> = src
                    .services
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                defined.extend(out.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                expand(e.value.as_deref().unwrap_or_default(), &defined)
            }
            Some(vf) => {
                if let Some(f) = &vf.field_ref {
                    field_value(pod, &f.field_path, facts)?
                } else if let Some(r) = &vf.resource_field_ref {
                    let target = match r.container_name.as_deref().filter(|n| !n.is_empty()) {
                        None => c,
                        Some(n) => find_container(pod, n).ok_or_else(|| {
                            ConfigError(format!("container {n:?} not found in the pod"))
                        })?,
                    };
                    resource_value(target, &r.resource, r.divisor.as_ref())?
                } else if let Some(r) = &vf.config_map_key_ref {
                    let cm = src.config_maps.get(&r.name).cloned().flatten();
                    match cm {
                        None if r.optional == Some(true) => continue,
                        None => {
                            return Err(ConfigError(format!("configmap \"{}\" not found", r.name)))
                        }
                        Some(cm) => match cm.data.as_ref().and_then(|d| d.get(&r.key)) {
                            Some(v) => v.clone(),
                            None if r.optional == Some(true) => continue,
                            None => {
                                return Err(ConfigError(format!(
                                    "couldn't find key {} in ConfigMap {}/{}",
                                    r.key,
                                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                                    r.name
                                )))
                            }
                        },
                    }
                } else if let Some(r) = &vf.secret_key_ref {
                    match src.secrets.get(&r.name).cloned().flatten() {
                        None if r.optional == Some(true) => continue,
                        None => {
                            return Err(ConfigError(format!("secret \"{}\" not found", r.name)))
                        }
                        Some(s) => match secret_strings(&s).remove(&r.key) {
                            Some(v) => v,
                            None if r.optional == Some(true) => continue,
                            None => {
                                return Err(ConfigError(format!(
                                    "couldn't find key {} in Secret {}/{}",
                                    r.key,
                                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                                    r.name
                                )))
                            }
                        },
                    }
                } else {
                    String::new()
                }
            }
        };
        set(&mut out, e.name.clone(), value);
    }
    // The service variables the container did not declare itself come last.
    for (k, v) in &src.services {
        if !out.iter().any(|(x, _)| x == k) {
            out.push((k.clone(), v.clone()));
        }
    }
    Ok(out)
}

/// The Services whose variables a pod sees: the `kubernetes` Service of `default` always, and
/// the Services of the pod's namespace unless enableServiceLinks is false; fetched when a
/// container starts (upstream: the Services existing then). A failed list leaves them out.
pub async fn service_env(client: &kube::Client, pod: &Pod) -> Vec<(String, String)> {
    use kube::api::{Api, ListParams};
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let links = pod
        .spec
        .as_ref()
        .and_then(|s| s.enable_service_links)
        .unwrap_or(true);
    let mut found: Vec<Service> = Vec::new();
    if links {
        match Api::<Service>::namespaced(client.clone(), &ns)
            .list(&ListParams::default())
            .await
        {
            Ok(l) => found.extend(l.items),
            Err(e) => {
                tracing::warn!(error = %e, "listing services for the pod's environment failed")
            }
        }
    }
    if !(links && ns == "default") {
        match Api::<Service>::namespaced(client.clone(), "default")
            .get_opt("kubernetes")
            .await
        {
            Ok(Some(s)) => found.push(s),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "reading default/kubernetes failed"),
        }
    }
    service_vars(&ns, links, &found)
}

/// Upstream's getServiceEnvVarMap + envvars.FromServices: services with a cluster IP; the
/// namespace's own Service wins over default/kubernetes of the same name; sorted by name.
pub fn service_vars(ns: &str, links: bool, services: &[Service]) -> Vec<(String, String)> {
    let mut chosen: BTreeMap<String, &Service> = BTreeMap::new();
    for s in services {
        let ip = s.spec.as_ref().and_then(|x| x.cluster_ip.as_deref());
        if matches!(ip, None | Some("") | Some("None")) {
            continue;
        }
        let name = s.metadata.name.clone().unwrap_or_default();
        let sns = s.metadata.namespace.as_deref().unwrap_or_default();
        if sns == "default" && name == "kubernetes" {
            chosen.entry(name).or_insert(s);
        } else if sns == ns && links {
            chosen.insert(name, s);
        }
    }
    let mut out = Vec::new();
    for (name, s) in chosen {
        let spec = s.spec.as_ref().expect("checked above");
        let ip = spec.cluster_ip.clone().unwrap_or_default();
        let ports = spec.ports.clone().unwrap_or_default();
        let Some(first) = ports.first() else { continue };
        let prefix = name.replace('-', "_").to_uppercase();
        out.push((format!("{prefix}_SERVICE_HOST"), ip.clone()));
        let port_var = format!("{prefix}_SERVICE_PORT");
        out.push((port_var.clone(), first.port.to_string()));
        for p in &ports {
            if let Some(n) = p.name.as_deref().filter(|n| !n.is_empty()) {
                out.push((
                    format!("{port_var}_{}", n.replace('-', "_").to_uppercase()),
                    p.port.to_string(),
                ));
            }
        }
        let host_port = |port: i32| {
            if ip.contains(':') {
                format!("[{ip}]:{port}")
            } else {
                format!("{ip}:{port}")
            }
        };
        for (i, p) in ports.iter().enumerate() {
            let proto = p.protocol.clone().unwrap_or_else(|| "TCP".into());
            let lower = proto.to_lowercase();
            let url = format!("{lower}://{}", host_port(p.port));
            if i == 0 {
                out.push((format!("{prefix}_PORT"), url.clone()));
            }
            let pp = format!("{prefix}_PORT_{}_{}", p.port, proto.to_uppercase());
            out.push((pp.clone(), url));
            out.push((format!("{pp}_PROTO"), lower));
            out.push((format!("{pp}_PORT"), p.port.to_string()));
            out.push((format!("{pp}_ADDR"), ip.clone()));
        }
    }
    out
}

fn find_container<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == name)
}

pub fn secret_strings(s: &Secret) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = s
        .data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    for (k, v) in s.string_data.clone().unwrap_or_default() {
        out.insert(k, v);
    }
    out
}

/// The downward API's fieldRef paths.
pub fn field_value(pod: &Pod, path: &str, facts: &PodFacts<'_>) -> Result<String, ConfigError> {
    let m = &pod.metadata;
    let spec = pod.spec.as_ref();
    let map_entry = |map: &Option<BTreeMap<String, String>>, prefix: &str| {
        let key = path
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix("['"))
            .and_then(|r| r.strip_suffix("']"))?;
        Some(
            map.as_ref()
                .and_then(|l| l.get(key))
                .cloned()
                .unwrap_or_default(),
        )
    };
    Ok(match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(m.labels.as_ref()),
        "metadata.annotations" => format_map(m.annotations.as_ref()),
        "spec.nodeName" => facts.node_name.to_string(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_else(|| "default".into()),
        "status.podIP" | "status.podIPs" => facts.pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => facts.host_ip.to_string(),
        _ => {
            if let Some(v) = map_entry(&m.labels, "metadata.labels") {
                v
            } else if let Some(v) = map_entry(&m.annotations, "metadata.annotations") {
                v
            } else {
                return Err(ConfigError(format!("unsupported fieldPath: {path}")));
            }
        }
    })
}

/// The downward API's map rendering: `key="value"` lines, sorted.
pub fn format_map(m: Option<&BTreeMap<String, String>>) -> String {
    m.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// resourceFieldRef: limits fall back to the node's allocatable (here: CPUs and memory of the
/// machine) as upstream; values are divided by `divisor` and rounded up.
pub fn resource_value(
    c: &Container,
    resource: &str,
    divisor: Option<&Quantity>,
) -> Result<String, ConfigError> {
    let res = c.resources.as_ref();
    let (kind, field) = resource
        .split_once('.')
        .ok_or_else(|| ConfigError(format!("unsupported resource {resource:?}")))?;
    let map = match kind {
        "limits" => res.and_then(|r| r.limits.as_ref()),
        "requests" => res.and_then(|r| r.requests.as_ref()),
        _ => return Err(ConfigError(format!("unsupported resource {resource:?}"))),
    };
    let value = match map.and_then(|m| m.get(field)) {
        Some(q) => parse_quantity(&q.0)
            .ok_or_else(|| ConfigError(format!("invalid quantity {:?}", q.0)))?,
        None if kind == "limits" => match field {
            "cpu" => std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
            "memory" => {
                crate::machine::MachineInfo::detect(std::path::Path::new("/")).memory as f64
            }
            _ => 0.0,
        },
        None => 0.0,
    };
    let div = match divisor {
        Some(q) => parse_quantity(&q.0).filter(|d| *d > 0.0).unwrap_or(1.0),
        None => 1.0,
    };
    Ok(((value / div).ceil() as i64).to_string())
}

/// A Kubernetes quantity as a number (`500m` = 0.5, `1Gi`, `2k`, `1e3`).
pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|ch: char| ch.is_ascii_alphabetic() && ch != 'e' && ch != 'E')
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    Some(n * mult)
}

/// `$(VAR)` expansion as upstream's expansion package: defined names are replaced, `$$`
/// escapes, anything else stays as written.
pub fn expand(input: &str, vars: &HashMap<&str, &str>) -> String {
    let mut out = String::with_capacity(input.len());
    let b = input.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            match b[i + 1] {
                b'$' => {
                    out.push('$');
                    i += 2;
                    continue;
                }
                b'(' => {
                    if let Some(end) = input[i + 2..].find(')') {
                        let name = &input[i + 2..i + 2 + end];
                        match vars.get(name) {
                            Some(v) => out.push_str(v),
                            None => out.push_str(&input[i..i + 3 + end]),
                        }
                        i += 3 + end;
                        continue;
                    }
                }
                _ => {}
            }
        }
        let ch = input[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn expansion_as_upstream() {
        let vars = HashMap::from([("A", "x"), ("B", "y")]);
        assert_eq!(expand("$(A)-$(B)", &vars), "x-y");
        assert_eq!(expand("$$(A) $(C) $", &vars), "$(A) $(C) $");
        assert_eq!(expand("$(A", &vars), "$(A");
        assert_eq!(expand("é$(A)", &vars), "éx");
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("64Mi"), Some(67108864.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("x"), None);
    }

    #[test]
    fn resolves_every_source() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i",
                "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "250m"}},
                "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
                "env": [
                    {"name": "A", "value": "a"},
                    {"name": "B", "value": "$(A)-$(CM_k)"},
                    {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                    {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
                    {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
                    {"name": "O", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "pw", "optional": true}}},
                ]}]},
        }))
        .unwrap();
        let mut src = Sources::default();
        src.config_maps.insert(
            "cm".into(),
            Some(serde_json::from_value(json!({"data": {"k": "v"}})).unwrap()),
        );
        src.secrets.insert(
            "s".into(),
            Some(serde_json::from_value(json!({"data": {"pw": "aHVudGVyMg=="}})).unwrap()),
        );
        src.secrets.insert("nope".into(), None);
        let facts = PodFacts {
            pod_ip: "10.42.0.9",
            host_ip: "10.0.0.5",
            node_name: "n1",
        };
        let c = &pod.spec.as_ref().unwrap().containers[0];
        let env = resolve(&pod, c, &facts, &src).unwrap();
        let get = |k: &str| env.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str());
        assert_eq!(get("CM_k"), Some("v"));
        assert_eq!(get("B"), Some("a-v"));
        assert_eq!(get("NAME"), Some("p"));
        assert_eq!(get("APP"), Some("web"));
        assert_eq!(get("IP"), Some("10.42.0.9"));
        assert_eq!(get("MEM"), Some("64"));
        assert_eq!(get("CPU"), Some("250"));
        assert_eq!(get("S"), Some("hunter2"));
        assert_eq!(get("O"), None);

        // Service variables: usable in $(...), overridden by declared ones, appended last.
        src.services = vec![
            ("WEB_SERVICE_HOST".into(), "10.43.0.7".into()),
            ("A".into(), "from-service".into()),
        ];
        let mut c2 = c.clone();
        c2.env.as_mut().unwrap().push(
            serde_json::from_value(json!({"name": "U", "value": "http://$(WEB_SERVICE_HOST)"}))
                .unwrap(),
        );
        let env = resolve(&pod, &c2, &facts, &src).unwrap();
        let get = |k: &str| env.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str());
        assert_eq!(get("U"), Some("http://10.43.0.7"));
        assert_eq!(get("A"), Some("a"));
        assert_eq!(env.last().unwrap().0, "WEB_SERVICE_HOST");
        src.services.clear();

        src.secrets.insert("s".into(), None);
        assert_eq!(
            resolve(&pod, c, &facts, &src).unwrap_err().0,
            "secret \"s\" not found"
        );
    }

    #[test]
    fn service_variables_as_upstream() {
        let svc = |ns: &str, name: &str, ip: &str, ports: serde_json::Value| -> Service {
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": ns},
                "spec": {"clusterIP": ip, "ports": ports}}))
            .unwrap()
        };
        let all = vec![
            svc(
                "default",
                "kubernetes",
                "10.43.0.1",
                json!([{"name": "https", "port": 443}]),
            ),
            svc(
                "ns",
                "my-web",
                "10.43.0.9",
                json!([{"name": "http", "port": 80},
                {"name": "dns", "port": 53, "protocol": "UDP"}]),
            ),
            svc("ns", "headless", "None", json!([{"port": 80}])),
            svc("other", "x", "10.43.0.5", json!([{"port": 1}])),
        ];
        let vars = service_vars("ns", true, &all);
        let get = |k: &str| vars.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str());
        assert_eq!(get("KUBERNETES_SERVICE_HOST"), Some("10.43.0.1"));
        assert_eq!(get("KUBERNETES_SERVICE_PORT"), Some("443"));
        assert_eq!(get("KUBERNETES_SERVICE_PORT_HTTPS"), Some("443"));
        assert_eq!(get("KUBERNETES_PORT"), Some("tcp://10.43.0.1:443"));
        assert_eq!(get("MY_WEB_SERVICE_HOST"), Some("10.43.0.9"));
        assert_eq!(get("MY_WEB_SERVICE_PORT"), Some("80"));
        assert_eq!(get("MY_WEB_SERVICE_PORT_DNS"), Some("53"));
        assert_eq!(get("MY_WEB_PORT"), Some("tcp://10.43.0.9:80"));
        assert_eq!(get("MY_WEB_PORT_53_UDP"), Some("udp://10.43.0.9:53"));
        assert_eq!(get("MY_WEB_PORT_53_UDP_PROTO"), Some("udp"));
        assert_eq!(get("MY_WEB_PORT_80_TCP_PORT"), Some("80"));
        assert_eq!(get("MY_WEB_PORT_80_TCP_ADDR"), Some("10.43.0.9"));
        assert_eq!(get("HEADLESS_SERVICE_HOST"), None);
        assert_eq!(get("X_SERVICE_HOST"), None);
        // enableServiceLinks: false keeps only the API server's variables.
        let vars = service_vars("ns", false, &all);
        assert!(vars.iter().all(|(k, _)| k.starts_with("KUBERNETES_")));
        assert!(!vars.is_empty());
    }
}
