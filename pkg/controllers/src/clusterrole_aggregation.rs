//! The ClusterRole aggregation controller, as kube-controller-manager's
//! (`pkg/controller/clusterroleaggregation`): every ClusterRole with an `aggregationRule` gets
//! as its `rules` the union of the rules of the other ClusterRoles its `clusterRoleSelectors`
//! pick, selector by selector and role by role in name order, a rule equal to one already
//! taken skipped. The rules are written only when they differ, by server-side apply as the
//! field manager `clusterrole-aggregation-controller` with force (an update when the server
//! answers 415 to apply, as upstream). Any ClusterRole change queues every aggregated one:
//! the set of ClusterRoles is small and which selects which is not tracked (upstream's words).

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
};

use futures_util::{future::ready, stream, StreamExt};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::{
    api::{Api, Patch, PatchParams, PostParams},
    runtime::{
        controller::{applier, Action, Config as ApplierConfig},
        reflector::{ObjectRef, Store},
    },
    ResourceExt,
};
use serde_json::{json, Map, Value};
use tracing::{debug, instrument};

use crate::{
    informers::Change,
    replicaset::{backoff, selector},
    Context, Error, Result,
};

pub(crate) const FIELD_MANAGER: &str = "clusterrole-aggregation-controller";
/// Upstream's `--concurrent-clusterrole-aggregation-syncs` default.
const CONCURRENCY: u16 = 5;

struct State {
    api: Api<ClusterRole>,
    roles: Store<ClusterRole>,
    failures: Mutex<HashMap<String, u32>>,
}

pub async fn run(ctx: Context) {
    let informer = ctx.informers.get::<ClusterRole>();
    let roles = informer.store();
    let state = Arc::new(State {
        api: Api::all(ctx.client.clone()),
        roles: roles.clone(),
        failures: Mutex::default(),
    });
    let all = roles.clone();
    // Upstream's enqueue(): on any add, update or delete, every aggregated ClusterRole.
    let queue = informer
        .subscribe()
        .flat_map(move |c| {
            stream::iter(match c {
                Change::Added(_) | Change::Updated { .. } | Change::Deleted(_) => aggregated(&all),
                Change::Synced => Vec::new(),
            })
        })
        .map(Ok::<_, Infallible>);
    applier(
        |role, state| Box::pin(reconcile(role, state)),
        error_policy,
        state,
        roles,
        queue,
        ApplierConfig::default().concurrency(CONCURRENCY),
    )
    .for_each(|r| {
        if let Err(e) = r {
            debug!(error = %e, "clusterrole aggregation failed");
        }
        ready(())
    })
    .await;
}

/// The ClusterRoles with an aggregationRule.
fn aggregated(roles: &Store<ClusterRole>) -> Vec<ObjectRef<ClusterRole>> {
    roles
        .state()
        .iter()
        .filter(|r| r.aggregation_rule.is_some())
        .map(|r| ObjectRef::from_obj(&**r))
        .collect()
}

fn error_policy(role: Arc<ClusterRole>, e: &Error, state: Arc<State>) -> Action {
    let n = {
        let mut failures = state.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(role.name_any()).or_default();
        *n += 1;
        *n
    };
    debug!(clusterrole = %role.name_any(), error = %e, "clusterrole aggregation failed; retrying");
    Action::requeue(backoff(n))
}

#[instrument(skip_all, fields(clusterrole = %role.name_any()))]
async fn reconcile(role: Arc<ClusterRole>, state: Arc<State>) -> Result<Action> {
    let result = sync(&role, &state).await;
    if result.is_ok() {
        let mut failures = state.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&role.name_any());
    }
    result.map(|()| Action::await_change())
}

async fn sync(role: &ClusterRole, state: &State) -> Result<()> {
    let all = state.roles.state();
    let Some(want) = aggregate(role, &all)? else {
        return Ok(());
    };
    if rules_equal(&want, role.rules.as_deref().unwrap_or_default()) {
        return Ok(());
    }
    let name = role.name_any();
    debug!(rules = want.len(), "writing aggregated rules");
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match state
        .api
        .patch(&name, &params, &Patch::Apply(apply_body(&name, &want)))
        .await
    {
        Ok(_) => Ok(()),
        // Upstream's fallback for servers without server-side apply.
        Err(kube::Error::Api(e)) if e.code == 415 => {
            let mut updated = role.clone();
            updated.rules = (!want.is_empty()).then_some(want);
            state
                .api
                .replace(&name, &PostParams::default(), &updated)
                .await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The rules `role` aggregates from `all` (`None` when it has no aggregationRule): for each
/// selector in order, the rules of every other role it selects in name order, each rule
/// once.
pub(crate) fn aggregate(
    role: &ClusterRole,
    all: &[Arc<ClusterRole>],
) -> Result<Option<Vec<PolicyRule>>> {
    let Some(rule) = &role.aggregation_rule else {
        return Ok(None);
    };
    let name = role.metadata.name.as_deref();
    let mut sorted: Vec<&ClusterRole> = all.iter().map(|r| &**r).collect();
    sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut out: Vec<PolicyRule> = Vec::new();
    for sel in rule.cluster_role_selectors.iter().flatten() {
        let sel = selector::parse_valid(sel).map_err(|e| Error::Other(e.to_string()))?;
        let selected = sorted.iter().filter(|r| {
            r.metadata.name.as_deref() != name
                && selector::matches(&sel, r.metadata.labels.as_ref())
        });
        for r in selected.flat_map(|r| r.rules.iter().flatten()) {
            if !out.iter().any(|have| rule_equal(have, r)) {
                out.push(r.clone());
            }
        }
    }
    Ok(Some(out))
}

/// apimachinery's `equality.Semantic.DeepEqual` of two rule lists: an absent list equals an
/// empty one.
pub(crate) fn rules_equal(a: &[PolicyRule], b: &[PolicyRule]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| rule_equal(x, y))
}

fn rule_equal(a: &PolicyRule, b: &PolicyRule) -> bool {
    fn list(l: &Option<Vec<String>>) -> &[String] {
        l.as_deref().unwrap_or_default()
    }
    a.verbs == b.verbs
        && list(&a.api_groups) == list(&b.api_groups)
        && list(&a.resources) == list(&b.resources)
        && list(&a.resource_names) == list(&b.resource_names)
        && list(&a.non_resource_urls) == list(&b.non_resource_urls)
}

/// The apply configuration upstream sends: the name and the rules, every empty list left out
/// (the apply configurations' `omitempty`), so no rules at all leaves `rules` out and the
/// server drops the ones this manager applied before.
pub(crate) fn apply_body(name: &str, rules: &[PolicyRule]) -> Value {
    let mut body = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
    });
    if !rules.is_empty() {
        body["rules"] = rules.iter().map(apply_rule).collect();
    }
    body
}

fn apply_rule(rule: &PolicyRule) -> Value {
    let mut out = Map::new();
    let fields = [
        ("verbs", Some(&rule.verbs)),
        ("apiGroups", rule.api_groups.as_ref()),
        ("resources", rule.resources.as_ref()),
        ("resourceNames", rule.resource_names.as_ref()),
        ("nonResourceURLs", rule.non_resource_urls.as_ref()),
    ];
    for (key, list) in fields {
        if let Some(list) = list.filter(|l| !l.is_empty()) {
            out.insert(key.into(), json!(list));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
#[path = "clusterrole_aggregation_tests.rs"]
mod tests;
