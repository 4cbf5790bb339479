//! What a request asks for: the path parsed as kube-apiserver's RequestInfoFactory does, the
//! verb, and the representation the client accepts.

use axum::http::Method;
use rkube_api::ResourceDef;

use crate::status::{ApiError, ApiResult};

/// A request for a served resource.
#[derive(Debug, Clone)]
pub struct ResourceRequest {
    pub def: &'static ResourceDef,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    pub verb: Verb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// Discovery paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryPath {
    /// `/api`
    Core,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`
    Resources { group: String, version: String },
}

#[derive(Debug, Clone)]
pub enum Target {
    Discovery(DiscoveryPath),
    Resource(ResourceRequest),
}

/// Subresources that `/namespaces/{name}/<x>` means rather than a resource in that namespace.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

pub fn parse(method: &Method, path: &str, watch_param: bool) -> ApiResult<Target> {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, mut rest) = match parts.as_slice() {
        ["api"] => return Ok(Target::Discovery(DiscoveryPath::Core)),
        ["apis"] => return Ok(Target::Discovery(DiscoveryPath::Groups)),
        ["apis", g] => return Ok(Target::Discovery(DiscoveryPath::Group(g.to_string()))),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::path_not_found()),
    };
    if rest.is_empty() {
        return Ok(Target::Discovery(DiscoveryPath::Resources {
            group: group.into(),
            version: version.into(),
        }));
    }
    // Legacy `/watch/` prefix.
    let mut watch = watch_param;
    if rest[0] == "watch" {
        watch = true;
        rest = &rest[1..];
    }
    let mut namespace = None;
    if rest.first() == Some(&"namespaces") && rest.len() > 1 {
        namespace = Some(rest[1].to_string());
        if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
            rest = &rest[2..];
        }
    }
    let (plural, name, subresource) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, s] => (*p, Some(n.to_string()), Some(s.to_string())),
        _ => return Err(ApiError::path_not_found()),
    };
    let def =
        rkube_api::registry::find(group, version, plural).ok_or_else(ApiError::path_not_found)?;
    // `/api/v1/namespaces/x` is the namespace x itself, not something in it.
    let namespace = if def.plural == "namespaces" {
        None
    } else {
        namespace
    };
    if !def.namespaced && namespace.is_some() {
        return Err(ApiError::path_not_found());
    }
    if let Some(s) = &subresource {
        if def.subresource(s).is_none() {
            return Err(ApiError::path_not_found());
        }
    }
    let verb = match (method, name.is_some()) {
        (&Method::GET, _) if watch => Verb::Watch,
        (&Method::GET, true) => Verb::Get,
        (&Method::GET, false) => Verb::List,
        (&Method::POST, _) => Verb::Create,
        (&Method::PUT, _) => Verb::Update,
        (&Method::PATCH, _) => Verb::Patch,
        (&Method::DELETE, true) => Verb::Delete,
        (&Method::DELETE, false) => Verb::DeleteCollection,
        _ => return Err(ApiError::method_not_supported(def.plural, method.as_str())),
    };
    Ok(Target::Resource(ResourceRequest {
        def,
        namespace,
        name,
        subresource,
        verb,
    }))
}

/// The representation a client asked for in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Json,
    Yaml,
    /// meta.k8s.io Table, in this API version ("v1" or "v1beta1").
    Table(&'static str),
    PartialMetadata(&'static str),
}

/// Picks the first acceptable type in `Accept` (protobuf is skipped: clients that send it
/// always list JSON after it).
pub fn negotiate(accept: Option<&str>) -> ApiResult<Output> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(Output::Json);
    };
    for item in accept.split(',') {
        let mut params = item.split(';').map(str::trim);
        let media = params.next().unwrap_or_default().to_ascii_lowercase();
        let (mut as_, mut g, mut v) = (None, None, None);
        for p in params {
            if let Some((k, val)) = p.split_once('=') {
                match k.trim() {
                    "as" => as_ = Some(val.trim().to_string()),
                    "g" => g = Some(val.trim().to_string()),
                    "v" => v = Some(val.trim().to_string()),
                    _ => {}
                }
            }
        }
        let json_like = matches!(media.as_str(), "application/json" | "*/*" | "application/*");
        match (as_.as_deref(), g.as_deref()) {
            (None, _) if json_like => return Ok(Output::Json),
            (None, _) if media == "application/yaml" => return Ok(Output::Yaml),
            (Some("Table"), Some("meta.k8s.io")) if json_like => {
                return Ok(Output::Table(if v.as_deref() == Some("v1beta1") {
                    "v1beta1"
                } else {
                    "v1"
                }))
            }
            (Some("PartialObjectMetadata" | "PartialObjectMetadataList"), Some("meta.k8s.io"))
                if json_like =>
            {
                return Ok(Output::PartialMetadata(
                    if v.as_deref() == Some("v1beta1") {
                        "v1beta1"
                    } else {
                        "v1"
                    },
                ))
            }
            _ => {}
        }
    }
    Err(ApiError::not_acceptable(accept))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(method: Method, path: &str) -> ResourceRequest {
        match parse(&method, path, false).unwrap() {
            Target::Resource(r) => r,
            t => panic!("{t:?}"),
        }
    }

    #[test]
    fn negotiates_like_kubectl_get() {
        let a = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(a)).unwrap(), Output::Table("v1"));
        assert_eq!(
            negotiate(Some(
                "application/vnd.kubernetes.protobuf, application/json"
            ))
            .unwrap(),
            Output::Json
        );
        assert_eq!(negotiate(None).unwrap(), Output::Json);
        assert_eq!(negotiate(Some("application/yaml")).unwrap(), Output::Yaml);
        assert!(negotiate(Some("text/html")).is_err());
    }

    #[test]
    fn parses_paths() {
        assert!(matches!(
            parse(&Method::GET, "/api", false).unwrap(),
            Target::Discovery(DiscoveryPath::Core)
        ));
        if rkube_api::registry::resources().is_empty() {
            return; // the registry is filled in elsewhere
        }
        let r = res(Method::GET, "/api/v1/namespaces/default/pods/x/status");
        assert_eq!(
            (r.def.plural, r.namespace.as_deref(), r.name.as_deref()),
            ("pods", Some("default"), Some("x"))
        );
        assert_eq!(r.subresource.as_deref(), Some("status"));
        let r = res(Method::GET, "/api/v1/namespaces/kube-system");
        assert_eq!(
            (r.def.plural, r.namespace, r.name.as_deref()),
            ("namespaces", None, Some("kube-system"))
        );
        let r = res(Method::PUT, "/api/v1/namespaces/x/finalize");
        assert_eq!(
            (r.name.as_deref(), r.subresource.as_deref()),
            (Some("x"), Some("finalize"))
        );
        let r = res(Method::GET, "/api/v1/pods");
        assert_eq!((r.verb, r.namespace), (Verb::List, None));
        let r = res(Method::GET, "/apis/apps/v1/namespaces/d/deployments");
        assert_eq!(r.def.kind, "Deployment");
        let r = res(Method::DELETE, "/api/v1/namespaces/d/configmaps");
        assert_eq!(r.verb, Verb::DeleteCollection);
        assert!(parse(&Method::GET, "/api/v1/nodes/x/nope", false).is_err());
        assert!(parse(&Method::GET, "/api/v1/namespaces/d/nodes", false).is_err());
    }
}
