#!/usr/bin/env python3
"""Streaming benchmark against a running `rkube server` with its agent (hack/bench/streaming.sh
starts one and runs this), through real kubectl, in one run:

- `kubectl exec POD -- true` round trip, p50/p90, with kubectl 1.27 (SPDY/3.1) and 1.33
  (WebSocket v5.channel.k8s.io), next to `kubectl get pod POD -o name` (the same process start,
  kubeconfig load and TLS handshake plus one plain API request);
- port-forward throughput: curl of a SIZE MiB file served by busybox httpd in the pod through
  `kubectl port-forward` (1.27: SPDY; 1.33: the SPDY-over-WebSocket tunnel), next to the same
  curl of the same file from busybox httpd on the host over loopback, and from the pod IP
  directly (host -> bridge -> veth), all in this run.

Prints a Markdown table on stdout; progress on stderr.
"""

import argparse
import os
import re
import subprocess
import sys
import time

from stats import fmt_ms, percentile

POD = "bench-stream"
POD_YAML = """
apiVersion: v1
kind: Pod
metadata: {{name: {pod}}}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{{name: www, emptyDir: {{}}}}]
  containers:
  - name: httpd
    image: {image}
    volumeMounts: [{{name: www, mountPath: /www}}]
    command: ["sh", "-c", "dd if=/dev/urandom of=/www/big bs=1M count={size} 2>/dev/null && exec httpd -f -p 8080 -h /www"]
    readinessProbe:
      tcpSocket: {{port: 8080}}
      periodSeconds: 1
"""


def log(msg):
    print(f"[streaming_bench] {msg}", file=sys.stderr, flush=True)


def kubectl(k, *args, **kw):
    return subprocess.run([k, "--request-timeout", "60s", *args], check=True, **kw)


def timed_runs(cmd, runs, warmup=3):
    for _ in range(warmup):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    samples = []
    for _ in range(runs):
        t = time.monotonic()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        samples.append(time.monotonic() - t)
    return samples


def curl_mib_s(url, size_mib, transfers):
    """Median MiB/s of `transfers` downloads of url; checks the size each time."""
    rates = []
    for _ in range(transfers):
        out = subprocess.run(
            ["curl", "-fsS", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        size, secs = int(out[0]), float(out[1])
        if size != size_mib << 20:
            raise RuntimeError(f"{url}: got {size} bytes, want {size_mib << 20}")
        rates.append(size / secs / (1 << 20))
    return percentile(rates, 50), min(rates), max(rates)


class PortForward:
    """`kubectl port-forward pod/POD :8080` on a free local port, stopped on exit."""

    def __init__(self, k, pod):
        self.proc = subprocess.Popen(
            [k, "port-forward", f"pod/{pod}", ":8080"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()  # blocks until kubectl listens (or exits)
        m = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"port-forward did not start: {line!r} {self.proc.stderr.read()}")
        self.port = int(m.group(1))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(10)


class HostHttpd:
    """busybox httpd on 127.0.0.1 serving dir, on a port the kernel picks free."""

    def __init__(self, directory):
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.proc = subprocess.Popen(
            ["/bin/busybox", "httpd", "-f", "-p", f"127.0.0.1:{self.port}", "-h", directory]
        )
        deadline = time.monotonic() + 10
        while subprocess.run(
            ["curl", "-fsS", "-o", "/dev/null", "-r", "0-0", f"http://127.0.0.1:{self.port}/big"],
            stderr=subprocess.DEVNULL,
        ).returncode:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.proc.kill()
                raise RuntimeError("host busybox httpd did not answer in 10 s")
            time.sleep(0.05)  # paces the poll; the answer is what is waited for

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(10)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubectl", action="append", required=True, metavar="VERSION=PATH")
    ap.add_argument("--work-dir", required=True, help="for the host copy of the file")
    ap.add_argument("--image", default="busybox:1.36")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--size-mib", type=int, default=200)
    ap.add_argument("--transfers", type=int, default=3)
    args = ap.parse_args()
    kubectls = [tuple(kv.split("=", 1)) for kv in args.kubectl]
    k_any = kubectls[-1][1]

    log(f"pod {POD}: busybox httpd serving {args.size_mib} MiB")
    kubectl(k_any, "apply", "-f", "-", input=POD_YAML.format(pod=POD, image=args.image, size=args.size_mib),
            text=True, stdout=subprocess.DEVNULL)
    kubectl(k_any, "wait", "--for=condition=Ready", f"pod/{POD}", "--timeout=300s", stdout=subprocess.DEVNULL)
    pod_ip = kubectl(k_any, "get", "pod", POD, "-o", "jsonpath={.status.podIP}",
                     capture_output=True, text=True).stdout

    rows = []
    for version, k in kubectls:
        log(f"kubectl {version}: {args.runs} x exec -- true, {args.runs} x get pod")
        ex = timed_runs([k, "exec", POD, "--", "true"], args.runs)
        get = timed_runs([k, "get", "pod", POD, "-o", "name"], args.runs)
        proto = "SPDY/3.1" if version < "1.30" else "WebSocket"
        rows.append((f"kubectl {version} `exec -- true` ({proto}), p50 / p90",
                     f"{fmt_ms(percentile(ex, 50))} / {fmt_ms(percentile(ex, 90))}"))
        rows.append((f"kubectl {version} `get pod -o name` (baseline), p50 / p90",
                     f"{fmt_ms(percentile(get, 50))} / {fmt_ms(percentile(get, 90))}"))

    def rate_row(what, url):
        log(f"{args.transfers} x curl {url}")
        p50, lo, hi = curl_mib_s(url, args.size_mib, args.transfers)
        rows.append((f"{what}, {args.size_mib} MiB, median (min-max) of {args.transfers}",
                     f"{p50:.0f} MiB/s ({lo:.0f}-{hi:.0f})"))

    for version, k in kubectls:
        proto = "SPDY/3.1" if version < "1.30" else "WebSocket tunnel"
        with PortForward(k, POD) as pf:
            rate_row(f"kubectl {version} port-forward ({proto})", f"http://127.0.0.1:{pf.port}/big")

    host_dir = os.path.join(args.work_dir, "www")
    os.makedirs(host_dir, exist_ok=True)
    subprocess.run(["dd", "if=/dev/urandom", f"of={host_dir}/big", "bs=1M", f"count={args.size_mib}"],
                   check=True, stderr=subprocess.DEVNULL)
    with HostHttpd(host_dir) as h:
        rate_row("host loopback (busybox httpd on the host)", f"http://127.0.0.1:{h.port}/big")
    rate_row("pod IP from the host (bridge + veth)", f"http://{pod_ip}:8080/big")

    kubectl(k_any, "delete", "pod", POD, "--wait=true", stdout=subprocess.DEVNULL)

    print("| measurement | value |")
    print("| --- | --- |")
    for what, value in rows:
        print(f"| {what} | {value} |")


if __name__ == "__main__":
    main()
