//! Events about pods, written as kube-scheduler's events.k8s.io recorder writes them (seen
//! through core/v1): `reportingComponent: default-scheduler`, an `action`, `eventTime`, and a
//! `series` counting repeats of the same event within six minutes. Recording never blocks the
//! scheduler: when the queue is full, events are dropped (as upstream's broadcaster does).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
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
use tracing::debug;

pub const COMPONENT: &str = "default-scheduler";
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
const QUEUE: usize = 4096;
const CONCURRENCY: usize = 16;
/// Upstream truncates event notes at 1 KiB.
const MAX_MESSAGE: usize = 1024;

pub struct Request {
    pub pod: Arc<Pod>,
    pub type_: &'static str,
    pub reason: &'static str,
    pub action: &'static str,
    pub message: String,
}

#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Request>,
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
        Recorder { tx }
    }

    pub fn record(&self, req: Request) {
        if self.tx.try_send(req).is_err() {
            debug!("event queue full; event dropped");
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

async fn run(client: Client, instance: String, rx: mpsc::Receiver<Request>) {
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
    req: Request,
) -> kube::Result<()> {
    let ns = req.pod.metadata.namespace.clone().unwrap_or_default();
    let name = req.pod.metadata.name.clone().unwrap_or_default();
    let uid = req.pod.metadata.uid.clone().unwrap_or_default();
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
        if s.len() > 10_000 {
            s.retain(|_, v| v.last.elapsed() < SERIES_WINDOW);
        }
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
            resource_version: req.pod.metadata.resource_version.clone(),
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
