//! Rolling-update arithmetic (upstream's deployment_util and rolling.go, without the I/O):
//! surge and unavailability bounds, how far the new ReplicaSet may grow, how far old ones may
//! shrink, and proportional scaling of a rollout in flight.

use k8s_openapi::{
    api::apps::v1::{Deployment, ReplicaSet},
    apimachinery::pkg::util::intstr::IntOrString,
};

use super::{
    history::{desired_replicas_annotation, max_replicas_annotation},
    replicasets::{
        available_count, available_replicas, by_creation, by_size_newer, by_size_older,
        replica_count, spec_replicas,
    },
};

pub(crate) fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub(crate) fn is_rolling_update(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate")
}

fn rolling_params(d: &Deployment) -> (Option<&IntOrString>, Option<&IntOrString>) {
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    (
        ru.and_then(|r| r.max_surge.as_ref()),
        ru.and_then(|r| r.max_unavailable.as_ref()),
    )
}

/// `GetScaledValueFromIntOrPercent`: an int as is, a percentage of `total` rounded up or down.
pub(crate) fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, String> {
    match v {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let pct = s
                .strip_suffix('%')
                .ok_or_else(|| "invalid type: string is not a percentage".to_string())?;
            let pct: i64 = pct
                .parse()
                .map_err(|e| format!("invalid value {s:?}: {e}"))?;
            let x = pct as f64 * f64::from(total) / 100.0;
            Ok((if round_up { x.ceil() } else { x.floor() }) as i32)
        }
    }
}

/// `ResolveFenceposts`: (maxSurge, maxUnavailable) for `desired` replicas; surge rounds up,
/// unavailability down, and if both come to zero one pod may be unavailable.
pub(crate) fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> Result<(i32, i32), String> {
    let zero = IntOrString::Int(0);
    let surge = scaled_value(max_surge.unwrap_or(&zero), desired, true)?;
    let mut unavailable = scaled_value(max_unavailable.unwrap_or(&zero), desired, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((surge, unavailable))
}

/// `MaxUnavailable`: at most the replica count; 0 unless rolling.
pub(crate) fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling_update(d) || replicas(d) == 0 {
        return 0;
    }
    let (s, u) = rolling_params(d);
    let (_, unavailable) = resolve_fenceposts(s, u, replicas(d)).unwrap_or((0, 0));
    unavailable.min(replicas(d))
}

/// `MaxSurge`: 0 unless rolling.
pub(crate) fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling_update(d) {
        return 0;
    }
    let (s, u) = rolling_params(d);
    resolve_fenceposts(s, u, replicas(d))
        .map(|(s, _)| s)
        .unwrap_or(0)
}

/// `NewRSNewReplicas`: how many replicas the new ReplicaSet may have now. `all` includes it.
pub(crate) fn new_rs_new_replicas(
    d: &Deployment,
    all: &[&ReplicaSet],
    new_rs: &ReplicaSet,
) -> Result<i32, String> {
    if !is_rolling_update(d) {
        return Ok(replicas(d));
    }
    let zero = IntOrString::Int(0);
    let surge = scaled_value(rolling_params(d).0.unwrap_or(&zero), replicas(d), true)?;
    let current = replica_count(all.iter().copied());
    let max_total = replicas(d) + surge;
    if current >= max_total {
        return Ok(spec_replicas(new_rs));
    }
    let up = (max_total - current).min(replicas(d) - spec_replicas(new_rs));
    Ok(spec_replicas(new_rs) + up)
}

/// `IsSaturated`: the new ReplicaSet runs the full count, all available.
pub(crate) fn is_saturated(d: &Deployment, rs: Option<&ReplicaSet>) -> bool {
    let Some(rs) = rs else { return false };
    let Some(desired) = desired_replicas_annotation(rs) else {
        return false;
    };
    spec_replicas(rs) == replicas(d)
        && desired == replicas(d)
        && available_replicas(rs) == replicas(d)
}

/// `integer.RoundToInt32`: half away from zero.
fn round(a: f64) -> i32 {
    if a < 0.0 {
        (a - 0.5) as i32
    } else {
        (a + 0.5) as i32
    }
}

/// `getReplicaSetFraction`: how many replicas `rs` gains or loses when the Deployment's size
/// (plus surge) changes from what its max-replicas annotation recorded.
fn fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    if replicas(d) == 0 {
        return -spec_replicas(rs);
    }
    let deployment_replicas = replicas(d) + max_surge(d);
    let annotated = max_replicas_annotation(rs)
        .unwrap_or_else(|| d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
    if annotated == 0 {
        return 0;
    }
    let size = f64::from(spec_replicas(rs)) * f64::from(deployment_replicas) / f64::from(annotated);
    round(size) - spec_replicas(rs)
}

/// `GetProportion`: this ReplicaSet's share of `to_add`, given `added` already handed out.
pub(crate) fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if spec_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let f = fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        f.min(allowed)
    } else {
        f.max(allowed)
    }
}

/// The proportional part of upstream's `scale`: new sizes for the active ReplicaSets (in the
/// order to apply them) and the scaling direction for events.
pub(crate) fn proportional_sizes(
    d: &Deployment,
    mut active: Vec<ReplicaSet>,
) -> (Vec<(ReplicaSet, i32)>, &'static str) {
    let current = replica_count(&active);
    let allowed = if replicas(d) > 0 {
        replicas(d) + max_surge(d)
    } else {
        0
    };
    let to_add = allowed - current;
    let op = match to_add {
        n if n > 0 => {
            active.sort_by(by_size_newer);
            "up"
        }
        n if n < 0 => {
            active.sort_by(by_size_older);
            "down"
        }
        _ => "",
    };
    let mut added = 0;
    let mut sizes: Vec<i32> = active
        .iter()
        .map(|rs| {
            if to_add == 0 {
                return spec_replicas(rs);
            }
            let p = proportion(rs, d, to_add, added);
            added += p;
            spec_replicas(rs) + p
        })
        .collect();
    // Upstream keys sizes by name; leftovers go to the first (largest) ReplicaSet.
    if to_add != 0 {
        if let Some(first) = sizes.first_mut() {
            *first = (*first + to_add - added).max(0);
        }
    }
    (active.into_iter().zip(sizes).collect(), op)
}

/// How many old replicas may go at most (reconcileOldReplicaSets' maxScaledDown): keeping
/// `replicas - maxUnavailable` available, counting the new ReplicaSet's unavailable pods.
pub(crate) fn max_scaled_down(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> i32 {
    let min_available = replicas(d) - max_unavailable(d);
    let new_unavailable = spec_replicas(new_rs) - available_replicas(new_rs);
    replica_count(all.iter().copied()) - min_available - new_unavailable
}

/// `cleanupUnhealthyReplicas`: shrink old ReplicaSets (oldest first) by their unavailable
/// replicas, `max` in total. Returns (index into `old`, new size) in creation order.
pub(crate) fn cleanup_unhealthy(old: &[ReplicaSet], max: i32) -> Vec<(usize, i32)> {
    let mut order: Vec<usize> = (0..old.len()).collect();
    order.sort_by(|&a, &b| by_creation(&old[a], &old[b]));
    let mut total = 0;
    let mut plan = Vec::new();
    for i in order {
        if total >= max {
            break;
        }
        let rs = &old[i];
        let (spec, available) = (spec_replicas(rs), available_replicas(rs));
        if spec == 0 || spec == available {
            continue;
        }
        let down = (max - total).min(spec - available);
        plan.push((i, spec - down));
        total += down;
    }
    plan
}

/// `scaleDownOldReplicaSetsForRollingUpdate`: shrink old ReplicaSets (oldest first) while
/// more than `replicas - maxUnavailable` pods are available. `all` includes the new one.
pub(crate) fn scale_down_old(
    d: &Deployment,
    all: &[&ReplicaSet],
    old: &[ReplicaSet],
) -> Vec<(usize, i32)> {
    let min_available = replicas(d) - max_unavailable(d);
    let available = available_count(all.iter().copied());
    if available <= min_available {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..old.len()).collect();
    order.sort_by(|&a, &b| by_creation(&old[a], &old[b]));
    let wanted = available - min_available;
    let mut total = 0;
    let mut plan = Vec::new();
    for i in order {
        if total >= wanted {
            break;
        }
        let spec = spec_replicas(&old[i]);
        if spec == 0 {
            continue;
        }
        let down = spec.min(wanted - total);
        plan.push((i, spec - down));
        total += down;
    }
    plan
}

#[cfg(test)]
pub(crate) mod testing {
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};

    use super::*;

    pub(crate) fn deployment(
        replicas: i32,
        surge: IntOrString,
        unavailable: IntOrString,
    ) -> Deployment {
        Deployment {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                uid: Some("d-uid".into()),
                generation: Some(1),
                ..Default::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(surge),
                        max_unavailable: Some(unavailable),
                    }),
                }),
                progress_deadline_seconds: Some(600),
                revision_history_limit: Some(10),
                ..Default::default()
            }),
            status: None,
        }
    }

    pub(crate) fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.into())
    }
}

#[cfg(test)]
mod tests {
    use super::{testing::*, *};
    use crate::deployment::{
        history::set_replicas_annotations,
        replicasets::{name, testing::rs},
    };

    fn int(i: i32) -> IntOrString {
        IntOrString::Int(i)
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        assert_eq!(
            resolve_fenceposts(Some(&pct("25%")), Some(&pct("25%")), 10),
            Ok((3, 2))
        );
        assert_eq!(
            resolve_fenceposts(Some(&pct("25%")), Some(&pct("25%")), 1),
            Ok((1, 0))
        );
        assert_eq!(
            resolve_fenceposts(Some(&int(0)), Some(&int(0)), 5),
            Ok((0, 1))
        );
        assert_eq!(
            resolve_fenceposts(Some(&pct("0%")), Some(&pct("10%")), 5),
            Ok((0, 1))
        );
        assert_eq!(resolve_fenceposts(None, None, 5), Ok((0, 1)));
        assert_eq!(
            resolve_fenceposts(Some(&int(2)), Some(&pct("50%")), 3),
            Ok((2, 1))
        );
        assert!(resolve_fenceposts(Some(&pct("abc")), None, 3).is_err());
        assert!(resolve_fenceposts(Some(&IntOrString::String("5".into())), None, 3).is_err());
    }

    #[test]
    fn max_unavailable_and_surge() {
        let d = deployment(10, pct("25%"), pct("25%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (3, 2));
        let d = deployment(2, int(0), int(5));
        assert_eq!(max_unavailable(&d), 2);
        let d = deployment(0, int(1), int(1));
        assert_eq!(max_unavailable(&d), 0);
        let mut d = deployment(4, int(1), int(1));
        d.spec.as_mut().unwrap().strategy.as_mut().unwrap().type_ = Some("Recreate".into());
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 0));
    }

    #[test]
    fn new_replica_set_grows_within_surge() {
        let d = deployment(10, pct("25%"), pct("25%"));
        let old = rs("old", 1, 10, 10);
        let new = rs("new", 2, 0, 0);
        // 10 old + 0 new, surge 3: the new one may start with 3.
        assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new), Ok(3));
        let old = rs("old", 1, 8, 8);
        let new = rs("new", 2, 5, 0);
        // 13 pods already: no growth.
        assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new), Ok(5));
        let old = rs("old", 1, 0, 0);
        let new = rs("new", 2, 9, 9);
        // Never beyond the desired count.
        assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new), Ok(10));
    }

    #[test]
    fn old_replica_sets_shrink_within_unavailability() {
        // 10 replicas, maxUnavailable 2, maxSurge 3: old 10 available, new 3 not yet available.
        let d = deployment(10, int(3), int(2));
        let old = rs("old", 1, 10, 10);
        let new = rs("new", 2, 3, 0);
        // 13 - 8 - 3 = 2 may go, but none is unhealthy ...
        assert_eq!(max_scaled_down(&d, &[&old, &new], &new), 2);
        assert!(cleanup_unhealthy(std::slice::from_ref(&old), 2).is_empty());
        // ... and 10 available - 8 minimum = 2 go from the old one.
        assert_eq!(
            scale_down_old(&d, &[&old, &new], std::slice::from_ref(&old)),
            vec![(0, 8)]
        );
        // Nothing may go while only the minimum is available.
        let old = rs("old", 1, 8, 8);
        let new = rs("new", 2, 5, 0);
        assert_eq!(max_scaled_down(&d, &[&old, &new], &new), 0);
        assert!(scale_down_old(&d, &[&old, &new], std::slice::from_ref(&old)).is_empty());
    }

    #[test]
    fn unhealthy_old_replicas_go_first_oldest_first() {
        let older = rs("a", 1, 4, 1);
        let newer = rs("b", 2, 3, 0);
        let old = vec![newer, older];
        assert_eq!(cleanup_unhealthy(&old, 4), vec![(1, 1), (0, 2)]);
        assert_eq!(cleanup_unhealthy(&old, 2), vec![(1, 2)]);
    }

    #[test]
    fn proportional_scaling_mid_rollout() {
        // Upstream's example: 10 replicas, surge 3, rollout in flight with old 8 and new 5;
        // scaled to 20 (allowed 23): +10 spread by the recorded max (13).
        let d = deployment(20, int(3), int(2));
        let mut old = rs("old", 1, 8, 8);
        let mut new = rs("new", 2, 5, 0);
        set_replicas_annotations(&mut old, 10, 13);
        set_replicas_annotations(&mut new, 10, 13);
        let (sizes, op) = proportional_sizes(&d, vec![old.clone(), new.clone()]);
        assert_eq!(op, "up");
        let got: Vec<(&str, i32)> = sizes.iter().map(|(r, n)| (name(r), *n)).collect();
        // old: 8*23/13 = 14.15 -> 14 (+6), new: 5*23/13 = 8.8 -> 9 (+4)
        assert_eq!(got, [("old", 14), ("new", 9)]);
        assert_eq!(got.iter().map(|(_, n)| n).sum::<i32>(), 23);

        // Scaling down to 5 (allowed 8) from 13: -5, larger (older on ties) first.
        let d = deployment(5, int(3), int(2));
        let (sizes, op) = proportional_sizes(&d, vec![old, new]);
        assert_eq!(op, "down");
        let got: Vec<(&str, i32)> = sizes.iter().map(|(r, n)| (name(r), *n)).collect();
        assert_eq!(got.iter().map(|(_, n)| n).sum::<i32>(), 8);
        assert_eq!(got[0].0, "old");
    }

    #[test]
    fn saturation() {
        let d = deployment(3, int(1), int(0));
        let mut new = rs("new", 1, 3, 3);
        assert!(!is_saturated(&d, Some(&new)));
        set_replicas_annotations(&mut new, 3, 4);
        assert!(is_saturated(&d, Some(&new)));
        let mut partial = rs("new", 1, 3, 2);
        set_replicas_annotations(&mut partial, 3, 4);
        assert!(!is_saturated(&d, Some(&partial)));
        assert!(!is_saturated(&d, None));
    }
}
