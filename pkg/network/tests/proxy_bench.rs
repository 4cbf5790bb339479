//! Service proxy benchmarks (ignored: run by hack/bench/services.sh, root). Two network
//! namespaces stand in for pods: a client and a server running busybox httpd on two ports, each
//! joined to the host by a veth; the client's host-side veth plays the pod bridge, so its traffic
//! to a ClusterIP is DNATed in prerouting and forwarded, as a pod's is.
//!
//! (a) change -> live: the Service's single endpoint flips between the two httpd ports; the time
//!     from handing the proxier the new EndpointSlice to the first HTTP answer from the new
//!     endpoint through the ClusterIP, with many other Services programmed, incremental vs full.
//! (b) requests/s and latency from the client, through the ClusterIP vs straight to the pod IP,
//!     alternating rounds in the same run.
//!
//! Sizes from the environment: RKUBE_BENCH_SERVICES other Services (1000), with ClientIP affinity
//! when RKUBE_BENCH_AFFINITY=1 (0), RKUBE_BENCH_CHANGES incremental (100) and
//! RKUBE_BENCH_FULL_CHANGES full-replace (10) changes, RKUBE_BENCH_SECS per path for (b), in
//! alternating 1 s rounds (10; 0 skips it), RKUBE_BENCH_WORKERS (4). RKUBE_BENCH_TAG names what
//! it creates (rkpc<tag>, rkps<tag> namespaces, table rkube-proxy-rkpc<tag>h) so a wrapper can
//! clean up after a kill.

use std::{
    fs::File,
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream},
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use k8s_openapi::api::{core::v1::Service, discovery::v1::EndpointSlice};
use nix::sched::{setns, CloneFlags};
use rkube_network::proxy::{self, Proxier, ProxyConfig};
use serde_json::json;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(out.status.success(), "ip {args:?}: {out:?}");
}

/// Everything the bench makes, removed on drop (also when it panics).
struct Lab {
    tag: String,
    server_ip: Ipv4Addr,
    httpd: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Lab {
    fn client_ns(&self) -> String {
        format!("rkpc{}", self.tag)
    }
    fn server_ns(&self) -> String {
        format!("rkps{}", self.tag)
    }
    /// The client's host-side veth: what the proxy treats as the pod bridge.
    fn bridge(&self) -> String {
        format!("rkpc{}h", self.tag)
    }

    fn new() -> Self {
        let n = env("RKUBE_BENCH_TAG", std::process::id() as usize) % 100_000;
        let tag = n.to_string();
        let x = (n % 100) as u8 * 2;
        let mut lab = Self {
            tag,
            server_ip: Ipv4Addr::new(10, 203, x + 1, 2),
            httpd: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
        };
        for (ns, net) in [(lab.client_ns(), x), (lab.server_ns(), x + 1)] {
            let (host, peer) = (format!("{ns}h"), format!("{ns}p"));
            ip(&["netns", "add", &ns]);
            ip(&[
                "link", "add", &host, "type", "veth", "peer", "name", &peer, "netns", &ns,
            ]);
            ip(&["addr", "add", &format!("10.203.{net}.1/24"), "dev", &host]);
            ip(&["link", "set", &host, "up"]);
            let inside = |args: &[&str]| {
                let mut all = vec!["netns", "exec", &ns, "ip"];
                all.extend_from_slice(args);
                ip(&all);
            };
            inside(&["addr", "add", &format!("10.203.{net}.2/24"), "dev", &peer]);
            inside(&["link", "set", &peer, "up"]);
            inside(&["link", "set", "lo", "up"]);
            inside(&["route", "add", "default", "via", &format!("10.203.{net}.1")]);
        }
        for port in [8001, 8002] {
            let root = lab.dir.path().join(port.to_string());
            std::fs::create_dir(&root).unwrap();
            std::fs::write(root.join("index.html"), format!("{port}\n")).unwrap();
            let child = Command::new("ip")
                .args(["netns", "exec", &lab.server_ns(), "busybox", "httpd", "-f"])
                .args(["-p", &port.to_string(), "-h"])
                .arg(&root)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            lab.httpd.push(child);
        }
        lab
    }

    /// Runs `f` on a thread inside the client's network namespace.
    fn in_client<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> thread::JoinHandle<T> {
        let ns = File::open(format!("/var/run/netns/{}", self.client_ns())).unwrap();
        thread::spawn(move || {
            setns(&ns, CloneFlags::CLONE_NEWNET).unwrap();
            f()
        })
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.httpd {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [self.client_ns(), self.server_ns()] {
            let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        }
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &proxy::table_name(&self.bridge())])
            .output();
    }
}

/// One HTTP/1.0 GET on a new connection; the body.
fn get(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    Ok(resp
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string())
}

const CLUSTER_IP: Ipv4Addr = Ipv4Addr::new(10, 243, 0, 10);

fn web() -> Service {
    serde_json::from_value(json!({
        "metadata": {"namespace": "bench", "name": "web"},
        "spec": {"clusterIP": CLUSTER_IP.to_string(), "ports": [{"name": "http", "port": 80}]}
    }))
    .unwrap()
}

fn web_slice(server: Ipv4Addr, port: u16) -> EndpointSlice {
    serde_json::from_value(json!({
        "metadata": {"namespace": "bench", "name": "web-x",
                     "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [server.to_string()], "nodeName": "bench"}]
    }))
    .unwrap()
}

/// `n` other Services with two (unreachable) endpoints each, as ballast.
fn ballast(n: usize, affinity: bool) -> (Vec<Service>, Vec<EndpointSlice>) {
    let affinity = if affinity { "ClientIP" } else { "None" };
    (0..n)
        .map(|i| {
            let (hi, lo) = (i / 250, i % 250);
            let svc = serde_json::from_value(json!({
                "metadata": {"namespace": "bench", "name": format!("s{i}")},
                "spec": {"clusterIP": format!("10.244.{hi}.{lo}"), "sessionAffinity": affinity,
                         "ports": [{"name": "http", "port": 80}]}
            }))
            .unwrap();
            let slice = serde_json::from_value(json!({
                "metadata": {"namespace": "bench", "name": format!("s{i}-x"),
                             "labels": {"kubernetes.io/service-name": format!("s{i}")}},
                "addressType": "IPv4",
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                "endpoints": [{"addresses": [format!("10.245.{hi}.{lo}")]},
                              {"addresses": [format!("10.246.{hi}.{lo}")]}]
            }))
            .unwrap();
            (svc, slice)
        })
        .unzip()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{name:<44} n={:<4} p50={:>7.2} ms  p99={:>7.2} ms  max={:>7.2} ms",
        v.len(),
        ms(pct(&v, 0.5)),
        ms(pct(&v, 0.99)),
        ms(*v.last().unwrap())
    );
}

/// What the change-to-live measurement works on.
struct Flipper<'a> {
    rt: &'a tokio::runtime::Runtime,
    proxier: Proxier,
    lab: &'a Lab,
    probe: mpsc::Sender<(String, mpsc::Sender<Option<Instant>>)>,
    svcs: Vec<Service>,
    slices: Vec<EndpointSlice>,
}

impl Flipper<'_> {
    /// Flips the endpoint `changes` times; per change (time to live, time in sync).
    fn flips(&mut self, changes: usize, full: bool) -> (Vec<Duration>, Vec<Duration>) {
        let (mut live, mut sync) = (Vec::new(), Vec::new());
        for i in 0..changes {
            let port = if i % 2 == 0 { 8002 } else { 8001 };
            self.slices[0] = web_slice(self.lab.server_ip, port);
            if full {
                self.proxier.invalidate();
            }
            let t0 = Instant::now();
            let stats = self
                .rt
                .block_on(self.proxier.sync(&self.svcs, &self.slices))
                .unwrap();
            let synced = t0.elapsed();
            assert_eq!(stats.full, full);
            let (tx, rx) = mpsc::channel();
            self.probe.send((port.to_string(), tx)).unwrap();
            let seen = rx.recv().unwrap().expect("the new endpoint answers");
            live.push(seen - t0);
            sync.push(synced);
        }
        (live, sync)
    }
}

#[test]
#[ignore = "benchmark (root): hack/bench/services.sh"]
fn bench_services() {
    let n_services = env("RKUBE_BENCH_SERVICES", 1000);
    let changes = env("RKUBE_BENCH_CHANGES", 100);
    let secs = env("RKUBE_BENCH_SECS", 10) as u64;
    // Short alternating rounds, so the machine's other load hits both paths alike.
    let rounds = secs as usize * 2;
    let round_len = Duration::from_secs(1);
    let workers = env("RKUBE_BENCH_WORKERS", 4);
    let lab = Lab::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cfg = ProxyConfig {
        bridge: lab.bridge(),
        node_name: "bench".into(),
        cluster_cidr: "10.203.0.0/16".parse().unwrap(),
    };
    let affinity = env("RKUBE_BENCH_AFFINITY", 0) == 1;
    let full_changes = env("RKUBE_BENCH_FULL_CHANGES", 10);
    let (mut svcs, mut slices) = ballast(n_services, affinity);
    svcs.insert(0, web());
    slices.insert(0, web_slice(lab.server_ip, 8001));
    let mut proxier = Proxier::new(cfg);
    let t0 = Instant::now();
    rt.block_on(proxier.sync(&svcs, &slices)).unwrap();
    println!(
        "first (full) sync of {} services: {:.1} ms",
        n_services + 1,
        ms(t0.elapsed())
    );

    // The prober: inside the client namespace, polls the ClusterIP until the wanted body.
    let (probe, requests) = mpsc::channel::<(String, mpsc::Sender<Option<Instant>>)>();
    let prober = lab.in_client(move || {
        let addr = SocketAddr::V4(SocketAddrV4::new(CLUSTER_IP, 80));
        for (want, reply) in requests {
            let deadline = Instant::now() + Duration::from_secs(10);
            let seen = loop {
                if matches!(get(addr), Ok(body) if body == want) {
                    break Some(Instant::now());
                }
                if Instant::now() > deadline {
                    break None;
                }
            };
            reply.send(seen).unwrap();
        }
    });
    // httpd is up once the first endpoint answers.
    let (tx, rx) = mpsc::channel();
    probe.send(("8001".into(), tx)).unwrap();
    rx.recv()
        .unwrap()
        .expect("httpd answers through the ClusterIP");

    // Where an incremental sync's time goes (pure parts; the rest is nft).
    slices[0] = web_slice(lab.server_ip, 8002);
    let t = Instant::now();
    let ports = proxy::service_ports(&svcs, &slices, "bench");
    let model = t.elapsed();
    let t = Instant::now();
    let (doc, stats) = proxier.plan(&ports);
    println!(
        "one change, pure parts: service_ports {:.2} ms, plan {:.2} ms ({} commands)",
        ms(model),
        ms(t.elapsed()),
        stats.commands
    );
    let text = doc.unwrap().to_string();
    let t = Instant::now();
    let mut nft = Command::new("nft")
        .args(["-j", "-c", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    nft.stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    assert!(nft.wait().unwrap().success());
    println!("  nft -j -c (check only) of it: {:.2} ms", ms(t.elapsed()));
    slices[0] = web_slice(lab.server_ip, 8001);

    let mut f = Flipper {
        rt: &rt,
        proxier,
        lab: &lab,
        probe,
        svcs,
        slices,
    };
    let (live, sync) = f.flips(changes, false);
    println!(
        "\n(a) EndpointSlice change -> rule live, {n_services} other services (2 endpoints \
         each, affinity {affinity}):"
    );
    summary("incremental: change -> first answer", live);
    summary("incremental: sync call (nft transaction)", sync);
    let (live, sync) = f.flips(full_changes, true);
    summary("full replace: change -> first answer", live);
    summary("full replace: sync call (nft transaction)", sync);
    let Flipper {
        mut proxier,
        probe,
        svcs,
        mut slices,
        ..
    } = f;
    drop(probe);
    prober.join().unwrap();

    if secs == 0 {
        rt.block_on(proxy::delete(&lab.bridge())).unwrap();
        return;
    }
    // (b) Back to one endpoint on 8001, then alternate direct / ClusterIP rounds.
    slices[0] = web_slice(lab.server_ip, 8001);
    rt.block_on(proxier.sync(&svcs, &slices)).unwrap();
    let direct = SocketAddr::V4(SocketAddrV4::new(lab.server_ip, 8001));
    let via = SocketAddr::V4(SocketAddrV4::new(CLUSTER_IP, 80));
    let mut totals = [(0usize, Vec::new()), (0usize, Vec::new())];
    for round in 0..rounds {
        let which = round % 2;
        let target = [direct, via][which];
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                lab.in_client(move || {
                    let end = Instant::now() + round_len;
                    let (mut errors, mut lat) = (0usize, Vec::new());
                    while Instant::now() < end {
                        let t = Instant::now();
                        match get(target) {
                            Ok(b) if b == "8001" => lat.push(t.elapsed()),
                            _ => errors += 1,
                        }
                    }
                    (errors, lat)
                })
            })
            .collect();
        for h in handles {
            let (errors, lat) = h.join().unwrap();
            totals[which].0 += errors;
            totals[which].1.extend(lat);
        }
    }
    println!(
        "\n(b) HTTP GET, new connection each, {workers} workers, {secs} s per path in 1 s rounds, alternating:"
    );
    let mut rps = [0.0; 2];
    for (i, name) in ["pod IP (direct)", "ClusterIP"].iter().enumerate() {
        let (errors, lat) = &mut totals[i];
        lat.sort();
        rps[i] = lat.len() as f64 / secs as f64;
        println!(
            "{name:<16} {:>8.0} req/s  p50={:.3} ms  p99={:.3} ms  errors={errors}",
            rps[i],
            ms(pct(lat, 0.5)),
            ms(pct(lat, 0.99)),
        );
    }
    println!("ratio ClusterIP/direct req/s: {:.3}", rps[1] / rps[0]);
    rt.block_on(proxy::delete(&lab.bridge())).unwrap();
}
