//! The official Python client (`kubernetes` on PyPI) against a real rkube server: kubeconfig
//! loading with client certificates, namespaces, ConfigMap create/read/list/replace/delete,
//! and `watch.Watch().stream` seeing ADDED, MODIFIED and DELETED; and its dynamic client doing a
//! create / merge patch / server-side apply (with a conflict) / watch round trip.
//!
//! hack/test.sh installs the client. When it is missing this test runs
//! `python3 -m pip install kubernetes`; if that fails the test fails under CI (env CI set) and
//! is skipped, with a message, elsewhere.

mod common;

use std::process::{Command, Stdio};

use common::{tail, Cluster};

const SCRIPT: &str = r#"
import sys
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
ns = "py-client"


def step(msg):
    print("step:", msg, flush=True)


def expect_status(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ApiException as e:
        assert e.status == code, f"{fn.__name__}: want {code}, got {e.status}: {e.body}"
        return
    raise AssertionError(f"{fn.__name__}: want {code}, it succeeded")


def cm(name, data, labels=None):
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {"app": "py"}), data=data
    )


step("namespace")
created_ns = v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
assert created_ns.metadata.name == ns
assert ns in [n.metadata.name for n in v1.list_namespace().items]
assert v1.read_namespace(ns).status.phase == "Active"

step("create, read, list")
created = v1.create_namespaced_config_map(ns, cm("py-cm", {"k": "v"}))
assert created.metadata.resource_version and created.metadata.uid
expect_status(409, v1.create_namespaced_config_map, ns, cm("py-cm", {}))
got = v1.read_namespaced_config_map("py-cm", ns)
assert got.data == {"k": "v"}, got.data
assert got.metadata.resource_version == created.metadata.resource_version
v1.create_namespaced_config_map(ns, cm("other", {"k": "o"}, labels={"app": "other"}))
listed = v1.list_namespaced_config_map(ns, label_selector="app=py")
assert [i.metadata.name for i in listed.items] == ["py-cm"], listed.items
assert listed.metadata.resource_version
names = {i.metadata.name for i in v1.list_namespaced_config_map(ns).items}
assert {"py-cm", "other"} <= names, names

step("watch without a resourceVersion: the current state, then changes")
w = watch.Watch()
seen = []
for ev in w.stream(v1.list_namespaced_config_map, ns, label_selector="app=py", timeout_seconds=30):
    obj = ev["object"]
    seen.append((ev["type"], obj.metadata.name))
    if seen == [("ADDED", "py-cm")]:
        # The watch is established (its initial event arrived): change the object now.
        got.data = {"k": "v2"}
        v1.replace_namespaced_config_map("py-cm", ns, got)
    elif ev["type"] == "MODIFIED":
        assert obj.data == {"k": "v2"}, obj.data
        v1.delete_namespaced_config_map("py-cm", ns)
    elif ev["type"] == "DELETED":
        w.stop()
assert seen == [("ADDED", "py-cm"), ("MODIFIED", "py-cm"), ("DELETED", "py-cm")], seen
expect_status(404, v1.read_namespaced_config_map, "py-cm", ns)

step("watch from a resourceVersion: only later changes")
rv = v1.list_namespaced_config_map(ns).metadata.resource_version
v1.create_namespaced_config_map(ns, cm("py-2", {"n": "2"}))
v1.delete_namespaced_config_map("py-2", ns)
seen = []
for ev in watch.Watch().stream(
    v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=30
):
    seen.append((ev["type"], ev["object"].metadata.name))
    if len(seen) == 2:
        break
assert seen == [("ADDED", "py-2"), ("DELETED", "py-2")], seen

step("a watch that times out ends by itself")
start = time.monotonic()
events = list(watch.Watch().stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=2))
assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "py-2"), ("DELETED", "py-2")], events
assert time.monotonic() - start < 20, "timeout_seconds=2 was not honoured"

step("delete the namespace")
v1.delete_namespace(ns)
deadline = time.monotonic() + 60
while True:
    try:
        phase = v1.read_namespace(ns).status.phase
    except ApiException as e:
        assert e.status == 404, e
        break
    assert phase == "Terminating", phase
    assert time.monotonic() < deadline, "namespace not removed in 60s"
    time.sleep(0.2)

print("PYTHON-CLIENT-OK", flush=True)
"#;

const DYNAMIC_SCRIPT: &str = r#"
import sys
import threading

from kubernetes import config, dynamic
from kubernetes.client import api_client
from kubernetes.dynamic.exceptions import ConflictError

client = dynamic.DynamicClient(api_client.ApiClient(configuration=config.load_kube_config(config_file=sys.argv[1])))
cms = client.resources.get(api_version="v1", kind="ConfigMap")
ns = "default"

created = cms.create(namespace=ns, body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dyn"}, "data": {"a": "1"}})
rv = created.metadata.resourceVersion
seen = []
def watch():
    for ev in cms.watch(namespace=ns, resource_version=rv, timeout=20):
        if ev["object"].metadata.name == "dyn":
            seen.append((ev["type"], dict(ev["object"].data or {})))
        if len(seen) == 2:
            return
t = threading.Thread(target=watch)
t.start()

patched = cms.patch(namespace=ns, name="dyn", body={"data": {"b": "2"}}, content_type="application/merge-patch+json")
assert dict(patched.data) == {"a": "1", "b": "2"}, patched.data

applied = cms.server_side_apply(namespace=ns, field_manager="py-apply",
    body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dyn"}, "data": {"c": "3"}})
assert dict(applied.data) == {"a": "1", "b": "2", "c": "3"}, applied.data
managers = {(m.manager, m.operation) for m in applied.metadata.managedFields}
assert ("py-apply", "Apply") in managers, managers

try:
    cms.server_side_apply(namespace=ns, field_manager="other",
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dyn"}, "data": {"c": "x"}})
    raise AssertionError("a conflicting apply succeeded")
except ConflictError as e:
    assert "py-apply" in str(e.body), e.body

t.join(30)
assert [k for k, _ in seen] == ["MODIFIED", "MODIFIED"], seen
assert seen[-1][1] == {"a": "1", "b": "2", "c": "3"}, seen
cms.delete(namespace=ns, name="dyn")
print("PYTHON-DYNAMIC-OK", flush=True)
"#;

fn importable() -> bool {
    Command::new("python3")
        .args(["-c", "import kubernetes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// True when the client is importable, installing it with pip if needed. Under CI a failure
/// is a test failure; elsewhere it returns false (skip) after saying why.
fn ensure_python_client() -> bool {
    if importable() {
        return true;
    }
    eprintln!("the kubernetes Python client is missing; running python3 -m pip install kubernetes");
    let why = match Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "kubernetes"])
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() && importable() => return true,
        Ok(out) => format!(
            "pip install kubernetes failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => format!("cannot run python3: {e}"),
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "CI: the kubernetes Python client is required: {why}"
    );
    eprintln!("SKIPPED python_client: {why}");
    false
}

/// Runs a Python client script against a fresh cluster; it must print `ok`.
fn run_script(script_text: &str, ok: &str) {
    if !ensure_python_client() {
        return;
    }
    let c = Cluster::start();
    let script = c.dir.path().join("client_test.py");
    std::fs::write(&script, script_text).unwrap();
    let out = Command::new("python3")
        .arg(&script)
        .arg(&c.kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(ok),
        "the Python client script failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{}\n--- server log tail ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        tail(&c.log(), 3000)
    );
}

#[test]
fn python_client_crud_and_watch() {
    run_script(SCRIPT, "PYTHON-CLIENT-OK");
}

#[test]
fn python_dynamic_client_create_patch_apply_watch() {
    run_script(DYNAMIC_SCRIPT, "PYTHON-DYNAMIC-OK");
}
