//! The machinery both strategies share (upstream's sync.go): claiming ReplicaSets, finding or
//! creating the new one with its revision, scaling (proportionally while a rollout is in flight),
//! cleaning up history and writing status.

use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::{
    api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec},
    jiff::Timestamp,
};
use kube::{
    api::{Api, DeleteParams, ObjectMeta, PostParams},
    ResourceExt,
};
use tracing::debug;

use super::{
    arithmetic::{
        is_rolling_update, is_saturated, max_surge, new_rs_new_replicas, proportional_sizes,
        replicas,
    },
    conditions::{self as cond, PROGRESSING},
    hash::{compute_hash, equal_ignore_hash, POD_TEMPLATE_HASH},
    history::{
        cleanup_victims, desired_replicas_annotation, max_revision,
        replicas_annotations_need_update, set_deployment_revision, set_new_replica_set_annotations,
        set_replicas_annotations, REVISION,
    },
    replicasets::{
        active, find_active_or_latest, find_new, find_old, name, spec_replicas, template, uid,
    },
    status::{calculate, has_progress_deadline, normalized, requeue_after, rollout_status},
    Ctx,
};
use crate::{
    replicaset::{
        error_message,
        events::{NORMAL, WARNING},
        owner::{controller_of, new_controller_ref, patch_owner, OwnerChange},
        pods, selector,
    },
    Error, Result,
};

/// One sync of one Deployment: a working copy of it and of its ReplicaSets, refreshed by every
/// write so later steps of the same sync see what earlier ones did.
pub(super) struct Dc<'a> {
    pub(super) ctx: &'a Ctx,
    pub(super) d: Deployment,
    pub(super) rs_list: Vec<ReplicaSet>,
    /// When to sync again even if nothing changes (progress deadline checks).
    pub(super) requeue: Option<Duration>,
    rs_api: Api<ReplicaSet>,
    d_api: Api<Deployment>,
}

fn post() -> PostParams {
    PostParams::default()
}

impl<'a> Dc<'a> {
    pub(super) fn new(ctx: &'a Ctx, mut d: Deployment) -> Self {
        d.metadata.managed_fields = None;
        let ns = d.namespace().unwrap_or_default();
        Self {
            rs_api: Api::namespaced(ctx.client.clone(), &ns),
            d_api: Api::namespaced(ctx.client.clone(), &ns),
            ctx,
            d,
            rs_list: Vec::new(),
            requeue: None,
        }
    }

    pub(super) fn now() -> Timestamp {
        pods::now()
    }

    pub(super) fn event(&self, type_: &str, reason: &str, message: String) {
        self.ctx.recorder.event(&self.d, type_, reason, message);
    }

    /// Records a written ReplicaSet in the working list.
    fn remember(&mut self, rs: &ReplicaSet) {
        match self.rs_list.iter_mut().find(|x| uid(x) == uid(rs)) {
            Some(x) => *x = rs.clone(),
            None => self.rs_list.push(rs.clone()),
        }
    }

    /// The working copy of `rs` (as last written in this sync).
    pub(super) fn fresh(&self, rs: &ReplicaSet) -> ReplicaSet {
        self.rs_list
            .iter()
            .find(|x| uid(x) == uid(rs))
            .cloned()
            .unwrap_or_else(|| rs.clone())
    }

    fn status(&self) -> DeploymentStatus {
        normalized(self.d.status.as_ref())
    }

    /// Writes the working copy's status (and revision annotation, which upstream also sets
    /// through the status subresource; where the server keeps metadata out of status writes,
    /// a metadata-only update follows).
    pub(super) async fn update_status(&mut self) -> Result<()> {
        let name = self.d.name_any();
        let want = self.d.metadata.annotations.clone();
        let written = self.d_api.replace_status(&name, &post(), &self.d).await?;
        self.d.metadata.resource_version = written.metadata.resource_version.clone();
        if written.metadata.annotations != want {
            let written = self.d_api.replace(&name, &post(), &self.d).await?;
            self.d.metadata.resource_version = written.metadata.resource_version;
        }
        Ok(())
    }

    /// Upstream's RecheckDeletionTimestamp for the Deployment.
    async fn can_adopt(&self) -> Result<()> {
        let fresh = self.d_api.get(&self.d.name_any()).await?;
        if fresh.metadata.uid != self.d.metadata.uid {
            return Err(Error::Other(format!(
                "original Deployment {}/{} is gone: got uid {}, wanted {}",
                self.d.namespace().unwrap_or_default(),
                self.d.name_any(),
                fresh.uid().unwrap_or_default(),
                self.d.uid().unwrap_or_default()
            )));
        }
        if fresh.metadata.deletion_timestamp.is_some() {
            return Err(Error::Other(format!(
                "{}/{} has just been deleted",
                self.d.namespace().unwrap_or_default(),
                self.d.name_any()
            )));
        }
        Ok(())
    }

    /// `getReplicaSetsForDeployment`: the ReplicaSets this Deployment controls, adopting
    /// matching orphans and releasing owned ones that no longer match.
    pub(super) async fn claim_replica_sets(&mut self) -> Result<()> {
        let ns = self.d.namespace().unwrap_or_default();
        let d_uid = self.d.uid().unwrap_or_default();
        let Some(sel) = selector::parse(self.d.spec.as_ref().map(|s| &s.selector)) else {
            return Err(Error::Other(format!(
                "deployment {ns}/{} has invalid label selector",
                self.d.name_any()
            )));
        };
        let me = new_controller_ref("apps/v1", "Deployment", &self.d.name_any(), &d_uid);
        let deleting = self.d.metadata.deletion_timestamp.is_some();
        let candidates = self.ctx.replicasets_by_ns.filter(&ns, |_| true);
        let mut claimed = Vec::new();
        let mut adoptable: Option<std::result::Result<(), String>> = None;
        let mut first_error = None;
        for rs in candidates {
            let matches = selector::matches(&sel, rs.metadata.labels.as_ref());
            if let Some(r) = controller_of(&rs.metadata) {
                if r.uid != d_uid {
                    continue;
                }
                if matches {
                    claimed.push((*rs).clone());
                } else if !deleting {
                    debug!(replicaset = %rs.name_any(), "releasing replica set that no longer matches");
                    match patch_owner(
                        &self.rs_api,
                        &rs.name_any(),
                        uid(&rs),
                        OwnerChange::Release(&d_uid),
                    )
                    .await
                    {
                        Ok(()) => {}
                        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 422 => {}
                        Err(e) => {
                            first_error.get_or_insert(Error::Kube(e));
                        }
                    }
                }
                continue;
            }
            if deleting || !matches || rs.metadata.deletion_timestamp.is_some() {
                continue;
            }
            if adoptable.is_none() {
                adoptable = Some(self.can_adopt().await.map_err(|e| e.to_string()));
            }
            if let Some(Err(e)) = &adoptable {
                first_error.get_or_insert(Error::Other(format!(
                    "can't adopt ReplicaSet {ns}/{}: {e}",
                    rs.name_any()
                )));
                continue;
            }
            debug!(replicaset = %rs.name_any(), "adopting orphan replica set");
            match patch_owner(
                &self.rs_api,
                &rs.name_any(),
                uid(&rs),
                OwnerChange::Adopt(&me),
            )
            .await
            {
                Ok(()) => claimed.push((*rs).clone()),
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => {
                    first_error.get_or_insert(Error::Kube(e));
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        self.rs_list = claimed;
        Ok(())
    }

    /// `getAllReplicaSetsAndSyncRevision`: (new, all old), creating the new one if asked.
    pub(super) async fn get_all_replica_sets(
        &mut self,
        create: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>)> {
        let old = find_old(&self.d, &self.rs_list);
        let new = self.get_new_replica_set(&old, create).await?;
        Ok((new, old))
    }

    /// `getNewReplicaSet`: the ReplicaSet for the current template, its revision synced to
    /// max(old)+1 and copied to the Deployment; created (named `<deploy>-<hash>`) when asked.
    async fn get_new_replica_set(
        &mut self,
        old: &[ReplicaSet],
        create: bool,
    ) -> Result<Option<ReplicaSet>> {
        let new_revision = max_revision(old) + 1;
        let desired = replicas(&self.d);
        let max = desired + max_surge(&self.d);
        let min_ready = self
            .d
            .spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0);
        let now = Self::now();

        if let Some(existing) = find_new(&self.d, &self.rs_list).cloned() {
            let mut rs = existing;
            let annotations_changed =
                set_new_replica_set_annotations(&self.d, &mut rs, new_revision, true, desired, max);
            let spec = rs.spec.get_or_insert_with(ReplicaSetSpec::default);
            if annotations_changed || spec.min_ready_seconds.unwrap_or(0) != min_ready {
                spec.min_ready_seconds = (min_ready != 0).then_some(min_ready);
                rs.metadata.managed_fields = None;
                let updated = self.rs_api.replace(&rs.name_any(), &post(), &rs).await?;
                self.remember(&updated);
                return Ok(Some(updated));
            }
            let revision = rs.annotations().get(REVISION).cloned().unwrap_or_default();
            let mut needs_update = set_deployment_revision(&mut self.d, &revision);
            let mut status = self.status();
            if has_progress_deadline(&self.d) && cond::get(&status, PROGRESSING).is_none() {
                let msg = format!("Found new replica set {:?}", name(&rs));
                cond::set(
                    &mut status,
                    cond::new(PROGRESSING, "True", cond::FOUND_NEW_RS, msg, now),
                );
                self.d.status = Some(status);
                needs_update = true;
            }
            if needs_update {
                self.update_status().await?;
            }
            return Ok(Some(rs));
        }
        if !create {
            return Ok(None);
        }

        let d_template = template(&self.d);
        let collision_count = self.d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&d_template, collision_count);
        let mut rs_template = d_template.clone();
        let mut labels = rs_template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        labels.insert(POD_TEMPLATE_HASH.into(), hash.clone());
        rs_template
            .metadata
            .get_or_insert_with(ObjectMeta::default)
            .labels = Some(labels.clone());
        let mut rs_selector = self
            .d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        rs_selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let rs_name = format!("{}-{hash}", self.d.name_any());
        let mut new_rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(rs_name.clone()),
                namespace: self.d.namespace(),
                owner_references: Some(vec![new_controller_ref(
                    "apps/v1",
                    "Deployment",
                    &self.d.name_any(),
                    &self.d.uid().unwrap_or_default(),
                )]),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: (min_ready != 0).then_some(min_ready),
                selector: rs_selector,
                template: Some(rs_template),
            }),
            status: None,
        };
        let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(&new_rs)).collect();
        let count = new_rs_new_replicas(&self.d, &all, &new_rs).map_err(Error::Other)?;
        if let Some(spec) = new_rs.spec.as_mut() {
            spec.replicas = Some(count);
        }
        set_new_replica_set_annotations(&self.d, &mut new_rs, new_revision, false, desired, max);

        let mut already_exists = false;
        let created = match self.rs_api.create(&post(), &new_rs).await {
            Ok(rs) => rs,
            Err(kube::Error::Api(e)) if e.code == 409 && e.reason == "AlreadyExists" => {
                already_exists = true;
                let rs = self.rs_api.get(&rs_name).await?;
                let ours = controller_of(&rs.metadata)
                    .is_some_and(|r| Some(&r.uid) == self.d.metadata.uid.as_ref());
                let same = rs
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .is_some_and(|t| equal_ignore_hash(&d_template, t));
                if !(ours && same) {
                    // A hash collision: bump collisionCount so the next attempt hashes differently.
                    let status = self.d.status.get_or_insert_with(DeploymentStatus::default);
                    let before = status.collision_count.unwrap_or(0);
                    status.collision_count = Some(before + 1);
                    if self.update_status().await.is_ok() {
                        debug!(
                            old = before,
                            new = before + 1,
                            "hash collision; bumped collisionCount"
                        );
                    }
                    return Err(Error::Kube(kube::Error::Api(e)));
                }
                rs
            }
            Err(kube::Error::Api(e)) if crate::replicaset::namespace_terminating(&e) => {
                return Err(Error::Kube(kube::Error::Api(e)));
            }
            Err(e) => {
                let e = Error::Kube(e);
                let msg = format!(
                    "Failed to create new replica set {rs_name:?}: {}",
                    error_message(&e)
                );
                if has_progress_deadline(&self.d) {
                    let mut status = self.status();
                    cond::set(
                        &mut status,
                        cond::new(
                            PROGRESSING,
                            "False",
                            cond::FAILED_RS_CREATE,
                            msg.clone(),
                            now,
                        ),
                    );
                    self.d.status = Some(status);
                    let _ = self.update_status().await;
                }
                self.event(WARNING, cond::FAILED_RS_CREATE, msg);
                return Err(e);
            }
        };
        self.remember(&created);
        if !already_exists && count > 0 {
            self.event(
                NORMAL,
                "ScalingReplicaSet",
                format!("Scaled up replica set {rs_name} from 0 to {count}"),
            );
        }
        let mut needs_update = set_deployment_revision(&mut self.d, &new_revision.to_string());
        if !already_exists && has_progress_deadline(&self.d) {
            let mut status = self.status();
            let msg = format!("Created new replica set {rs_name:?}");
            cond::set(
                &mut status,
                cond::new(PROGRESSING, "True", cond::NEW_RS_CREATED, msg, now),
            );
            self.d.status = Some(status);
            needs_update = true;
        }
        if needs_update {
            self.update_status().await?;
        }
        Ok(Some(created))
    }

    /// `scale`: for scaling events and paused Deployments (not rollouts).
    pub(super) async fn scale(
        &mut self,
        new_rs: Option<&ReplicaSet>,
        old: &[ReplicaSet],
    ) -> Result<()> {
        let want = replicas(&self.d);
        if let Some(target) = find_active_or_latest(new_rs, old) {
            if spec_replicas(&target) != want {
                self.scale_and_record(&target, want).await?;
            }
            return Ok(());
        }
        // A saturated new ReplicaSet: the old ones go entirely.
        if is_saturated(&self.d, new_rs) {
            for rs in active(old) {
                self.scale_and_record(&rs, 0).await?;
            }
            return Ok(());
        }
        // Several active ReplicaSets mid-rollout: spread the change proportionally.
        if is_rolling_update(&self.d) {
            let mut all = old.to_vec();
            all.extend(new_rs.cloned());
            let (sizes, op) = proportional_sizes(&self.d, active(&all));
            for (rs, size) in sizes {
                self.scale_replica_set(&rs, size, op).await?;
            }
        }
        Ok(())
    }

    /// `scaleReplicaSetAndRecordEvent`: (scaled, the ReplicaSet as now).
    pub(super) async fn scale_and_record(
        &mut self,
        rs: &ReplicaSet,
        new_scale: i32,
    ) -> Result<(bool, ReplicaSet)> {
        if spec_replicas(rs) == new_scale {
            return Ok((false, rs.clone()));
        }
        let op = if spec_replicas(rs) < new_scale {
            "up"
        } else {
            "down"
        };
        self.scale_replica_set(rs, new_scale, op).await
    }

    /// `scaleReplicaSet`: sets the size and the desired/max replica annotations.
    async fn scale_replica_set(
        &mut self,
        rs: &ReplicaSet,
        new_scale: i32,
        op: &str,
    ) -> Result<(bool, ReplicaSet)> {
        let desired = replicas(&self.d);
        let max = desired + max_surge(&self.d);
        let resize = spec_replicas(rs) != new_scale;
        if !resize && !replicas_annotations_need_update(rs, desired, max) {
            return Ok((false, rs.clone()));
        }
        let old_scale = spec_replicas(rs);
        let mut copy = rs.clone();
        copy.metadata.managed_fields = None;
        copy.spec
            .get_or_insert_with(ReplicaSetSpec::default)
            .replicas = Some(new_scale);
        set_replicas_annotations(&mut copy, desired, max);
        let updated = self.rs_api.replace(&rs.name_any(), &post(), &copy).await?;
        self.remember(&updated);
        if resize {
            self.event(
                NORMAL,
                "ScalingReplicaSet",
                format!(
                    "Scaled {op} replica set {} from {old_scale} to {new_scale}",
                    name(&updated)
                ),
            );
        }
        Ok((resize, updated))
    }

    /// `cleanupDeployment`: old ReplicaSets beyond revisionHistoryLimit go.
    pub(super) async fn cleanup(&mut self, old: &[ReplicaSet]) -> Result<()> {
        let old: Vec<ReplicaSet> = old.iter().map(|rs| self.fresh(rs)).collect();
        for rs in cleanup_victims(&self.d, &old) {
            debug!(replicaset = %name(&rs), "cleaning up old replica set");
            match self
                .rs_api
                .delete(name(&rs), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn all_fresh(
        &self,
        new_rs: Option<&ReplicaSet>,
        old: &[ReplicaSet],
    ) -> (Option<ReplicaSet>, Vec<ReplicaSet>) {
        let mut all: Vec<ReplicaSet> = old.iter().map(|rs| self.fresh(rs)).collect();
        let new_rs = new_rs.map(|rs| self.fresh(rs));
        all.extend(new_rs.clone());
        (new_rs, all)
    }

    /// `syncDeploymentStatus`.
    pub(super) async fn sync_deployment_status(
        &mut self,
        new_rs: Option<&ReplicaSet>,
        old: &[ReplicaSet],
    ) -> Result<()> {
        let (new_rs, all) = self.all_fresh(new_rs, old);
        let refs: Vec<&ReplicaSet> = all.iter().collect();
        let status = calculate(&refs, new_rs.as_ref(), &self.d, Self::now());
        if status == self.status() {
            return Ok(());
        }
        self.d.status = Some(status);
        self.update_status().await
    }

    /// `syncRolloutStatus`: status with the Progressing condition; when nothing changed, a
    /// requeue for the progress deadline.
    pub(super) async fn sync_rollout_status(
        &mut self,
        new_rs: Option<&ReplicaSet>,
        old: &[ReplicaSet],
    ) -> Result<()> {
        let (new_rs, all) = self.all_fresh(new_rs, old);
        let refs: Vec<&ReplicaSet> = all.iter().collect();
        let now = Self::now();
        let status = rollout_status(&refs, new_rs.as_ref(), &self.d, now);
        if status == self.status() {
            self.requeue = requeue_after(&self.d, &status, now);
            return Ok(());
        }
        self.d.status = Some(status);
        self.update_status().await
    }

    /// `checkPausedConditions`: Progressing reports DeploymentPaused / DeploymentResumed.
    pub(super) async fn check_paused_conditions(&mut self) -> Result<()> {
        if !has_progress_deadline(&self.d) {
            return Ok(());
        }
        let mut status = self.status();
        let reason = cond::get(&status, PROGRESSING).and_then(|c| c.reason.clone());
        if reason.as_deref() == Some(cond::TIMED_OUT) {
            return Ok(());
        }
        let paused_recorded = reason.as_deref() == Some(cond::PAUSED);
        let paused = self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        let now = Self::now();
        let c = if paused && !paused_recorded {
            cond::new(
                PROGRESSING,
                "Unknown",
                cond::PAUSED,
                "Deployment is paused".into(),
                now,
            )
        } else if !paused && paused_recorded {
            cond::new(
                PROGRESSING,
                "Unknown",
                cond::RESUMED,
                "Deployment is resumed".into(),
                now,
            )
        } else {
            return Ok(());
        };
        cond::set(&mut status, c);
        self.d.status = Some(status);
        self.update_status().await
    }

    /// `sync`: scaling events and paused Deployments.
    pub(super) async fn sync(&mut self) -> Result<()> {
        let (new_rs, old) = self.get_all_replica_sets(false).await?;
        self.scale(new_rs.as_ref(), &old).await?;
        if self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
            self.cleanup(&old).await?;
        }
        self.sync_deployment_status(new_rs.as_ref(), &old).await
    }

    pub(super) async fn sync_status_only(&mut self) -> Result<()> {
        let (new_rs, old) = self.get_all_replica_sets(false).await?;
        self.sync_deployment_status(new_rs.as_ref(), &old).await
    }

    /// `isScalingEvent`: an active ReplicaSet was sized for a different replica count.
    pub(super) async fn is_scaling_event(&mut self) -> Result<bool> {
        let (new_rs, old) = self.get_all_replica_sets(false).await?;
        let (_, all) = self.all_fresh(new_rs.as_ref(), &old);
        let want = replicas(&self.d);
        Ok(active(&all)
            .iter()
            .any(|rs| desired_replicas_annotation(rs).is_some_and(|d| d != want)))
    }
}
