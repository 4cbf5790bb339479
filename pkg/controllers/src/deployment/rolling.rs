//! The RollingUpdate strategy (upstream's rolling.go): grow the new ReplicaSet within
//! maxSurge, shrink old ones within maxUnavailable (unhealthy replicas first), then report.

use k8s_openapi::api::apps::v1::ReplicaSet;

use super::{
    arithmetic::{
        cleanup_unhealthy, max_scaled_down, new_rs_new_replicas, replicas, scale_down_old,
    },
    replicasets::{active, replica_count, spec_replicas},
    status::complete,
    sync::Dc,
};
use crate::{Error, Result};

impl Dc<'_> {
    pub(super) async fn rollout_rolling(&mut self) -> Result<()> {
        let (new_rs, old) = self.get_all_replica_sets(true).await?;
        let new_rs =
            new_rs.ok_or_else(|| Error::Other("new replica set was not created".into()))?;

        if self.reconcile_new_replica_set(&new_rs, &old).await? {
            return self.sync_rollout_status(Some(&new_rs), &old).await;
        }
        let new_rs = self.fresh(&new_rs);
        if self.reconcile_old_replica_sets(&new_rs, &old).await? {
            return self.sync_rollout_status(Some(&new_rs), &old).await;
        }
        if complete(&self.d, &super::status::normalized(self.d.status.as_ref())) {
            self.cleanup(&old).await?;
        }
        self.sync_rollout_status(Some(&new_rs), &old).await
    }

    /// `reconcileNewReplicaSet`: whether the new ReplicaSet was scaled.
    async fn reconcile_new_replica_set(
        &mut self,
        new_rs: &ReplicaSet,
        old: &[ReplicaSet],
    ) -> Result<bool> {
        let want = replicas(&self.d);
        if spec_replicas(new_rs) == want {
            return Ok(false);
        }
        if spec_replicas(new_rs) > want {
            return Ok(self.scale_and_record(new_rs, want).await?.0);
        }
        let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(new_rs)).collect();
        let count = new_rs_new_replicas(&self.d, &all, new_rs).map_err(Error::Other)?;
        Ok(self.scale_and_record(new_rs, count).await?.0)
    }

    /// `reconcileOldReplicaSets`: whether any old ReplicaSet was scaled down. Failures to
    /// scale end the step quietly, as upstream's do.
    async fn reconcile_old_replica_sets(
        &mut self,
        new_rs: &ReplicaSet,
        old: &[ReplicaSet],
    ) -> Result<bool> {
        let mut old_active = active(old);
        if replica_count(&old_active) == 0 {
            return Ok(false);
        }
        let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(new_rs)).collect();
        let max = max_scaled_down(&self.d, &all, new_rs);
        if max <= 0 {
            return Ok(false);
        }
        let mut scaled = 0;
        for (i, size) in cleanup_unhealthy(&old_active, max) {
            let before = spec_replicas(&old_active[i]);
            match self.scale_and_record(&old_active[i].clone(), size).await {
                Ok((_, rs)) => old_active[i] = rs,
                Err(_) => return Ok(false),
            }
            scaled += before - size;
        }
        let all: Vec<&ReplicaSet> = old_active.iter().chain(std::iter::once(new_rs)).collect();
        for (i, size) in scale_down_old(&self.d, &all, &old_active) {
            let before = spec_replicas(&old_active[i]);
            if self
                .scale_and_record(&old_active[i].clone(), size)
                .await
                .is_err()
            {
                return Ok(false);
            }
            scaled += before - size;
        }
        Ok(scaled > 0)
    }
}
