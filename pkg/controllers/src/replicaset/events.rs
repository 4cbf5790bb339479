//! A best-effort event recorder, like client-go's: core/v1 Events named `<object>.<hex nanos>`,
//! written in the background; a repeat of the same event within ten minutes bumps its count.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::core::v1::{Event, EventSource, ObjectReference},
    apimachinery::pkg::apis::meta::v1::Time,
    jiff::Timestamp,
};
use kube::{
    api::{Api, ObjectMeta, Patch, PatchParams, PostParams},
    Resource, ResourceExt,
};
use serde_json::json;
use tracing::debug;

use super::pods::now;

const AGGREGATE_WINDOW: Duration = Duration::from_secs(600);
const MAX_REMEMBERED: usize = 4096;

pub(crate) const NORMAL: &str = "Normal";
pub(crate) const WARNING: &str = "Warning";

#[derive(Clone)]
pub(crate) struct Recorder {
    client: kube::Client,
    component: &'static str,
    seen: Arc<Mutex<HashMap<String, Seen>>>,
}

#[derive(Clone)]
struct Seen {
    name: String,
    namespace: String,
    count: i32,
    at: Instant,
}

/// The reference an event's `involvedObject` holds for `obj`.
pub(crate) fn object_ref<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: Some(obj.name_any()),
        namespace: obj.namespace(),
        uid: obj.uid(),
        resource_version: obj.resource_version(),
        field_path: None,
    }
}

impl Recorder {
    pub(crate) fn new(client: kube::Client, component: &'static str) -> Self {
        Self {
            client,
            component,
            seen: Arc::default(),
        }
    }

    /// Records an event about `obj` without waiting for (or failing on) the write.
    pub(crate) fn event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        type_: &str,
        reason: &str,
        message: String,
    ) {
        let involved = object_ref(obj);
        let key = format!(
            "{}/{}/{}/{type_}/{reason}/{message}",
            involved.namespace.as_deref().unwrap_or_default(),
            involved.name.as_deref().unwrap_or_default(),
            involved.uid.as_deref().unwrap_or_default(),
        );
        let repeat = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if seen.len() > MAX_REMEMBERED {
                seen.retain(|_, s| s.at.elapsed() < AGGREGATE_WINDOW);
            }
            match seen.get_mut(&key) {
                Some(s) if s.at.elapsed() < AGGREGATE_WINDOW => {
                    s.count += 1;
                    s.at = Instant::now();
                    Some(s.clone())
                }
                _ => None,
            }
        };
        let this = self.clone();
        let (type_, reason) = (type_.to_string(), reason.to_string());
        tokio::spawn(async move {
            if let Some(s) = repeat {
                let api: Api<Event> = Api::namespaced(this.client.clone(), &s.namespace);
                let patch = json!({"count": s.count, "lastTimestamp": Time(now())});
                match api
                    .patch(&s.name, &PatchParams::default(), &Patch::Merge(patch))
                    .await
                {
                    Ok(_) => return,
                    Err(e) => debug!(error = %e, "event count update failed; writing a new event"),
                }
            }
            this.create(key, involved, type_, reason, message).await;
        });
    }

    async fn create(
        &self,
        key: String,
        involved: ObjectReference,
        type_: String,
        reason: String,
        message: String,
    ) {
        let namespace = involved
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let stamp = Timestamp::now();
        let name = format!(
            "{}.{:x}",
            involved.name.as_deref().unwrap_or_default(),
            stamp.as_nanosecond()
        );
        let t = Time(now());
        let ev = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: involved,
            reason: Some(reason),
            message: Some(message),
            source: Some(EventSource {
                component: Some(self.component.into()),
                host: None,
            }),
            first_timestamp: Some(t.clone()),
            last_timestamp: Some(t),
            count: Some(1),
            type_: Some(type_),
            reporting_component: Some(self.component.into()),
            reporting_instance: Some(String::new()),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        match api.create(&PostParams::default(), &ev).await {
            Ok(_) => {
                let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
                seen.insert(
                    key,
                    Seen {
                        name,
                        namespace,
                        count: 1,
                        at: Instant::now(),
                    },
                );
            }
            Err(e) => debug!(error = %e, "event not recorded"),
        }
    }
}
