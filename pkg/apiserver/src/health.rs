//! /healthz, /livez, /readyz (with ?verbose and per-check paths) and /version: readable
//! without credentials, as upstream allows.

use std::time::Duration;

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::rest::Api;

/// What /version reports; gitVersion like "v1.33.0+rkube" keeps kubectl's skew check quiet.
#[derive(Debug, Clone)]
pub struct VersionInfo {
    pub git_version: String,
    pub git_commit: String,
    pub compiler_version: String,
}

pub async fn serve(
    api: &Api,
    version: &VersionInfo,
    path: &str,
    query: Option<&str>,
) -> Option<Response> {
    if path == "/version" {
        let v = version.git_version.trim_start_matches('v');
        let mut parts = v.split(['.', '+', '-']);
        let (major, minor) = (parts.next().unwrap_or("1"), parts.next().unwrap_or("0"));
        let body = json!({
            "major": major,
            "minor": minor,
            "gitVersion": version.git_version,
            "gitCommit": version.git_commit,
            "gitTreeState": "clean",
            "buildDate": "1970-01-01T00:00:00Z",
            "goVersion": version.compiler_version,
            "compiler": "rustc",
            "platform": format!("linux/{}", go_arch()),
        });
        return Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response(),
        );
    }
    let (base, check) = ["/healthz", "/livez", "/readyz"].iter().find_map(|b| {
        path.strip_prefix(b)
            .map(|rest| (*b, rest.trim_start_matches('/')))
    })?;
    let store_ok = tokio::time::timeout(Duration::from_secs(2), api.store.revisions())
        .await
        .is_ok_and(|r| r.is_ok());
    let checks = [("ping", true), ("log", true), ("etcd", store_ok)];
    if !check.is_empty() {
        let (_, ok) = checks.iter().find(|(n, _)| *n == check)?;
        return Some(if *ok {
            (StatusCode::OK, "ok").into_response()
        } else {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("internal server error: {check} check failed"),
            )
                .into_response()
        });
    }
    let healthy = checks.iter().all(|(_, ok)| *ok);
    let verbose = query.is_some_and(|q| {
        q.split('&')
            .any(|p| p == "verbose" || p.starts_with("verbose="))
    });
    let what = base.trim_start_matches('/');
    let body = if verbose || !healthy {
        let mut s = String::new();
        for (name, ok) in checks {
            s.push_str(&if ok {
                format!("[+]{name} ok\n")
            } else {
                format!("[-]{name} failed: reason withheld\n")
            });
        }
        s.push_str(&if healthy {
            format!("{what} check passed\n")
        } else {
            format!("{what} check failed\n")
        });
        s
    } else {
        "ok".to_string()
    };
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    Some(
        (
            code,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response(),
    )
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
