//! The kubelet API's paths and query parameters, as upstream's kubelet server registers them.

use std::time::{Duration, SystemTime};

use super::exec_request::ExecRequest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Healthz,
    Logs {
        namespace: String,
        pod: String,
        container: String,
    },
    /// exec and attach (`attach` set).
    Exec {
        namespace: String,
        pod: String,
        container: String,
        attach: bool,
    },
    PortForward {
        namespace: String,
        pod: String,
    },
}

/// Matches a request path. Upstream also accepts a pod UID segment before the container
/// (`/exec/{ns}/{pod}/{uid}/{container}`, `/portForward/{ns}/{pod}/{uid}`).
pub(crate) fn parse(path: &str) -> Option<Route> {
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let s = |x: &&str| x.to_string();
    Some(match parts.as_slice() {
        ["healthz"] => Route::Healthz,
        ["containerLogs", ns, pod, c] => Route::Logs {
            namespace: s(ns),
            pod: s(pod),
            container: s(c),
        },
        [op @ ("exec" | "attach"), ns, pod, c] | [op @ ("exec" | "attach"), ns, pod, _, c] => {
            Route::Exec {
                namespace: s(ns),
                pod: s(pod),
                container: s(c),
                attach: *op == "attach",
            }
        }
        ["portForward", ns, pod] | ["portForward", ns, pod, _] => Route::PortForward {
            namespace: s(ns),
            pod: s(pod),
        },
        _ => return None,
    })
}

pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
}

fn get<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Go's strconv.ParseBool; a present key with an empty value (`?follow`) counts as true.
fn flag(q: &[(String, String)], key: &str) -> Result<bool, String> {
    match get(q, key) {
        None => Ok(false),
        Some("" | "1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(v) => Err(format!("invalid value {v:?} for {key}: not a boolean")),
    }
}

fn number(q: &[(String, String)], key: &str) -> Result<Option<i64>, String> {
    get(q, key)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| format!("invalid value {v:?} for {key}: not an integer"))
        })
        .transpose()
}

/// The streams and command of an exec/attach request (container id filled in later).
pub(crate) fn exec_request(q: &[(String, String)]) -> Result<ExecRequest, String> {
    let command: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .collect();
    let tty = flag(q, "tty")?;
    let req = ExecRequest {
        container_id: String::new(),
        command,
        stdin: flag(q, "stdin")?,
        stdout: flag(q, "stdout")?,
        // With a TTY, stderr is the terminal too.
        stderr: flag(q, "stderr")? && !tty,
        tty,
        attach: false,
    };
    if !req.stdin && !req.stdout && !req.stderr {
        return Err("you must specify at least 1 of stdin, stdout, stderr".into());
    }
    Ok(req)
}

/// `ports=8080,9090` (and repeated `ports=`), as upstream's port-forward parses them.
pub(crate) fn ports(q: &[(String, String)]) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    for (_, v) in q.iter().filter(|(k, _)| k == "ports") {
        for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match p.parse::<u16>() {
                Ok(n) if n > 0 => out.push(n),
                _ => return Err(format!("unable to parse {p:?} as a port: invalid syntax")),
            }
        }
    }
    if out.is_empty() {
        return Err("at least 1 port must be specified".into());
    }
    Ok(out)
}

/// The containerLogs query, and whether the previous instance's log is wanted.
pub(crate) fn log_options(
    q: &[(String, String)],
    now: SystemTime,
) -> Result<(rkube_runtime::LogOptions, bool), String> {
    let positive = |key: &str| -> Result<Option<u64>, String> {
        match number(q, key)? {
            Some(n) if n < 0 => Err(format!("{key} must be a non-negative integer")),
            n => Ok(n.map(|n| n as u64)),
        }
    };
    let since = match (number(q, "sinceSeconds")?, get(q, "sinceTime")) {
        (Some(_), Some(_)) => {
            return Err("at most one of sinceTime or sinceSeconds may be specified".into())
        }
        (Some(s), None) if s <= 0 => {
            return Err("sinceSeconds must be greater than 0".into());
        }
        (Some(s), None) => now.checked_sub(Duration::from_secs(s as u64)),
        (None, Some(t)) => Some(parse_rfc3339(t)?),
        (None, None) => None,
    };
    let opts = rkube_runtime::LogOptions {
        follow: flag(q, "follow")?,
        tail_lines: positive("tailLines")?,
        since,
        timestamps: flag(q, "timestamps")?,
        limit_bytes: match positive("limitBytes")? {
            Some(0) => return Err("limitBytes must be greater than 0".into()),
            n => n,
        },
        stdout: true,
        stderr: true,
    };
    Ok((opts, flag(q, "previous")?))
}

fn parse_rfc3339(t: &str) -> Result<SystemTime, String> {
    let dt = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("invalid sinceTime {t:?}: {e}"))?;
    Ok(SystemTime::from(dt))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Vec<(String, String)> {
        query_pairs(Some(s))
    }

    #[test]
    fn paths_as_upstream() {
        assert_eq!(
            parse("/containerLogs/default/web/c1"),
            Some(Route::Logs {
                namespace: "default".into(),
                pod: "web".into(),
                container: "c1".into()
            })
        );
        assert_eq!(
            parse("/exec/ns/p/uid-1/c"),
            Some(Route::Exec {
                namespace: "ns".into(),
                pod: "p".into(),
                container: "c".into(),
                attach: false
            })
        );
        assert!(matches!(
            parse("/attach/ns/p/c"),
            Some(Route::Exec { attach: true, .. })
        ));
        assert_eq!(
            parse("/portForward/ns/p"),
            Some(Route::PortForward {
                namespace: "ns".into(),
                pod: "p".into()
            })
        );
        assert_eq!(parse("/healthz"), Some(Route::Healthz));
        assert_eq!(parse("/exec/ns/p"), None);
        assert_eq!(parse("/pods"), None);
    }

    #[test]
    fn exec_query() {
        let r = exec_request(&q(
            "command=sh&command=-c&command=echo+hi%3B+exit+3&stdin=true&stdout=1&stderr=true&tty=false",
        ))
        .unwrap();
        assert_eq!(r.command, ["sh", "-c", "echo hi; exit 3"]);
        assert!(r.stdin && r.stdout && r.stderr && !r.tty);
        let r = exec_request(&q("command=sh&stdin=1&stdout=1&stderr=1&tty=1")).unwrap();
        assert!(r.tty && !r.stderr);
        assert_eq!(
            exec_request(&q("command=ls")).unwrap_err(),
            "you must specify at least 1 of stdin, stdout, stderr"
        );
        assert!(exec_request(&q("command=ls&stdout=maybe")).is_err());
    }

    #[test]
    fn port_lists() {
        assert_eq!(
            ports(&q("ports=8080,9090&ports=53")).unwrap(),
            [8080, 9090, 53]
        );
        assert!(ports(&q("")).is_err());
        assert!(ports(&q("ports=http")).is_err());
        assert!(ports(&q("ports=0")).is_err());
    }

    #[test]
    fn log_query() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let (o, prev) = log_options(
            &q("follow=true&tailLines=10&limitBytes=5&timestamps=1&sinceSeconds=60&previous=false"),
            now,
        )
        .unwrap();
        assert!(o.follow && o.timestamps && !prev);
        assert_eq!((o.tail_lines, o.limit_bytes), (Some(10), Some(5)));
        assert_eq!(o.since, Some(now - Duration::from_secs(60)));
        let (o, prev) = log_options(&q("sinceTime=1970-01-02T00:00:00Z&previous"), now).unwrap();
        assert!(prev);
        assert_eq!(
            o.since,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(86400))
        );
        assert!(log_options(&q("tailLines=-1"), now).is_err());
        assert!(log_options(&q("sinceSeconds=1&sinceTime=1970-01-02T00:00:00Z"), now).is_err());
        assert!(log_options(&q("limitBytes=0"), now).is_err());
    }
}
