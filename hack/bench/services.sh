#!/usr/bin/env bash
# Service proxy benchmarks (issue 8), root.
#
#   hack/bench/services.sh          proxy level: the ignored test pkg/network/tests/proxy_bench.rs
#       (a) EndpointSlice change -> rule live through a ClusterIP, incremental vs a full table
#           replace, with many other Services programmed;
#       (b) HTTP requests/s and latency through a ClusterIP vs straight to the pod IP, same run.
#     RKUBE_BENCH_SERVICES (1000), RKUBE_BENCH_AFFINITY=1, RKUBE_BENCH_CHANGES (100),
#     RKUBE_BENCH_FULL_CHANGES (10), RKUBE_BENCH_SECS per path for (b) (10; 0 skips it),
#     RKUBE_BENCH_WORKERS (4), RKUBE_BENCH_RELEASE=1 (release build; the time is nft's anyway).
#
#   hack/bench/services.sh api [N]  through the API on an `rkube server` with its agent: N (50)
#       times the Service's selector is switched between two one-pod Deployments; the time
#       from the PATCH to the first answer from the other pod through the ClusterIP (API server
#       -> EndpointSlice controller -> watch -> the kubelet's proxy, 20 ms debounce -> nft).
#     RKUBE_BIN (skip the release build), RKUBE_BENCH_DIR, BENCH_KEEP as for pods.sh.
#
# Everything either mode creates is removed on exit, failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/../.."

[ "$(id -u)" = 0 ] || { echo "services.sh: needs root (netns, nftables)" >&2; exit 1; }

if [ "${1:-}" = api ]; then
    runs="${2:-50}"
    # shellcheck source=hack/lib.sh
    source hack/lib.sh
    # shellcheck source=hack/bench/agent-lib.sh
    source "$RKUBE_ROOT/hack/bench/agent-lib.sh"
    cd "$RKUBE_ROOT"
    agent_up
    section "services api bench ($runs selector switches)"
    RKUBE_ROOT="$RKUBE_ROOT" RUNS="$runs" python3 - <<'PY'
import os, socket, sys, time
sys.path.insert(0, os.path.join(os.environ["RKUBE_ROOT"], "hack", "bench"))
from kubernetes import client, config
from stats import percentile

config.load_kube_config(os.environ["KUBECONFIG"])
core, apps = client.CoreV1Api(), client.AppsV1Api()
ns = "default"

def deployment(name):
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "httpd", "image": "busybox:1.36",
                         "command": ["sh", "-c",
                             f"mkdir /www && echo {name} > /www/index.html && exec httpd -f -p 8080 -h /www"],
                         "ports": [{"containerPort": 8080}]}]}}}}

for name in ("web-a", "web-b"):
    apps.create_namespaced_deployment(ns, deployment(name))
core.create_namespaced_service(ns, {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web-a"}, "ports": [{"port": 80, "targetPort": 8080}]}})
ip = core.read_namespaced_service("web", ns).spec.cluster_ip

def get():
    try:
        with socket.create_connection((ip, 80), timeout=1) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        return data.split(b"\r\n\r\n", 1)[-1].strip().decode()
    except OSError:
        return None

def until(want, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if get() == want:
            return time.monotonic()
    sys.exit(f"no answer {want!r} from {ip} within {timeout}s")

until("web-a", 180)  # both pods started (b is checked by the first switch)
for d in ("web-a", "web-b"):
    while (apps.read_namespaced_deployment(d, ns).status.ready_replicas or 0) < 1:
        time.sleep(0.2)
lat = []
for i in range(int(os.environ["RUNS"])):
    want = "web-b" if i % 2 == 0 else "web-a"
    t0 = time.monotonic()
    core.patch_namespaced_service("web", ns, {"spec": {"selector": {"app": want}}})
    lat.append(until(want, 30) - t0)
print(f"| Service selector switch -> first answer through the ClusterIP (n={len(lat)}), "
      f"p50 / p99 / max | {percentile(lat, 50)*1e3:.1f} / {percentile(lat, 99)*1e3:.1f} / "
      f"{max(lat)*1e3:.1f} ms |")
PY
    exit 0
fi

command -v nft >/dev/null || { echo "services.sh: needs nft (apt-get install nftables)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "services.sh: needs /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }

# Everything the bench creates is named after this tag; removed here too if it is killed.
export RKUBE_BENCH_TAG=$(( $$ % 100000 ))
cleanup() {
    local ns
    for ns in "rkpc$RKUBE_BENCH_TAG" "rkps$RKUBE_BENCH_TAG"; do
        if ip netns list | grep -qw "$ns"; then
            ip netns pids "$ns" | xargs -r kill 2>/dev/null || true
            ip netns del "$ns" || true
        fi
    done
    nft delete table ip "rkube-proxy-rkpc${RKUBE_BENCH_TAG}h" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

profile=()
[ -n "${RKUBE_BENCH_RELEASE:-}" ] && profile=(--release)
cargo test "${profile[@]}" -p rkube-network --test proxy_bench -- --ignored --nocapture --test-threads 1
