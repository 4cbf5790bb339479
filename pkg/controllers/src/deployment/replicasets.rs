//! A Deployment's ReplicaSets: which is new, which are old, their counts, and the orders
//! upstream sorts them in.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::hash::equal_ignore_hash;

pub(crate) fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub(crate) fn status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

pub(crate) fn available_replicas(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

pub(crate) fn ready_replicas(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

pub(crate) fn uid(rs: &ReplicaSet) -> &str {
    rs.metadata.uid.as_deref().unwrap_or_default()
}

pub(crate) fn name(rs: &ReplicaSet) -> &str {
    rs.metadata.name.as_deref().unwrap_or_default()
}

/// Sum of `spec.replicas`.
pub(crate) fn replica_count<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(spec_replicas).sum()
}

/// Sum of `status.replicas`.
pub(crate) fn actual_count<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(status_replicas).sum()
}

pub(crate) fn ready_count<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(ready_replicas).sum()
}

pub(crate) fn available_count<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(available_replicas).sum()
}

/// `ReplicaSetsByCreationTimestamp`: older first, then by name.
pub(crate) fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let t = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
    match (t(a), t(b)) {
        (x, y) if x == y => name(a).cmp(name(b)),
        (x, y) => x.cmp(&y),
    }
}

/// `ReplicaSetsBySizeNewer`: larger first; among equals, newer first.
pub(crate) fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    spec_replicas(b)
        .cmp(&spec_replicas(a))
        .then_with(|| by_creation(b, a))
}

/// `ReplicaSetsBySizeOlder`: larger first; among equals, older first.
pub(crate) fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    spec_replicas(b)
        .cmp(&spec_replicas(a))
        .then_with(|| by_creation(a, b))
}

pub(crate) fn template(d: &Deployment) -> k8s_openapi::api::core::v1::PodTemplateSpec {
    d.spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default()
}

/// `FindNewReplicaSet`: the oldest ReplicaSet whose template equals the Deployment's.
pub(crate) fn find_new<'a>(d: &Deployment, rss: &'a [ReplicaSet]) -> Option<&'a ReplicaSet> {
    let want = template(d);
    let mut sorted: Vec<&ReplicaSet> = rss.iter().collect();
    sorted.sort_by(|a, b| by_creation(a, b));
    sorted.into_iter().find(|rs| {
        rs.spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| equal_ignore_hash(t, &want))
    })
}

/// `FindOldReplicaSets` (all of them, with or without replicas).
pub(crate) fn find_old(d: &Deployment, rss: &[ReplicaSet]) -> Vec<ReplicaSet> {
    let new_uid = find_new(d, rss).map(|rs| uid(rs).to_string());
    rss.iter()
        .filter(|rs| Some(uid(rs)) != new_uid.as_deref())
        .cloned()
        .collect()
}

/// `FilterActiveReplicaSets`: those with replicas wanted.
pub(crate) fn active(rss: &[ReplicaSet]) -> Vec<ReplicaSet> {
    rss.iter()
        .filter(|rs| spec_replicas(rs) > 0)
        .cloned()
        .collect()
}

/// `FindActiveOrLatest`: the only active ReplicaSet, or the newest one when none is active;
/// `None` when several are active.
pub(crate) fn find_active_or_latest(
    new_rs: Option<&ReplicaSet>,
    old: &[ReplicaSet],
) -> Option<ReplicaSet> {
    if new_rs.is_none() && old.is_empty() {
        return None;
    }
    let mut old = old.to_vec();
    old.sort_by(|a, b| by_creation(b, a));
    let mut all = old.clone();
    all.extend(new_rs.cloned());
    let active = active(&all);
    match active.len() {
        0 => new_rs.cloned().or_else(|| old.first().cloned()),
        1 => active.into_iter().next(),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use k8s_openapi::{
        api::{
            apps::v1::{ReplicaSetSpec, ReplicaSetStatus},
            core::v1::PodTemplateSpec,
        },
        apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time},
        jiff::Timestamp,
    };

    use super::*;

    /// A ReplicaSet with `spec` replicas and `available` available (and ready) ones.
    pub(crate) fn rs(name: &str, created: i64, spec: i32, available: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                creation_timestamp: Some(Time(Timestamp::from_second(created).unwrap())),
                generation: Some(1),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(spec),
                template: Some(PodTemplateSpec::default()),
                ..Default::default()
            }),
            status: Some(ReplicaSetStatus {
                replicas: spec,
                ready_replicas: Some(available),
                available_replicas: Some(available),
                observed_generation: Some(1),
                ..Default::default()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{testing::rs, *};

    fn names(rss: &[ReplicaSet]) -> Vec<&str> {
        rss.iter().map(name).collect()
    }

    #[test]
    fn size_orders() {
        let mut v = vec![rs("a", 1, 2, 0), rs("b", 2, 5, 0), rs("c", 3, 2, 0)];
        v.sort_by(by_size_newer);
        assert_eq!(names(&v), ["b", "c", "a"]);
        v.sort_by(by_size_older);
        assert_eq!(names(&v), ["b", "a", "c"]);
        v.sort_by(by_creation);
        assert_eq!(names(&v), ["a", "b", "c"]);
    }

    #[test]
    fn active_or_latest() {
        assert!(find_active_or_latest(None, &[]).is_none());
        let old = vec![rs("a", 1, 0, 0), rs("b", 2, 0, 0)];
        assert_eq!(
            find_active_or_latest(None, &old)
                .map(|r| name(&r).to_string())
                .as_deref(),
            Some("b")
        );
        let new = rs("n", 3, 0, 0);
        assert_eq!(
            find_active_or_latest(Some(&new), &old)
                .map(|r| name(&r).to_string())
                .as_deref(),
            Some("n")
        );
        let old = vec![rs("a", 1, 3, 0), rs("b", 2, 0, 0)];
        assert_eq!(
            find_active_or_latest(Some(&new), &old)
                .map(|r| name(&r).to_string())
                .as_deref(),
            Some("a")
        );
        let new = rs("n", 3, 1, 0);
        assert!(find_active_or_latest(Some(&new), &old).is_none());
    }
}
