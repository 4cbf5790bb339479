//! One task per pod: sandbox, network, volumes, images, init then app containers, restarts
//! with backoff, probes, status, and termination.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use rkube_image::PullPolicy;
use rkube_runtime::{ExitInfo, Sandbox, SandboxSpec};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, info_span, warn, Instrument};

use super::{
    backoff, dns, kill,
    state::{ContainerState, Instance},
    Ctx,
};
use crate::{
    container_spec,
    env::{self, PodFacts},
    hooks::{self, Hook},
    lifecycle::{self, Lifecycle},
    probes::{self, Kind, ProbeResult},
    status::{self, restart_policy, Transitions, View},
    volumes,
};

const RETRY: Duration = Duration::from_secs(5);
const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;

#[derive(Debug)]
pub enum Msg {
    Exited {
        container: String,
        instance: String,
        exit: ExitInfo,
    },
    Probe(ProbeResult),
}

pub struct Worker {
    ctx: Arc<Ctx>,
    uid: String,
    ns: String,
    name: String,
    pod_dir: PathBuf,
    pod_rx: watch::Receiver<Option<Arc<Pod>>>,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    sandbox: Option<Sandbox>,
    pod_ip: Option<String>,
    volumes: Option<volumes::Prepared>,
    init: Vec<ContainerState>,
    containers: Vec<ContainerState>,
    start_time: Option<String>,
    transitions: Transitions,
    last_status: Option<Value>,
    retry_at: Option<Instant>,
    /// Reported failures, so a retry loop does not repeat the same event.
    reported: HashMap<String, String>,
    probes: Vec<tokio::task::JoinHandle<()>>,
    torn_down: bool,
    /// The pod was finished before this kubelet started: its status is not written again.
    status_final: bool,
    /// Termination messages, startup gating, activeDeadlineSeconds, volume refresh.
    life: Lifecycle,
}

impl Worker {
    pub fn new(ctx: Arc<Ctx>, pod: &Pod, pod_rx: watch::Receiver<Option<Arc<Pod>>>) -> Worker {
        let (tx, rx) = mpsc::unbounded_channel();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let spec = pod.spec.as_ref();
        let make = |c: &Container, init: bool| {
            let mut s = ContainerState::new(&c.name, c.image.as_deref().unwrap_or_default(), init);
            s.sidecar = init && c.restart_policy.as_deref() == Some("Always");
            s
        };
        Worker {
            pod_dir: ctx.pod_dir(&ns, &name, &uid),
            init: spec
                .and_then(|s| s.init_containers.as_ref())
                .into_iter()
                .flatten()
                .map(|c| make(c, true))
                .collect(),
            containers: spec
                .map(|s| s.containers.iter().map(|c| make(c, false)).collect())
                .unwrap_or_default(),
            start_time: pod
                .status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .map(|t| crate::time::time(t.0)),
            ctx,
            uid,
            ns,
            name,
            pod_rx,
            tx,
            rx,
            sandbox: None,
            pod_ip: None,
            volumes: None,
            transitions: pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    let t = c.last_transition_time.as_ref()?;
                    Some((
                        c.type_.clone(),
                        (c.status == "True", crate::time::time(t.0)),
                    ))
                })
                .collect(),
            last_status: None,
            retry_at: None,
            reported: HashMap::new(),
            probes: Vec::new(),
            torn_down: false,
            status_final: false,
            life: Lifecycle::default(),
        }
    }

    pub async fn run(mut self) {
        let span = info_span!("pod", pod = %format!("{}/{}", self.ns, self.name), uid = %self.uid);
        async move {
            // A pod already finished before this kubelet started: nothing to run.
            let first = self.pod_rx.borrow().clone();
            let finished = first
                .as_ref()
                .and_then(|p| p.status.as_ref())
                .and_then(|s| s.phase.as_deref())
                .is_some_and(|p| p == "Succeeded" || p == "Failed");
            if finished {
                self.clear_leftovers().await;
                self.torn_down = true;
                // Its final status stays as the API has it: this run knows none of its
                // containers (rebuilding it would turn a Succeeded pod back to Pending).
                self.status_final = true;
            } else if let Some(pod) = first {
                self.adopt(&pod).await;
            }
            loop {
                let Some(pod) = self.pod_rx.borrow_and_update().clone() else {
                    // Gone from the API (force-deleted): stop everything at once.
                    self.terminate(None, Duration::ZERO).await;
                    break;
                };
                if pod.metadata.deletion_timestamp.is_some() {
                    let grace = pod
                        .metadata
                        .deletion_grace_period_seconds
                        .or_else(|| {
                            pod.spec
                                .as_ref()
                                .and_then(|s| s.termination_grace_period_seconds)
                        })
                        .unwrap_or(30)
                        .max(0) as u64;
                    self.terminate(Some(&pod), Duration::from_secs(grace)).await;
                    break;
                }
                if !self.torn_down {
                    self.sync(&pod).await;
                    self.check_deadline(&pod).await;
                    self.refresh_volumes(&pod).await;
                }
                self.write_status(&pod).await;
                if !self.torn_down && self.terminal(&pod) {
                    // The app containers are done: the sidecars go too, last started first.
                    if self.stop_sidecars(&pod).await {
                        self.write_status(&pod).await;
                    }
                    self.teardown_sandbox().await;
                    self.torn_down = true;
                }
                let deadline = self.next_deadline();
                tokio::select! {
                    r = self.pod_rx.changed() => {
                        if r.is_err() {
                            // The manager dropped us: treat as gone.
                            self.terminate(None, Duration::ZERO).await;
                            break;
                        }
                    }
                    Some(m) = self.rx.recv() => self.handle(&pod, m).await,
                    _ = sleep_until(deadline) => {}
                }
                // Drain what else arrived, so one status write covers it.
                while let Ok(m) = self.rx.try_recv() {
                    self.handle(&pod, m).await;
                }
            }
            self.ctx.table.remove(&self.ns, &self.name, &self.uid);
        }
        .instrument(span)
        .await
    }

    fn terminal(&self, pod: &Pod) -> bool {
        self.life.deadline_exceeded
            || matches!(status::phase(&self.view(pod, "")), "Succeeded" | "Failed")
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.init
            .iter()
            .chain(&self.containers)
            .flat_map(|c| [c.not_before, c.pull_not_before])
            .flatten()
            .chain(self.retry_at)
            .chain(self.life.refresh_at)
            .chain(self.life.deadline_at)
            .filter(|_| !self.torn_down)
            .min()
    }

    /// Takes over the containers a previous kubelet run left running (pods/adopt.rs).
    async fn adopt(&mut self, pod: &Pod) {
        let a = super::adopt::adopt(&self.ctx, pod, &mut self.init, &mut self.containers).await;
        self.sandbox = a.sandbox;
        self.pod_ip = a.pod_ip;
        self.restore_backoff(pod);
        // A sidecar that ran before (running, or restarting now) does not hold the pod back
        // again: its startup was over before the agent restarted.
        for c in self.init.iter_mut().filter(|c| c.sidecar) {
            c.started_once |= c.instance.is_some() || c.last.is_some();
        }
        for (init, i, id) in a.running {
            let name = self.state_mut(init, i).name.clone();
            self.spawn_waiter(&name, &id);
            let spec = Self::spec_of(pod, init, &name).cloned();
            if spec.as_ref().is_some_and(|s| s.readiness_probe.is_none()) {
                self.state_mut(init, i).ready = true;
            }
            let sidecar = self.state_mut(init, i).sidecar;
            if let (false, Some(spec), Some(sb)) = (init && !sidecar, spec, self.sandbox.clone()) {
                for (kind, probe) in [
                    (Kind::Readiness, spec.readiness_probe.clone()),
                    (Kind::Liveness, spec.liveness_probe.clone()),
                ] {
                    if let Some(p) = probe {
                        self.probes.push(probes::spawn(
                            self.ctx.runtime.clone(),
                            sb.clone(),
                            spec.clone(),
                            id.clone(),
                            kind,
                            p,
                            self.tx.clone(),
                        ));
                    }
                }
            }
        }
        self.publish();
    }

    /// Crash-loop backoff across an agent restart: a container the API shows waiting in
    /// CrashLoopBackOff waits out the rest of its delay (counted from its last finish), and
    /// the doubling goes on from there.
    fn restore_backoff(&mut self, pod: &Pod) {
        let pod_ref = format!("{}_{}({})", self.name, self.ns, self.uid);
        let status = pod.status.as_ref();
        for init in [true, false] {
            let api = status
                .and_then(|s| {
                    if init {
                        s.init_container_statuses.as_ref()
                    } else {
                        s.container_statuses.as_ref()
                    }
                })
                .cloned()
                .unwrap_or_default();
            let states = if init {
                &mut self.init
            } else {
                &mut self.containers
            };
            for c in states.iter_mut().filter(|c| !c.running()) {
                let Some(r) = api
                    .iter()
                    .find(|s| s.name == c.name)
                    .and_then(backoff::restore)
                else {
                    continue;
                };
                c.backoff = Some(r.next);
                if r.until > SystemTime::now() {
                    c.not_before = Some(lifecycle::instant_of(r.until));
                    c.waiting = Some((
                        "CrashLoopBackOff".into(),
                        format!(
                            "back-off {} restarting failed container={} pod={pod_ref}",
                            backoff::go_duration(r.delay),
                            c.name
                        ),
                    ));
                    info!(container = %c.name, delay = %backoff::go_duration(r.delay), "crash-loop backoff restored");
                }
            }
        }
    }

    /// Containers and sandbox a previous kubelet run left for a finished pod: removed.
    async fn clear_leftovers(&mut self) {
        let rt = &self.ctx.runtime;
        let Ok(list) = rt.list().await else { return };
        let mine: Vec<_> = list
            .into_iter()
            .filter(|c| c.sandbox_id == self.uid)
            .collect();
        if mine.is_empty() && !self.pod_dir.exists() {
            return;
        }
        info!(
            containers = mine.len(),
            "clearing what a previous run left for this pod"
        );
        for c in &mine {
            if c.running {
                let _ = rt.kill(&c.id, SIGKILL).await;
                let _ = tokio::time::timeout(Duration::from_secs(10), rt.wait(&c.id)).await;
            }
            let _ = rt.remove_container(&c.id).await;
        }
        self.ctx.release_network(&self.uid).await;
        let _ = rt.remove_sandbox(&self.uid).await;
        volumes::teardown(&self.pod_dir);
    }

    fn facts(&self) -> (String, String) {
        (
            self.pod_ip.clone().unwrap_or_default(),
            self.ctx.cfg.node_ip.to_string(),
        )
    }

    /// Moves the pod forward one step: sandbox, volumes, next init container, app containers.
    async fn sync(&mut self, pod: &Pod) {
        if self.retry_at.is_some_and(|t| t > Instant::now()) {
            return;
        }
        self.retry_at = None;
        if self.start_time.is_none() {
            self.start_time = Some(crate::time::now());
        }
        if self.sandbox.is_none() {
            if let Err(msg) = self.create_sandbox(pod).await {
                self.warn_once(
                    pod,
                    None,
                    "FailedCreatePodSandBox",
                    format!("Failed to create pod sandbox: {msg}"),
                );
                self.retry_at = Some(Instant::now() + RETRY);
                return;
            }
        }
        if self.volumes.is_none() {
            let (ip, host) = self.facts();
            let facts = PodFacts {
                pod_ip: &ip,
                host_ip: &host,
                node_name: &self.ctx.cfg.node_name,
            };
            match volumes::prepare(&self.ctx.client, pod, &self.pod_dir, &facts).await {
                Ok(v) => self.volumes = Some(v),
                Err(e) => {
                    self.warn_once(pod, None, "FailedMount", e.to_string());
                    self.retry_at = Some(Instant::now() + RETRY);
                    return;
                }
            }
        }
        let policy = restart_policy(pod).to_string();
        for i in 0..self.init.len() {
            let c = &self.init[i];
            if c.sidecar {
                // Started in order with the init containers, restarted whenever it exits; the
                // next one waits only until it has started (startupProbe passed).
                if !c.running() {
                    self.start_or_backoff(pod, true, i).await;
                }
                if !self.init[i].started_once {
                    return;
                }
                continue;
            }
            if c.succeeded() && c.waiting.is_none() {
                continue;
            }
            if c.running() {
                return;
            }
            let failed = c.terminated().is_some();
            if failed && policy == "Never" {
                return;
            }
            self.start_or_backoff(pod, true, i).await;
            return;
        }
        for i in 0..self.containers.len() {
            let c = &self.containers[i];
            if c.running() {
                continue;
            }
            let never_started = c.instance.is_none() && c.last.is_none();
            let restart = match c.terminated() {
                None => never_started || c.waiting.is_some(),
                Some(t) => match policy.as_str() {
                    "Never" => false,
                    "OnFailure" => t.exit_code != 0,
                    _ => true,
                },
            };
            if restart {
                self.start_or_backoff(pod, false, i).await;
            }
        }
    }

    fn state_mut(&mut self, init: bool, i: usize) -> &mut ContainerState {
        if init {
            &mut self.init[i]
        } else {
            &mut self.containers[i]
        }
    }

    fn spec_of<'a>(pod: &'a Pod, init: bool, name: &str) -> Option<&'a Container> {
        let spec = pod.spec.as_ref()?;
        if init {
            spec.init_containers
                .iter()
                .flatten()
                .find(|c| c.name == name)
        } else {
            spec.containers.iter().find(|c| c.name == name)
        }
    }

    fn field_path(init: bool, name: &str) -> Option<String> {
        Some(if init {
            format!("spec.initContainers{{{name}}}")
        } else {
            format!("spec.containers{{{name}}}")
        })
    }

    async fn start_or_backoff(&mut self, pod: &Pod, init: bool, i: usize) {
        let c = self.state_mut(init, i);
        // In crash-loop backoff: the waiting reason was set when it exited.
        if c.not_before.is_some_and(|t| t > Instant::now()) {
            return;
        }
        c.not_before = None;
        self.start(pod, init, i).await;
    }

    /// Pulls the image if needed, builds the spec, and runs one instance of the container.
    async fn start(&mut self, pod: &Pod, init: bool, i: usize) {
        let name = self.state_mut(init, i).name.clone();
        let Some(spec) = Self::spec_of(pod, init, &name).cloned() else {
            return;
        };
        let fp = Self::field_path(init, &name);
        let image_ref = spec.image.clone().unwrap_or_default();
        // Image.
        let image = match self.ensure_image(pod, init, i, &spec).await {
            Some(img) => img,
            None => return,
        };
        let c = self.state_mut(init, i);
        c.image_id = image
            .repo_digest
            .clone()
            .unwrap_or_else(|| image.id.clone());
        // Env and mounts.
        let (ip, host) = self.facts();
        let facts = PodFacts {
            pod_ip: &ip,
            host_ip: &host,
            node_name: &self.ctx.cfg.node_name,
        };
        let mut sources = self.ctx.env_sources(pod, &spec).await;
        sources.services = env::service_env(&self.ctx.client, pod).await;
        let built = env::resolve(pod, &spec, &facts, &sources).and_then(|env| {
            let mounts = volumes::mounts(&spec, self.volumes.as_ref().expect("volumes set up"))
                .map_err(env::ConfigError)?;
            Ok((env, mounts))
        });
        let (env, mut mounts) = match built {
            Ok(v) => v,
            Err(e) => {
                self.config_error(pod, init, i, e.0);
                return;
            }
        };
        let c = self.state_mut(init, i);
        // A restart: the previous instance goes (its log stays for --previous).
        let restart = if let Some(prev) = c.instance.take() {
            if let Some(t) = prev.terminated() {
                c.last = Some(t);
            }
            c.restart_count += 1;
            Some(prev.id)
        } else {
            None
        };
        let restart_count = c.restart_count;
        if let Some(old) = restart {
            if let Err(e) = self.ctx.runtime.remove_container(&old).await {
                debug!(container = %old, error = %e, "removing the previous instance failed");
            }
        }
        let id = format!("{}-{}-{}", self.uid, name, restart_count);
        let message_file = lifecycle::message_file(&self.pod_dir, &name, restart_count);
        match lifecycle::message_mount(&spec, &message_file) {
            Ok(m) => mounts.push(m),
            Err(e) => warn!(error = %e, "creating the termination message file failed"),
        }
        let log_path = self
            .pod_dir
            .join(&name)
            .join(format!("{restart_count}.log"));
        if let Some(dir) = log_path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let sandbox = self.sandbox.clone().expect("sandbox created");
        let built = container_spec::build(container_spec::Parts {
            pod,
            container: &spec,
            image: &image,
            env,
            id: id.clone(),
            sandbox: sandbox.clone(),
            mounts,
            log_path,
        });
        let cspec = match built {
            Ok(s) => s,
            Err(e) => {
                self.config_error(pod, init, i, e.0);
                return;
            }
        };
        let _ = image_ref;
        match self.ctx.runtime.run_container(&cspec).await {
            Ok(info) => {
                self.ctx.events.record(
                    pod,
                    fp.clone(),
                    false,
                    "Created",
                    format!("Created container: {name}"),
                );
                self.ctx.events.record(
                    pod,
                    fp.clone(),
                    false,
                    "Started",
                    format!("Started container {name}"),
                );
                info!(container = %name, id = %info.id, pid = info.pid, restart = restart_count, "container started");
                let has_readiness = spec.readiness_probe.is_some();
                let c = self.state_mut(init, i);
                // Regular init containers are not probed; sidecars are, as app containers.
                let probed = !init || c.sidecar;
                let has_startup = spec.startup_probe.is_some() && probed;
                c.started_once |= !has_startup;
                c.instance = Some(Instance {
                    id: id.clone(),
                    started_at: info.started_at,
                    exit: None,
                    cannot_run: None,
                });
                c.waiting = None;
                c.ready = !has_readiness && !has_startup;
                c.probe_failures = 0;
                c.probe_successes = 0;
                c.liveness_failures = 0;
                self.spawn_waiter(&name, &id);
                if !self.post_start(pod, &spec, fp, &id).await {
                    self.state_mut(init, i).ready = false;
                    self.publish();
                    return;
                }
                if has_startup {
                    self.life.unstarted.insert(id.clone());
                    self.spawn_probes(&sandbox, &spec, &id, &[Kind::Startup]);
                } else if probed {
                    self.spawn_probes(&sandbox, &spec, &id, &[Kind::Readiness, Kind::Liveness]);
                }
                self.publish();
            }
            Err(e) => {
                let msg = e.to_string();
                warn!(container = %name, error = %msg, "container failed to start");
                self.ctx
                    .events
                    .record(pod, fp, true, "Failed", format!("Error: {msg}"));
                let c = self.state_mut(init, i);
                c.instance = Some(Instance {
                    id: id.clone(),
                    started_at: SystemTime::now(),
                    exit: None,
                    cannot_run: Some(msg),
                });
                let _ = self.ctx.runtime.remove_container(&id).await;
                self.after_exit(pod, init, i);
            }
        }
    }

    async fn ensure_image(
        &mut self,
        pod: &Pod,
        init: bool,
        i: usize,
        spec: &Container,
    ) -> Option<rkube_image::Image> {
        let image_ref = spec.image.clone().unwrap_or_default();
        let fp = Self::field_path(init, &spec.name);
        let policy = pull_policy(spec);
        let now = Instant::now();
        let c = self.state_mut(init, i);
        if c.pull_not_before.is_some_and(|t| t > now) {
            let msg = format!("Back-off pulling image \"{image_ref}\"");
            if c.waiting.as_ref().map(|w| w.0.as_str()) != Some("ImagePullBackOff") {
                c.waiting = Some(("ImagePullBackOff".into(), msg.clone()));
                self.ctx
                    .events
                    .record(pod, fp.clone(), false, "BackOff", msg);
                self.ctx
                    .events
                    .record(pod, fp, true, "Failed", "Error: ImagePullBackOff".into());
            }
            return None;
        }
        let present = policy != PullPolicy::Always
            && self.ctx.images.get(&image_ref).ok().flatten().is_some();
        if present {
            self.ctx.events.record(
                pod,
                fp.clone(),
                false,
                "Pulled",
                format!("Container image \"{image_ref}\" already present on machine"),
            );
        } else if policy != PullPolicy::Never {
            self.ctx.events.record(
                pod,
                fp.clone(),
                false,
                "Pulling",
                format!("Pulling image \"{image_ref}\""),
            );
        }
        let auth = self.ctx.pull_secrets(pod).await;
        let started = Instant::now();
        match self.ctx.images.ensure(&image_ref, policy, &auth).await {
            Ok((img, report)) => {
                if let Some(r) = report {
                    let took = started.elapsed();
                    self.ctx.events.record(
                        pod,
                        fp,
                        false,
                        "Pulled",
                        format!(
                            "Successfully pulled image \"{image_ref}\" in {:.3}s ({:.3}s including waiting). Image size: {} bytes.",
                            r.duration.as_secs_f64(),
                            took.as_secs_f64(),
                            r.bytes
                        ),
                    );
                }
                let c = self.state_mut(init, i);
                c.pull_backoff = None;
                c.pull_not_before = None;
                if matches!(
                    c.waiting.as_ref().map(|w| w.0.as_str()),
                    Some("ErrImagePull" | "ImagePullBackOff" | "ErrImageNeverPull")
                ) {
                    c.waiting = None;
                }
                Some(img)
            }
            Err(rkube_image::Error::NeverPull(_)) => {
                let msg = format!(
                    "Container image \"{image_ref}\" is not present with pull policy of Never"
                );
                let c = self.state_mut(init, i);
                c.waiting = Some(("ErrImageNeverPull".into(), msg.clone()));
                c.pull_not_before = Some(Instant::now() + backoff::INITIAL);
                self.warn_once(pod, fp, "ErrImageNeverPull", msg);
                None
            }
            Err(e) => {
                let msg = e.to_string();
                warn!(image = %image_ref, error = %msg, "pulling an image failed");
                self.ctx.events.record(
                    pod,
                    fp.clone(),
                    true,
                    "Failed",
                    format!("Failed to pull image \"{image_ref}\": {msg}"),
                );
                self.ctx
                    .events
                    .record(pod, fp, true, "Failed", "Error: ErrImagePull".into());
                let c = self.state_mut(init, i);
                let delay = c
                    .pull_backoff
                    .map_or(backoff::INITIAL, |d| (d * 2).min(backoff::MAX));
                c.pull_backoff = Some(delay);
                c.pull_not_before = Some(Instant::now() + delay);
                c.waiting = Some(("ErrImagePull".into(), msg));
                None
            }
        }
    }

    fn config_error(&mut self, pod: &Pod, init: bool, i: usize, msg: String) {
        let fp = Self::field_path(init, &self.state_mut(init, i).name.clone());
        self.warn_once(pod, fp, "Failed", format!("Error: {msg}"));
        let c = self.state_mut(init, i);
        c.waiting = Some(("CreateContainerConfigError".into(), msg));
        self.retry_at = Some(Instant::now() + RETRY);
    }

    /// An event once per (reason, message) until it changes.
    fn warn_once(&mut self, pod: &Pod, fp: Option<String>, reason: &str, msg: String) {
        let key = format!("{reason}/{}", fp.clone().unwrap_or_default());
        if self.reported.get(&key) == Some(&msg) {
            return;
        }
        self.reported.insert(key, msg.clone());
        self.ctx.events.record(pod, fp, true, reason, msg);
    }

    fn spawn_waiter(&self, name: &str, id: &str) {
        let (rt, tx, name, id) = (
            self.ctx.runtime.clone(),
            self.tx.clone(),
            name.to_string(),
            id.to_string(),
        );
        tokio::spawn(async move {
            loop {
                match rt.wait(&id).await {
                    Ok(exit) => {
                        let _ = tx.send(Msg::Exited {
                            container: name,
                            instance: id,
                            exit,
                        });
                        return;
                    }
                    Err(e) => {
                        // Not knowing the exit is worse than a late one: keep asking.
                        debug!(container = %id, error = %e, "waiting for a container failed; retrying");
                        if tx.is_closed() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
        });
    }

    async fn handle(&mut self, pod: &Pod, m: Msg) {
        match m {
            Msg::Exited {
                container,
                instance,
                exit,
            } => {
                let Some((init, i)) = self.find(&container) else {
                    return;
                };
                let c = self.state_mut(init, i);
                // Already recorded (the deadline stop waits for its containers itself).
                let Some(inst) = c
                    .instance
                    .as_mut()
                    .filter(|x| x.id == instance && x.exit.is_none())
                else {
                    return;
                };
                info!(container = %container, exit_code = exit.exit_code, oom = exit.oom_killed, "container exited");
                let code = exit.exit_code;
                inst.exit = Some(exit);
                let restart = c.restart_count;
                self.record_message(pod, init, &container, &instance, restart, code)
                    .await;
                self.after_exit(pod, init, i);
            }
            Msg::Probe(r) => self.on_probe(pod, r).await,
        }
    }

    fn find(&self, name: &str) -> Option<(bool, usize)> {
        if let Some(i) = self.containers.iter().position(|c| c.name == name) {
            return Some((false, i));
        }
        self.init
            .iter()
            .position(|c| c.name == name)
            .map(|i| (true, i))
    }

    /// An instance ended: decide when it restarts (CrashLoopBackOff) per the restart policy.
    fn after_exit(&mut self, pod: &Pod, init: bool, i: usize) {
        let policy = restart_policy(pod).to_string();
        let pod_ref = format!("{}_{}({})", self.name, self.ns, self.uid);
        let fp = Self::field_path(init, &self.state_mut(init, i).name.clone());
        let done = self.terminal(pod);
        let c = self.state_mut(init, i);
        c.ready = false;
        let Some(t) = c.terminated() else { return };
        let restarts = match policy.as_str() {
            // A sidecar restarts whatever the pod's policy, until the pod is done.
            _ if c.sidecar => !done,
            "Never" => false,
            "OnFailure" => t.exit_code != 0,
            _ => !init || t.exit_code != 0,
        };
        if !restarts {
            self.publish();
            return;
        }
        let ran = t
            .finished_at
            .duration_since(t.started_at)
            .unwrap_or_default();
        let (delay, next) = backoff::next(c.backoff, ran);
        c.backoff = Some(next);
        if delay.is_zero() {
            c.not_before = None;
        } else {
            c.not_before = Some(Instant::now() + delay);
            c.last = Some(t);
            let msg = format!(
                "back-off {} restarting failed container={} pod={pod_ref}",
                backoff::go_duration(delay),
                c.name
            );
            c.waiting = Some(("CrashLoopBackOff".into(), msg));
            let name = c.name.clone();
            self.ctx.events.record(
                pod,
                fp,
                true,
                "BackOff",
                format!("Back-off restarting failed container {name} in pod {pod_ref}"),
            );
        }
        self.publish();
    }

    async fn on_probe(&mut self, pod: &Pod, r: ProbeResult) {
        if r.kind == Kind::Startup {
            self.on_startup_probe(pod, r).await;
            return;
        }
        let Some((init, i)) = self.find(&r.container) else {
            return;
        };
        let Some(spec) = Self::spec_of(pod, init, &r.container).cloned() else {
            return;
        };
        let fp = Self::field_path(init, &r.container);
        let ctx = self.ctx.clone();
        let c = self.state_mut(init, i);
        if c.instance.as_ref().map(|x| x.id.as_str()) != Some(r.instance.as_str()) || !c.running() {
            return;
        }
        match r.kind {
            Kind::Startup => {}
            Kind::Readiness => {
                let p = spec.readiness_probe.unwrap_or_default();
                if r.ok {
                    c.probe_failures = 0;
                    c.probe_successes += 1;
                    if c.probe_successes >= p.success_threshold.unwrap_or(1) {
                        c.ready = true;
                    }
                } else {
                    c.probe_successes = 0;
                    c.probe_failures += 1;
                    if c.probe_failures >= p.failure_threshold.unwrap_or(3) {
                        c.ready = false;
                    }
                    ctx.events.record(
                        pod,
                        fp,
                        true,
                        "Unhealthy",
                        format!("Readiness probe failed: {}", r.message),
                    );
                }
            }
            Kind::Liveness => {
                let p = spec.liveness_probe.clone().unwrap_or_default();
                if r.ok {
                    c.liveness_failures = 0;
                } else {
                    c.liveness_failures += 1;
                    ctx.events.record(
                        pod,
                        fp.clone(),
                        true,
                        "Unhealthy",
                        format!("Liveness probe failed: {}", r.message),
                    );
                    if c.liveness_failures >= p.failure_threshold.unwrap_or(3) {
                        c.liveness_failures = 0;
                        let name = c.name.clone();
                        ctx.events.record(
                            pod,
                            fp,
                            false,
                            "Killing",
                            format!("Container {name} failed liveness probe, will be restarted"),
                        );
                        self.kill_in_background(
                            pod,
                            &spec,
                            init,
                            i,
                            &r.instance,
                            kill::Reason::LivenessProbe,
                        );
                    }
                }
            }
        }
        self.publish();
    }

    async fn create_sandbox(&mut self, pod: &Pod) -> Result<(), String> {
        let spec = pod.spec.as_ref();
        let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
        let cfg = &self.ctx.cfg;
        let hosts = dns::hosts_file(pod, None, &cfg.cluster_domain);
        let resolv = dns::resolv_conf(
            pod,
            &cfg.cluster_dns.to_string(),
            &cfg.cluster_domain,
            &self.ctx.host_resolv,
        );
        std::fs::create_dir_all(&self.pod_dir)
            .map_err(|e| format!("{}: {e}", self.pod_dir.display()))?;
        let sb = self
            .ctx
            .runtime
            .create_sandbox(&SandboxSpec {
                id: self.uid.clone(),
                hostname: dns::hostname(pod),
                host_network,
                hosts_file: hosts,
                resolv_conf: resolv,
            })
            .await
            .map_err(|e| e.to_string())?;
        let ip = if host_network {
            cfg.node_ip.to_string()
        } else {
            let Some(netns) = sb.netns.clone() else {
                return Err("the sandbox has no network namespace".into());
            };
            let network = self.ctx.network().await?;
            let att = network
                .attach(&self.uid, &netns)
                .await
                .map_err(|e| format!("plugin type=\"rkube-bridge\" failed (add): {e}"))?;
            att.ip.to_string()
        };
        // Now that the address is known, /etc/hosts can name the pod.
        let hosts = dns::hosts_file(pod, Some(&ip), &cfg.cluster_domain);
        if let Err(e) = std::fs::write(&sb.hosts_file, hosts) {
            warn!(error = %e, "writing the pod's /etc/hosts failed");
        }
        info!(ip = %ip, "sandbox ready");
        self.pod_ip = Some(ip);
        self.sandbox = Some(sb);
        self.publish();
        Ok(())
    }

    /// Network and sandbox go when the pod is done (its containers and logs stay until it is
    /// deleted).
    async fn teardown_sandbox(&mut self) {
        for p in self.probes.drain(..) {
            p.abort();
        }
        for c in self.init.iter().chain(&self.containers) {
            if let Some(i) = &c.instance {
                let _ = self.ctx.runtime.remove_container(&i.id).await;
            }
        }
        self.ctx.release_network(&self.uid).await;
        if let Err(e) = self.ctx.runtime.remove_sandbox(&self.uid).await {
            debug!(error = %e, "removing the sandbox failed");
        }
        volumes::teardown(&self.pod_dir);
    }

    /// Stops the pod: SIGTERM, the grace period, SIGKILL; removes containers, network,
    /// sandbox, volumes and logs; then completes the API delete (`pod` set) with a UID
    /// precondition.
    async fn terminate(&mut self, pod: Option<&Pod>, grace: Duration) {
        info!(grace_seconds = grace.as_secs(), "stopping pod");
        for p in self.probes.drain(..) {
            p.abort();
        }
        let instance = |c: &super::state::ContainerState| {
            c.instance
                .as_ref()
                .filter(|_| c.running())
                .map(|i| (c.name.clone(), i.id.clone(), c.init))
        };
        // App (and regular init) containers first; then the sidecars, one at a time in
        // reverse order, as upstream (a sidecar outlives what it serves).
        let running: Vec<(String, String, bool)> = self
            .containers
            .iter()
            .chain(self.init.iter().filter(|c| !c.sidecar))
            .filter_map(instance)
            .collect();
        let sidecars: Vec<(String, String, bool)> = self
            .init
            .iter()
            .rev()
            .filter(|c| c.sidecar)
            .filter_map(instance)
            .collect();
        let stop_started = Instant::now();
        if let Some(pod) = pod {
            for (name, _, init) in running.iter().chain(&sidecars) {
                self.ctx.events.record(
                    pod,
                    Self::field_path(*init, name),
                    false,
                    "Killing",
                    format!("Stopping container {name}"),
                );
            }
            // A terminating pod serves no more: not Ready at once, so endpoints and kubectl
            // (which picks the longest-ready pod for logs, exec and port-forward) move to the
            // others now, not after the grace period.
            for c in self.containers.iter_mut().chain(self.init.iter_mut()) {
                c.ready = false;
            }
            self.write_status(pod).await;
        }
        let mut exited = std::collections::HashSet::new();
        let deadline = stop_started + grace;
        self.stop_group(pod, &running, grace, deadline, &mut exited)
            .await;
        for side in &sidecars {
            // Each gets what is left of the grace period, at least upstream's 2 s.
            let deadline = if grace.is_zero() {
                deadline
            } else {
                deadline.max(Instant::now() + kill::MIN_GRACE)
            };
            let left = deadline.saturating_duration_since(Instant::now());
            self.stop_group(pod, std::slice::from_ref(side), left, deadline, &mut exited)
                .await;
        }
        for c in self.init.iter().chain(&self.containers) {
            if let Some(i) = &c.instance {
                if let Err(e) = self.ctx.runtime.remove_container(&i.id).await {
                    debug!(container = %i.id, error = %e, "removing a container failed");
                }
            }
        }
        self.ctx.release_network(&self.uid).await;
        if let Err(e) = self.ctx.runtime.remove_sandbox(&self.uid).await {
            debug!(error = %e, "removing the sandbox failed");
        }
        volumes::teardown(&self.pod_dir);
        let _ = std::fs::remove_dir_all(&self.pod_dir);
        self.ctx.table.remove(&self.ns, &self.name, &self.uid);
        let Some(pod) = pod else { return };
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &self.ns);
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        for attempt in 0..5 {
            match api.delete(&self.name, &dp).await {
                Ok(_) => {
                    info!("pod deleted");
                    return;
                }
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => return,
                Err(e) => {
                    warn!(error = %e, attempt, "completing the pod's deletion failed; retrying");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
        let _ = pod;
    }

    /// preStop hooks, then SIGTERM (SIGKILL with no grace), then SIGKILL for what still runs
    /// at `deadline` (at least 2 s after a preStop hook). `exited` collects the exits seen, so
    /// one reported while another group stopped is not waited for again.
    async fn stop_group(
        &mut self,
        pod: Option<&Pod>,
        group: &[(String, String, bool)],
        grace: Duration,
        mut deadline: Instant,
        exited: &mut std::collections::HashSet<String>,
    ) {
        if group.is_empty() {
            return;
        }
        let hooks_ran = match pod.filter(|_| !grace.is_zero()) {
            Some(pod) => self.pre_stop(pod, group, grace).await,
            None => false,
        };
        let mut left: std::collections::HashSet<String> = group
            .iter()
            .map(|r| r.1.clone())
            .filter(|id| !exited.contains(id))
            .collect();
        for id in &left {
            let sig = if grace.is_zero() { SIGKILL } else { SIGTERM };
            if let Err(e) = self.ctx.runtime.kill(id, sig).await {
                debug!(container = %id, error = %e, "signalling a container failed");
            }
        }
        if hooks_ran {
            deadline = deadline.max(Instant::now() + kill::MIN_GRACE);
        }
        while !left.is_empty() {
            match tokio::time::timeout_at(deadline.into(), self.rx.recv()).await {
                Ok(Some(Msg::Exited { instance, .. })) => {
                    left.remove(&instance);
                    exited.insert(instance);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        for id in &left {
            let _ = self.ctx.runtime.kill(id, SIGKILL).await;
            let _ = tokio::time::timeout(Duration::from_secs(10), self.ctx.runtime.wait(id)).await;
        }
    }

    /// Stops the running sidecars one at a time, last first (preStop, SIGTERM, the pod's
    /// grace period, SIGKILL), recording their exits; true when there was any.
    async fn stop_sidecars(&mut self, pod: &Pod) -> bool {
        let mut any = false;
        for i in (0..self.init.len()).rev() {
            let c = &self.init[i];
            if !c.sidecar || !c.running() {
                continue;
            }
            let Some(id) = c.instance.as_ref().map(|x| x.id.clone()) else {
                continue;
            };
            let name = c.name.clone();
            let Some(spec) = Self::spec_of(pod, true, &name).cloned() else {
                continue;
            };
            any = true;
            for t in self.life.probe_tasks.remove(&id).into_iter().flatten() {
                t.abort();
            }
            self.ctx.events.record(
                pod,
                Self::field_path(true, &name),
                false,
                "Killing",
                format!("Stopping container {name}"),
            );
            let grace = grace_period(pod);
            let exit = self.kill_job(pod, &spec, true, &id).run(grace).await;
            let c = &mut self.init[i];
            c.ready = false;
            if let Some(inst) = c
                .instance
                .as_mut()
                .filter(|x| x.id == id && x.exit.is_none())
            {
                inst.exit = exit;
            }
        }
        any
    }

    fn spawn_probes(&mut self, sandbox: &Sandbox, spec: &Container, id: &str, kinds: &[Kind]) {
        for kind in kinds {
            let probe = match kind {
                Kind::Startup => spec.startup_probe.clone(),
                Kind::Readiness => spec.readiness_probe.clone(),
                Kind::Liveness => spec.liveness_probe.clone(),
            };
            if let Some(p) = probe {
                let task = probes::spawn(
                    self.ctx.runtime.clone(),
                    sandbox.clone(),
                    spec.clone(),
                    id.to_string(),
                    *kind,
                    p,
                    self.tx.clone(),
                );
                self.life
                    .probe_tasks
                    .entry(id.to_string())
                    .or_default()
                    .push(task.abort_handle());
                self.probes.push(task);
            }
        }
        // Finished tasks of earlier instances need no handle any more.
        self.probes.retain(|t| !t.is_finished());
    }

    /// Runs the postStart hook; on failure (event FailedPostStartHook) the container is
    /// stopped within the grace period and false returned.
    async fn post_start(
        &mut self,
        pod: &Pod,
        spec: &Container,
        fp: Option<String>,
        id: &str,
    ) -> bool {
        if Hook::PostStart.handler(spec).is_none() {
            return true;
        }
        let Some(sandbox) = self.sandbox.clone() else {
            return true;
        };
        let limit = grace_period(pod).max(Duration::from_secs(30));
        let r = hooks::run(
            &self.ctx.runtime,
            &sandbox,
            pod,
            spec,
            id,
            Hook::PostStart,
            limit,
        )
        .await;
        let Err(msg) = r else { return true };
        warn!(container = %spec.name, error = %msg, "postStart hook failed; stopping the container");
        self.ctx
            .events
            .record(pod, fp.clone(), true, Hook::PostStart.failed_reason(), msg);
        self.ctx
            .events
            .record(pod, fp, false, "Killing", "FailedPostStartHook".into());
        if let Some((init, i)) = self.find(&spec.name) {
            self.kill_in_background(pod, spec, init, i, id, kill::Reason::FailedPostStartHook);
        }
        false
    }

    /// Kills a running instance the kubelet gave up on, in its own task (preStop, SIGTERM,
    /// the grace period, SIGKILL: pods/kill.rs); the exit comes through the waiter and the
    /// restart policy decides what follows. Its probes stop now.
    fn kill_in_background(
        &mut self,
        pod: &Pod,
        spec: &Container,
        init: bool,
        i: usize,
        id: &str,
        reason: kill::Reason,
    ) {
        for t in self.life.probe_tasks.remove(id).into_iter().flatten() {
            t.abort();
        }
        self.state_mut(init, i).ready = false;
        let job = self.kill_job(pod, spec, init, id);
        let grace = kill::grace_period(pod, spec, reason);
        info!(container = %spec.name, ?reason, grace_seconds = grace.as_secs(), "killing container");
        tokio::spawn(job.run(grace));
    }

    fn kill_job(&self, pod: &Pod, spec: &Container, init: bool, id: &str) -> kill::Kill {
        kill::Kill {
            runtime: self.ctx.runtime.clone(),
            sandbox: self.sandbox.clone(),
            events: self.ctx.events.clone(),
            pod: pod.clone(),
            spec: spec.clone(),
            id: id.to_string(),
            field_path: Self::field_path(init, &spec.name),
        }
    }

    /// Runs the preStop hooks of the running containers concurrently, for at most `grace`;
    /// true when there was any.
    async fn pre_stop(
        &mut self,
        pod: &Pod,
        running: &[(String, String, bool)],
        grace: Duration,
    ) -> bool {
        let Some(sandbox) = self.sandbox.clone() else {
            return false;
        };
        let mut jobs = Vec::new();
        for (name, id, init) in running {
            let Some(spec) = Self::spec_of(pod, *init, name).cloned() else {
                continue;
            };
            if Hook::PreStop.handler(&spec).is_none() {
                continue;
            }
            let (rt, sb, pod, id, fp) = (
                self.ctx.runtime.clone(),
                sandbox.clone(),
                pod.clone(),
                id.clone(),
                Self::field_path(*init, name),
            );
            let events = &self.ctx.events;
            jobs.push(async move {
                if let Err(msg) = hooks::run(&rt, &sb, &pod, &spec, &id, Hook::PreStop, grace).await
                {
                    warn!(container = %spec.name, error = %msg, "preStop hook failed");
                    events.record(&pod, fp, true, Hook::PreStop.failed_reason(), msg);
                }
            });
        }
        let any = !jobs.is_empty();
        futures_util::future::join_all(jobs).await;
        any
    }

    /// A startup probe result: success starts readiness and liveness probing; failureThreshold
    /// failures restart the container.
    async fn on_startup_probe(&mut self, pod: &Pod, r: ProbeResult) {
        if !self.life.unstarted.contains(&r.instance) {
            return;
        }
        let Some((init, i)) = self.find(&r.container) else {
            return;
        };
        let Some(spec) = Self::spec_of(pod, init, &r.container).cloned() else {
            return;
        };
        let fp = Self::field_path(init, &r.container);
        let c = self.state_mut(init, i);
        if c.instance.as_ref().map(|x| x.id.as_str()) != Some(r.instance.as_str()) || !c.running() {
            return;
        }
        if r.ok {
            c.liveness_failures = 0;
            c.ready = spec.readiness_probe.is_none();
            c.started_once = true;
            self.life.unstarted.remove(&r.instance);
            if let Some(sb) = self.sandbox.clone() {
                self.spawn_probes(&sb, &spec, &r.instance, &[Kind::Readiness, Kind::Liveness]);
            }
            info!(container = %r.container, "startup probe succeeded");
        } else {
            c.liveness_failures += 1;
            let failures = c.liveness_failures;
            let name = c.name.clone();
            self.ctx.events.record(
                pod,
                fp.clone(),
                true,
                "Unhealthy",
                format!("Startup probe failed: {}", r.message),
            );
            let threshold = spec
                .startup_probe
                .as_ref()
                .and_then(|p| p.failure_threshold)
                .unwrap_or(3);
            if failures >= threshold {
                self.state_mut(init, i).liveness_failures = 0;
                self.life.unstarted.remove(&r.instance);
                self.ctx.events.record(
                    pod,
                    fp,
                    false,
                    "Killing",
                    format!("Container {name} failed startup probe, will be restarted"),
                );
                self.kill_in_background(
                    pod,
                    &spec,
                    init,
                    i,
                    &r.instance,
                    kill::Reason::StartupProbe,
                );
            }
        }
        self.publish();
    }

    /// Reads an exited instance's termination message for its status.
    async fn record_message(
        &mut self,
        pod: &Pod,
        init: bool,
        name: &str,
        id: &str,
        restart: i32,
        code: i32,
    ) {
        self.life.unstarted.remove(id);
        // Its probes end with it (a restart gets its own).
        for t in self.life.probe_tasks.remove(id).into_iter().flatten() {
            t.abort();
        }
        let Some(spec) = Self::spec_of(pod, init, name) else {
            return;
        };
        let file = lifecycle::message_file(&self.pod_dir, name, restart);
        let log = self.pod_dir.join(name).join(format!("{restart}.log"));
        if let Some(m) = lifecycle::read_message(spec, &file, &log, code).await {
            self.life.messages.insert(id.to_string(), m);
        }
    }

    /// activeDeadlineSeconds: once past, every container is killed, the pod turns Failed
    /// (DeadlineExceeded) and nothing restarts.
    async fn check_deadline(&mut self, pod: &Pod) {
        if self.life.deadline_exceeded {
            return;
        }
        let Some(at) = lifecycle::active_deadline(pod, self.start_time.as_deref()) else {
            self.life.deadline_at = None;
            return;
        };
        if SystemTime::now() < at {
            self.life.deadline_at = Some(lifecycle::instant_of(at));
            return;
        }
        info!("activeDeadlineSeconds passed; stopping the pod");
        self.life.deadline_exceeded = true;
        self.life.deadline_at = None;
        self.ctx.events.record(
            pod,
            None,
            true,
            lifecycle::DEADLINE_REASON,
            lifecycle::DEADLINE_MESSAGE.into(),
        );
        for p in self.probes.drain(..) {
            p.abort();
        }
        // As upstream's pod kill: every running container at once, each with its preStop hook
        // and the pod's grace period.
        let mut kills = Vec::new();
        for init in [true, false] {
            let n = if init {
                self.init.len()
            } else {
                self.containers.len()
            };
            for i in 0..n {
                let c = self.state_mut(init, i);
                c.ready = false;
                c.not_before = None;
                if c.waiting
                    .as_ref()
                    .is_some_and(|w| w.0 == "CrashLoopBackOff")
                {
                    c.waiting = None;
                }
                let Some(id) = c
                    .instance
                    .as_ref()
                    .filter(|x| x.running())
                    .map(|x| x.id.clone())
                else {
                    continue;
                };
                let name = c.name.clone();
                let Some(spec) = Self::spec_of(pod, init, &name).cloned() else {
                    continue;
                };
                self.ctx.events.record(
                    pod,
                    Self::field_path(init, &name),
                    false,
                    "Killing",
                    format!("Stopping container {name}"),
                );
                let grace = kill::grace_period(pod, &spec, kill::Reason::DeadlineExceeded);
                let job = self.kill_job(pod, &spec, init, &id);
                kills.push(async move { (init, i, id, job.run(grace).await) });
            }
        }
        for (init, i, id, exit) in futures_util::future::join_all(kills).await {
            let Some(exit) = exit else { continue };
            if let Some(inst) = self
                .state_mut(init, i)
                .instance
                .as_mut()
                .filter(|x| x.id == id)
            {
                inst.exit = Some(exit);
            }
        }
        self.publish();
    }

    /// Rewrites configMap/secret/downwardAPI/projected volumes whose content changed.
    async fn refresh_volumes(&mut self, pod: &Pod) {
        if self.volumes.is_none() {
            return;
        }
        let now = Instant::now();
        let due = self.life.refresh_at.is_some_and(|t| t <= now);
        if self.life.refresh_at.is_none() || due {
            self.life.refresh_at = Some(now + lifecycle::VOLUME_REFRESH);
        }
        if !due {
            return;
        }
        let (ip, host) = self.facts();
        let facts = PodFacts {
            pod_ip: &ip,
            host_ip: &host,
            node_name: &self.ctx.cfg.node_name,
        };
        let changed = volumes::refresh(&self.ctx.client, pod, &self.pod_dir, &facts).await;
        if !changed.is_empty() {
            info!(volumes = ?changed, "volume contents updated");
        }
    }

    fn view<'a>(&'a self, pod: &'a Pod, now: &'a str) -> View<'a> {
        View {
            pod,
            host_ip: &self.ctx.host_ip,
            pod_ip: self.pod_ip.as_deref(),
            start_time: self.start_time.as_deref(),
            sandbox_ready: self.sandbox.is_some(),
            init: &self.init,
            containers: &self.containers,
            now,
        }
    }

    async fn write_status(&mut self, pod: &Pod) {
        if self.status_final {
            return;
        }
        let now = crate::time::now();
        let mut transitions = std::mem::take(&mut self.transitions);
        let mut st = status::build(&self.view(pod, &now), &mut transitions);
        self.transitions = transitions;
        lifecycle::apply(&mut st, &self.life);
        if self.last_status.as_ref() == Some(&st) {
            return;
        }
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &self.ns);
        match api
            .patch_status(
                &self.name,
                &PatchParams::default(),
                // Strategic: conditions merge by type, so those others wrote (readiness
                // gates) stay as the API has them.
                &Patch::Strategic(&json!({ "status": st })),
            )
            .await
        {
            Ok(_) => {
                debug!(phase = %st["phase"], "pod status written");
                self.last_status = Some(st);
            }
            Err(e) => {
                warn!(error = %e, "writing the pod status failed; retrying");
                self.retry_at = Some(Instant::now() + Duration::from_secs(1));
            }
        }
        self.publish();
    }

    /// Shares what the streaming server needs (logs, exec, port-forward).
    fn publish(&self) {
        let mut containers = Vec::new();
        for c in self.containers.iter().chain(&self.init) {
            let log = |n: i32| self.pod_dir.join(&c.name).join(format!("{n}.log"));
            let has_instance = c.instance.is_some();
            containers.push((
                c.name.clone(),
                crate::server::ContainerRef {
                    container_id: c.instance.as_ref().map(|i| i.id.clone()),
                    sandbox: self.sandbox.clone(),
                    log_path: has_instance.then(|| log(c.restart_count)),
                    previous_log_path: (c.restart_count > 0).then(|| log(c.restart_count - 1)),
                    running: c.running(),
                },
            ));
        }
        self.ctx.table.set(
            &self.ns,
            &self.name,
            &self.uid,
            self.sandbox.clone(),
            containers,
        );
    }
}

/// The pod's terminationGracePeriodSeconds (30 by default).
fn grace_period(pod: &Pod) -> Duration {
    let s = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30);
    Duration::from_secs(s.max(0) as u64)
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// imagePullPolicy, defaulted as the API does: Always for `:latest` or no tag, else IfNotPresent.
pub fn pull_policy(c: &Container) -> PullPolicy {
    match c.image_pull_policy.as_deref() {
        Some("Always") => PullPolicy::Always,
        Some("Never") => PullPolicy::Never,
        Some("IfNotPresent") => PullPolicy::IfNotPresent,
        _ => {
            let image = c.image.as_deref().unwrap_or_default();
            let last = image.rsplit('/').next().unwrap_or(image);
            if image.contains('@') {
                PullPolicy::IfNotPresent
            } else if !last.contains(':') || last.ends_with(":latest") {
                PullPolicy::Always
            } else {
                PullPolicy::IfNotPresent
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_defaults() {
        let c = |image: &str| Container {
            name: "c".into(),
            image: Some(image.into()),
            ..Default::default()
        };
        assert_eq!(pull_policy(&c("busybox")), PullPolicy::Always);
        assert_eq!(pull_policy(&c("busybox:latest")), PullPolicy::Always);
        assert_eq!(
            pull_policy(&c("127.0.0.1:5000/busybox")),
            PullPolicy::Always
        );
        assert_eq!(pull_policy(&c("busybox:1.36")), PullPolicy::IfNotPresent);
        assert_eq!(
            pull_policy(&c("busybox@sha256:abc")),
            PullPolicy::IfNotPresent
        );
    }
}
