#!/usr/bin/env python3
"""Pod start benchmark against a running `rkube server` with its agent (hack/bench/pods.sh
starts one and runs this). Measures, in one run:

- create -> Running / Ready latency of N busybox pods (image already present) created at
  once, seen on a pod watch opened before the first create; containers started per second;
- host RSS added per running pod: the server's VmRSS plus any host-side helper process it
  has (descendants outside the containers' mount namespaces; there should be none while
  idle) with 0 pods and with N idle pods (`sleep 3600`), difference / N;
- optionally, start time of the same busybox rootfs with Debian's runc and crun CLIs
  (`runc run -d`, `crun run -d` on a `runc spec` bundle), for a side-by-side.

Prints a Markdown table on stdout; progress on stderr. Times are client-side monotonic
clocks (creationTimestamp and conditions have only second resolution).
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import threading
import time

from stats import fmt_ms, percentile

LABEL = "rkube-bench=pods"


def log(msg):
    print(f"[pods_bench] {msg}", file=sys.stderr, flush=True)


def pod_manifest(name, image, command):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"rkube-bench": "pods"}},
        "spec": {
            # sleep as PID 1 ignores SIGTERM: do not wait 30 s per pod on delete.
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "c",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": command,
                }
            ],
        },
    }


def is_ready(pod):
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


class PodWatch:
    """Records, per pod name, when the watch first showed it added, Running and Ready."""

    def __init__(self, core, namespace):
        self.added, self.running, self.ready, self.deleted = {}, {}, {}, {}
        self.closed = False
        self.cond = threading.Condition()
        rv = core.list_namespaced_pod(namespace, label_selector=LABEL).metadata.resource_version
        self.resp = core.list_namespaced_pod(
            namespace,
            label_selector=LABEL,
            watch=True,
            resource_version=rv,
            allow_watch_bookmarks=False,
            timeout_seconds=1800,
            _preload_content=False,
        )
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        buf = b""
        try:
            for chunk in self.resp.stream(64 * 1024, decode_content=False):
                now = time.monotonic()
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        self._event(json.loads(line), now)
        except Exception as e:  # noqa: BLE001 - close() ends the stream this way
            if not self.closed:
                log(f"watch ended: {e!r}")

    def _event(self, ev, now):
        pod = ev["object"]
        name = pod["metadata"]["name"]
        with self.cond:
            if ev["type"] == "ADDED":
                self.added.setdefault(name, now)
            if ev["type"] == "DELETED":
                self.deleted.setdefault(name, now)
            elif (pod.get("status") or {}).get("phase") == "Running":
                self.running.setdefault(name, now)
                if is_ready(pod):
                    self.ready.setdefault(name, now)
            self.cond.notify_all()

    def wait(self, what, names, deadline_s):
        table = getattr(self, what)
        deadline = time.monotonic() + deadline_s
        with self.cond:
            while not all(n in table for n in names):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = [n for n in names if n not in table]
                    raise TimeoutError(f"{len(missing)} pods not {what} after {deadline_s}s: {missing[:5]}")
                self.cond.wait(left)

    def close(self):
        self.closed = True
        # Not release_conn(): that would hand the still-streaming connection back to the pool.
        if hasattr(self.resp, "shutdown"):
            self.resp.shutdown()
        self.resp.close()


# --- host memory -------------------------------------------------------------------------------


def proc_status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def descendants(root):
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def host_memory(server_pid):
    """The server's RSS and that of its host-side helpers (same mount namespace as the server:
    not a container process), plus the container processes' RSS for information."""
    server_mnt = os.readlink(f"/proc/{server_pid}/ns/mnt")
    helpers, containers = [], []
    for pid in descendants(server_pid):
        try:
            mnt = os.readlink(f"/proc/{pid}/ns/mnt")
            rss = proc_status_kib(pid, "VmRSS")
            comm = open(f"/proc/{pid}/comm").read().strip()
        except OSError:
            continue  # exited meanwhile
        (helpers if mnt == server_mnt else containers).append((pid, comm, rss))
    return {
        "server_kib": proc_status_kib(server_pid, "VmRSS"),
        "helpers": helpers,
        "containers": containers,
    }


def overhead_kib(mem):
    return mem["server_kib"] + sum(rss for _, _, rss in mem["helpers"])


def settle_memory(server_pid, samples=5):
    """Median of a few samples 200 ms apart: RSS moves while allocators settle."""
    got = []
    for i in range(samples):
        if i:
            time.sleep(0.2)  # spacing between samples, not synchronisation
        got.append(host_memory(server_pid))
    got.sort(key=overhead_kib)
    return got[len(got) // 2]


# --- phases ------------------------------------------------------------------------------------


def create_all(core, namespace, manifests, workers):
    sent = {}

    def create(m):
        sent[m["metadata"]["name"]] = time.monotonic()
        core.create_namespaced_pod(namespace, m)

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(create, m) for m in manifests]:
            f.result()
    return sent


def delete_all(core, namespace, watch, names, deadline_s):
    t0 = time.monotonic()
    core.delete_collection_namespaced_pod(namespace, label_selector=LABEL)
    watch.wait("deleted", names, deadline_s)
    return time.monotonic() - t0


def warm_up(core, namespace, image, deadline_s):
    """One pod first, so the image is pulled and unpacked before anything is measured."""
    watch = PodWatch(core, namespace)
    try:
        core.create_namespaced_pod(namespace, pod_manifest("bench-warm", image, ["sleep", "3600"]))
        watch.wait("ready", ["bench-warm"], deadline_s)
        delete_all(core, namespace, watch, ["bench-warm"], deadline_s)
    finally:
        watch.close()


# crun 1.8 refuses this host's hybrid hierarchy ("cgroups in hybrid mode not supported, drop all
# controllers from cgroupv2": hugetlb is on the cgroup2 side), even with cgroups disabled. In a
# private mount namespace without /sys/fs/cgroup/unified it sees plain cgroup v1, like runc.
HIDE_UNIFIED = ["unshare", "-m", "sh", "-c", 'umount -l /sys/fs/cgroup/unified && exec "$@"', "sh"]


def timed(cmd, check=True):
    t = time.monotonic()
    subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=check)
    return time.monotonic() - t


def oci_cli_starts(cmd, bundle, n):
    """`cmd run -d` of the bundle n times, each deleted before the next; the wall time of run."""
    ids = [f"rkbench-{os.getpid()}-{i}" for i in range(n)]
    samples = []
    try:
        for cid in ids:
            samples.append(timed([*cmd, "run", "-d", "--bundle", bundle, cid]))
            timed([*cmd, "delete", "-f", cid])
    finally:
        for cid in ids:
            subprocess.run([*cmd, "delete", "-f", cid], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return samples


def adapt_runc_spec(bundle):
    """`runc spec` runs an interactive sh; make it a detached busybox sleep."""
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        spec = json.load(f)
    spec["process"]["args"] = ["sleep", "3600"]
    spec["process"]["terminal"] = False
    with open(path, "w") as f:
        json.dump(spec, f, indent=2)


# --- main --------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server-pid", type=int, required=True)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--image", default="busybox:1.36")
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--workers", type=int, default=16, help="concurrent create requests")
    ap.add_argument("--deadline", type=int, default=600, help="seconds to wait for each phase")
    ap.add_argument("--oci-bundle", help="a `runc spec` bundle with a busybox rootfs: time runc and crun on it")
    ap.add_argument("--oci-starts", type=int, default=20)
    args = ap.parse_args()

    from kubernetes import client, config

    config.load_kube_config()
    cfg = client.Configuration.get_default_copy()
    cfg.connection_pool_maxsize = args.workers + 4
    core = client.CoreV1Api(client.ApiClient(cfg))

    log("warm-up pod (pulls the image)")
    warm_up(core, args.namespace, args.image, args.deadline)

    mem0 = settle_memory(args.server_pid)
    log(f"0 pods: server {mem0['server_kib']} KiB, helpers {mem0['helpers']}")

    names = [f"bench-{i:03d}" for i in range(args.count)]
    manifests = [pod_manifest(n, args.image, ["sleep", "3600"]) for n in names]
    watch = PodWatch(core, args.namespace)
    try:
        log(f"creating {args.count} pods ({args.workers} concurrent requests)")
        t0 = time.monotonic()
        sent = create_all(core, args.namespace, manifests, args.workers)
        t_created = time.monotonic() - t0
        watch.wait("ready", names, args.deadline)
        log("all Ready")
        mem1 = settle_memory(args.server_pid)
        log(f"{args.count} pods: server {mem1['server_kib']} KiB, helpers {mem1['helpers']}")
        t_delete = delete_all(core, args.namespace, watch, names, args.deadline)
    finally:
        watch.close()

    to_running = [watch.running[n] - watch.added[n] for n in names]
    to_ready = [watch.ready[n] - watch.added[n] for n in names]
    sent_to_ready = [watch.ready[n] - sent[n] for n in names]
    first = min(sent.values())
    run_times = sorted(watch.running[n] for n in names)
    span = run_times[-1] - first
    lo, hi = run_times[len(run_times) // 10], run_times[len(run_times) * 9 // 10]
    steady = (len(run_times) * 8 // 10) / (hi - lo) if hi > lo else float("nan")

    n = args.count
    d_kib = overhead_kib(mem1) - overhead_kib(mem0)
    ctr_kib = sum(rss for _, _, rss in mem1["containers"])

    rows = [
        (f"pods created (API, {args.workers} clients)", f"{n} in {t_created:.2f} s", ""),
        ("ADDED -> Running, p50 / p99", f"{fmt_ms(percentile(to_running, 50))} / {fmt_ms(percentile(to_running, 99))}", ""),
        ("ADDED -> Ready, p50 / p99", f"{fmt_ms(percentile(to_ready, 50))} / {fmt_ms(percentile(to_ready, 99))}", ""),
        ("create sent -> Ready, p50 / p99", f"{fmt_ms(percentile(sent_to_ready, 50))} / {fmt_ms(percentile(sent_to_ready, 99))}", ""),
        ("containers started / s (first create -> last Running)", f"{n / span:.1f} ({n} in {span:.2f} s)", ""),
        ("containers started / s (10th -> 90th Running)", f"{steady:.1f}", ""),
        ("delete all -> all gone", f"{t_delete:.2f} s", ""),
        ("server RSS, 0 pods", f"{mem0['server_kib'] / 1024:.1f} MiB", ""),
        (f"server RSS, {n} pods", f"{mem1['server_kib'] / 1024:.1f} MiB", ""),
        (f"host-side helper processes, 0 / {n} pods", f"{len(mem0['helpers'])} / {len(mem1['helpers'])}", "goal 0"),
        ("overhead added per pod (server + helpers RSS)", f"{d_kib / n:.0f} KiB", "goal < 1024 KiB"),
        (f"container processes' RSS, {n} pods (not overhead)", f"{ctr_kib / 1024:.1f} MiB in {len(mem1['containers'])} processes", ""),
    ]

    if args.oci_bundle:
        adapt_runc_spec(args.oci_bundle)
        clis = [("runc", ["runc"]), ("crun", [*HIDE_UNIFIED, "crun"])]
        for cli, cmd in clis:
            version = subprocess.run([cli, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
            log(f"{args.oci_starts} starts: {' '.join(cmd)} run -d ({version})")
            try:
                s = oci_cli_starts(cmd, args.oci_bundle, args.oci_starts)
                value = f"{fmt_ms(percentile(s, 50))} / {fmt_ms(percentile(s, 90))}"
            except subprocess.CalledProcessError as e:
                value = f"failed: {e}"
            note = " in a mount namespace without cgroup2 (crun 1.8 refuses hybrid)" if cli == "crun" else ""
            rows.append((f"`{cli} run -d` busybox sleep ({version}){note}, p50 / p90 of {args.oci_starts}", value, ""))
        wrap = [timed([*HIDE_UNIFIED, "true"]) for _ in range(args.oci_starts)]
        rows.append(("of which the mount-namespace wrapper alone (`unshare -m`, umount, exec true), p50",
                     fmt_ms(percentile(wrap, 50)), ""))

    print("| measurement | value | goal |")
    print("| --- | --- | --- |")
    for what, value, goal in rows:
        print(f"| {what} | {value} | {goal} |")


if __name__ == "__main__":
    main()
