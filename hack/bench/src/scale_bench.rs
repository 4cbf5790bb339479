//! scale-bench: issue 5's scale benchmarks against a running server with simulated nodes
//! (hack/bench/scale.sh starts both):
//!
//! 1. scheduler throughput: `--pods` pods are created with a scheduler name no running
//!    scheduler answers to, then rkube's scheduler (the same code the server runs) is
//!    started in this process for that name; the rate is taken from when a pod watch sees
//!    each pod's `spec.nodeName` appear, over 1 s samples as upstream's scheduler_perf
//!    does, not from client call times;
//! 2. a Deployment of `--replicas` replicas (the server's own controllers and scheduler)
//!    from create to all Ready, with the moments the last pod was created, bound, Ready;
//! 3. the server's (and the simulator's) RSS with all those pods running.
//!
//! It asserts nothing about timings; it prints a Markdown table.

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    pin::pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use clap::Parser;
use futures_util::{stream, StreamExt};
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Event, Namespace, Node, Pod, ServiceAccount},
};
use kube::{
    api::{Api, ListParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::watcher,
    Client, Config,
};
use serde_json::{json, Value};
use tokio::time::Instant;

/// A scheduler name nothing else answers to: the server's scheduler leaves these pods alone.
const BENCH_SCHEDULER: &str = "rkube-scale-bench";

#[derive(Parser)]
#[command(about = "Scale benchmarks: scheduler throughput, a large Deployment, control-plane RSS")]
struct Args {
    /// Admin kubeconfig of the server under test.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Simulated nodes to wait for (all Ready) before starting.
    #[arg(long, default_value_t = 1000)]
    nodes: usize,
    /// Pods for the scheduler throughput run.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Replicas of the Deployment.
    #[arg(long, default_value_t = 1000)]
    replicas: usize,
    /// Pod creates in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// The server's pid, for its RSS.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The simulator's pid (`rkube sim`), for its RSS.
    #[arg(long)]
    sim_pid: Option<u32>,
    /// Longest wait for any one phase.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
}

/// One row of the results table.
struct Row(String, String, String);

fn row(what: impl Into<String>, value: impl Into<String>, note: impl Into<String>) -> Row {
    Row(what.into(), value.into(), note.into())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let kc = Kubeconfig::read_from(&args.kubeconfig)?;
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    config.read_timeout = Some(Duration::from_secs(300));
    let client = Client::try_from(config)?;
    let timeout = Duration::from_secs(args.timeout_secs);
    let mut rows = Vec::new();

    let t = Instant::now();
    wait_for_nodes(&client, args.nodes, timeout).await?;
    eprintln!("{} nodes Ready after {:.1?}", args.nodes, t.elapsed());
    rows.push(rss_row("after nodes Ready", &args));

    scheduler_throughput(&client, &args, timeout, &mut rows).await?;
    rows.push(rss_row(
        &format!("{} nodes / {} pods Running", args.nodes, args.pods),
        &args,
    ));
    deployment(&client, &args, timeout, &mut rows).await?;
    rows.push(rss_row(
        &format!(
            "{} nodes / {} pods Running",
            args.nodes,
            args.pods + args.replicas
        ),
        &args,
    ));

    println!("| measurement | value | notes |");
    println!("| --- | --- | --- |");
    for Row(a, b, c) in rows {
        println!("| {a} | {b} | {c} |");
    }
    Ok(())
}

async fn wait_for_nodes(client: &Client, want: usize, timeout: Duration) -> Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + timeout;
    loop {
        let ready = match api.list(&ListParams::default()).await {
            Ok(l) => l.items.iter().filter(|n| node_ready(n)).count(),
            Err(e) => {
                eprintln!("listing nodes: {e}");
                0
            }
        };
        if ready >= want {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {ready} of {want} nodes Ready after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn node_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Creates a namespace and waits for its default ServiceAccount (pods need it).
async fn namespace(client: &Client, name: &str, timeout: Duration) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), name);
    let deadline = Instant::now() + timeout;
    while sas.get_opt("default").await?.is_none() {
        if Instant::now() > deadline {
            bail!("no default ServiceAccount in {name}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// scheduler_perf's default pod: 100m cpu, 500Mi memory.
fn pod_spec(scheduler: &str) -> Value {
    json!({
        "schedulerName": scheduler,
        "containers": [{
            "name": "pause",
            "image": "registry.k8s.io/pause:3.10",
            "resources": {
                "requests": {"cpu": "100m", "memory": "500Mi"},
                "limits": {"cpu": "100m", "memory": "500Mi"},
            },
        }],
    })
}

/// When a watch first saw each pod bound, Ready, and the first sighting at all.
#[derive(Default)]
struct Seen {
    created: HashMap<String, Instant>,
    bound: HashMap<String, Instant>,
    ready: HashMap<String, Instant>,
    synced: bool,
}

/// Watches the pods of `ns`, recording when each was first seen, bound and Ready.
fn watch_pods(client: &Client, ns: &str) -> (Arc<Mutex<Seen>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let s = seen.clone();
    let task = tokio::spawn(async move {
        let mut events = pin!(watcher(api, watcher::Config::default()));
        while let Some(ev) = events.next().await {
            let now = Instant::now();
            let pod = match ev {
                Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => p,
                Ok(watcher::Event::InitDone) => {
                    s.lock().unwrap().synced = true;
                    continue;
                }
                Ok(_) => continue,
                Err(e) => {
                    eprintln!("pod watch: {e}");
                    continue;
                }
            };
            let name = pod.metadata.name.clone().unwrap_or_default();
            let mut s = s.lock().unwrap();
            s.created.entry(name.clone()).or_insert(now);
            let bound = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_some_and(|n| !n.is_empty());
            if bound {
                s.bound.entry(name.clone()).or_insert(now);
            }
            let ready = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            if ready {
                s.ready.entry(name).or_insert(now);
            }
        }
    });
    (seen, task)
}

/// The Scheduled events a watch has seen, and when the last new one arrived.
#[derive(Default)]
struct Scheduled {
    names: HashSet<String>,
    last: Option<Instant>,
}

/// Watches the Scheduled events of `ns` (the scheduler's recorder writes them behind the
/// bindings, and drops them when its queue is full).
fn watch_scheduled(
    client: &Client,
    ns: &str,
) -> (Arc<Mutex<Scheduled>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Scheduled::default()));
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let s = seen.clone();
    let task = tokio::spawn(async move {
        let cfg = watcher::Config::default().fields("reason=Scheduled");
        let mut events = pin!(watcher(api, cfg));
        while let Some(ev) = events.next().await {
            if let Ok(watcher::Event::Apply(e) | watcher::Event::InitApply(e)) = ev {
                let mut s = s.lock().unwrap();
                if s.names.insert(e.metadata.name.unwrap_or_default()) {
                    s.last = Some(Instant::now());
                }
            }
        }
    });
    (seen, task)
}

/// Waits until `want` Scheduled events were seen, or none came for 10 s (the rest were
/// dropped); returns how many.
async fn drain_scheduled(seen: &Mutex<Scheduled>, want: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    let quiet = Duration::from_secs(10);
    let start = Instant::now();
    loop {
        let (n, last) = {
            let s = seen.lock().unwrap();
            (s.names.len(), s.last.unwrap_or(start).max(start))
        };
        if n >= want || last.elapsed() > quiet || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `done` on the watch's record until it holds.
async fn wait_seen(
    seen: &Mutex<Seen>,
    timeout: Duration,
    what: &str,
    done: impl Fn(&Seen) -> bool,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !done(&seen.lock().unwrap()) {
        if Instant::now() > deadline {
            let s = seen.lock().unwrap();
            bail!(
                "{what}: not done after {timeout:?} ({} seen, {} bound, {} ready)",
                s.created.len(),
                s.bound.len(),
                s.ready.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn scheduler_throughput(
    client: &Client,
    args: &Args,
    timeout: Duration,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let ns = "scale-sched";
    namespace(client, ns, timeout).await?;
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let spec = pod_spec(BENCH_SCHEDULER);
    let cpu = Cpu::now(args);
    let start = Instant::now();
    let failures = stream::iter(0..args.pods)
        .map(|i| {
            let (api, spec) = (api.clone(), spec.clone());
            async move {
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": format!("sched-{i}"), "labels": {"app": "scale-sched"}},
                    "spec": spec,
                }))
                .expect("a valid Pod");
                create_retrying(&api, &pod).await
            }
        })
        .buffer_unordered(args.concurrency)
        .filter(|r| std::future::ready(r.is_err()))
        .count()
        .await;
    let took = start.elapsed();
    if failures > 0 {
        bail!("{failures} pod creates failed");
    }
    eprintln!("created {} pods in {took:.1?}", args.pods);
    rows.push(row(
        "pod create rate (API server create path)",
        format!("{:.0} pods/s", args.pods as f64 / took.as_secs_f64()),
        format!(
            "{} pods, {} in flight, kube-rs client; {took:.1?}",
            args.pods, args.concurrency
        ),
    ));
    rows.push(cpu.row(args, "creating the pods", args.pods, took));

    let (seen, watch) = watch_pods(client, ns);
    wait_seen(&seen, timeout, "pod watch sync", |s| {
        s.synced && s.created.len() >= args.pods
    })
    .await?;
    let (events, events_watch) = watch_scheduled(client, ns);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let cpu = Cpu::now(args);
    let t0 = Instant::now();
    let sched_client = client.clone();
    let scheduler = tokio::spawn(async move {
        rkube_scheduler::run_as(sched_client, BENCH_SCHEDULER, async {
            let _ = stop_rx.await;
        })
        .await
    });
    wait_seen(&seen, timeout, "binding", |s| s.bound.len() >= args.pods).await?;
    let t_bound = t0.elapsed();
    let cpu_row = cpu.row(
        args,
        "scheduling (bench = the scheduler)",
        args.pods,
        t_bound,
    );
    let cpu = Cpu::now(args);
    let (first, last, samples) = {
        let s = seen.lock().unwrap();
        let mut times: Vec<Duration> = s.bound.values().map(|t| *t - t0).collect();
        times.sort();
        (times[0], times[times.len() - 1], per_second(&times))
    };
    rows.push(row(
        "scheduler throughput, start to last bound",
        format!("{:.0} pods/s", args.pods as f64 / t_bound.as_secs_f64()),
        format!(
            "{} pods on {} nodes; first bound after {first:.1?} (initial list), last after {last:.1?}",
            args.pods, args.nodes
        ),
    ));
    rows.push(row(
        "scheduler throughput, first to last bound",
        format!(
            "{:.0} pods/s",
            (args.pods - 1) as f64 / (last - first).as_secs_f64().max(1e-3)
        ),
        format!(
            "1 s samples (scheduler_perf's SchedulingThroughput): {}",
            sample_summary(&samples)
        ),
    ));
    rows.push(cpu_row);
    wait_seen(&seen, timeout, "pods Ready", |s| s.ready.len() >= args.pods).await?;
    let t_ready = t0.elapsed();
    rows.push(cpu.row(
        args,
        "from all bound to all Ready",
        args.pods,
        t_ready - t_bound,
    ));
    rows.push(row(
        "all pods Running and Ready (simulated kubelets)",
        format!("{:.1} s", t_ready.as_secs_f64()),
        format!(
            "from the scheduler's start; {:.0} pods/s",
            args.pods as f64 / t_ready.as_secs_f64()
        ),
    ));
    // The Scheduled events trail the bindings: let them finish before the next phase, so
    // that phase's CPU is its own.
    let cpu = Cpu::now(args);
    let t = Instant::now();
    let written = drain_scheduled(&events, args.pods, timeout).await;
    let last = events.lock().unwrap().last.map(|l| l - t0);
    rows.push(row(
        "Scheduled events written (the bench's scheduler)",
        format!("{written} of {}", args.pods),
        format!(
            "the last seen {:.1} s after the scheduler's start; the rest dropped (queue full)",
            last.unwrap_or_default().as_secs_f64()
        ),
    ));
    rows.push(cpu.row(
        args,
        "writing the remaining Scheduled events",
        args.pods,
        t.elapsed(),
    ));
    let _ = stop_tx.send(());
    let _ = scheduler.await;
    watch.abort();
    events_watch.abort();
    Ok(())
}

async fn create_retrying(api: &Api<Pod>, pod: &Pod) -> Result<()> {
    let mut tries = 0;
    loop {
        match api.create(&PostParams::default(), pod).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => return Ok(()),
            Err(e) if tries < 5 => {
                tries += 1;
                eprintln!("create {:?}: {e}; retrying", pod.metadata.name);
                tokio::time::sleep(Duration::from_millis(200 * tries)).await;
            }
            Err(e) => return Err(e).context("creating a pod"),
        }
    }
}

/// Pods bound in each whole second since the start, skipping the seconds before the first.
fn per_second(sorted: &[Duration]) -> Vec<usize> {
    let Some(first) = sorted.first() else {
        return Vec::new();
    };
    let base = first.as_secs();
    let mut out = Vec::new();
    for t in sorted {
        let k = (t.as_secs() - base) as usize;
        if out.len() <= k {
            out.resize(k + 1, 0);
        }
        out[k] += 1;
    }
    out
}

fn sample_summary(samples: &[usize]) -> String {
    if samples.is_empty() {
        return "none".into();
    }
    let mut s = samples.to_vec();
    s.sort();
    let pct = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
    format!(
        "{} samples, avg {:.0}, p50 {}, p90 {}, max {}",
        s.len(),
        s.iter().sum::<usize>() as f64 / s.len() as f64,
        pct(0.5),
        pct(0.9),
        s[s.len() - 1]
    )
}

async fn deployment(
    client: &Client,
    args: &Args,
    timeout: Duration,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let ns = "scale-deploy";
    namespace(client, ns, timeout).await?;
    let (seen, watch) = watch_pods(client, ns);
    wait_seen(&seen, timeout, "pod watch sync", |s| s.synced).await?;
    let (events, events_watch) = watch_scheduled(client, ns);
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "big"},
        "spec": {
            "replicas": args.replicas,
            "selector": {"matchLabels": {"app": "big"}},
            "template": {"metadata": {"labels": {"app": "big"}}, "spec": pod_spec("default-scheduler")},
        },
    }))?;
    let cpu = Cpu::now(args);
    let t0 = Instant::now();
    api.create(&PostParams::default(), &d).await?;
    let deadline = t0 + timeout;
    loop {
        let d = api.get("big").await?;
        let st = d.status.unwrap_or_default();
        let want = args.replicas as i32;
        if st.ready_replicas == Some(want)
            && st.updated_replicas == Some(want)
            && st.available_replicas == Some(want)
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("deployment not Ready after {timeout:?}: {st:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = t0.elapsed();
    let last = |m: &HashMap<String, Instant>| {
        m.values()
            .max()
            .map(|t| format!("{:.1?}", *t - t0))
            .unwrap_or_default()
    };
    let done = {
        let s = seen.lock().unwrap();
        row(
            format!("Deployment of {} replicas to all Ready", args.replicas),
            format!("{:.1} s", took.as_secs_f64()),
            format!(
            "status readyReplicas=availableReplicas={}; last pod created {}, bound {}, Ready {}",
            args.replicas,
            last(&s.created),
            last(&s.bound),
            last(&s.ready)
        ),
        )
    };
    rows.push(done);
    rows.push(cpu.row(args, "the Deployment", args.replicas, took));
    let written = drain_scheduled(&events, args.replicas, timeout).await;
    let last = events.lock().unwrap().last.map(|l| l - t0);
    rows.push(row(
        "Scheduled events written (the server's scheduler)",
        format!("{written} of {}", args.replicas),
        format!(
            "the last seen {:.1} s after the Deployment's creation; the rest dropped",
            last.unwrap_or_default().as_secs_f64()
        ),
    ));
    watch.abort();
    events_watch.abort();
    Ok(())
}

/// CPU seconds (user + system) a process has used so far; 0 when unknown.
fn cpu_secs(pid: Option<u32>) -> f64 {
    let Some(stat) = pid.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
    else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): state is the first, utime and
    // stime the 12th and 13th; in clock ticks of 1/100 s on Linux.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU used by the server, the simulator and this process (the bench's scheduler) since
/// `before`, per 1000 pods.
struct Cpu([f64; 3]);

impl Cpu {
    fn now(args: &Args) -> Self {
        Cpu([
            cpu_secs(args.server_pid),
            cpu_secs(args.sim_pid),
            cpu_secs(Some(std::process::id())),
        ])
    }

    fn row(&self, args: &Args, what: &str, pods: usize, wall: Duration) -> Row {
        let now = Cpu::now(args);
        let d: Vec<f64> = (0..3).map(|i| now.0[i] - self.0[i]).collect();
        let per = |x: f64| x * 1000.0 / pods as f64;
        row(
            format!("CPU seconds, {what}"),
            format!(
                "server {:.1}, sim {:.1}, bench {:.1}",
                d[0], d[1], d[2]
            ),
            format!(
                "per 1000 pods: server {:.2}, sim {:.2}, bench {:.2}; over {:.1} s wall ({:.2} cores busy of 2)",
                per(d[0]),
                per(d[1]),
                per(d[2]),
                wall.as_secs_f64(),
                d.iter().sum::<f64>() / wall.as_secs_f64()
            ),
        )
    }
}

/// VmRSS and VmHWM of the server (and the simulator) now.
fn rss_row(when: &str, args: &Args) -> Row {
    let one = |pid: Option<u32>| -> Option<String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
        let field = |k: &str| {
            status
                .lines()
                .find(|l| l.starts_with(k))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .map(|kib| kib / 1024)
        };
        Some(format!(
            "{} MiB (peak {} MiB)",
            field("VmRSS:")?,
            field("VmHWM:")?
        ))
    };
    let sim = one(args.sim_pid)
        .map(|s| format!("simulator process: {s}"))
        .unwrap_or_default();
    row(
        format!("server RSS, {when}"),
        one(args.server_pid).unwrap_or_else(|| "-".into()),
        sim,
    )
}
