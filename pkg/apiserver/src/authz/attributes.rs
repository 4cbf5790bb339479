//! What a request asks to do, read from its method and path alone, as upstream's
//! RequestInfoFactory reads it: authorization comes before the path is matched to a served
//! resource, so an unknown resource is forbidden rather than not found to whom may not ask.

use axum::http::Method;

/// A request's authorization attributes (upstream's authorizer.Attributes, less the user).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    /// A request for `/api/...` or `/apis/...` objects; else `path` is what is asked for.
    pub resource_request: bool,
    pub path: String,
    pub api_group: String,
    pub api_version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
}

impl Attributes {
    /// A resource request (access reviews and impersonation build them too).
    pub fn resource(verb: &str, group: &str, resource: &str, namespace: &str, name: &str) -> Self {
        Self {
            verb: verb.into(),
            resource_request: true,
            api_group: group.into(),
            resource: resource.into(),
            namespace: namespace.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    /// The attributes of `method` on `path` with `query` (which may make a GET a watch, and
    /// name what a list or watch selects by `metadata.name`).
    pub fn of_request(method: &Method, path: &str, query: Option<&str>) -> Self {
        let mut a = Attributes {
            path: path.to_string(),
            verb: method.as_str().to_ascii_lowercase(),
            ..Default::default()
        };
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let parts: Vec<&str> = if parts == [""] { vec![] } else { parts };
        if parts.len() < 3 || !matches!(parts[0], "api" | "apis") {
            return a;
        }
        let mut rest = &parts[1..];
        if parts[0] == "apis" {
            if rest.len() < 3 {
                return a;
            }
            a.api_group = rest[0].into();
            rest = &rest[1..];
        }
        a.resource_request = true;
        a.api_version = rest[0].into();
        rest = &rest[1..];
        // `/watch/...` and `/proxy/...` name their verb; anything else takes the method's.
        let mut special = None;
        if matches!(rest[0], "watch" | "proxy") {
            if rest.len() < 2 {
                // Upstream cannot tell the kind and refuses; nothing can be allowed on it.
                a.resource_request = false;
                return a;
            }
            special = Some(rest[0]);
            rest = &rest[1..];
        }
        a.verb = match special {
            Some(v) => v.into(),
            None => match *method {
                Method::POST => "create".into(),
                Method::GET | Method::HEAD => "get".into(),
                Method::PUT => "update".into(),
                Method::PATCH => "patch".into(),
                Method::DELETE => "delete".into(),
                _ => String::new(),
            },
        };
        if rest[0] == "namespaces" && rest.len() > 1 {
            a.namespace = rest[1].into();
            if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
                rest = &rest[2..];
            }
        }
        // resource/name/subresource/anything else (a proxy's path is not a subresource)
        if rest.len() >= 3 && special != Some("proxy") {
            a.subresource = rest[2].into();
        }
        if rest.len() >= 2 {
            a.name = rest[1].into();
        }
        a.resource = rest[0].into();
        let query = query.unwrap_or_default();
        if a.name.is_empty() && a.verb == "get" {
            a.verb = if watch(query) { "watch" } else { "list" }.into();
            if let Some(name) = selected_name(query) {
                a.name = name;
            }
        }
        if a.name.is_empty() && a.verb == "delete" {
            a.verb = "deletecollection".into();
        }
        a
    }
}

impl Attributes {
    /// A GET of pods' exec, attach or portforward (kubectl 1.30+ upgrades it to a WebSocket)
    /// needs `create`, as SPDY's POST did: upstream's AuthorizePodWebsocketUpgradeCreatePermission.
    pub fn streaming(mut self) -> Self {
        if self.resource_request
            && self.verb == "get"
            && self.api_group.is_empty()
            && self.resource == "pods"
            && matches!(self.subresource.as_str(), "exec" | "attach" | "portforward")
        {
            self.verb = "create".into();
        }
        self
    }
}

fn params(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap_or_default()
        .into_iter()
}

/// `watch=true` (or another of Go's true spellings).
fn watch(query: &str) -> bool {
    params(query).any(|(k, v)| {
        k == "watch" && matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True")
    })
}

/// The name a field selector requires exactly (`metadata.name=x` or `==`), when it is a valid
/// path segment: a list or watch of one object is authorized as such.
fn selected_name(query: &str) -> Option<String> {
    let selector = params(query).find(|(k, _)| k == "fieldSelector")?.1;
    let mut name = None;
    for term in selector.split(',') {
        let (k, v) = match term.split_once("==") {
            Some(kv) => kv,
            None => term.split_once('=')?,
        };
        if k.trim() == "metadata.name" && !k.ends_with('!') {
            name = Some(v.trim().to_string());
        }
    }
    name.filter(|n| !n.is_empty() && n != "." && n != ".." && !n.contains(['/', '%']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(method: Method, path: &str, query: Option<&str>) -> Attributes {
        Attributes::of_request(&method, path, query)
    }

    #[test]
    fn paths_read_as_upstream_reads_them() {
        let a = of(Method::GET, "/api/v1/namespaces/default/pods", None);
        assert_eq!(
            (a.verb.as_str(), a.resource.as_str(), a.namespace.as_str()),
            ("list", "pods", "default")
        );
        assert!(a.resource_request);
        let a = of(
            Method::GET,
            "/api/v1/namespaces/default/pods",
            Some("watch=1"),
        );
        assert_eq!(a.verb, "watch");
        let a = of(Method::GET, "/api/v1/watch/namespaces/default/pods", None);
        assert_eq!(a.verb, "watch");
        let a = of(Method::GET, "/api/v1/namespaces/d/pods/p/log", None);
        assert_eq!(
            (a.verb.as_str(), a.name.as_str(), a.subresource.as_str()),
            ("get", "p", "log")
        );
        let a = of(
            Method::DELETE,
            "/apis/apps/v1/namespaces/d/deployments",
            None,
        );
        assert_eq!(
            (a.verb.as_str(), a.api_group.as_str()),
            ("deletecollection", "apps")
        );
        // A namespace is its own namespace; its status is a subresource.
        let a = of(Method::PUT, "/api/v1/namespaces/x/status", None);
        assert_eq!(
            (
                a.resource.as_str(),
                a.name.as_str(),
                a.namespace.as_str(),
                a.subresource.as_str()
            ),
            ("namespaces", "x", "x", "status")
        );
        let a = of(Method::GET, "/api/v1/namespaces/x", None);
        assert_eq!(
            (
                a.verb.as_str(),
                a.resource.as_str(),
                a.name.as_str(),
                a.namespace.as_str()
            ),
            ("get", "namespaces", "x", "x")
        );
        // A list of one name is authorized as that name.
        let a = of(
            Method::GET,
            "/api/v1/namespaces/d/configmaps",
            Some("fieldSelector=metadata.name%3Dcfg&watch=true"),
        );
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "cfg"));
        let a = of(Method::GET, "/api/v1/nodes/n1/proxy/metrics/cadvisor", None);
        assert_eq!(
            (
                a.verb.as_str(),
                a.resource.as_str(),
                a.name.as_str(),
                a.subresource.as_str()
            ),
            ("get", "nodes", "n1", "proxy")
        );
        let a = of(Method::GET, "/api/v1/proxy/nodes/n1/x", None);
        assert_eq!(
            (
                a.verb.as_str(),
                a.resource.as_str(),
                a.name.as_str(),
                a.subresource.as_str()
            ),
            ("proxy", "nodes", "n1", "")
        );
        let a = of(
            Method::POST,
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            None,
        );
        assert_eq!(
            (a.verb.as_str(), a.api_group.as_str(), a.resource.as_str()),
            ("create", "authorization.k8s.io", "selfsubjectaccessreviews")
        );
    }

    #[test]
    fn other_paths_are_non_resource_requests() {
        for p in [
            "/",
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/version",
            "/openapi/v2",
            "/metrics",
        ] {
            let a = of(Method::GET, p, None);
            assert!(!a.resource_request, "{p}");
            assert_eq!((a.verb.as_str(), a.path.as_str()), ("get", p));
        }
    }
}
