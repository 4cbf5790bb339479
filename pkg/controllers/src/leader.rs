//! Leader election on a coordination.k8s.io/v1 Lease, as client-go's `leaderelection` does it
//! (lease 15 s, renew deadline 10 s, retry 2 s): a candidate takes the Lease when it is free or
//! its holder has not renewed it for a lease duration (timed by this process's clock from when
//! the record last changed, so clock skew between servers does not matter), renews it every
//! retry period while leading, and stops leading when a renewal has not succeeded within the
//! renew deadline. Writes are compare-and-swap on the resourceVersion, so two candidates never
//! both win. Several `rkube server`s on one etcd thus run one set of controllers.

use std::{future::Future, pin::Pin, time::Duration};

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::Timestamp,
};
use kube::{
    api::{Api, ObjectMeta, PostParams},
    Client,
};
use tokio::{sync::watch, time::Instant};
use tracing::{debug, info, warn};

/// Where the component leases live, as upstream.
pub const NAMESPACE: &str = "kube-system";
/// The controllers' lease (kube-controller-manager's name, as k3s keeps it).
pub const CONTROLLER_MANAGER_LEASE: &str = "kube-controller-manager";
/// The scheduler's lease.
pub const SCHEDULER_LEASE: &str = "kube-scheduler";

/// Resolves when the work must stop: leadership was lost or the process is shutting down.
pub type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The election's timing (client-go's defaults for the control-plane components).
#[derive(Debug, Clone)]
pub struct LeaderConfig {
    pub namespace: String,
    /// How long a holder's lease is honoured after its last renewal.
    pub lease_duration: Duration,
    /// A leader that has not renewed for this long stops leading.
    pub renew_deadline: Duration,
    /// How often candidates try to acquire and leaders renew.
    pub retry_period: Duration,
}

impl Default for LeaderConfig {
    fn default() -> Self {
        Self {
            namespace: NAMESPACE.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// `<hostname>_<uuid>`, as upstream's components name themselves: unique per process, so a
/// restarted server is a new candidate rather than a holder that never stopped.
pub fn identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_lowercase())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    // The kernel's random v4 UUID: no dependency for one number.
    let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map(|u| u.trim().to_string())
        .unwrap_or_else(|_| {
            format!(
                "{:x}-{:x}",
                std::process::id(),
                Timestamp::now().as_nanosecond()
            )
        });
    format!("{host}_{uuid}")
}

/// Runs `work(stop)` only while this process holds the Lease `kube-system/<lease_name>`: it is
/// started on winning the election, told to stop (and awaited) on losing it, after which this
/// process campaigns again. On `shutdown` the work is stopped and the Lease released, so
/// another server takes over at once instead of after the lease duration.
pub async fn run_while_leading<F, Fut>(
    client: Client,
    lease_name: &str,
    identity: &str,
    work: F,
    shutdown: impl Future<Output = ()>,
) where
    F: FnMut(Stop) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_while_leading_with(
        client,
        &LeaderConfig::default(),
        lease_name,
        identity,
        work,
        shutdown,
    )
    .await
}

/// [`run_while_leading`] with explicit timing.
pub async fn run_while_leading_with<F, Fut>(
    client: Client,
    cfg: &LeaderConfig,
    lease_name: &str,
    identity: &str,
    mut work: F,
    shutdown: impl Future<Output = ()>,
) where
    F: FnMut(Stop) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut elector = Elector {
        api: Api::namespaced(client, &cfg.namespace),
        cfg: cfg.clone(),
        name: lease_name.to_string(),
        identity: identity.to_string(),
        observed: None,
    };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Campaign.
        loop {
            match elector.try_acquire_or_renew().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => debug!(lease = %elector.name, error = %e, "acquiring the lease failed"),
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(jittered(cfg.retry_period)) => {}
            }
        }
        info!(lease = %elector.name, identity = %elector.identity, "became leader");
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(work(stopped(stop_rx)));
        // Lead: renew every retry period until a renewal is refused or overdue.
        let mut renewed = Instant::now();
        let shutting_down = loop {
            tokio::select! {
                _ = &mut shutdown => break true,
                _ = tokio::time::sleep(cfg.retry_period) => {}
            }
            let left = cfg.renew_deadline.saturating_sub(renewed.elapsed());
            match tokio::time::timeout(left, elector.try_acquire_or_renew()).await {
                Ok(Ok(true)) => renewed = Instant::now(),
                Ok(Ok(false)) => {
                    warn!(lease = %elector.name, holder = ?elector.holder(), "leadership lost to another holder");
                    break false;
                }
                Ok(Err(e)) => {
                    debug!(lease = %elector.name, error = %e, "renewing the lease failed")
                }
                Err(_) => {}
            }
            if renewed.elapsed() >= cfg.renew_deadline {
                warn!(lease = %elector.name, "leadership lost: the lease was not renewed within the renew deadline");
                break false;
            }
        };
        let _ = stop_tx.send(true);
        if let Err(e) = task.await {
            warn!(lease = %elector.name, error = %e, "leader work failed");
        }
        if shutting_down {
            elector.release().await;
            info!(lease = %elector.name, "stopped leading: shutting down");
            return;
        }
    }
}

fn stopped(mut rx: watch::Receiver<bool>) -> Stop {
    Box::pin(async move {
        let _ = rx.wait_for(|s| *s).await;
    })
}

/// client-go's wait.JitterUntil with factor 1.2: candidates do not retry in lockstep.
fn jittered(d: Duration) -> Duration {
    let nanos = Timestamp::now().subsec_nanosecond().unsigned_abs();
    d + d.mul_f64(0.2 * f64::from(nanos % 1000) / 1000.0)
}

struct Elector {
    api: Api<Lease>,
    cfg: LeaderConfig,
    name: String,
    identity: String,
    /// The last record seen and when (this process's clock) it was first seen.
    observed: Option<(LeaseSpec, Instant)>,
}

impl Elector {
    fn holder(&self) -> Option<&str> {
        self.observed
            .as_ref()
            .and_then(|(s, _)| s.holder_identity.as_deref())
    }

    fn observe(&mut self, spec: &LeaseSpec) {
        if self.observed.as_ref().map(|(s, _)| s) != Some(spec) {
            self.observed = Some((spec.clone(), Instant::now()));
        }
    }

    /// client-go's tryAcquireOrRenew: true when this process holds the lease afterwards.
    async fn try_acquire_or_renew(&mut self) -> kube::Result<bool> {
        let now = MicroTime(Timestamp::now());
        let duration = i32::try_from(self.cfg.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let spec = LeaseSpec {
                holder_identity: Some(self.identity.clone()),
                lease_duration_seconds: Some(duration),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            };
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    namespace: Some(self.cfg.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec.clone()),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => {
                    self.observe(&spec);
                    Ok(true)
                }
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let old = lease.spec.clone().unwrap_or_default();
        self.observe(&old);
        let holder = old.holder_identity.as_deref().unwrap_or("");
        let mine = holder == self.identity;
        let observed_at = self
            .observed
            .as_ref()
            .map_or_else(Instant::now, |(_, t)| *t);
        if !holder.is_empty() && !mine && observed_at.elapsed() < self.cfg.lease_duration {
            return Ok(false);
        }
        let spec = LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(duration),
            acquire_time: if mine {
                old.acquire_time.clone()
            } else {
                Some(now.clone())
            },
            renew_time: Some(now),
            lease_transitions: Some(old.lease_transitions.unwrap_or(0) + if mine { 0 } else { 1 }),
            ..old
        };
        lease.spec = Some(spec.clone());
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                self.observe(&spec);
                Ok(true)
            }
            // Someone else wrote it first: their record is seen on the next try.
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// client-go's release: an empty holder and a one-second lease, so others need not wait.
    async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        let now = MicroTime(Timestamp::now());
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.acquire_time = Some(now.clone());
        spec.renew_time = Some(now);
        if let Err(e) = self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            debug!(lease = %self.name, error = %e, "releasing the lease failed");
        }
    }
}

/// [`run_while_leading`] when `elect`; otherwise `work` just runs until `shutdown` (a server on
/// a datastore no other server can open needs no election, and so no wait for a lease a
/// crashed predecessor left behind). Owns its arguments, for `tokio::spawn`.
pub async fn run_elected<F, Fut>(
    elect: bool,
    client: Client,
    lease_name: &'static str,
    identity: String,
    mut work: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    F: FnMut(Stop) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if elect {
        run_while_leading(client, lease_name, &identity, work, shutdown).await;
    } else {
        work(Box::pin(shutdown)).await;
    }
}
