//! Discovery: `/api`, `/apis`, `/apis/<g>`, the per-version resource lists, and aggregated
//! discovery (apidiscovery.k8s.io v2 and v2beta1) with ETags, all generated from the registry.

use axum::{
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use rkube_api::ResourceDef;
use serde_json::{json, Value};

use crate::{request::DiscoveryPath, status::ApiError};

fn resources_in<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceDef> + 'a {
    rkube_api::registry::resources()
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

fn group_json(group: &str, versions: &[&str]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(Value::Null)})
}

fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for r in resources_in(group, version) {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        resources.push(entry);
        for s in crate::proxy::discovery_subresources(r) {
            let mut sub = json!({
                "name": format!("{}/{}", r.plural, s.name),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": s.kind,
                "verbs": s.verbs,
            });
            if s.group != r.group || s.version != r.version {
                sub["group"] = json!(s.group);
                sub["version"] = json!(s.version);
            }
            resources.push(sub);
        }
    }
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

/// One group in aggregated form.
fn aggregated_group(group: &str, versions: &[&str]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| {
            let resources: Vec<Value> = resources_in(group, v)
                .map(|r| {
                    let subs: Vec<Value> = crate::proxy::discovery_subresources(r)
                        .into_iter()
                        .map(|s| {
                            json!({
                                "subresource": s.name,
                                "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                                "verbs": s.verbs,
                            })
                        })
                        .collect();
                    let mut e = json!({
                        "resource": r.plural,
                        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": r.singular,
                        "verbs": r.verbs,
                    });
                    if !r.short_names.is_empty() {
                        e["shortNames"] = json!(r.short_names);
                    }
                    if !r.categories.is_empty() {
                        e["categories"] = json!(r.categories);
                    }
                    if !subs.is_empty() {
                        e["subresources"] = json!(subs);
                    }
                    e
                })
                .collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": vs})
}

/// Which aggregated discovery version the client accepts, if any.
fn aggregated_version(headers: &HeaderMap) -> Option<&'static str> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    for item in accept.split(',') {
        let item = item.replace(' ', "");
        if item.contains("g=apidiscovery.k8s.io") && item.contains("as=APIGroupDiscoveryList") {
            if item.contains("v=v2beta1") {
                return Some("v2beta1");
            }
            if item.contains("v=v2") {
                return Some("v2");
            }
        }
    }
    None
}

fn with_etag(headers: &HeaderMap, content_type: String, body: Value) -> Response {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let etag = format!("\"{:016X}\"", fnv1a(&bytes));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type), (header::ETAG, etag)],
        bytes,
    )
        .into_response()
}

fn fnv1a(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf29ce484222325u64, |h, x| {
        (h ^ u64::from(*x)).wrapping_mul(0x100000001b3)
    })
}

pub fn serve(
    path: &DiscoveryPath,
    headers: &HeaderMap,
    server_address: &str,
) -> Result<Response, ApiError> {
    let groups = rkube_api::registry::group_versions();
    let json_ct = "application/json".to_string();
    match path {
        DiscoveryPath::Core | DiscoveryPath::Groups => {
            let core = matches!(path, DiscoveryPath::Core);
            if let Some(v) = aggregated_version(headers) {
                let items: Vec<Value> = groups
                    .iter()
                    .filter(|(g, _)| g.is_empty() == core)
                    .map(|(g, vs)| aggregated_group(g, vs))
                    .collect();
                let body = json!({
                    "kind": "APIGroupDiscoveryList",
                    "apiVersion": format!("apidiscovery.k8s.io/{v}"),
                    "metadata": {},
                    "items": items,
                });
                let ct = format!(
                    "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"
                );
                return Ok(with_etag(headers, ct, body));
            }
            let body = if core {
                json!({
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
                })
            } else {
                let gs: Vec<Value> = groups
                    .iter()
                    .filter(|(g, _)| !g.is_empty())
                    .map(|(g, vs)| group_json(g, vs))
                    .collect();
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": gs})
            };
            Ok(with_etag(headers, json_ct, body))
        }
        DiscoveryPath::Group(g) => {
            let (_, vs) = groups
                .iter()
                .find(|(name, _)| name == g && !g.is_empty())
                .ok_or_else(ApiError::path_not_found)?;
            let mut body = group_json(g, vs);
            body["kind"] = json!("APIGroup");
            body["apiVersion"] = json!("v1");
            Ok(with_etag(headers, json_ct, body))
        }
        DiscoveryPath::Resources { group, version } => {
            let body = resource_list(group, version).ok_or_else(ApiError::path_not_found)?;
            Ok(with_etag(headers, json_ct, body))
        }
    }
}
