//! The conditions a namespace being deleted reports, as upstream's namespace deleter
//! (status_condition_utils.go): all five types, each True with what is wrong or False with
//! its "ok" wording; a condition's lastTransitionTime moves only when its status does.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// What a pass over the namespace's content left behind.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Remaining {
    /// Objects left per resource, as `<resource>.<group>` (`configmaps.` for the core group).
    pub by_resource: BTreeMap<String, usize>,
    /// Objects left per finalizer they carry.
    pub by_finalizer: BTreeMap<String, usize>,
    /// Why deleting some resource types failed.
    pub delete_errors: Vec<String>,
}

impl Remaining {
    pub fn objects(&self) -> usize {
        self.by_resource.values().sum()
    }

    pub fn count(&mut self, resource: &str, group: &str, finalizers: &[String]) {
        *self
            .by_resource
            .entry(format!("{resource}.{group}"))
            .or_default() += 1;
        for f in finalizers {
            *self.by_finalizer.entry(f.clone()).or_default() += 1;
        }
    }
}

/// (type, ok reason, ok message), in upstream's order.
const TYPES: [(&str, &str, &str); 5] = [
    (
        "NamespaceDeletionDiscoveryFailure",
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        "NamespaceDeletionGroupVersionParsingFailure",
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    (
        "NamespaceContentRemaining",
        "ContentRemoved",
        "All content successfully removed",
    ),
    (
        "NamespaceFinalizersRemaining",
        "ContentHasNoFinalizers",
        "All content-preserving finalizers finished",
    ),
];

/// The failing (True) conditions for `r`: type -> (reason, message).
fn failing(r: &Remaining) -> BTreeMap<&'static str, (&'static str, String)> {
    let mut out = BTreeMap::new();
    if !r.delete_errors.is_empty() {
        let mut msgs = r.delete_errors.clone();
        msgs.sort();
        out.insert(
            "NamespaceDeletionContentFailure",
            (
                "ContentDeletionFailed",
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    msgs.len(),
                    msgs.join(", ")
                ),
            ),
        );
    }
    let left: Vec<String> = r
        .by_resource
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(gr, n)| format!("{gr} has {n} resource instances"))
        .collect();
    if !left.is_empty() {
        out.insert(
            "NamespaceContentRemaining",
            (
                "SomeResourcesRemain",
                format!("Some resources are remaining: {}", sorted(left)),
            ),
        );
    }
    let held: Vec<String> = r
        .by_finalizer
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(f, n)| format!("{f} in {n} resource instances"))
        .collect();
    if !held.is_empty() {
        out.insert(
            "NamespaceFinalizersRemaining",
            (
                "SomeFinalizersRemain",
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    sorted(held)
                ),
            ),
        );
    }
    out
}

/// Upstream sorts the rendered strings, not the keys.
fn sorted(mut v: Vec<String>) -> String {
    v.sort();
    v.join(", ")
}

/// The namespace's conditions after a pass that left `r`, from its `current` ones (at `now`,
/// RFC 3339); `None` when nothing changed, so an unchanged namespace is not written again.
pub fn update(current: &[Value], r: &Remaining, now: &str) -> Option<Vec<Value>> {
    let failing = failing(r);
    let mut out: Vec<Value> = current.to_vec();
    let mut changed = false;
    for (ty, ok_reason, ok_message) in TYPES {
        let (status, reason, message) = match failing.get(ty) {
            Some((reason, message)) => ("True", *reason, message.clone()),
            None => ("False", ok_reason, ok_message.to_string()),
        };
        let want = json!({"type": ty, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": now});
        match out.iter_mut().find(|c| c["type"] == ty) {
            None => {
                out.push(want);
                changed = true;
            }
            Some(old) => {
                let same_status = old["status"] == status;
                if !same_status || old["reason"] != reason || old["message"] != message.as_str() {
                    let since = if same_status {
                        old["lastTransitionTime"].clone()
                    } else {
                        json!(now)
                    };
                    *old = want;
                    old["lastTransitionTime"] = since;
                    changed = true;
                }
            }
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by_a_finalizer() -> Remaining {
        let mut r = Remaining::default();
        r.count("configmaps", "", &["example.com/hold".into()]);
        r.count("deployments", "apps", &[]);
        r.count(
            "configmaps",
            "",
            &["example.com/hold".into(), "b.io/x".into()],
        );
        r
    }

    #[test]
    fn messages_are_upstreams() {
        let r = held_by_a_finalizer();
        assert_eq!(r.objects(), 3);
        let c = update(&[], &r, "2026-11-27T10:00:00Z").unwrap();
        let types: Vec<&str> = c.iter().map(|c| c["type"].as_str().unwrap()).collect();
        assert_eq!(types, TYPES.map(|t| t.0));
        assert_eq!(c[0]["status"], "False");
        assert_eq!(c[0]["message"], "All resources successfully discovered");
        assert_eq!(c[2]["reason"], "ContentDeleted");
        assert_eq!(c[3]["status"], "True");
        assert_eq!(c[3]["reason"], "SomeResourcesRemain");
        assert_eq!(
            c[3]["message"],
            "Some resources are remaining: configmaps. has 2 resource instances, deployments.apps has 1 resource instances"
        );
        assert_eq!(c[4]["reason"], "SomeFinalizersRemain");
        assert_eq!(
            c[4]["message"],
            "Some content in the namespace has finalizers remaining: b.io/x in 1 resource instances, example.com/hold in 2 resource instances"
        );
    }

    #[test]
    fn unchanged_conditions_are_not_written_and_keep_their_transition_time() {
        let r = held_by_a_finalizer();
        let first = update(&[], &r, "2026-11-27T10:00:00Z").unwrap();
        assert_eq!(update(&first, &r, "2026-11-27T10:00:05Z"), None);

        // The deployment went: the message changes, the status and its time do not.
        let mut fewer = held_by_a_finalizer();
        fewer.by_resource.remove("deployments.apps");
        let second = update(&first, &fewer, "2026-11-27T10:00:09Z").unwrap();
        assert!(second[3]["message"]
            .as_str()
            .unwrap()
            .ends_with("configmaps. has 2 resource instances"));
        assert_eq!(second[3]["lastTransitionTime"], "2026-11-27T10:00:00Z");

        // A failure to delete turns its condition True, at the new time.
        let mut failed = fewer;
        failed.delete_errors.push("boom".into());
        let third = update(&second, &failed, "2026-11-27T10:00:12Z").unwrap();
        assert_eq!(third[2]["status"], "True");
        assert_eq!(
            third[2]["message"],
            "Failed to delete all resource types, 1 remaining: boom"
        );
        assert_eq!(third[2]["lastTransitionTime"], "2026-11-27T10:00:12Z");
    }
}
