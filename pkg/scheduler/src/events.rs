//! Events about pods, written as kube-scheduler's events.k8s.io recorder writes them (seen
//! through core/v1): `reportingComponent: default-scheduler`, an `action`, `eventTime`, and a
//! `series` counting repeats of the same event within six minutes. Recording never blocks the
//! scheduler: when the queue is full, events are dropped (as upstream's broadcaster does), but
//! the queue holds a burst of 16k events (a few hundred bytes each: the pod's reference, not
//! the pod), so a 10k-pod burst's Scheduled events are written late rather than lost.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use k8s_openapi::{
    api::core::v1::{Event, EventSeries, ObjectReference, Pod},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::{
    api::{Api, Patch, PatchParams, PostParams},
    Client,
};
use serde_json::json;
use tokio::sync::mpsc;
use tracing::{debug, warn};

pub const COMPONENT: &str = "default-scheduler";
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
const QUEUE: usize = 16 * 1024;
const CONCURRENCY: usize = 32;
/// Series remembered at most: beyond it, those seen once (a pod's Scheduled event never
/// repeats) and expired ones are forgotten.
const MAX_SERIES: usize = 10_000;
/// Upstream truncates event notes at 1 KiB.
const MAX_MESSAGE: usize = 1024;

pub struct Request {
    pub pod: Arc<Pod>,
    pub type_: &'static str,
    pub reason: &'static str,
    pub action: &'static str,
    pub message: String,
}

/// What an event needs of its pod (the queue must not keep whole pods alive).
struct Regarding {
    namespace: String,
    name: String,
    uid: String,
    resource_version: Option<String>,
}

struct Queued {
    pod: Regarding,
    type_: &'static str,
    reason: &'static str,
    action: &'static str,
    message: String,
}

#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Queued>,
    dropped: Arc<AtomicU64>,
}

struct Series {
    name: String,
    count: i32,
    last: Instant,
}

impl Recorder {
    pub fn start(client: Client) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let instance = format!("{COMPONENT}-{}", hostname());
        tokio::spawn(run(client, instance, rx));
        Recorder {
            tx,
            dropped: Arc::default(),
        }
    }

    pub fn record(&self, req: Request) {
        let m = &req.pod.metadata;
        let queued = Queued {
            pod: Regarding {
                namespace: m.namespace.clone().unwrap_or_default(),
                name: m.name.clone().unwrap_or_default(),
                uid: m.uid.clone().unwrap_or_default(),
                resource_version: m.resource_version.clone(),
            },
            type_: req.type_,
            reason: req.reason,
            action: req.action,
            message: req.message,
        };
        if self.tx.try_send(queued).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n.is_multiple_of(1000) {
                warn!(
                    dropped = n,
                    queue = QUEUE,
                    "event queue full; events dropped"
                );
            }
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

async fn run(client: Client, instance: String, rx: mpsc::Receiver<Queued>) {
    let series: Mutex<HashMap<String, Series>> = Mutex::new(HashMap::new());
    let requests =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) });
    requests
        .for_each_concurrent(CONCURRENCY, |req| {
            let (client, instance, series) = (client.clone(), &instance, &series);
            async move {
                if let Err(e) = emit(client, instance, series, req).await {
                    debug!(error = %e, "writing an event failed");
                }
            }
        })
        .await;
}

async fn emit(
    client: Client,
    instance: &str,
    series: &Mutex<HashMap<String, Series>>,
    req: Queued,
) -> kube::Result<()> {
    let Regarding {
        namespace: ns,
        name,
        uid,
        resource_version,
    } = req.pod;
    let mut message = req.message;
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE - 3;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str("...");
    }
    let key = format!("{uid}\n{}\n{message}", req.reason);
    let now = Timestamp::now();
    let fresh_name = format!("{name}.{:x}", now.as_nanosecond());
    let repeat = {
        let mut s = series.lock().expect("series lock");
        forget_some(&mut s);
        match s.get_mut(&key) {
            Some(v) if v.last.elapsed() < SERIES_WINDOW => {
                v.count += 1;
                v.last = Instant::now();
                Some((v.name.clone(), v.count))
            }
            _ => {
                let v = Series {
                    name: fresh_name.clone(),
                    count: 1,
                    last: Instant::now(),
                };
                s.insert(key.clone(), v);
                None
            }
        }
    };
    let events: Api<Event> = Api::namespaced(client, &ns);
    if let Some((event_name, count)) = repeat {
        let series_patch = EventSeries {
            count: Some(count),
            last_observed_time: Some(MicroTime(now)),
        };
        let patch = json!({ "series": series_patch });
        match events
            .patch(&event_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            // Gone (expired or deleted): start a new one.
            Err(kube::Error::Api(e)) if e.code == 404 => {
                let mut s = series.lock().expect("series lock");
                s.insert(
                    key,
                    Series {
                        name: fresh_name.clone(),
                        count: 1,
                        last: Instant::now(),
                    },
                );
            }
            r => return r.map(|_| ()),
        }
    }
    let event_name = fresh_name;
    let event = Event {
        metadata: ObjectMeta {
            name: Some(event_name),
            namespace: Some(ns.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            namespace: Some(ns),
            name: Some(name),
            uid: Some(uid),
            resource_version,
            ..ObjectReference::default()
        },
        type_: Some(req.type_.into()),
        reason: Some(req.reason.into()),
        action: Some(req.action.into()),
        message: Some(message),
        event_time: Some(MicroTime(now)),
        reporting_component: Some(COMPONENT.into()),
        reporting_instance: Some(instance.into()),
        ..Event::default()
    };
    events.create(&PostParams::default(), &event).await?;
    Ok(())
}

/// Keeps the series map bounded, in amortized constant time per event: when full, forget the
/// expired series and those seen only once; if repeating series alone still fill half of it,
/// forget everything (a repeat then starts a new event, as after the window).
fn forget_some(s: &mut HashMap<String, Series>) {
    if s.len() < MAX_SERIES {
        return;
    }
    s.retain(|_, v| v.count > 1 && v.last.elapsed() < SERIES_WINDOW);
    if s.len() >= MAX_SERIES / 2 {
        s.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(count: i32, age: Duration) -> Series {
        Series {
            name: "e".into(),
            count,
            last: Instant::now() - age,
        }
    }

    #[test]
    fn the_series_map_stays_bounded_and_keeps_live_repeats() {
        let mut s = HashMap::new();
        for i in 0..MAX_SERIES - 3 {
            s.insert(format!("once-{i}"), series(1, Duration::ZERO));
        }
        s.insert("repeating".into(), series(5, Duration::ZERO));
        s.insert("expired".into(), series(5, SERIES_WINDOW * 2));
        forget_some(&mut s);
        assert_eq!(
            s.len(),
            MAX_SERIES - 1,
            "below the bound nothing is forgotten"
        );
        s.insert("one-more".into(), series(1, Duration::ZERO));
        forget_some(&mut s);
        assert_eq!(s.keys().collect::<Vec<_>>(), ["repeating"]);

        let mut s: HashMap<String, Series> = (0..MAX_SERIES)
            .map(|i| (format!("r-{i}"), series(2, Duration::ZERO)))
            .collect();
        forget_some(&mut s);
        assert!(s.is_empty(), "only repeating series: all forgotten");
    }
}
