//! Conversion between the served and the stored form of a resource. Identity except for
//! events.k8s.io/v1 Events, which share storage with core/v1 Events and are stored in the
//! core/v1 shape, as kube-apiserver stores one form and converts (rkube_api::convert).
//!
//! The REST handlers work on the served form throughout (defaulting, validation, patches,
//! field selectors all see the client's version); objects are converted where they are
//! written to the store and where they are read from it (`Api::read`, lists, watches).

use std::borrow::Cow;

use rkube_api::{convert, ResourceDef};
use serde_json::Value;

fn is_event(def: &ResourceDef) -> bool {
    def.kind == "Event" && matches!(def.group, "" | "events.k8s.io")
}

/// True when the served form of `def`'s objects may differ from what the store holds.
pub fn converts(def: &ResourceDef) -> bool {
    is_event(def)
}

/// The form an object of `def`, as served, is stored in (borrowed when it is the same).
pub fn to_storage<'a>(def: &ResourceDef, obj: &'a Value) -> Cow<'a, Value> {
    if is_event(def) && def.group == "events.k8s.io" {
        Cow::Owned(convert::event_to_core(obj))
    } else {
        Cow::Borrowed(obj)
    }
}

/// A stored object as `def` serves it. Events stored in the events.k8s.io shape (written
/// before the conversion existed) are read as well, through either version. Takes the
/// decoded object: kinds stored as served are returned as they are, without a copy.
pub fn from_storage(def: &ResourceDef, obj: Value) -> Value {
    if !is_event(def) {
        return obj;
    }
    let stored_events_api =
        obj.get("apiVersion").and_then(Value::as_str) == Some(convert::EVENTS_API_VERSION);
    match (def.group, stored_events_api) {
        ("events.k8s.io", false) => convert::event_from_core(&obj),
        ("", true) => convert::event_to_core(&obj),
        _ => obj,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_round_trip_through_storage() {
        let events = rkube_api::registry::find("events.k8s.io", "v1", "events").unwrap();
        let core = rkube_api::registry::find("", "v1", "events").unwrap();
        let served = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e"}, "regarding": {"name": "x"}, "note": "n"});
        let stored = to_storage(events, &served).into_owned();
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["involvedObject"]["name"], "x");
        assert_eq!(from_storage(events, stored.clone()), served);
        assert_eq!(from_storage(core, stored.clone()), stored);
        // Legacy objects stored in the events.k8s.io shape.
        assert_eq!(from_storage(core, served.clone()), stored);
        assert_eq!(from_storage(events, served.clone()), served);
        let pods = rkube_api::registry::find("", "v1", "pods").unwrap();
        assert_eq!(*to_storage(pods, &served), served);
        assert_eq!(from_storage(pods, served.clone()), served);
    }
}
