//! API benchmark (not a test): a release `rkube server` on the embedded store, driven through
//! kube-rs (and raw `?watch=1` streams over shared HTTP/2 connections), next to the raw
//! embedded store opened in this process doing the equivalent put/get/range/watch of the same
//! JSON bytes, in the same run. With `--etcd URL` the server stores in that etcd and the raw
//! side is the same etcd. Prints a table with the ratio to the raw store and the goals; it
//! asserts nothing about timings.
//!
//!   cargo build --release -p rkube -p rkube-bench
//!   target/release/api-bench --dir /var/tmp [--etcd http://127.0.0.1:2379]
//!
//! (hack/bench/api.sh does both.)

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::Parser;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::{
    api::{ListParams, PostParams},
    client::ConfigExt,
    Api, Client, Config,
};
use rkube_bench::load::concurrent;
use rkube_bench::server::{cpu_secs, Server, QUIET_CORES, QUIET_FOR};
use rkube_store::{
    embedded::EmbeddedStore,
    etcd::{EtcdConfig, EtcdStore},
    RangeRequest, Store, StoreExt, WatchRequest,
};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// The rkube binary to benchmark (default: this workspace's target/release/rkube).
    #[arg(long)]
    rkube: Option<PathBuf>,
    /// Parent of the temporary directory holding the server's data and the raw store (on a
    /// real disk, so fsync is real; not tmpfs).
    #[arg(long, env = "RKUBE_BENCH_DIR", default_value = "/var/tmp")]
    dir: PathBuf,
    /// Scale the create, GET and watch counts by this factor (0.1 for a quick look). The LIST
    /// always covers 10k pods.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Keep the temporary directory (server log and data) instead of removing it.
    #[arg(long)]
    keep: bool,
    /// A running etcd's client URL: the server stores there (`--datastore-endpoint`) and the
    /// raw side is etcd itself, instead of the embedded store (hack/bench/api.sh --etcd).
    #[arg(long)]
    etcd: Option<String>,
    /// Only these parts (create = creates and GETs, pods = the 10k-pod LISTs and RSS, watch),
    /// e.g. `--only create` to iterate on the create path.
    #[arg(long, value_delimiter = ',', default_value = "create,pods,watch")]
    only: Vec<Part>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Create,
    Pods,
    Watch,
}

/// The raw side's keys live under this prefix, apart from the server's `/registry` when both
/// share one etcd.
const RAW: &str = "/api-bench-raw";

/// Pods stored for the LIST and the loaded-RSS measurement.
const PODS: usize = 10_000;
/// Watch streams per HTTP/2 connection (the server allows 200 concurrent streams).
const STREAMS_PER_CONN: usize = 100;
/// Longest wait for every watcher to receive every event.
const WATCH_DEADLINE: Duration = Duration::from_secs(180);
/// Longest wait for the server to settle before the settled LIST.
const QUIET_DEADLINE: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// The server under test

// ---------------------------------------------------------------------------------------------
// Raw HTTP/2 watch streams

/// `conns` HTTP/2 connections to the server, authenticated with the kubeconfig's client
/// certificate, for many concurrent streams.
async fn h2_connections(
    config: &Config,
    conns: usize,
) -> Result<Vec<http2::SendRequest<Empty<Bytes>>>> {
    let mut tls = config.rustls_client_config()?;
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let host = config
        .cluster_url
        .host()
        .context("no host in the cluster URL")?
        .trim_matches(['[', ']'])
        .to_string();
    let port = config.cluster_url.port_u16().unwrap_or(443);
    let name = rustls_pki_types::ServerName::try_from(
        config
            .tls_server_name
            .clone()
            .unwrap_or_else(|| host.clone()),
    )?;
    let mut out = Vec::new();
    for _ in 0..conns {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
        tcp.set_nodelay(true)?;
        let tls = connector.connect(name.clone(), tcp).await?;
        anyhow::ensure!(
            tls.get_ref().1.alpn_protocol() == Some(b"h2"),
            "the server did not negotiate HTTP/2"
        );
        let (send, conn) = http2::Builder::new(TokioExecutor::new())
            .adaptive_window(true)
            .handshake(TokioIo::new(tls))
            .await?;
        tokio::spawn(conn);
        out.push(send);
    }
    Ok(out)
}

/// Opens one watch stream (response headers received) and counts its events (lines) in the
/// background until `want`; `delivered` counts across all streams.
async fn open_watch(
    send: &mut http2::SendRequest<Empty<Bytes>>,
    url: &str,
    want: u64,
    delivered: Arc<AtomicU64>,
) -> Result<tokio::task::JoinHandle<(u64, String)>> {
    send.ready().await?;
    let resp = send
        .send_request(hyper::Request::get(url).body(Empty::new())?)
        .await?;
    if !resp.status().is_success() {
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        bail!("GET {url}: {status}: {}", String::from_utf8_lossy(&body));
    }
    let mut body = resp.into_body();
    Ok(tokio::spawn(async move {
        let (mut seen, mut first) = (0u64, Vec::new());
        while seen < want {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        if first.len() < 300 {
                            first.extend_from_slice(&data[..data.len().min(300)]);
                        }
                        let n = data.iter().filter(|&&b| b == b'\n').count() as u64;
                        seen += n;
                        delivered.fetch_add(n, Ordering::Relaxed);
                    }
                }
                _ => break,
            }
        }
        (seen, String::from_utf8_lossy(&first).into_owned())
    }))
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64()
}

/// Median of `runs` timed calls of `f` (after one untimed warm-up), and `f`'s last result.
async fn median<F, Fut, T>(runs: usize, mut f: F) -> Result<(Duration, T)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut last = f().await?;
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        last = f().await?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok((times[runs / 2], last))
}

// ---------------------------------------------------------------------------------------------
// Objects (the same JSON bytes go to the server and to the raw store)

fn configmap(ns: &str, name: &str, payload: usize) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "bench", "tier": "config"}},
        "data": {"mode": "bench", "payload": "x".repeat(payload)},
    }))
    .expect("a valid ConfigMap")
}

/// A small, realistic pod: one container with ports, env, resources and probes.
fn pod(ns: &str, i: usize) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("web-{i:05}"),
            "namespace": ns,
            "labels": {"app": "web", "shard": (i % 16).to_string()},
            "annotations": {"bench.rkube.io/index": i.to_string()},
        },
        "spec": {
            "containers": [{
                "name": "web",
                "image": "registry.k8s.io/nginx-slim:0.27",
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "MODE", "value": "production"}, {"name": "SHARD", "value": (i % 16).to_string()}],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "64Mi"},
                    "limits": {"memory": "128Mi"},
                },
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
        },
    }))
    .expect("a valid Pod")
}

async fn create_namespace(client: &Client, name: &str) -> Result<()> {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The table

struct Row {
    name: String,
    unit: &'static str,
    api: f64,
    raw: Option<f64>,
    lower_better: bool,
    goal: Option<(&'static str, bool)>,
}

impl Row {
    fn new(name: impl Into<String>, unit: &'static str, api: f64, raw: Option<f64>) -> Self {
        Self {
            name: name.into(),
            unit,
            api,
            raw,
            lower_better: false,
            goal: None,
        }
    }

    fn lower(mut self) -> Self {
        self.lower_better = true;
        self
    }

    /// API as a fraction of the raw store: above 1 is better than raw, either way round.
    fn ratio(&self) -> Option<f64> {
        let raw = self.raw?;
        Some(if self.lower_better {
            raw / self.api
        } else {
            self.api / raw
        })
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "| {:<40} | {:>8} | {:>11} | {:>11} | {:>6} | {:<27} |",
        "operation", "unit", "rkube API", "raw store", "ratio", "goal"
    );
    println!(
        "|{:-<42}|{:-<10}|{:-<13}|{:-<13}|{:-<8}|{:-<29}|",
        "", "", "", "", "", ""
    );
    for r in rows {
        let raw = r.raw.map_or("-".to_string(), |v| format!("{v:.1}"));
        let ratio = r.ratio().map_or("-".to_string(), |v| format!("{v:.2}"));
        let goal = r.goal.map_or(String::new(), |(g, met)| {
            format!("{g}: {}", if met { "met" } else { "MISSED" })
        });
        println!(
            "| {:<40} | {:>8} | {:>11.1} | {:>11} | {:>6} | {:<27} |",
            r.name, r.unit, r.api, raw, ratio, goal
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The benchmark

struct Ctx {
    client: Client,
    config: Config,
    store: Arc<dyn Store>,
    scale: f64,
}

impl Ctx {
    fn n(&self, base: usize) -> usize {
        ((base as f64 * self.scale) as usize).max(10)
    }
}

async fn bench_create_get(cx: &Ctx, rows: &mut Vec<Row>) -> Result<()> {
    let ns = "bench";
    create_namespace(&cx.client, ns).await?;
    let total = cx.n(5_000);

    eprintln!("create: {total} ConfigMaps from 64 clients...");
    let api: Api<ConfigMap> = Api::namespaced(cx.client.clone(), ns);
    let a = api.clone();
    let (api_rate, _) = concurrent(64, total, move |i| {
        let (a, cm) = (a.clone(), configmap(ns, &format!("cm-{i:05}"), 512));
        async move {
            a.create(&PostParams::default(), &cm).await?;
            Ok(())
        }
    })
    .await?;
    // The same requests with dryRun=All: the whole request path but the store write (the
    // namespace and name are still read), i.e. what the API could do with a free commit.
    eprintln!("create: {total} dry-run ConfigMaps from 64 clients...");
    let a = api.clone();
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let (dry_rate, _) = concurrent(64, total, move |i| {
        let (a, dry, cm) = (
            a.clone(),
            dry.clone(),
            configmap(ns, &format!("dry-{i:05}"), 512),
        );
        async move {
            a.create(&dry, &cm).await?;
            Ok(())
        }
    })
    .await?;
    let s = Arc::clone(&cx.store);
    let (raw_rate, _) = concurrent(64, total, move |i| {
        let s = Arc::clone(&s);
        let name = format!("cm-{i:05}");
        let value = serde_json::to_vec(&configmap(ns, &name, 512)).expect("serializes");
        async move {
            s.put(
                format!("{RAW}/registry/configmaps/{ns}/{name}").as_bytes(),
                &value,
            )
            .await?;
            Ok(())
        }
    })
    .await?;
    let mut row = Row::new(
        "create ConfigMap, 64 clients",
        "obj/s",
        api_rate,
        Some(raw_rate),
    );
    row.goal = Some((">= 0.50 of raw puts", api_rate >= 0.5 * raw_rate));
    rows.push(row);
    rows.push(Row::new(
        "  the same, dryRun=All (no write)",
        "obj/s",
        dry_rate,
        Some(raw_rate),
    ));

    let gets = cx.n(20_000);
    eprintln!("get: {gets} GETs from 16 clients...");
    let a = api.clone();
    let (api_rate, api_lat) = concurrent(16, gets, move |i| {
        let (a, name) = (a.clone(), format!("cm-{:05}", i % total));
        async move {
            a.get(&name).await?;
            Ok(())
        }
    })
    .await?;
    let s = Arc::clone(&cx.store);
    let (raw_rate, raw_lat) = concurrent(16, gets, move |i| {
        let s = Arc::clone(&s);
        let key = format!("{RAW}/registry/configmaps/{ns}/cm-{:05}", i % total);
        async move {
            s.get(key.as_bytes()).await?.context("missing key")?;
            Ok(())
        }
    })
    .await?;
    rows.push(Row::new(
        "GET ConfigMap, 16 clients",
        "ops/s",
        api_rate,
        Some(raw_rate),
    ));
    for (name, p) in [("GET p50, 16 clients", 0.5), ("GET p99, 16 clients", 0.99)] {
        rows.push(
            Row::new(
                name,
                "µs",
                percentile(&api_lat, p) * 1e6,
                Some(percentile(&raw_lat, p) * 1e6),
            )
            .lower(),
        );
    }
    Ok(())
}

async fn bench_pods(cx: &Ctx, server: &Server, rows: &mut Vec<Row>) -> Result<()> {
    let ns = "pods";
    create_namespace(&cx.client, ns).await?;

    eprintln!("pods: creating {PODS} pods from 64 clients...");
    let api: Api<Pod> = Api::namespaced(cx.client.clone(), ns);
    let a = api.clone();
    let (api_rate, _) = concurrent(64, PODS, move |i| {
        let (a, p) = (a.clone(), pod(ns, i));
        async move {
            a.create(&PostParams::default(), &p).await?;
            Ok(())
        }
    })
    .await?;
    let s = Arc::clone(&cx.store);
    let (raw_rate, _) = concurrent(64, PODS, move |i| {
        let s = Arc::clone(&s);
        let value = serde_json::to_vec(&pod(ns, i)).expect("serializes");
        async move {
            s.put(
                format!("{RAW}/registry/pods/{ns}/web-{i:05}").as_bytes(),
                &value,
            )
            .await?;
            Ok(())
        }
    })
    .await?;
    rows.push(Row::new(
        "create Pod, 64 clients",
        "obj/s",
        api_rate,
        Some(raw_rate),
    ));
    let rss_stored = server.rss_mib()?;

    // Right after the creates the server's scheduler and controllers are still working
    // through the 10k Pending pods (FailedScheduling status writes and events), on the same
    // cores: the LIST is timed then (as earlier rounds did) and again once the server has
    // settled, which is what a LIST of a quiet cluster costs.
    let path = format!("/api/v1/namespaces/{ns}/pods");
    eprintln!("pods: LIST of {PODS} pods while the server is busy...");
    let busy = time_list(cx, server, &path).await?;
    eprintln!(
        "pods: waiting for the server to settle (< {QUIET_CORES} cores for {QUIET_FOR:?})..."
    );
    let settled = server.quiesce(QUIET_DEADLINE).await?;
    match settled {
        Some(d) => eprintln!("pods: settled after {:.1}s", d.as_secs_f64()),
        None => eprintln!(
            "pods: warning: the server did not settle within {QUIET_DEADLINE:?}; timing anyway"
        ),
    }
    let rss_settled = server.rss_mib()?;
    eprintln!("pods: LIST of {PODS} pods, settled...");
    let settled_list = time_list(cx, server, &path).await?;
    let (api_t, body) = (settled_list.median, &settled_list.body);
    let store = Arc::clone(&cx.store);
    let prefix = format!("{RAW}/registry/pods/{ns}/");
    let (raw_t, raw_bytes) = median(7, || {
        let (store, prefix) = (Arc::clone(&store), prefix.clone());
        async move {
            let r = store.range(RangeRequest::prefix(prefix)).await?;
            anyhow::ensure!(r.kvs.len() == PODS, "range returned {}", r.kvs.len());
            Ok(r.kvs.iter().map(|kv| kv.value.len()).sum::<usize>())
        }
    })
    .await?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    rows.push(
        Row::new(
            "LIST 10k pods, JSON, server busy",
            "ms",
            ms(busy.median),
            Some(ms(raw_t)),
        )
        .lower(),
    );
    rows.push(Row::new(
        "  server CPU per LIST, busy (incl. ctrl)",
        "ms",
        busy.server_cpu * 1e3,
        None,
    ));
    let settled_name = if settled.is_some() {
        "LIST 10k pods, JSON, server settled"
    } else {
        "LIST 10k pods, JSON (did NOT settle)"
    };
    let mut row = Row::new(settled_name, "ms", ms(api_t), Some(ms(raw_t))).lower();
    row.goal = Some(("< 150 ms", ms(api_t) < 150.0));
    rows.push(row);
    rows.push(Row::new(
        "  server CPU per LIST, settled",
        "ms",
        settled_list.server_cpu * 1e3,
        None,
    ));
    rows.push(Row::new(
        "  client CPU per LIST, settled",
        "ms",
        settled_list.client_cpu * 1e3,
        None,
    ));
    let mibs = |bytes: usize, d: Duration| bytes as f64 / d.as_secs_f64() / (1024.0 * 1024.0);
    rows.push(Row::new(
        format!(
            "LIST 10k pods, body {:.1} / {:.1} MiB",
            body.len() as f64 / 1048576.0,
            raw_bytes as f64 / 1048576.0
        ),
        "MiB/s",
        mibs(body.len(), api_t),
        Some(mibs(raw_bytes, raw_t)),
    ));

    // The same LIST decoded into typed objects, as a kube-rs controller's relist does.
    let (api_typed, _) = median(3, || {
        let api = api.clone();
        async move { Ok(api.list(&ListParams::default()).await?.items.len()) }
    })
    .await?;
    let store = Arc::clone(&cx.store);
    let (raw_typed, _) = median(3, || {
        let (store, prefix) = (Arc::clone(&store), prefix.clone());
        async move {
            let r = store.range(RangeRequest::prefix(prefix)).await?;
            let pods = r
                .kvs
                .iter()
                .map(|kv| serde_json::from_slice::<Pod>(&kv.value))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(pods.len())
        }
    })
    .await?;
    rows.push(
        Row::new(
            "LIST 10k pods, kube-rs typed",
            "ms",
            ms(api_typed),
            Some(ms(raw_typed)),
        )
        .lower(),
    );

    rows.push(Row::new(
        "server RSS, 10k pods stored",
        "MiB",
        rss_stored,
        None,
    ));
    rows.push(Row::new(
        "server RSS, settled, before its LISTs",
        "MiB",
        rss_settled,
        None,
    ));
    rows.push(Row::new(
        "server RSS, after the LISTs",
        "MiB",
        server.rss_mib()?,
        None,
    ));
    Ok(())
}

/// Median of 7 timed LISTs of `path` as JSON bytes (after a warm-up), the CPU seconds per
/// LIST, and the last body (checked to hold every pod).
async fn time_list(cx: &Ctx, server: &Server, path: &str) -> Result<Listed> {
    const RUNS: usize = 7;
    let client = cx.client.clone();
    let get = || {
        let (client, path) = (client.clone(), path.to_string());
        async move {
            let resp = client
                .send(hyper::Request::get(path.as_str()).body(kube::client::Body::empty())?)
                .await?;
            anyhow::ensure!(resp.status().is_success(), "GET {path}: {}", resp.status());
            Ok(resp.into_body().collect_bytes().await?)
        }
    };
    // `median` makes one untimed warm-up call: RUNS + 1 LISTs in the CPU delta.
    let (cpu0, client0) = (server.cpu_secs()?, cpu_secs("self")?);
    let (t, body) = median(RUNS, get).await?;
    let cpu = (server.cpu_secs()? - cpu0) / (RUNS + 1) as f64;
    let client_cpu = (cpu_secs("self")? - client0) / (RUNS + 1) as f64;
    let listed: serde_json::Value = serde_json::from_slice(&body)?;
    let items = listed["items"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(items == PODS, "GET {path} returned {items} items");
    Ok(Listed {
        median: t,
        server_cpu: cpu,
        client_cpu,
        body,
    })
}

/// What [`time_list`] measured.
struct Listed {
    median: Duration,
    /// Server CPU seconds per LIST.
    server_cpu: f64,
    /// This process's (the client's: TLS, HTTP, collecting the body) CPU seconds per LIST.
    client_cpu: f64,
    body: Bytes,
}

async fn bench_watch(cx: &Ctx, watchers: usize, events: usize, rows: &mut Vec<Row>) -> Result<()> {
    let ns = format!("watch{watchers}");
    create_namespace(&cx.client, &ns).await?;
    eprintln!("watch: {watchers} watchers, {events} events each...");

    // API: every stream starts from the same resourceVersion, so none can miss an event
    // however late the server registers it.
    let api: Api<ConfigMap> = Api::namespaced(cx.client.clone(), &ns);
    let rv = api
        .list(&ListParams::default().limit(1))
        .await?
        .metadata
        .resource_version
        .context("a list without resourceVersion")?;
    let base = cx.config.cluster_url.to_string();
    let url = format!(
        "{}/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion={rv}",
        base.trim_end_matches('/')
    );
    let mut conns = h2_connections(&cx.config, watchers.div_ceil(STREAMS_PER_CONN)).await?;
    let delivered = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..watchers {
        let send = &mut conns[w / STREAMS_PER_CONN];
        tasks.push(open_watch(send, &url, events as u64, Arc::clone(&delivered)).await?);
    }
    let start = Instant::now();
    let a = api.clone();
    let writes = {
        let ns = ns.clone();
        concurrent(16, events, move |i| {
            let (a, cm) = (a.clone(), configmap(&ns, &format!("w-{i:05}"), 256));
            async move {
                a.create(&PostParams::default(), &cm).await?;
                Ok(())
            }
        })
    };
    writes.await?;
    let api_rate = finish_watch(tasks, start, &delivered, watchers, events, "API").await;
    drop(conns);

    // Raw store: the same writes of the same bytes under a prefix with as many store watches.
    let prefix = format!("{RAW}/registry/configmaps/{ns}/");
    let delivered = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..watchers {
        let mut w = cx.store.watch(WatchRequest::prefix(prefix.clone())).await?;
        let delivered = Arc::clone(&delivered);
        tasks.push(tokio::spawn(async move {
            let mut seen = 0u64;
            while seen < events as u64 {
                match w.next().await {
                    Some(Ok(_)) => {
                        seen += 1;
                        delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Err(e)) => return (seen, format!("{e}")),
                    None => break,
                }
            }
            (seen, String::new())
        }));
    }
    let start = Instant::now();
    let s = Arc::clone(&cx.store);
    concurrent(16, events, move |i| {
        let s = Arc::clone(&s);
        let name = format!("w-{i:05}");
        let key = format!("{prefix}{name}");
        let value = serde_json::to_vec(&configmap(&ns, &name, 256)).expect("serializes");
        async move {
            s.put(key.as_bytes(), &value).await?;
            Ok(())
        }
    })
    .await?;
    let raw_rate = finish_watch(tasks, start, &delivered, watchers, events, "raw store").await;
    rows.push(Row::new(
        format!("watch, {watchers} watchers"),
        "events/s",
        api_rate,
        Some(raw_rate),
    ));
    Ok(())
}

/// Waits for every watcher (up to [`WATCH_DEADLINE`]); events delivered per second.
async fn finish_watch(
    tasks: Vec<tokio::task::JoinHandle<(u64, String)>>,
    start: Instant,
    delivered: &AtomicU64,
    watchers: usize,
    events: usize,
    what: &str,
) -> f64 {
    let deadline = tokio::time::Instant::from_std(start + WATCH_DEADLINE);
    let mut short = 0;
    let mut example = String::new();
    for t in tasks {
        let abort = t.abort_handle();
        match tokio::time::timeout_at(deadline, t).await {
            Ok(Ok((seen, _))) if seen >= events as u64 => {}
            Ok(Ok((_, first))) => {
                short += 1;
                example = first;
            }
            _ => {
                abort.abort();
                short += 1;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let got = delivered.load(Ordering::Relaxed);
    if short > 0 {
        eprintln!(
            "warning: {what}: {short} of {watchers} watchers got fewer than {events} events \
             ({got} of {} delivered); a short stream began: {example:?}",
            watchers * events
        );
    }
    got.min((watchers * events) as u64) as f64 / elapsed
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bin = rkube_bench::server::binary(args.rkube.as_deref())?;
    std::fs::create_dir_all(&args.dir)?;
    let tmp = tempfile::Builder::new()
        .prefix("rkube-api-bench.")
        .tempdir_in(&args.dir)?;
    eprintln!("bench directory: {}", tmp.path().display());
    let (server_dir, raw_dir) = (tmp.path().join("server"), tmp.path().join("raw"));
    std::fs::create_dir_all(&server_dir)?;
    std::fs::create_dir_all(&raw_dir)?;

    let extra = match &args.etcd {
        Some(url) => vec!["--datastore-endpoint".to_string(), url.clone()],
        None => Vec::new(),
    };
    let mut server = Server::start_with(&bin, &server_dir, &extra)?;
    let result = run(&args, &mut server, &raw_dir).await;
    if result.is_err() {
        eprintln!("--- server log tail ---\n{}", server.log_tail());
    }
    server.stop();
    if args.keep {
        eprintln!("kept {}", tmp.keep().display());
    }
    let rows = result?;
    print_table(&rows);
    Ok(())
}

async fn run(args: &Args, server: &mut Server, raw_dir: &Path) -> Result<Vec<Row>> {
    let started = Instant::now();
    let (client, config) = server.ready().await?;
    eprintln!("server ready in {:.2}s", started.elapsed().as_secs_f64());
    let mut rows = Vec::new();
    let idle = server.rss_mib()?;
    let mut row = Row::new("server RSS, idle after start", "MiB", idle, None);
    row.goal = Some(("< 30 MiB", idle < 30.0));
    rows.push(row);

    let store: Arc<dyn Store> = match &args.etcd {
        Some(url) => {
            let cfg = EtcdConfig {
                endpoints: vec![url.clone()],
                ..EtcdConfig::default()
            };
            Arc::new(EtcdStore::connect(&cfg).await?)
        }
        None => Arc::new(EmbeddedStore::open(raw_dir)?),
    };
    let cx = Ctx {
        client,
        config,
        store: Arc::clone(&store),
        scale: args.scale,
    };
    if args.only.contains(&Part::Create) {
        bench_create_get(&cx, &mut rows).await?;
    }
    if args.only.contains(&Part::Pods) {
        bench_pods(&cx, server, &mut rows).await?;
    }
    if args.only.contains(&Part::Watch) {
        bench_watch(&cx, 100, cx.n(1_000), &mut rows).await?;
        bench_watch(&cx, 1000, cx.n(200), &mut rows).await?;
    }
    rows.push(Row::new(
        "server RSS, peak (VmHWM)",
        "MiB",
        server.proc_kib("VmHWM")? / 1024.0,
        None,
    ));
    store.close().await?;
    Ok(rows)
}
