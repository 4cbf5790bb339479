//! Events expire `--event-ttl` after their last write, as kube-apiserver's do (there by an etcd
//! lease; here the server sweeps them): an Event created and left alone is gone after the TTL,
//! for kubectl as for a watcher, which sees it DELETED.

mod common;

use std::time::{Duration, Instant};

use common::Cluster;

const EVENT: &str = r#"
apiVersion: v1
kind: Event
metadata: {name: short-lived}
involvedObject: {kind: ConfigMap, name: x, namespace: ttl, apiVersion: v1}
reason: Testing
message: gone soon
type: Normal
"#;

#[test]
fn events_expire_after_the_event_ttl() {
    let c = Cluster::start_with(&["--event-ttl", "3s"]);
    let v = "1.33";
    c.kubectl(v, &["create", "namespace", "ttl"]);
    let started = Instant::now();
    c.apply_stdin(v, &["-n", "ttl", "create", "-f", "-"], EVENT);
    // A watcher from now on sees it go.
    let rv = c.kubectl(
        v,
        &[
            "-n",
            "ttl",
            "get",
            "events",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ],
    );
    let mut watch = std::process::Command::new(common::kubectl_path(v))
        .env("KUBECONFIG", &c.kubeconfig)
        .args([
            "get",
            "--raw",
            &format!(
                "/api/v1/namespaces/ttl/events?watch=true&resourceVersion={rv}&timeoutSeconds=30"
            ),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = c.kubectl_raw(
            v,
            &["-n", "ttl", "get", "event", "short-lived", "-o", "name"],
        );
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("NotFound"), "{err}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the event outlived its 3 s TTL by 27 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "gone before its TTL: {:?}",
        started.elapsed()
    );
    // The DELETED line is written before the object is gone for the GET above; the watch is
    // then ended and what it printed read.
    let _ = watch.kill();
    let out = watch.wait_with_output().unwrap();
    let events = String::from_utf8_lossy(&out.stdout);
    assert!(
        events
            .lines()
            .any(|l| l.contains(r#""type":"DELETED""#) && l.contains("short-lived")),
        "{events}"
    );
}
