//! The Recreate strategy (upstream's recreate.go): scale every old ReplicaSet to zero, wait
//! until none of their pods is running, then create and scale up the new one.

use std::{collections::HashSet, sync::Arc};

use k8s_openapi::api::{apps::v1::ReplicaSet, core::v1::Pod};

use super::{
    arithmetic::replicas,
    replicasets::{active, actual_count, uid},
    status::{complete, normalized},
    sync::Dc,
};
use crate::{
    replicaset::{owner::controller_of, pods},
    Error, Result,
};

/// `oldPodsRunning`: old ReplicaSets still report pods, or a pod of theirs is not finished
/// (terminating pods included: they may still run).
pub(super) fn old_pods_running(
    new_rs: Option<&ReplicaSet>,
    old: &[ReplicaSet],
    pods: &[Arc<Pod>],
) -> bool {
    if actual_count(old) > 0 {
        return true;
    }
    let old_uids: HashSet<&str> = old
        .iter()
        .map(uid)
        .filter(|u| Some(*u) != new_rs.map(uid))
        .collect();
    pods.iter().any(|p| {
        controller_of(&p.metadata).is_some_and(|r| old_uids.contains(r.uid.as_str()))
            && !matches!(pods::phase(p), "Succeeded" | "Failed")
    })
}

impl Dc<'_> {
    /// `pods` are the pods in the namespace the Deployment's selector matches.
    pub(super) async fn rollout_recreate(&mut self, pods: &[Arc<Pod>]) -> Result<()> {
        // The new ReplicaSet is not created before the old ones are gone.
        let (new_rs, old) = self.get_all_replica_sets(false).await?;
        let mut scaled = false;
        for rs in active(&old) {
            scaled |= self.scale_and_record(&rs, 0).await?.0;
        }
        if scaled {
            return self.sync_rollout_status(new_rs.as_ref(), &old).await;
        }
        let old_fresh: Vec<ReplicaSet> = old.iter().map(|rs| self.fresh(rs)).collect();
        if old_pods_running(new_rs.as_ref(), &old_fresh, pods) {
            return self.sync_rollout_status(new_rs.as_ref(), &old).await;
        }
        let (new_rs, old) = match new_rs {
            Some(rs) => (rs, old),
            None => {
                let (new_rs, old) = self.get_all_replica_sets(true).await?;
                (
                    new_rs.ok_or_else(|| Error::Other("new replica set was not created".into()))?,
                    old,
                )
            }
        };
        let want = replicas(&self.d);
        let current = self.fresh(&new_rs);
        self.scale_and_record(&current, want).await?;
        if complete(&self.d, &normalized(self.d.status.as_ref())) {
            self.cleanup(&old).await?;
        }
        self.sync_rollout_status(Some(&new_rs), &old).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        deployment::replicasets::testing::rs,
        replicaset::{owner::new_controller_ref, pods::testing::pod},
    };

    fn owned(mut p: Pod, owner: &ReplicaSet) -> Arc<Pod> {
        p.metadata.owner_references = Some(vec![new_controller_ref(
            "apps/v1",
            "ReplicaSet",
            "x",
            uid(owner),
        )]);
        Arc::new(p)
    }

    #[test]
    fn waits_for_old_pods_to_finish() {
        let new = rs("new", 2, 0, 0);
        let old = rs("old", 1, 0, 0);
        let olds = vec![old.clone()];
        assert!(!old_pods_running(Some(&new), &olds, &[]));
        // A terminating (still running) pod of the old ReplicaSet holds the rollout.
        let mut terminating = pod("a", "n", "Running", None, 1, 0);
        terminating.metadata.deletion_timestamp = terminating.metadata.creation_timestamp.clone();
        assert!(old_pods_running(
            Some(&new),
            &olds,
            &[owned(terminating, &old)]
        ));
        // Finished pods and the new ReplicaSet's pods do not.
        let done = owned(pod("b", "n", "Succeeded", None, 1, 0), &old);
        let fresh = owned(pod("c", "n", "Running", None, 1, 0), &new);
        assert!(!old_pods_running(Some(&new), &olds, &[done, fresh]));
        // Old ReplicaSets still reporting replicas hold it too.
        let mut reporting = old.clone();
        reporting.status.as_mut().unwrap().replicas = 1;
        assert!(old_pods_running(Some(&new), &[reporting], &[]));
    }
}
