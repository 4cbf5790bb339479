//! Conversion between the two served versions of one stored kind, as kube-apiserver's
//! conversion functions: core/v1 and events.k8s.io/v1 Events share storage
//! (`/registry/events/`), kept in the core/v1 shape (upstream stores the internal core Event;
//! its v1 and events.k8s.io/v1 encodings are converted by pkg/apis/events/v1/conversion.go
//! and the generated field-by-field conversions).
//!
//! Field correspondence (events.k8s.io/v1 <-> core/v1): `regarding` <-> `involvedObject`,
//! `note` <-> `message`, `reportingController` <-> `reportingComponent`,
//! `deprecatedSource` <-> `source`, `deprecatedFirstTimestamp` <-> `firstTimestamp`,
//! `deprecatedLastTimestamp` <-> `lastTimestamp`, `deprecatedCount` <-> `count`; `metadata`,
//! `eventTime`, `series`, `related`, `action`, `reason`, `type` and `reportingInstance` keep
//! their names. Fields of neither version pass through unchanged.
use serde_json::{Map, Value};

/// (events.k8s.io/v1 name, core/v1 name) of the fields that are renamed.
const RENAMED: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// The apiVersion of core/v1 Events.
pub const CORE_EVENT_API_VERSION: &str = "v1";
/// The apiVersion of events.k8s.io/v1 Events.
pub const EVENTS_API_VERSION: &str = "events.k8s.io/v1";

fn rename(v: &Value, api_version: &str, to_core: bool) -> Value {
    let Some(obj) = v.as_object() else {
        return v.clone();
    };
    let mut out = Map::with_capacity(obj.len());
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    out.insert("kind".into(), Value::String("Event".into()));
    for (k, val) in obj {
        if k == "apiVersion" || k == "kind" {
            continue;
        }
        let renamed = RENAMED.iter().find_map(|(events, core)| {
            if to_core {
                (k == events).then_some(*core)
            } else {
                (k == core).then_some(*events)
            }
        });
        match renamed {
            Some(name) => {
                out.insert(name.into(), val.clone());
            }
            // A field with the other version's name of a renamed field (e.g. `message` sent
            // to events.k8s.io) is not a field of this version: it does not survive the
            // conversion, as upstream's typed decoding drops it.
            None if RENAMED.iter().any(
                |(events, core)| {
                    if to_core {
                        k == core
                    } else {
                        k == events
                    }
                },
            ) => {}
            None => {
                out.insert(k.clone(), val.clone());
            }
        }
    }
    Value::Object(out)
}

/// An events.k8s.io/v1 Event as the core/v1 Event it is stored as.
pub fn event_to_core(v: &Value) -> Value {
    rename(v, CORE_EVENT_API_VERSION, true)
}

/// A core/v1 Event (the stored form) as events.k8s.io/v1 serves it.
pub fn event_from_core(v: &Value) -> Value {
    rename(v, EVENTS_API_VERSION, false)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn core() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "default", "uid": "u1", "resourceVersion": "7"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "p1",
                "apiVersion": "v1", "resourceVersion": "3", "fieldPath": "spec.containers{c}"},
            "reason": "Started",
            "message": "Started container c",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2024-01-01T00:00:00Z",
            "lastTimestamp": "2024-01-01T00:01:00Z",
            "count": 3,
            "type": "Normal",
            "eventTime": "2024-01-01T00:00:00.000000Z",
            "series": {"count": 2, "lastObservedTime": "2024-01-01T00:01:00.000000Z"},
            "action": "Start",
            "related": {"kind": "Node", "name": "node-1"},
            "reportingComponent": "kubelet",
            "reportingInstance": "node-1",
        })
    }

    #[test]
    fn core_to_events_api() {
        let ev = event_from_core(&core());
        assert_eq!(ev["apiVersion"], "events.k8s.io/v1");
        assert_eq!(ev["kind"], "Event");
        assert_eq!(ev["regarding"]["name"], "web");
        assert_eq!(ev["regarding"]["fieldPath"], "spec.containers{c}");
        assert_eq!(ev["note"], "Started container c");
        assert_eq!(ev["reportingController"], "kubelet");
        assert_eq!(ev["reportingInstance"], "node-1");
        assert_eq!(ev["deprecatedSource"]["host"], "node-1");
        assert_eq!(ev["deprecatedFirstTimestamp"], "2024-01-01T00:00:00Z");
        assert_eq!(ev["deprecatedLastTimestamp"], "2024-01-01T00:01:00Z");
        assert_eq!(ev["deprecatedCount"], 3);
        assert_eq!(ev["series"]["count"], 2);
        assert_eq!(ev["related"]["kind"], "Node");
        assert_eq!(ev["action"], "Start");
        assert_eq!(ev["reason"], "Started");
        assert_eq!(ev["type"], "Normal");
        assert_eq!(ev["eventTime"], "2024-01-01T00:00:00.000000Z");
        assert_eq!(ev["metadata"], core()["metadata"]);
        for gone in [
            "involvedObject",
            "message",
            "source",
            "firstTimestamp",
            "lastTimestamp",
            "count",
            "reportingComponent",
        ] {
            assert!(ev.get(gone).is_none(), "{gone}");
        }
    }

    #[test]
    fn events_api_to_core() {
        let ev = json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "e", "namespace": "default"},
            "regarding": {"kind": "Pod", "name": "web"},
            "note": "hello",
            "reportingController": "example.com/ctl",
            "reportingInstance": "ctl-1",
            "eventTime": "2024-01-01T00:00:00.000000Z",
            "action": "Do",
            "reason": "Done",
            "type": "Warning",
        });
        let core = event_to_core(&ev);
        assert_eq!(
            core,
            json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "e", "namespace": "default"},
                "involvedObject": {"kind": "Pod", "name": "web"},
                "message": "hello",
                "reportingComponent": "example.com/ctl",
                "reportingInstance": "ctl-1",
                "eventTime": "2024-01-01T00:00:00.000000Z",
                "action": "Do",
                "reason": "Done",
                "type": "Warning",
            })
        );
        assert_eq!(event_from_core(&core), ev);
    }

    #[test]
    fn round_trip_keeps_every_field() {
        assert_eq!(event_to_core(&event_from_core(&core())), core());
    }

    #[test]
    fn other_versions_names_are_dropped() {
        let ev = event_to_core(&json!({"note": "n", "message": "stray"}));
        assert_eq!(ev["message"], "n");
        let ev = event_from_core(&json!({"message": "m", "note": "stray"}));
        assert_eq!(ev["note"], "m");
    }
}
