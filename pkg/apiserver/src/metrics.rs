//! `/metrics`: kube-apiserver's request metrics under upstream's names and labels
//! (`apiserver_request_total`, `apiserver_request_duration_seconds`), objects stored per
//! resource (`apiserver_storage_objects`) and the process metrics every Go binary exports.

use std::time::Duration;

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use rkube_store::RangeRequest;

use crate::{
    request::{ResourceRequest, Verb},
    rest::Api,
};

pub const PATH: &str = "/metrics";

/// Upstream's buckets for request latency (seconds).
const BUCKETS: [f64; 23] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// What a resource request was, for its labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Labels {
    component: &'static str,
    dry_run: &'static str,
    group: &'static str,
    resource: &'static str,
    scope: &'static str,
    subresource: &'static str,
    verb: &'static str,
    version: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WithCode {
    code: u16,
    #[prometheus(flatten)]
    labels: Labels,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Resource {
    resource: &'static str,
}

impl Labels {
    /// The labels of a parsed request; `apply` for a server-side apply patch, as upstream
    /// names that verb.
    pub fn of(r: &ResourceRequest, dry_run: bool, apply: bool) -> Self {
        let verb = match r.verb {
            Verb::Get => "GET",
            Verb::List => "LIST",
            Verb::Watch => "WATCH",
            Verb::Create => "POST",
            Verb::Update => "PUT",
            Verb::Patch if apply => "APPLY",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
            Verb::DeleteCollection => "DELETECOLLECTION",
        };
        let scope = if r.name.is_some() {
            "resource"
        } else if r.namespace.is_some() {
            "namespace"
        } else {
            "cluster"
        };
        let subresource = r
            .subresource
            .as_deref()
            .and_then(|s| r.def.subresource(s))
            .map_or("", |s| s.name);
        Labels {
            component: "apiserver",
            dry_run: if dry_run { "All" } else { "" },
            group: r.def.group,
            resource: r.def.plural,
            scope,
            subresource,
            verb,
            version: r.def.version,
        }
    }
}

pub struct Metrics {
    registry: Registry,
    requests: Family<WithCode, Counter>,
    durations: Family<Labels, Histogram>,
    objects: Family<Resource, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<WithCode, Counter>::default();
        let durations: Family<Labels, Histogram> =
            Family::new_with_constructor(|| Histogram::new(BUCKETS));
        let objects = Family::<Resource, Gauge>::default();
        registry.register(
            "apiserver_request",
            "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
            requests.clone(),
        );
        registry.register(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
            durations.clone(),
        );
        registry.register(
            "apiserver_storage_objects",
            "Number of stored objects at the time of last check split by kind.",
            objects.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            objects,
        }
    }
}

impl Metrics {
    /// Counts a served request; its latency too unless it streams (watches), whose response
    /// returns at once.
    pub fn observe(&self, labels: Labels, code: u16, took: Duration) {
        if labels.verb != "WATCH" {
            self.durations
                .get_or_create(&labels)
                .observe(took.as_secs_f64());
        }
        self.requests
            .get_or_create(&WithCode { code, labels })
            .inc();
    }

    /// The text exposition, with the object counts read now.
    pub async fn render(&self, api: &Api) -> Response {
        for def in rkube_api::registry::resources()
            .iter()
            .filter(|d| d.stored())
        {
            let req = RangeRequest::prefix(def.prefix(None)).count_only();
            if let Ok(r) = api.store.range(req).await {
                let resource = Resource {
                    resource: if def.group.is_empty() {
                        def.plural
                    } else {
                        qualified(def.plural, def.group)
                    },
                };
                self.objects.get_or_create(&resource).set(r.count);
            }
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode_registry(&mut out, &self.registry).is_err() {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        process_metrics(&mut out);
        out.push_str("# EOF\n");
        (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            out,
        )
            .into_response()
    }
}

/// `deployments.apps`, leaked once per resource (a fixed, small set).
fn qualified(plural: &'static str, group: &'static str) -> &'static str {
    use std::{collections::HashMap, sync::Mutex};
    static NAMES: Mutex<Option<HashMap<(&str, &str), &'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().expect("names lock");
    names
        .get_or_insert_with(HashMap::new)
        .entry((plural, group))
        .or_insert_with(|| Box::leak(format!("{plural}.{group}").into_boxed_str()))
}

/// process_* as Prometheus' Go and Rust clients export them, from /proc/self.
fn process_metrics(out: &mut String) {
    use std::fmt::Write;
    let page = 4096.0;
    let ticks = 100.0; // USER_HZ on Linux
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command (which may hold spaces) start at the state, field 3.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| -> f64 {
        fields
            .get(n - 3)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let cpu = (field(14) + field(15)) / ticks;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|u| u.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let start = now - uptime + field(22) / ticks;
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
    let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        let suffix = if kind == "counter" { "_total" } else { "" };
        let _ = writeln!(out, "{name}{suffix} {value}");
    };
    metric(
        "process_cpu_seconds",
        "counter",
        "Total user and system CPU time spent in seconds.",
        cpu,
    );
    metric(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        field(24) * page,
    );
    metric(
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        field(23),
    );
    metric(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        start.round(),
    );
    metric(
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        fds as f64,
    );
}

#[cfg(test)]
mod tests {
    use axum::http::{Method, StatusCode};
    use serde_json::json;

    use crate::testing::{send, server};

    #[tokio::test]
    async fn counts_requests_and_objects() {
        let dir = tempfile::tempdir().unwrap();
        let server = server(dir.path()).await;
        let lb = server.loopback("system:admin", &["system:masters"], "test");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}});
        let uri = "/api/v1/namespaces/default/configmaps";
        assert_eq!(
            send(&lb, Method::POST, uri, Some(cm.clone())).await.0,
            StatusCode::CREATED
        );
        assert_eq!(
            send(&lb, Method::POST, uri, Some(cm)).await.0,
            StatusCode::CONFLICT
        );
        send(&lb, Method::GET, &format!("{uri}/m"), None).await;

        let req = axum::http::Request::get("/metrics")
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = tower::ServiceExt::oneshot(lb.clone(), req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        for line in [
            r#"apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="configmaps",scope="namespace",subresource="",verb="POST",version="v1"} 1"#,
            r#"apiserver_request_total{code="409",component="apiserver",dry_run="",group="",resource="configmaps",scope="namespace",subresource="",verb="POST",version="v1"} 1"#,
            r#"apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="GET",version="v1"} 1"#,
            r#"apiserver_storage_objects{resource="configmaps"} 1"#,
            r#"apiserver_storage_objects{resource="namespaces"} 4"#,
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
        assert!(
            text.contains("apiserver_request_duration_seconds_bucket{"),
            "{text}"
        );
        assert!(text
            .lines()
            .any(|l| l.starts_with("process_resident_memory_bytes ")));
        assert!(text.ends_with("# EOF\n"));
    }
}
