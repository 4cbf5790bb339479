//! The connect subresources, which the API server answers by talking to a node's kubelet:
//! pods/log, pods/exec, pods/attach, pods/portforward and nodes/proxy. They are not stored
//! resources, so they live here rather than in rkube-api's registry (whose subresources are
//! objects with OpenAPI paths); discovery merges them in.

pub mod kubelet;

use rkube_api::{ResourceDef, SubresourceDef};

const VERBS_CONNECT: &[&str] = &["create", "get"];
const VERBS_PROXY: &[&str] = &["create", "delete", "get", "patch", "update"];

const fn core(
    name: &'static str,
    kind: &'static str,
    verbs: &'static [&'static str],
) -> SubresourceDef {
    SubresourceDef {
        name,
        group: "",
        version: "v1",
        kind,
        verbs,
    }
}

static POD_CONNECT: &[SubresourceDef] = &[
    core("attach", "PodAttachOptions", VERBS_CONNECT),
    core("exec", "PodExecOptions", VERBS_CONNECT),
    core("log", "Pod", &["get"]),
    core("portforward", "PodPortForwardOptions", VERBS_CONNECT),
];
static NODE_CONNECT: &[SubresourceDef] = &[core("proxy", "NodeProxyOptions", VERBS_PROXY)];

/// A resource's subresources as discovery lists them: the registry's and the connect ones,
/// in upstream's (alphabetical) order.
pub fn discovery_subresources(def: &'static ResourceDef) -> Vec<&'static SubresourceDef> {
    let connect: &'static [SubresourceDef] = match (def.group, def.plural) {
        ("", "pods") => POD_CONNECT,
        ("", "nodes") => NODE_CONNECT,
        _ => &[],
    };
    let mut all: Vec<&'static SubresourceDef> = def.subresources.iter().chain(connect).collect();
    all.sort_by_key(|s| s.name);
    all
}

/// What a connect request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    PodLog {
        namespace: String,
        name: String,
    },
    /// exec, or attach when `attach`.
    PodExec {
        namespace: String,
        name: String,
        attach: bool,
    },
    PodPortForward {
        namespace: String,
        name: String,
    },
    /// `/api/v1/nodes/{name}[:port]/proxy/{path}`.
    NodeProxy {
        name: String,
        port: Option<u16>,
        path: String,
    },
}

/// Recognizes connect paths (anything else goes to the generic REST handlers).
pub fn parse(path: &str) -> Option<Target> {
    let rest = path.strip_prefix("/api/v1/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["namespaces", ns, "pods", name, sub] if !ns.is_empty() && !name.is_empty() => {
            let (namespace, name) = (ns.to_string(), name.to_string());
            Some(match *sub {
                "log" => Target::PodLog { namespace, name },
                "exec" => Target::PodExec {
                    namespace,
                    name,
                    attach: false,
                },
                "attach" => Target::PodExec {
                    namespace,
                    name,
                    attach: true,
                },
                "portforward" => Target::PodPortForward { namespace, name },
                _ => return None,
            })
        }
        ["nodes", node, "proxy", ..] if !node.is_empty() => {
            let (name, port) = match node.split_once(':') {
                Some((n, p)) => (n.to_string(), Some(p.parse().ok()?)),
                None => (node.to_string(), None),
            };
            let prefix = format!("nodes/{node}/proxy");
            let tail = &rest[prefix.len()..];
            let path = if tail.is_empty() { "/" } else { tail };
            Some(Target::NodeProxy {
                name,
                port,
                path: path.to_string(),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_paths() {
        assert_eq!(
            parse("/api/v1/namespaces/d/pods/web/log"),
            Some(Target::PodLog {
                namespace: "d".into(),
                name: "web".into()
            })
        );
        assert_eq!(
            parse("/api/v1/namespaces/d/pods/web/attach"),
            Some(Target::PodExec {
                namespace: "d".into(),
                name: "web".into(),
                attach: true
            })
        );
        assert!(matches!(
            parse("/api/v1/namespaces/d/pods/web/portforward"),
            Some(Target::PodPortForward { .. })
        ));
        assert_eq!(
            parse("/api/v1/nodes/n1/proxy/stats/summary"),
            Some(Target::NodeProxy {
                name: "n1".into(),
                port: None,
                path: "/stats/summary".into()
            })
        );
        assert_eq!(
            parse("/api/v1/nodes/n1:10255/proxy"),
            Some(Target::NodeProxy {
                name: "n1".into(),
                port: Some(10255),
                path: "/".into()
            })
        );
        assert_eq!(parse("/api/v1/namespaces/d/pods/web/status"), None);
        assert_eq!(parse("/api/v1/namespaces/d/pods/web"), None);
        assert_eq!(parse("/apis/apps/v1/namespaces/d/pods/web/log"), None);
    }

    #[test]
    fn discovery_order_matches_upstream() {
        if rkube_api::registry::resources().is_empty() {
            return;
        }
        let pods = rkube_api::registry::find("", "v1", "pods").unwrap();
        let names: Vec<_> = discovery_subresources(pods)
            .iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(
            names,
            [
                "attach",
                "binding",
                "eviction",
                "exec",
                "log",
                "portforward",
                "status"
            ]
        );
        let nodes = rkube_api::registry::find("", "v1", "nodes").unwrap();
        let names: Vec<_> = discovery_subresources(nodes)
            .iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["proxy", "status"]);
    }
}
