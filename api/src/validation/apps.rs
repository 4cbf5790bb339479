//! apps/v1 validation: Deployment, ReplicaSet, DaemonSet and StatefulSet, as upstream's
//! `pkg/apis/apps/validation` plus the apps/v1 strategies' selector immutability.
use serde_json::Value;

use super::field_error::{go_literal, go_quote, go_string_map, FieldError, Path};
use super::meta::{self, FIELD_IMMUTABLE};
use super::names;
use super::pod::validate_pod_template_spec;
use super::util::{
    as_int, get, int_of, label_selector_as_selector, render_int_or_string, render_label_selector,
    selector_is_empty, semantic_eq, str_of, validate_label_selector,
};

type Errs = Vec<FieldError>;

const NONNEG: &str = "must be greater than or equal to 0";

fn nonneg(spec: Option<&Value>, field: &str, path: &Path, errs: &mut Errs) {
    if let Some(v) = int_of(spec, field).filter(|v| *v < 0) {
        errs.push(FieldError::invalid(&path.child(field), v, NONNEG));
    }
}

fn meta_for(obj: &Value, old: Option<&Value>, name_fn: names::NameFn) -> Errs {
    match old {
        Some(old) => meta::validate_object_meta_update(obj, old, true),
        None => meta::validate_object_meta(obj, true, name_fn, true),
    }
}

/// The selector checks shared by Deployment, ReplicaSet and StatefulSet, then the template
/// checks of `ValidatePodTemplateSpecForReplicaSet` (`owner` names the kind in the
/// activeDeadlineSeconds message; `None` skips the template's pod spec, as StatefulSet does).
fn selector_and_template(
    spec: Option<&Value>,
    path: &Path,
    empty_msg: &str,
    owner: &str,
    full_template: bool,
) -> Errs {
    let mut errs = Vec::new();
    let sel = get(spec, "selector");
    let sel_path = path.child("selector");
    match sel {
        None => errs.push(FieldError::required(&sel_path, "")),
        Some(s) => {
            errs.extend(validate_label_selector(Some(s), &sel_path));
            if selector_is_empty(Some(s)) {
                errs.push(FieldError::invalid(
                    &sel_path,
                    go_literal(render_label_selector(Some(s))),
                    empty_msg,
                ));
            }
        }
    }
    let tp = path.child("template");
    let template = get(spec, "template");
    match label_selector_as_selector(sel) {
        Err(()) => errs.push(FieldError::invalid(
            &sel_path,
            go_literal(render_label_selector(sel)),
            "invalid label selector",
        )),
        Ok(selector) => {
            let labels = get(get(template, "metadata"), "labels");
            if !selector.is_empty() && !selector.matches(labels) {
                errs.push(FieldError::invalid(
                    &tp.child("metadata").child("labels"),
                    go_literal(go_string_map(labels)),
                    "`selector` does not match template `labels`",
                ));
            }
            if full_template {
                errs.extend(validate_pod_template_spec(template, &tp));
            } else {
                errs.extend(meta::template_labels_and_annotations(template, &tp));
            }
        }
    }
    let ts = get(template, "spec");
    let rp = str_of(ts, "restartPolicy");
    if rp != "Always" {
        errs.push(FieldError::not_supported(
            &tp.child("spec").child("restartPolicy"),
            rp,
            &["Always"],
        ));
    }
    if get(ts, "activeDeadlineSeconds").is_some() {
        errs.push(FieldError::forbidden(
            &tp.child("spec").child("activeDeadlineSeconds"),
            &format!("activeDeadlineSeconds in {owner} is not Supported"),
        ));
    }
    errs
}

fn selector_immutable(obj: &Value, old: &Value) -> Errs {
    let (ns, os) = (
        get(get(Some(obj), "spec"), "selector"),
        get(get(Some(old), "spec"), "selector"),
    );
    if semantic_eq(ns, os) {
        return vec![];
    }
    let rendered = if ns.is_some() {
        render_label_selector(ns)
    } else {
        "null".to_string()
    };
    vec![FieldError::invalid(
        &Path::new("spec").child("selector"),
        go_literal(rendered),
        FIELD_IMMUTABLE,
    )]
}

fn percent_value(v: Option<&Value>) -> Option<i64> {
    let s = v?.as_str()?;
    if !names::is_valid_percent(s).is_empty() {
        return None;
    }
    s.trim_end_matches('%').parse().ok()
}

fn int_or_percent_value(v: Option<&Value>) -> i64 {
    percent_value(v).unwrap_or_else(|| v.and_then(as_int).unwrap_or(0))
}

/// Upstream's `ValidatePositiveIntOrPercent`.
fn positive_int_or_percent(v: Option<&Value>, path: &Path) -> Errs {
    match v {
        Some(Value::String(s)) => names::is_valid_percent(s)
            .iter()
            .map(|m| FieldError::invalid(path, go_literal(render_int_or_string(v)), m))
            .collect(),
        Some(n) => match as_int(n).filter(|n| *n < 0) {
            Some(n) => vec![FieldError::invalid(path, n, NONNEG)],
            None => vec![],
        },
        None => vec![],
    }
}

fn not_more_than_100_percent(v: Option<&Value>, path: &Path) -> Errs {
    match percent_value(v) {
        Some(p) if p > 100 => {
            vec![FieldError::invalid(
                path,
                go_literal(render_int_or_string(v)),
                "must not be greater than 100%",
            )]
        }
        _ => vec![],
    }
}

fn render_deployment_strategy(strategy: Option<&Value>) -> String {
    let ru = if get(strategy, "rollingUpdate").is_some() {
        "(*apps.RollingUpdateDeployment)(0xc000000000)"
    } else {
        "(*apps.RollingUpdateDeployment)(nil)"
    };
    format!(
        "apps.DeploymentStrategy{{Type:{}, RollingUpdate:{ru}}}",
        go_quote(str_of(strategy, "type"))
    )
}

fn validate_deployment_strategy(strategy: Option<&Value>, path: &Path) -> Errs {
    let mut errs = Vec::new();
    match str_of(strategy, "type") {
        "Recreate" => {
            if get(strategy, "rollingUpdate").is_some() {
                errs.push(FieldError::forbidden(
                    &path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => {
            let rp = path.child("rollingUpdate");
            match get(strategy, "rollingUpdate") {
                None => errs.push(FieldError::required(
                    &rp,
                    "this should be defaulted and never be nil",
                )),
                Some(ru) => {
                    let (mu, ms) = (get(Some(ru), "maxUnavailable"), get(Some(ru), "maxSurge"));
                    errs.extend(positive_int_or_percent(mu, &rp.child("maxUnavailable")));
                    errs.extend(positive_int_or_percent(ms, &rp.child("maxSurge")));
                    if int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0 {
                        errs.push(FieldError::invalid(
                            &rp.child("maxUnavailable"),
                            go_literal(render_int_or_string(mu)),
                            "may not be 0 when `maxSurge` is 0",
                        ));
                    }
                    errs.extend(not_more_than_100_percent(mu, &rp.child("maxUnavailable")));
                }
            }
        }
        _ => errs.push(FieldError::not_supported(
            path,
            go_literal(render_deployment_strategy(strategy)),
            &["Recreate", "RollingUpdate"],
        )),
    }
    errs
}

pub(crate) fn validate_deployment(obj: &Value, old: Option<&Value>) -> Errs {
    let mut errs = meta_for(obj, old, names::name_is_dns_subdomain);
    let spec = get(Some(obj), "spec");
    let path = Path::new("spec");
    nonneg(spec, "replicas", &path, &mut errs);
    errs.extend(selector_and_template(
        spec,
        &path,
        "empty selector is invalid for deployment",
        "ReplicaSet",
        true,
    ));
    errs.extend(validate_deployment_strategy(
        get(spec, "strategy"),
        &path.child("strategy"),
    ));
    nonneg(spec, "minReadySeconds", &path, &mut errs);
    nonneg(spec, "revisionHistoryLimit", &path, &mut errs);
    if let Some(pds) = int_of(spec, "progressDeadlineSeconds") {
        if pds < 0 {
            errs.push(FieldError::invalid(
                &path.child("progressDeadlineSeconds"),
                pds,
                NONNEG,
            ));
        }
        if pds <= int_of(spec, "minReadySeconds").unwrap_or(0) {
            errs.push(FieldError::invalid(
                &path.child("progressDeadlineSeconds"),
                pds,
                "must be greater than minReadySeconds",
            ));
        }
    }
    if let Some(old) = old {
        errs.extend(selector_immutable(obj, old));
    }
    errs
}

pub(crate) fn validate_replica_set(obj: &Value, old: Option<&Value>) -> Errs {
    let mut errs = meta_for(obj, old, names::name_is_dns_subdomain);
    let spec = get(Some(obj), "spec");
    let path = Path::new("spec");
    nonneg(spec, "replicas", &path, &mut errs);
    nonneg(spec, "minReadySeconds", &path, &mut errs);
    errs.extend(selector_and_template(
        spec,
        &path,
        "empty selector is invalid for deployment",
        "ReplicaSet",
        true,
    ));
    if let Some(old) = old {
        errs.extend(selector_immutable(obj, old));
    }
    errs
}

pub(crate) fn validate_daemon_set(obj: &Value, old: Option<&Value>) -> Errs {
    let mut errs = meta_for(obj, old, names::name_is_dns_subdomain);
    let spec = get(Some(obj), "spec");
    let path = Path::new("spec");
    let sel = get(spec, "selector");
    errs.extend(validate_label_selector(sel, &path.child("selector")));
    let template = get(spec, "template");
    if let Ok(selector) = label_selector_as_selector(sel) {
        let labels = get(get(template, "metadata"), "labels");
        if !selector.matches(labels) {
            errs.push(FieldError::invalid(
                &path.child("template").child("metadata").child("labels"),
                go_literal(go_string_map(labels)),
                "`selector` does not match template `labels`",
            ));
        }
    }
    if sel.is_some() && selector_is_empty(sel) {
        errs.push(FieldError::invalid(
            &path.child("selector"),
            go_literal(render_label_selector(sel)),
            "empty selector is invalid for daemonset",
        ));
    }
    let tp = path.child("template");
    errs.extend(validate_pod_template_spec(template, &tp));
    let ts = get(template, "spec");
    let rp = str_of(ts, "restartPolicy");
    if rp != "Always" {
        errs.push(FieldError::not_supported(
            &tp.child("spec").child("restartPolicy"),
            rp,
            &["Always"],
        ));
    }
    if get(ts, "activeDeadlineSeconds").is_some() {
        errs.push(FieldError::forbidden(
            &tp.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in DaemonSet is not Supported",
        ));
    }
    nonneg(spec, "minReadySeconds", &path, &mut errs);
    nonneg(spec, "templateGeneration", &path, &mut errs);
    let strategy = get(spec, "updateStrategy");
    let sp = path.child("updateStrategy");
    match str_of(strategy, "type") {
        "OnDelete" => {}
        "RollingUpdate" => match get(strategy, "rollingUpdate") {
            None => errs.push(FieldError::required(&sp.child("rollingUpdate"), "")),
            Some(ru) => {
                let rp = sp.child("rollingUpdate");
                let (mu, ms) = (get(Some(ru), "maxUnavailable"), get(Some(ru), "maxSurge"));
                errs.extend(positive_int_or_percent(mu, &rp.child("maxUnavailable")));
                errs.extend(positive_int_or_percent(ms, &rp.child("maxSurge")));
                errs.extend(not_more_than_100_percent(mu, &rp.child("maxUnavailable")));
                errs.extend(not_more_than_100_percent(ms, &rp.child("maxSurge")));
                let (hu, hs) = (int_or_percent_value(mu) != 0, int_or_percent_value(ms) != 0);
                if hu && hs {
                    errs.push(FieldError::invalid(
                        &rp.child("maxSurge"),
                        go_literal(render_int_or_string(ms)),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !hu && !hs {
                    errs.push(FieldError::required(
                        &rp.child("maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
        },
        t => {
            let ru = if get(strategy, "rollingUpdate").is_some() {
                "(*apps.RollingUpdateDaemonSet)(0xc000000000)"
            } else {
                "(*apps.RollingUpdateDaemonSet)(nil)"
            };
            errs.push(FieldError::not_supported(
                &sp,
                go_literal(format!(
                    "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:{ru}}}",
                    go_quote(t)
                )),
                &["RollingUpdate", "OnDelete"],
            ));
        }
    }
    nonneg(spec, "revisionHistoryLimit", &path, &mut errs);
    if let Some(old) = old {
        errs.extend(selector_immutable(obj, old));
    }
    errs
}

pub(crate) fn validate_stateful_set(obj: &Value, old: Option<&Value>) -> Errs {
    let mut errs = meta_for(obj, old, names::name_is_dns_label);
    let spec = get(Some(obj), "spec");
    let path = Path::new("spec");
    let pmp = str_of(spec, "podManagementPolicy");
    match pmp {
        "" => errs.push(FieldError::required(&path.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        _ => errs.push(FieldError::invalid(
            &path.child("podManagementPolicy"),
            pmp,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let strategy = get(spec, "updateStrategy");
    match str_of(strategy, "type") {
        "" => errs.push(FieldError::required(&path.child("updateStrategy"), "")),
        "OnDelete" => {
            if get(strategy, "rollingUpdate").is_some() {
                errs.push(FieldError::invalid(
                    &path.child("updateStrategy").child("rollingUpdate"),
                    get(strategy, "rollingUpdate")
                        .cloned()
                        .unwrap_or(Value::Null),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = get(strategy, "rollingUpdate") {
                let rp = path.child("updateStrategy").child("rollingUpdate");
                nonneg(Some(ru), "partition", &rp, &mut errs);
                if let Some(mu) = get(Some(ru), "maxUnavailable") {
                    let mp = rp.child("maxUnavailable");
                    errs.extend(positive_int_or_percent(Some(mu), &mp));
                    if int_or_percent_value(Some(mu)) == 0 {
                        errs.push(FieldError::invalid(
                            &mp,
                            go_literal(render_int_or_string(Some(mu))),
                            "cannot be 0",
                        ));
                    }
                    errs.extend(not_more_than_100_percent(Some(mu), &mp));
                }
            }
        }
        t => errs.push(FieldError::invalid(
            &path.child("updateStrategy"),
            go_literal(format!(
                "apps.StatefulSetUpdateStrategy{{Type:{}}}",
                go_quote(t)
            )),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(policy) = get(spec, "persistentVolumeClaimRetentionPolicy") {
        let pp = path.child("persistentVolumeClaimRetentionPolicy");
        for field in ["whenDeleted", "whenScaled"] {
            let v = str_of(Some(policy), field);
            if v != "Retain" && v != "Delete" {
                errs.push(FieldError::not_supported(
                    &pp.child(field),
                    v,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    nonneg(spec, "replicas", &path, &mut errs);
    nonneg(spec, "minReadySeconds", &path, &mut errs);
    if let Some(start) = int_of(get(spec, "ordinals"), "start").filter(|v| *v < 0) {
        errs.push(FieldError::invalid(
            &path.child("ordinals.start"),
            start,
            NONNEG,
        ));
    }
    errs.extend(selector_and_template(
        spec,
        &path,
        "empty selector is invalid for statefulset",
        "StatefulSet",
        false,
    ));
    if let Some(old) = old {
        let (ns, os) = (spec, get(Some(old), "spec"));
        let mut a = ns.cloned().unwrap_or(Value::Null);
        if let (Some(m), Some(o)) = (a.as_object_mut(), os) {
            for f in [
                "replicas",
                "template",
                "updateStrategy",
                "minReadySeconds",
                "ordinals",
                "persistentVolumeClaimRetentionPolicy",
            ] {
                match o.get(f) {
                    Some(v) => m.insert(f.to_string(), v.clone()),
                    None => m.remove(f),
                };
            }
        }
        if !semantic_eq(Some(&a), os) {
            errs.push(FieldError::forbidden(
                &path,
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    fn deployment() -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}],
                        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30
                    }
                }
            }
        })
    }

    #[test]
    fn valid_deployment_passes() {
        assert!(validate_deployment(&deployment(), None).is_empty());
    }

    #[test]
    fn selector_required_and_mismatch() {
        let mut d = deployment();
        d["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(
            msgs(&validate_deployment(&d, None)),
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
            ]
        );
        let mut d = deployment();
        d["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
        assert_eq!(
            msgs(&validate_deployment(&d, None)),
            vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"]
        );
    }

    #[test]
    fn strategy_and_replicas() {
        let mut d = deployment();
        d["spec"]["strategy"]["rollingUpdate"] = json!({"maxSurge": 0, "maxUnavailable": 0});
        d["spec"]["replicas"] = json!(-1);
        d["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
        assert_eq!(
            msgs(&validate_deployment(&d, None)),
            vec![
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0",
            ]
        );
        let mut d = deployment();
        d["spec"]["progressDeadlineSeconds"] = json!(5);
        d["spec"]["minReadySeconds"] = json!(10);
        assert_eq!(
            msgs(&validate_deployment(&d, None)),
            vec!["spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"]
        );
    }

    #[test]
    fn selector_is_immutable() {
        let old = deployment();
        let mut new = deployment();
        new["spec"]["selector"] = json!({"matchLabels": {"app": "web", "tier": "fe"}});
        new["spec"]["template"]["metadata"]["labels"] = json!({"app": "web", "tier": "fe"});
        assert_eq!(
            msgs(&validate_deployment(&new, Some(&old))),
            vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"tier\":\"fe\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]
        );
    }

    #[test]
    fn template_pod_spec_paths() {
        let mut d = deployment();
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("");
        assert_eq!(
            msgs(&validate_replica_set(&d, None)),
            vec!["spec.template.spec.containers[0].image: Required value"]
        );
    }
}
