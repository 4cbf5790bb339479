//! kubectl helpers for tests that run real pods: jsonpath queries, exec, the Ready pods of a
//! selector, and HTTP GETs from inside a pod.

use std::{collections::BTreeSet, process::Output};

use super::{eventually, Cluster};

/// `kubectl get -n NS WHAT -o jsonpath=PATH`'s stdout (empty when kubectl fails).
pub fn jsonpath(c: &Cluster, k: &str, ns: &str, what: &[&str], path: &str) -> String {
    let mut args = vec!["get", "-n", ns];
    args.extend_from_slice(what);
    let jp = format!("jsonpath={path}");
    args.extend(["-o", &jp]);
    String::from_utf8_lossy(&c.kubectl_raw(k, &args).stdout).into_owned()
}

/// `kubectl exec -n NS POD -- CMD`.
pub fn exec(c: &Cluster, k: &str, ns: &str, pod: &str, cmd: &[&str]) -> Output {
    let mut args = vec!["exec", "-n", ns, pod, "--"];
    args.extend_from_slice(cmd);
    c.kubectl_raw(k, &args)
}

/// The names of the pods matching `selector` whose Ready condition is True.
pub fn ready_pods(c: &Cluster, k: &str, ns: &str, selector: &str) -> BTreeSet<String> {
    jsonpath(
        c,
        k,
        ns,
        &["pods", "-l", selector],
        "{range .items[*]}{.metadata.name} {.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
    )
    .lines()
    .filter_map(|l| l.strip_suffix(" True"))
    .map(str::to_string)
    .collect()
}

/// `n` GETs of `url` from `pod` in one exec (busybox 1.36.0's `wget -T` segfaults, hence
/// `timeout`): one line per request, the answering backend's hostname (the body) or
/// `FAILED: <wget's error>`.
pub fn wget_from_pod(
    c: &Cluster,
    k: &str,
    ns: &str,
    pod: &str,
    url: &str,
    n: usize,
) -> Vec<String> {
    let script = format!(
        "for i in $(seq {n}); do \
           if out=$(timeout 5 wget -q -O- '{url}' 2>&1); then echo \"$out\"; \
           else echo \"FAILED: $(echo $out)\"; fi; \
         done"
    );
    let out = exec(c, k, ns, pod, &["sh", "-c", &script]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Rounds of `n` GETs of `url` from `pod` until one round is answered by exactly `backends`
/// (random balancing reaches them all); that round.
pub fn until_every_backend(
    c: &Cluster,
    k: &str,
    (ns, pod): (&str, &str),
    url: &str,
    n: usize,
    backends: &BTreeSet<String>,
    secs: u64,
) -> Vec<String> {
    eventually(secs, &format!("every backend through {url}"), || {
        let answers = wget_from_pod(c, k, ns, pod, url, n);
        let got: BTreeSet<String> = answers.iter().cloned().collect();
        if &got != backends {
            eprintln!("through {url}: {got:?}");
        }
        (&got == backends).then_some(answers)
    })
}

/// The test backends' container command: busybox httpd on port 8080 serving the pod's hostname.
pub const HTTPD_HOSTNAME_CMD: &str = r#"["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]"#;

/// Deployment `web` in `ns`: `replicas` busybox httpd pods (labels app=web, owner=deploy)
/// answering GET / on port 8080 (named `web`) with their hostname, Ready once it listens.
pub fn web_deployment(ns: &str, replicas: u32) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  replicas: {replicas}
  # Not just app=web: a bare pod labelled app=web must stay out of the ReplicaSet.
  selector: {{matchLabels: {{app: web, owner: deploy}}}}
  template:
    metadata: {{labels: {{app: web, owner: deploy}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: busybox:1.36
        ports: [{{name: web, containerPort: 8080}}]
        readinessProbe:
          tcpSocket: {{port: web}}
          periodSeconds: 1
        command: {HTTPD_HOSTNAME_CMD}
"#
    )
}
