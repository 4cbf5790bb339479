//! write-bench: the API server's write path of scheduling, one request kind at a time.
//!
//! Starts a release `rkube server --disable-agent` in a temporary directory, creates `--pods`
//! pods with a scheduler name nothing answers to (so nothing else writes them), then runs
//! three phases with `--concurrency` requests in flight, each once per pod:
//!
//! 1. `POST pods/NAME/binding`, the body rkube's scheduler sends;
//! 2. `PATCH pods/NAME/status`, the strategic merge patch a simulated kubelet sends when the
//!    pod runs (`pkg/sim/src/pods.rs`: `running_status`);
//! 3. `POST events`, the Scheduled event as the scheduler's recorder writes it.
//!
//! For each it prints requests per second and the server's CPU milliseconds per request
//! (user + system from /proc/PID/stat), which is the steadier number on a shared machine.
//! It asserts nothing about timings.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
};

use anyhow::{Context, Result};
use clap::Parser;
use k8s_openapi::{
    api::core::v1::{Binding, Event, Namespace, ObjectReference, Pod},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::api::{Api, Patch, PatchParams, PostParams};
use rkube_bench::server::Server;
use serde_json::{json, Value};

/// A scheduler name nothing answers to: the server's scheduler leaves these pods alone.
const BENCH_SCHEDULER: &str = "rkube-write-bench";
const NS: &str = "write-bench";

#[derive(Parser)]
#[command(about = "The API server's scheduling writes: pods/binding, status patch, event create")]
struct Args {
    /// The server binary (default: the workspace's target/release/rkube).
    #[arg(long)]
    rkube: Option<PathBuf>,
    /// Parent of the temporary directory (a real disk, not tmpfs).
    #[arg(long, env = "RKUBE_BENCH_DIR", default_value = "/var/tmp")]
    dir: PathBuf,
    /// Pods: each phase sends one request per pod.
    #[arg(long, default_value_t = 5000)]
    pods: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Keep the temporary directory (server data and server.log).
    #[arg(long)]
    keep: bool,
    /// Run `perf record` on the server during each phase, into perf-<phase>.data there
    /// (kept); `--perf fp` (frame pointers, cheap) or `--perf dwarf` (heavy, but attributes
    /// time to Rust callers in a release build).
    #[arg(long)]
    perf: Option<String>,
}

/// `perf record -g` on the server while a phase runs; stopped (SIGINT) on drop.
struct Perf(Option<Child>);

impl Perf {
    fn start(mode: Option<&str>, server: &Server, phase: &str) -> Result<Self> {
        let Some(mode) = mode else {
            return Ok(Self(None));
        };
        let file: String = phase
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let out = server.dir.join(format!("perf-{file}.data"));
        let call_graph = if mode == "dwarf" { "dwarf,16384" } else { "fp" };
        let child = Command::new("perf")
            .args([
                "record",
                "-q",
                "-F",
                "499",
                "--call-graph",
                call_graph,
                "-o",
            ])
            .arg(&out)
            .args(["-p", &server.child.id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting perf")?;
        Ok(Self(Some(child)))
    }
}

impl Drop for Perf {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

/// Runs `op(i)` for i in 0..total from `workers` concurrent tasks; operations per second.
async fn concurrent<F, Fut>(workers: usize, total: usize, op: F) -> Result<f64>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    Ok(rkube_bench::load::concurrent(workers, total, op).await?.0)
}

fn pod_name(i: usize) -> String {
    format!("pod-{i:05}")
}

fn node_name(i: usize) -> String {
    format!("sim-{}", i % 1000)
}

/// scale-bench's pod (scheduler_perf's default: 100m cpu, 500Mi).
fn pod(i: usize) -> Result<Pod> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": pod_name(i), "namespace": NS},
        "spec": {
            "schedulerName": BENCH_SCHEDULER,
            "containers": [{
                "name": "pause",
                "image": "registry.k8s.io/pause:3.10",
                "resources": {
                    "requests": {"cpu": "100m", "memory": "500Mi"},
                    "limits": {"cpu": "100m", "memory": "500Mi"},
                },
            }],
        },
    }))?)
}

/// The binding rkube's scheduler posts (pkg/scheduler/src/scheduler.rs `bind`).
fn binding(pod: &Pod, node: &str) -> Binding {
    Binding {
        metadata: ObjectMeta {
            name: pod.metadata.name.clone(),
            namespace: pod.metadata.namespace.clone(),
            uid: pod.metadata.uid.clone(),
            ..ObjectMeta::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.into()),
            ..ObjectReference::default()
        },
    }
}

/// A condition as the simulated kubelet writes it (pkg/sim/src/pods.rs `condition`).
fn condition(type_: &str, at: &str) -> Value {
    json!({
        "type": type_,
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": at,
        "reason": null,
        "message": null,
    })
}

/// The Running status patch of a simulated kubelet for this one-container pod, ready at once
/// (pkg/sim/src/pods.rs `running_status`, sent as `{"status": ...}` strategic merge patch).
fn running_patch(pod: &Pod, i: usize) -> Value {
    let start = Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let host_ip = format!("10.0.{}.{}", (i % 1000) / 250, (i % 1000) % 250 + 1);
    let pod_ip = format!("10.42.{}.{}", i % 1000 / 4, i / 1000 + 2);
    json!({"status": {
        "phase": "Running",
        "conditions": [
            condition("PodReadyToStartContainers", &start),
            condition("Initialized", &start),
            condition("Ready", &start),
            condition("ContainersReady", &start),
            condition("PodScheduled", &start),
        ],
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": start,
        "containerStatuses": [{
            "name": "pause",
            "image": "registry.k8s.io/pause:3.10",
            "imageID": "sim://registry.k8s.io/pause:3.10",
            "containerID": format!("sim://{uid}-pause"),
            "ready": true,
            "started": true,
            "restartCount": 0,
            "state": {"running": {"startedAt": start}},
            "lastState": {},
        }],
    }})
}

/// The Scheduled event as the scheduler's recorder creates it (pkg/scheduler/src/events.rs).
fn scheduled_event(pod: &Pod, node: &str) -> Event {
    let now = Timestamp::now();
    let name = pod.metadata.name.clone().unwrap_or_default();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}", now.as_nanosecond())),
            namespace: Some(NS.into()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            namespace: Some(NS.into()),
            name: Some(name.clone()),
            uid: pod.metadata.uid.clone(),
            resource_version: pod.metadata.resource_version.clone(),
            ..ObjectReference::default()
        },
        type_: Some("Normal".into()),
        reason: Some("Scheduled".into()),
        action: Some("Binding".into()),
        message: Some(format!("Successfully assigned {NS}/{name} to {node}")),
        event_time: Some(MicroTime(now)),
        reporting_component: Some("default-scheduler".into()),
        reporting_instance: Some("default-scheduler-write-bench".into()),
        ..Event::default()
    }
}

struct Phase {
    name: &'static str,
    rate: f64,
    cpu_ms: f64,
}

/// Runs one phase: requests per second and server CPU ms per request.
async fn phase<F, Fut>(args: &Args, server: &Server, name: &'static str, op: F) -> Result<Phase>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let perf = Perf::start(args.perf.as_deref(), server, name)?;
    let cpu = server.cpu_secs()?;
    let rate = concurrent(args.concurrency, args.pods, op).await?;
    let cpu_ms = (server.cpu_secs()? - cpu) * 1000.0 / args.pods as f64;
    drop(perf);
    eprintln!("{name}: {rate:.0}/s, server {cpu_ms:.3} CPU ms/op");
    Ok(Phase { name, rate, cpu_ms })
}

async fn run(args: &Args, server: &mut Server) -> Result<Vec<Phase>> {
    let (client, _) = server.ready().await?;
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NS}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let created: Arc<Vec<std::sync::OnceLock<Pod>>> =
        Arc::new((0..args.pods).map(|_| std::sync::OnceLock::new()).collect());
    let mut phases = Vec::new();
    {
        let (pods, created) = (pods.clone(), created.clone());
        phases.push(
            phase(args, server, "create pod", move |i| {
                let (pods, created) = (pods.clone(), created.clone());
                async move {
                    let p = pods.create(&PostParams::default(), &pod(i)?).await?;
                    let _ = created[i].set(p);
                    Ok(())
                }
            })
            .await?,
        );
    }
    let get = |created: &[std::sync::OnceLock<Pod>], i: usize| -> Result<Pod> {
        created[i].get().cloned().context("pod not created")
    };
    {
        let (pods, created) = (pods.clone(), created.clone());
        phases.push(
            phase(args, server, "pods/binding", move |i| {
                let (pods, p) = (pods.clone(), get(&created, i));
                async move {
                    let p = p?;
                    pods.create_subresource::<_, Value>(
                        "binding",
                        &pod_name(i),
                        &PostParams::default(),
                        &binding(&p, &node_name(i)),
                    )
                    .await?;
                    Ok(())
                }
            })
            .await?,
        );
    }
    {
        let (pods, created) = (pods.clone(), created.clone());
        phases.push(
            phase(args, server, "status patch (strategic)", move |i| {
                let (pods, p) = (pods.clone(), get(&created, i));
                async move {
                    let patch = running_patch(&p?, i);
                    pods.patch_status(
                        &pod_name(i),
                        &PatchParams::default(),
                        &Patch::Strategic(&patch),
                    )
                    .await?;
                    Ok(())
                }
            })
            .await?,
        );
    }
    {
        let events: Api<Event> = Api::namespaced(client.clone(), NS);
        let created = created.clone();
        phases.push(
            phase(args, server, "Scheduled event create", move |i| {
                let (events, p) = (events.clone(), get(&created, i));
                async move {
                    let ev = scheduled_event(&p?, &node_name(i));
                    events.create(&PostParams::default(), &ev).await?;
                    Ok(())
                }
            })
            .await?,
        );
    }
    // The writes did what they should: every pod bound and Running.
    let list = pods.list(&Default::default()).await?;
    let done = list
        .items
        .iter()
        .filter(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_some()
                && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        })
        .count();
    anyhow::ensure!(
        done == args.pods,
        "{done} of {} pods bound and Running",
        args.pods
    );
    Ok(phases)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bin = rkube_bench::server::binary(args.rkube.as_deref())?;
    std::fs::create_dir_all(&args.dir)?;
    let tmp = tempfile::Builder::new()
        .prefix("rkube-write-bench.")
        .tempdir_in(&args.dir)?;
    eprintln!("bench directory: {}", tmp.path().display());
    let mut server = Server::start(&bin, tmp.path())?;
    let result = run(&args, &mut server).await;
    if result.is_err() {
        eprintln!("--- server log tail ---\n{}", server.log_tail());
    }
    server.stop();
    if args.keep || args.perf.is_some() {
        eprintln!("kept {}", tmp.keep().display());
    }
    let phases = result?;
    println!(
        "| request ({} pods, {} in flight) | requests/s | server CPU ms/request |",
        args.pods, args.concurrency
    );
    println!("| --- | --- | --- |");
    for p in phases {
        println!("| {} | {:.0} | {:.3} |", p.name, p.rate, p.cpu_ms);
    }
    Ok(())
}
