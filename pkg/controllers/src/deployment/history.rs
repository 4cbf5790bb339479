//! Revision bookkeeping in annotations, as upstream keeps it: `deployment.kubernetes.io/revision`
//! on the Deployment and each ReplicaSet (a reused ReplicaSet moves up to max+1 and remembers its
//! earlier numbers in `revision-history`), desired/max replica annotations, the Deployment's
//! annotations copied onto its new ReplicaSet, and which old ReplicaSets history cleanup removes.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::replicasets::{by_creation, spec_replicas, status_replicas};

pub(crate) const REVISION: &str = "deployment.kubernetes.io/revision";
pub(crate) const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub(crate) const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub(crate) const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// revision-history is kept under this many characters.
const MAX_REV_HISTORY_CHARS: usize = 2000;

/// Annotations never copied from a Deployment to its ReplicaSets (or back on rollback).
pub(crate) fn skip_copy(key: &str) -> bool {
    matches!(
        key,
        LAST_APPLIED | REVISION | REVISION_HISTORY | DESIRED_REPLICAS | MAX_REPLICAS | ROLLBACK_TO
    )
}

/// `Revision`: 0 when absent, `None` when unparsable.
pub(crate) fn revision(annotations: Option<&BTreeMap<String, String>>) -> Option<i64> {
    match annotations.and_then(|a| a.get(REVISION)) {
        None => Some(0),
        Some(v) => v.parse().ok(),
    }
}

pub(crate) fn rs_revision(rs: &ReplicaSet) -> Option<i64> {
    revision(rs.metadata.annotations.as_ref())
}

/// `MaxRevision` over the ReplicaSets (unparsable ones skipped).
pub(crate) fn max_revision<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    rss.into_iter()
        .filter_map(rs_revision)
        .max()
        .unwrap_or(0)
        .max(0)
}

fn int_annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata.annotations.as_ref()?.get(key)?.parse().ok()
}

pub(crate) fn desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    int_annotation(rs, DESIRED_REPLICAS)
}

pub(crate) fn max_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    int_annotation(rs, MAX_REPLICAS)
}

/// `copyDeploymentAnnotationsToReplicaSet`: whether anything changed.
fn copy_deployment_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if skip_copy(k) || annotations.get(k) == Some(v) {
            continue;
        }
        annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// `SetReplicasAnnotations`: whether anything changed.
pub(crate) fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (k, v) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let v = v.to_string();
        if annotations.get(k) != Some(&v) {
            annotations.insert(k.into(), v);
            changed = true;
        }
    }
    changed
}

pub(crate) fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    let a = rs.metadata.annotations.as_ref();
    a.and_then(|a| a.get(DESIRED_REPLICAS)) != Some(&desired.to_string())
        || a.and_then(|a| a.get(MAX_REPLICAS)) != Some(&max.to_string())
}

/// `SetNewReplicaSetAnnotations`: copies the Deployment's annotations, raises the revision to
/// `new_revision` when it is behind (recording the old number in revision-history: a rollback
/// to this ReplicaSet), and for a ReplicaSet about to be created sets the replica annotations.
pub(crate) fn set_new_replica_set_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
    desired: i32,
    max: i32,
) -> bool {
    let mut changed = copy_deployment_annotations(d, rs);
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let old = annotations.get(REVISION).cloned();
    let old_revision = match old.as_deref() {
        None | Some("") => 0,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return false,
        },
    };
    if old_revision < new_revision {
        annotations.insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old {
            let history = annotations
                .get(REVISION_HISTORY)
                .cloned()
                .unwrap_or_default();
            if history.is_empty() {
                annotations.insert(REVISION_HISTORY.into(), old);
            } else {
                let mut revisions: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old.len() + 1;
                let mut start = 0;
                while total > MAX_REV_HISTORY_CHARS && start < revisions.len() {
                    total -= revisions[start].len() + 1;
                    start += 1;
                }
                if total <= MAX_REV_HISTORY_CHARS {
                    revisions = revisions.split_off(start);
                    revisions.push(&old);
                    annotations.insert(REVISION_HISTORY.into(), revisions.join(","));
                }
            }
        }
    }
    if !exists && set_replicas_annotations(rs, desired, max) {
        changed = true;
    }
    changed
}

/// `SetDeploymentRevision`: whether the Deployment's revision annotation changed.
pub(crate) fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    let annotations = d.metadata.annotations.get_or_insert_with(BTreeMap::new);
    if annotations.get(REVISION).map(String::as_str) == Some(revision) {
        return false;
    }
    annotations.insert(REVISION.into(), revision.into());
    true
}

/// `cleanupDeployment`'s choice: the oldest revisions beyond `revisionHistoryLimit`, skipping
/// any that still have pods, are not scaled to zero or whose scale-down is not yet observed.
pub(crate) fn cleanup_victims(d: &Deployment, old: &[ReplicaSet]) -> Vec<ReplicaSet> {
    let Some(limit) = d
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .filter(|l| *l != i32::MAX)
    else {
        return Vec::new();
    };
    let mut alive: Vec<&ReplicaSet> = old
        .iter()
        .filter(|rs| rs.metadata.deletion_timestamp.is_none())
        .collect();
    let diff = alive.len() as i64 - i64::from(limit);
    if diff <= 0 {
        return Vec::new();
    }
    alive.sort_by(|a, b| {
        let (ra, rb) = (rs_revision(a).unwrap_or(0), rs_revision(b).unwrap_or(0));
        ra.cmp(&rb).then_with(|| by_creation(a, b))
    });
    alive
        .into_iter()
        .take(diff as usize)
        .filter(|rs| {
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            status_replicas(rs) == 0
                && spec_replicas(rs) == 0
                && rs.metadata.generation.unwrap_or(0) <= observed
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::{
        arithmetic::testing::{deployment, pct},
        replicasets::testing::rs,
    };

    fn annotated(mut r: ReplicaSet, pairs: &[(&str, &str)]) -> ReplicaSet {
        let a = r.metadata.annotations.get_or_insert_with(BTreeMap::new);
        for (k, v) in pairs {
            a.insert(k.to_string(), v.to_string());
        }
        r
    }

    fn ann<'a>(r: &'a ReplicaSet, k: &str) -> Option<&'a str> {
        r.metadata.annotations.as_ref()?.get(k).map(String::as_str)
    }

    #[test]
    fn new_replica_set_gets_next_revision_and_replica_annotations() {
        let mut d = deployment(3, pct("25%"), pct("25%"));
        d.metadata.annotations = Some(
            [
                (
                    "kubernetes.io/change-cause".to_string(),
                    "kubectl set image".to_string(),
                ),
                (REVISION.to_string(), "7".to_string()),
                (LAST_APPLIED.to_string(), "{}".to_string()),
            ]
            .into(),
        );
        let olds = [
            annotated(rs("a", 1, 0, 0), &[(REVISION, "1")]),
            annotated(rs("b", 2, 3, 3), &[(REVISION, "2")]),
        ];
        assert_eq!(max_revision(&olds), 2);
        let mut new = rs("c", 3, 0, 0);
        assert!(set_new_replica_set_annotations(
            &d, &mut new, 3, false, 3, 4
        ));
        assert_eq!(ann(&new, REVISION), Some("3"));
        assert_eq!(
            ann(&new, "kubernetes.io/change-cause"),
            Some("kubectl set image")
        );
        assert_eq!(ann(&new, LAST_APPLIED), None);
        assert_eq!(ann(&new, DESIRED_REPLICAS), Some("3"));
        assert_eq!(ann(&new, MAX_REPLICAS), Some("4"));
        assert_eq!(ann(&new, REVISION_HISTORY), None);
        // Nothing left to change the second time.
        assert!(!set_new_replica_set_annotations(
            &d, &mut new, 3, true, 3, 4
        ));
    }

    #[test]
    fn rollback_moves_revision_up_and_records_history() {
        let d = deployment(3, pct("25%"), pct("25%"));
        let mut reused = annotated(rs("a", 1, 0, 0), &[(REVISION, "1")]);
        assert!(set_new_replica_set_annotations(
            &d,
            &mut reused,
            4,
            true,
            3,
            4
        ));
        assert_eq!(ann(&reused, REVISION), Some("4"));
        assert_eq!(ann(&reused, REVISION_HISTORY), Some("1"));
        assert_eq!(ann(&reused, DESIRED_REPLICAS), None);
        assert!(set_new_replica_set_annotations(
            &d,
            &mut reused,
            6,
            true,
            3,
            4
        ));
        assert_eq!(ann(&reused, REVISION_HISTORY), Some("1,4"));
        // A revision ahead of the computed one is left alone.
        assert!(!set_new_replica_set_annotations(
            &d,
            &mut reused,
            5,
            true,
            3,
            4
        ));
        assert_eq!(ann(&reused, REVISION), Some("6"));
    }

    #[test]
    fn revision_history_is_bounded() {
        let d = deployment(1, pct("25%"), pct("25%"));
        let long: Vec<String> = (1..=600).map(|n| n.to_string()).collect();
        let long = long.join(",");
        let mut r = annotated(
            rs("a", 1, 0, 0),
            &[(REVISION, "601"), (REVISION_HISTORY, &long)],
        );
        set_new_replica_set_annotations(&d, &mut r, 700, true, 1, 2);
        let h = ann(&r, REVISION_HISTORY).unwrap();
        assert!(h.len() <= MAX_REV_HISTORY_CHARS);
        assert!(h.ends_with(",601"));
        assert!(!h.starts_with("1,"));
    }

    #[test]
    fn deployment_revision_and_unparsable_revisions() {
        let mut d = deployment(1, pct("25%"), pct("25%"));
        assert!(set_deployment_revision(&mut d, "2"));
        assert!(!set_deployment_revision(&mut d, "2"));
        assert_eq!(revision(d.metadata.annotations.as_ref()), Some(2));
        let bad = annotated(rs("x", 1, 0, 0), &[(REVISION, "abc")]);
        let good = annotated(rs("y", 1, 0, 0), &[(REVISION, "5")]);
        assert_eq!(max_revision([&bad, &good]), 5);
        let mut bad = bad;
        assert!(!set_new_replica_set_annotations(
            &d, &mut bad, 9, true, 1, 2
        ));
    }

    #[test]
    fn cleanup_keeps_the_newest_history_and_live_replica_sets() {
        let mut d = deployment(1, pct("25%"), pct("25%"));
        d.spec.as_mut().unwrap().revision_history_limit = Some(1);
        let old = vec![
            annotated(rs("r3", 3, 0, 0), &[(REVISION, "3")]),
            annotated(rs("r1", 1, 0, 0), &[(REVISION, "1")]),
            annotated(rs("r2", 2, 1, 1), &[(REVISION, "2")]),
        ];
        let victims: Vec<String> = cleanup_victims(&d, &old)
            .iter()
            .map(|r| r.metadata.name.clone().unwrap())
            .collect();
        // r1 and r2 are beyond the limit; r2 still has a replica.
        assert_eq!(victims, ["r1"]);
        d.spec.as_mut().unwrap().revision_history_limit = None;
        assert!(cleanup_victims(&d, &old).is_empty());
    }
}
