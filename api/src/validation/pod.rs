//! Pod and pod template validation, as upstream's `pkg/apis/core/validation/validation.go`
//! (`ValidatePodCreate`, `ValidatePodSpec`, `ValidatePodUpdate`, `ValidatePodTemplateSpec`).
//! Paths use the v1 (JSON) field names, which match upstream's for every field checked here.
use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::field_error::{FieldError, Path};
use super::meta;
use super::names;
use super::quantity::{Quantity, QUANTITY_FORMAT_ERR};
use super::util::{
    arr_of, as_int, bool_of, get, int_of, obj_of, opt_str, semantic_eq, sorted_entries, str_of,
    validate_label_name, validate_labels,
};

type Errs = Vec<FieldError>;

const FILE_MODE_ERR: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const NONNEG: &str = "must be greater than or equal to 0";

/// Volume sources (JSON key, the path upstream reports "more than 1 volume type" at), in
/// upstream's order.
const VOLUME_SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

/// Validates a Pod on create (`old` is `None`) or update.
pub(crate) fn validate_pod(obj: &Value, old: Option<&Value>) -> Errs {
    match old {
        None => validate_pod_create(obj),
        Some(old) => validate_pod_update(obj, old),
    }
}

fn spec_of(obj: &Value) -> Option<&Value> {
    get(Some(obj), "spec")
}

fn validate_pod_metadata_and_spec(obj: &Value) -> Errs {
    let spec_path = Path::new("spec");
    let mut errs = meta::validate_object_meta(obj, true, names::name_is_dns_subdomain, true);
    let spec = spec_of(obj);
    errs.extend(validate_pod_spec(spec, &spec_path, true));
    errs.extend(containers_only_for_pod(
        arr_of(spec, "containers"),
        &spec_path.child("containers"),
    ));
    errs.extend(containers_only_for_pod(
        arr_of(spec, "initContainers"),
        &spec_path.child("initContainers"),
    ));
    errs
}

fn containers_only_for_pod(containers: &[Value], path: &Path) -> Errs {
    let mut errs = Vec::new();
    for (i, c) in containers.iter().enumerate() {
        let image = str_of(Some(c), "image");
        if image.len() != image.trim().len() {
            errs.push(FieldError::invalid(
                &path.index(i).child("image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    errs
}

fn validate_pod_create(obj: &Value) -> Errs {
    let mut errs = validate_pod_metadata_and_spec(obj);
    let spec = spec_of(obj);
    let path = Path::new("spec");
    if !arr_of(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            &path.child("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    if !str_of(spec, "nodeName").is_empty() && !arr_of(spec, "schedulingGates").is_empty() {
        errs.push(FieldError::forbidden(
            &path.child("nodeName"),
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    errs
}

/// The fields `ValidatePodUpdate` lets change, as upstream lists them in its error.
const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn validate_container_updates(new: &[Value], old: &[Value], path: &Path) -> (Errs, bool) {
    let mut errs = Vec::new();
    if new.len() != old.len() {
        errs.push(FieldError::forbidden(
            path,
            "pod updates may not add or remove containers",
        ));
        return (errs, true);
    }
    for (i, c) in new.iter().enumerate() {
        let image = str_of(Some(c), "image");
        if image.is_empty() {
            errs.push(FieldError::required(&path.index(i).child("image"), ""));
        }
        if image.trim().len() != image.len() {
            errs.push(FieldError::invalid(
                &path.index(i).child("image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    (errs, false)
}

fn validate_pod_update(new: &Value, old: &Value) -> Errs {
    let mut errs = meta::validate_object_meta_update(new, old, true);
    errs.extend(validate_pod_metadata_and_spec(new));
    let spec_path = Path::new("spec");
    let (ns, os) = (spec_of(new), spec_of(old));

    for field in ["containers", "initContainers"] {
        let (e, stop) = validate_container_updates(
            arr_of(ns, field),
            arr_of(os, field),
            &spec_path.child(field),
        );
        errs.extend(e);
        if stop {
            return errs;
        }
    }

    let ads = spec_path.child("activeDeadlineSeconds");
    match (
        int_of(ns, "activeDeadlineSeconds"),
        int_of(os, "activeDeadlineSeconds"),
    ) {
        (Some(n), old_ads) => {
            if !(0..=i64::from(i32::MAX)).contains(&n) {
                errs.push(FieldError::invalid(
                    &ads,
                    n,
                    &names::inclusive_range_error(0, i64::from(i32::MAX)),
                ));
                return errs;
            }
            if old_ads.is_some_and(|o| o < n) {
                errs.push(FieldError::invalid(
                    &ads,
                    n,
                    "must be less than or equal to previous value",
                ));
                return errs;
            }
        }
        (None, Some(_)) => {
            errs.push(FieldError::invalid(
                &ads,
                Value::Null,
                "must not update from a positive integer to nil value",
            ));
        }
        (None, None) => {}
    }

    errs.extend(validate_only_added_tolerations(
        arr_of(ns, "tolerations"),
        arr_of(os, "tolerations"),
        &spec_path.child("tolerations"),
    ));
    errs.extend(validate_only_deleted_scheduling_gates(
        arr_of(ns, "schedulingGates"),
        arr_of(os, "schedulingGates"),
        &spec_path.child("schedulingGates"),
    ));

    if semantic_eq(ns, os) {
        return errs;
    }
    let mut munged = ns.cloned().unwrap_or(Value::Object(Default::default()));
    if let Some(m) = munged.as_object_mut() {
        for field in ["containers", "initContainers"] {
            if let Some(list) = m.get_mut(field).and_then(Value::as_array_mut) {
                for (i, c) in list.iter_mut().enumerate() {
                    let old_image = arr_of(os, field)
                        .get(i)
                        .and_then(|c| c.get("image"))
                        .cloned();
                    if let Some(c) = c.as_object_mut() {
                        match old_image {
                            Some(img) => c.insert("image".into(), img),
                            None => c.remove("image"),
                        };
                    }
                }
            }
        }
        for field in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
            match get(os, field) {
                Some(v) => m.insert(field.into(), v.clone()),
                None => m.remove(field),
            };
        }
        let old_grace = int_of(os, "terminationGracePeriodSeconds");
        if old_grace.is_some_and(|g| g < 0)
            && m.get("terminationGracePeriodSeconds").and_then(as_int) == Some(1)
        {
            m.insert(
                "terminationGracePeriodSeconds".into(),
                Value::from(old_grace),
            );
        }
        if !arr_of(os, "schedulingGates").is_empty() {
            // Gated pods may add to nodeSelector and node affinity.
            if let Some(v) = get(os, "nodeSelector") {
                let new_sel = m.get("nodeSelector").cloned().unwrap_or(Value::Null);
                let only_additions = sorted_entries(v.as_object())
                    .iter()
                    .all(|(k, v)| new_sel.get(k.as_str()) == Some(*v));
                if !only_additions {
                    errs.push(FieldError::invalid(
                        &spec_path.child("nodeSelector"),
                        new_sel.clone(),
                        "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
                    ));
                }
                m.insert("nodeSelector".into(), v.clone());
            } else {
                m.remove("nodeSelector");
            }
        }
    }
    if !semantic_eq(Some(&munged), os) {
        errs.push(FieldError::forbidden(
            &spec_path,
            &format!("pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}"),
        ));
    }
    errs
}

fn validate_only_added_tolerations(new: &[Value], old: &[Value], path: &Path) -> Errs {
    for o in old {
        let found = new.iter().any(|n| {
            let mut o = o.clone();
            if let Some(m) = o.as_object_mut() {
                match n.get("tolerationSeconds") {
                    Some(v) => m.insert("tolerationSeconds".into(), v.clone()),
                    None => m.remove("tolerationSeconds"),
                };
            }
            semantic_eq(Some(&o), Some(n))
        });
        if !found {
            return vec![FieldError::forbidden(
                path,
                "existing toleration can not be modified except its tolerationSeconds",
            )];
        }
    }
    validate_tolerations(new, path)
}

fn validate_only_deleted_scheduling_gates(new: &[Value], old: &[Value], path: &Path) -> Errs {
    let old_names: HashSet<&str> = old.iter().map(|g| str_of(Some(g), "name")).collect();
    let mut errs = Vec::new();
    for (i, g) in new.iter().enumerate() {
        let name = str_of(Some(g), "name");
        if !old_names.contains(name) {
            errs.push(FieldError::forbidden(
                &path.index(i).child("name"),
                &format!("only deletion is allowed, but found new scheduling gate '{name}'"),
            ));
        }
    }
    errs
}

/// Upstream's `ValidatePodTemplateSpec` for a template at `path` (e.g. `spec.template`).
pub(crate) fn validate_pod_template_spec(template: Option<&Value>, path: &Path) -> Errs {
    let mut errs = meta::template_labels_and_annotations(template, path);
    let spec = get(template, "spec");
    errs.extend(validate_pod_spec(spec, &path.child("spec"), false));
    if !arr_of(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            &path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// Upstream's `ValidatePodSpec`. `is_pod` is upstream's `ResourceIsPod` option.
pub(crate) fn validate_pod_spec(spec: Option<&Value>, path: &Path, is_pod: bool) -> Errs {
    let mut errs = Vec::new();
    let grace = int_of(spec, "terminationGracePeriodSeconds");
    if grace.is_none() {
        errs.push(FieldError::required(
            &path.child("terminationGracePeriodSeconds"),
            "",
        ));
    }
    let (vols, vol_errs) =
        validate_volumes(arr_of(spec, "volumes"), &path.child("volumes"), is_pod);
    errs.extend(vol_errs);
    let restart_policy = str_of(spec, "restartPolicy");
    errs.extend(validate_containers(
        arr_of(spec, "containers"),
        &vols,
        grace,
        &path.child("containers"),
        restart_policy,
    ));
    errs.extend(validate_init_containers(
        arr_of(spec, "initContainers"),
        arr_of(spec, "containers"),
        &vols,
        grace,
        &path.child("initContainers"),
        restart_policy,
    ));
    errs.extend(validate_host_network_deps(spec, path, is_pod));
    errs.extend(validate_restart_policy(
        restart_policy,
        &path.child("restartPolicy"),
    ));
    errs.extend(validate_dns_policy(
        str_of(spec, "dnsPolicy"),
        &path.child("dnsPolicy"),
    ));
    errs.extend(validate_labels(
        get(spec, "nodeSelector"),
        &path.child("nodeSelector"),
    ));
    errs.extend(validate_pod_security_context(
        spec,
        &path.child("securityContext"),
    ));
    errs.extend(validate_dns_config(spec, &path.child("dnsConfig")));
    for (i, g) in arr_of(spec, "readinessGates").iter().enumerate() {
        let p = path.child("readinessGates").index(i).child("conditionType");
        errs.extend(qualified_name(str_of(Some(g), "conditionType"), &p));
    }
    let mut seen = HashSet::new();
    for (i, g) in arr_of(spec, "schedulingGates").iter().enumerate() {
        let p = path.child("schedulingGates").index(i);
        let name = str_of(Some(g), "name");
        errs.extend(qualified_name(name, &p));
        if !seen.insert(name) {
            errs.push(FieldError::duplicate(&p, name));
        }
    }
    for field in ["serviceAccountName", "nodeName"] {
        let v = str_of(spec, field);
        if !v.is_empty() {
            for msg in names::name_is_dns_subdomain(v, false) {
                errs.push(FieldError::invalid(&path.child(field), v, &msg));
            }
        }
    }
    if let Some(v) = int_of(spec, "activeDeadlineSeconds") {
        if !(1..=i64::from(i32::MAX)).contains(&v) {
            errs.push(FieldError::invalid(
                &path.child("activeDeadlineSeconds"),
                v,
                &names::inclusive_range_error(1, i64::from(i32::MAX)),
            ));
        }
    }
    for field in ["hostname", "subdomain"] {
        let v = str_of(spec, field);
        if !v.is_empty() {
            errs.extend(dns_label(v, &path.child(field)));
        }
    }
    let tolerations = arr_of(spec, "tolerations");
    if !tolerations.is_empty() {
        errs.extend(validate_tolerations(
            tolerations,
            &path.child("tolerations"),
        ));
    }
    for (i, alias) in arr_of(spec, "hostAliases").iter().enumerate() {
        let p = path.child("hostAliases").index(i);
        let ip = str_of(Some(alias), "ip");
        for msg in names::is_valid_ip(ip) {
            errs.push(FieldError::invalid(&p.child("ip"), ip, &msg));
        }
        for (j, h) in arr_of(Some(alias), "hostnames").iter().enumerate() {
            let h = h.as_str().unwrap_or("");
            for msg in names::is_dns1123_subdomain(h) {
                errs.push(FieldError::invalid(&p.child("hostnames").index(j), h, &msg));
            }
        }
    }
    let pc = str_of(spec, "priorityClassName");
    if !pc.is_empty() {
        for msg in names::name_is_dns_subdomain(pc, false) {
            errs.push(FieldError::invalid(
                &path.child("priorityClassName"),
                pc,
                &msg,
            ));
        }
    }
    if let Some(rc) = opt_str(spec, "runtimeClassName") {
        for msg in names::name_is_dns_subdomain(rc, false) {
            errs.push(FieldError::invalid(
                &path.child("runtimeClassName"),
                rc,
                &msg,
            ));
        }
    }
    if let Some(pp) = opt_str(spec, "preemptionPolicy") {
        match pp {
            "PreemptLowerPriority" | "Never" => {}
            "" => errs.push(FieldError::required(&path.child("preemptionPolicy"), "")),
            _ => errs.push(FieldError::not_supported(
                &path.child("preemptionPolicy"),
                pp,
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
    if let Some(os) = get(spec, "os") {
        let name = str_of(Some(os), "name");
        if name != "linux" && name != "windows" {
            errs.push(FieldError::not_supported(
                &path.child("os").child("name"),
                name,
                &["linux", "windows"],
            ));
        }
    }
    errs
}

fn qualified_name(v: &str, path: &Path) -> Errs {
    names::is_qualified_name(v)
        .iter()
        .map(|m| FieldError::invalid(path, v, m))
        .collect()
}

fn dns_label(v: &str, path: &Path) -> Errs {
    names::is_dns1123_label(v)
        .iter()
        .map(|m| FieldError::invalid(path, v, m))
        .collect()
}

fn validate_restart_policy(policy: &str, path: &Path) -> Errs {
    match policy {
        "Always" | "OnFailure" | "Never" => vec![],
        "" => vec![FieldError::required(path, "")],
        _ => vec![FieldError::not_supported(
            path,
            policy,
            &["Always", "OnFailure", "Never"],
        )],
    }
}

fn validate_dns_policy(policy: &str, path: &Path) -> Errs {
    match policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => vec![],
        "" => vec![FieldError::required(path, "")],
        _ => vec![FieldError::not_supported(
            path,
            policy,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )],
    }
}

fn validate_dns_config(spec: Option<&Value>, path: &Path) -> Errs {
    let mut errs = Vec::new();
    let config = get(spec, "dnsConfig");
    if str_of(spec, "dnsPolicy") == "None" {
        if config.is_none() {
            return vec![FieldError::required(
                path,
                "must provide `dnsConfig` when `dnsPolicy` is None",
            )];
        }
        if arr_of(config, "nameservers").is_empty() {
            return vec![FieldError::required(
                &path.child("nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            )];
        }
    }
    if config.is_none() {
        return errs;
    }
    let ns = arr_of(config, "nameservers");
    if ns.len() > 3 {
        errs.push(FieldError::invalid(
            &path.child("nameservers"),
            ns.to_vec(),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, n) in ns.iter().enumerate() {
        let n = n.as_str().unwrap_or("");
        for msg in names::is_valid_ip(n) {
            errs.push(FieldError::invalid(
                &path.child("nameservers").index(i),
                n,
                &msg,
            ));
        }
    }
    let searches = arr_of(config, "searches");
    if searches.len() > 32 {
        errs.push(FieldError::invalid(
            &path.child("searches"),
            searches.to_vec(),
            "must not have more than 32 search paths",
        ));
    }
    let joined: Vec<&str> = searches.iter().filter_map(Value::as_str).collect();
    if joined.join(" ").len() > 2048 {
        errs.push(FieldError::invalid(
            &path.child("searches"),
            searches.to_vec(),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, s) in searches.iter().enumerate() {
        let s = s.as_str().unwrap_or("");
        if s != "." {
            let s = s.strip_suffix('.').unwrap_or(s);
            for msg in names::is_dns1123_subdomain_with_underscore(s) {
                errs.push(FieldError::invalid(
                    &path.child("searches").index(i),
                    s,
                    &msg,
                ));
            }
        }
    }
    for (i, o) in arr_of(config, "options").iter().enumerate() {
        if str_of(Some(o), "name").is_empty() {
            errs.push(FieldError::required(
                &path.child("options").index(i),
                "must not be empty",
            ));
        }
    }
    errs
}

fn validate_host_network_deps(spec: Option<&Value>, path: &Path, is_pod: bool) -> Errs {
    let mut errs = Vec::new();
    if !bool_of(spec, "hostNetwork") {
        return errs;
    }
    for (i, c) in arr_of(spec, "containers").iter().enumerate() {
        for (j, p) in arr_of(Some(c), "ports").iter().enumerate() {
            let hp = int_of(Some(p), "hostPort").unwrap_or(0);
            let cp = int_of(Some(p), "containerPort").unwrap_or(0);
            if (is_pod || hp != 0) && hp != cp {
                errs.push(FieldError::invalid(
                    &path
                        .child("containers")
                        .index(i)
                        .child("ports")
                        .index(j)
                        .child("hostPort"),
                    hp,
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
    errs
}

fn validate_id(v: Option<i64>, path: &Path, errs: &mut Errs) {
    if let Some(v) = v {
        for msg in names::is_valid_id(v) {
            errs.push(FieldError::invalid(path, v, &msg));
        }
    }
}

fn validate_pod_security_context(spec: Option<&Value>, path: &Path) -> Errs {
    let mut errs = Vec::new();
    let Some(sc) = get(spec, "securityContext") else {
        return errs;
    };
    let sc = Some(sc);
    for field in ["fsGroup", "runAsUser", "runAsGroup"] {
        validate_id(int_of(sc, field), &path.child(field), &mut errs);
    }
    for (i, g) in arr_of(sc, "supplementalGroups").iter().enumerate() {
        validate_id(
            as_int(g),
            &path.child("supplementalGroups").index(i),
            &mut errs,
        );
    }
    if get(sc, "shareProcessNamespace").and_then(Value::as_bool) == Some(true)
        && bool_of(spec, "hostPID")
    {
        errs.push(FieldError::invalid(
            &path.child("shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    let mut seen = HashSet::new();
    for (i, s) in arr_of(sc, "sysctls").iter().enumerate() {
        let name = str_of(Some(s), "name");
        let p = path.child("sysctls").index(i).child("name");
        if name.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else if !seen.insert(name) {
            errs.push(FieldError::duplicate(&p, name));
        }
    }
    if let Some(p) = opt_str(sc, "fsGroupChangePolicy") {
        if p != "OnRootMismatch" && p != "Always" {
            errs.push(FieldError::not_supported(
                &path.child("fsGroupChangePolicy"),
                p,
                &["Always", "OnRootMismatch"],
            ));
        }
    }
    errs
}

/// Upstream's `ValidateTolerations`.
pub(crate) fn validate_tolerations(tolerations: &[Value], path: &Path) -> Errs {
    let mut errs = Vec::new();
    for (i, t) in tolerations.iter().enumerate() {
        let t = Some(t);
        let p = path.index(i);
        let key = str_of(t, "key");
        let op = str_of(t, "operator");
        let effect = str_of(t, "effect");
        if !key.is_empty() {
            errs.extend(validate_label_name(key, &p.child("key")));
        }
        if key.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                &p.child("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if get(t, "tolerationSeconds").is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                &p.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        let value = str_of(t, "value");
        match op {
            "Equal" | "" => {
                let msgs = names::is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        &p.child("operator"),
                        value,
                        &msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        &p.child("operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            _ => errs.push(FieldError::not_supported(
                &p.child("operator"),
                op,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            errs.extend(validate_taint_effect(effect, true, &p.child("effect")));
        }
    }
    errs
}

/// Upstream's `validateTaintEffect`.
pub(crate) fn validate_taint_effect(effect: &str, allow_empty: bool, path: &Path) -> Errs {
    if !allow_empty && effect.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    match effect {
        "NoSchedule" | "PreferNoSchedule" | "NoExecute" => vec![],
        _ => vec![FieldError::not_supported(
            path,
            effect,
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        )],
    }
}

// ---------------------------------------------------------------------------------------
// Volumes
// ---------------------------------------------------------------------------------------

type Volumes<'a> = HashMap<String, &'a Value>;

fn validate_volumes<'a>(volumes: &'a [Value], path: &Path, is_pod: bool) -> (Volumes<'a>, Errs) {
    let mut errs = Vec::new();
    let mut vols: Volumes<'a> = HashMap::new();
    let mut all_names = HashSet::new();
    for (i, vol) in volumes.iter().enumerate() {
        let idx = path.index(i);
        let name_path = idx.child("name");
        let name = str_of(Some(vol), "name");
        let mut el = validate_volume_source(vol, &idx, is_pod);
        if name.is_empty() {
            el.push(FieldError::required(&name_path, ""));
        } else {
            el.extend(dns_label(name, &name_path));
        }
        if all_names.contains(name) {
            el.push(FieldError::duplicate(&name_path, name));
        }
        if el.is_empty() {
            all_names.insert(name);
            vols.insert(name.to_string(), vol);
        } else {
            errs.extend(el);
        }
    }
    (vols, errs)
}

fn validate_volume_source(vol: &Value, path: &Path, is_pod: bool) -> Errs {
    let mut errs = Vec::new();
    let mut num = 0;
    for (key, forbidden_name) in VOLUME_SOURCES {
        let Some(src) = get(Some(vol), key) else {
            continue;
        };
        if num > 0 {
            errs.push(FieldError::forbidden(
                &path.child(forbidden_name),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        num += 1;
        let p = path.child(key);
        let src = Some(src);
        match *key {
            "emptyDir" => {
                if let Some(q) = opt_str(src, "sizeLimit").and_then(Quantity::parse) {
                    if q.is_negative() {
                        errs.push(FieldError::forbidden(
                            &p.child("sizeLimit"),
                            "SizeLimit field must be a valid resource quantity",
                        ));
                    }
                }
            }
            "hostPath" => {
                let hp = str_of(src, "path");
                if hp.is_empty() {
                    errs.push(FieldError::required(&p.child("path"), ""));
                    continue;
                }
                errs.extend(validate_path_no_backsteps(hp, &p.child("path")));
                if let Some(t) = opt_str(src, "type") {
                    const TYPES: &[&str] = &[
                        "",
                        "BlockDevice",
                        "CharDevice",
                        "Directory",
                        "DirectoryOrCreate",
                        "File",
                        "FileOrCreate",
                        "Socket",
                    ];
                    if !TYPES.contains(&t) {
                        errs.push(FieldError::not_supported(&p.child("type"), t, TYPES));
                    }
                }
            }
            "gitRepo" => {
                if str_of(src, "repository").is_empty() {
                    errs.push(FieldError::required(&p.child("repository"), ""));
                }
                errs.extend(validate_local_descending_path(
                    str_of(src, "directory"),
                    &p.child("directory"),
                ));
            }
            "secret" => {
                if str_of(src, "secretName").is_empty() {
                    errs.push(FieldError::required(&p.child("secretName"), ""));
                }
                errs.extend(validate_mode(
                    int_of(src, "defaultMode"),
                    &p.child("defaultMode"),
                ));
                for (i, kp) in arr_of(src, "items").iter().enumerate() {
                    errs.extend(validate_key_to_path(kp, &p.child("items").index(i)));
                }
            }
            "configMap" => {
                if str_of(src, "name").is_empty() {
                    errs.push(FieldError::required(&p.child("name"), ""));
                }
                errs.extend(validate_mode(
                    int_of(src, "defaultMode"),
                    &p.child("defaultMode"),
                ));
                for (i, kp) in arr_of(src, "items").iter().enumerate() {
                    errs.extend(validate_key_to_path(kp, &p.child("items").index(i)));
                }
            }
            "persistentVolumeClaim" if str_of(src, "claimName").is_empty() => {
                errs.push(FieldError::required(&p.child("claimName"), ""));
            }
            "nfs" => {
                if str_of(src, "server").is_empty() {
                    errs.push(FieldError::required(&p.child("server"), ""));
                }
                let np = str_of(src, "path");
                if np.is_empty() {
                    errs.push(FieldError::required(&p.child("path"), ""));
                }
                if !np.starts_with('/') {
                    errs.push(FieldError::invalid(
                        &p.child("path"),
                        np,
                        "must be an absolute path",
                    ));
                }
            }
            "downwardAPI" => {
                errs.extend(validate_mode(
                    int_of(src, "defaultMode"),
                    &p.child("defaultMode"),
                ));
                for item in arr_of(src, "items") {
                    errs.extend(validate_downward_api_volume_file(item, &p));
                }
            }
            "projected" => {
                errs.extend(validate_mode(
                    int_of(src, "defaultMode"),
                    &p.child("defaultMode"),
                ));
                errs.extend(validate_projection_sources(src, &p));
            }
            "csi" => {
                let driver = str_of(src, "driver");
                let dp = p.child("driver");
                if driver.is_empty() {
                    errs.push(FieldError::required(&dp, ""));
                }
                if driver.len() > 63 {
                    errs.push(FieldError::too_long(&dp, 63));
                }
                for msg in names::is_dns1123_subdomain(&driver.to_lowercase()) {
                    errs.push(FieldError::invalid(&dp, driver, &msg));
                }
            }
            "ephemeral" if get(src, "volumeClaimTemplate").is_none() => {
                errs.push(FieldError::required(&p.child("volumeClaimTemplate"), ""));
            }
            "image" if is_pod && str_of(src, "reference").is_empty() => {
                errs.push(FieldError::required(&p.child("reference"), ""));
            }
            _ => {}
        }
    }
    if num == 0 {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
    errs
}

fn validate_mode(mode: Option<i64>, path: &Path) -> Errs {
    match mode {
        Some(m) if !(0..=0o777).contains(&m) => vec![FieldError::invalid(path, m, FILE_MODE_ERR)],
        _ => vec![],
    }
}

fn validate_key_to_path(kp: &Value, path: &Path) -> Errs {
    let mut errs = Vec::new();
    let kp = Some(kp);
    if str_of(kp, "key").is_empty() {
        errs.push(FieldError::required(&path.child("key"), ""));
    }
    let p = str_of(kp, "path");
    if p.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(p, &path.child("path")));
    errs.extend(validate_mode(int_of(kp, "mode"), &path.child("mode")));
    errs
}

fn validate_path_no_backsteps(target: &str, path: &Path) -> Errs {
    if target.replace('\\', "/").split('/').any(|p| p == "..") {
        vec![FieldError::invalid(path, target, "must not contain '..'")]
    } else {
        vec![]
    }
}

fn validate_local_descending_path(target: &str, path: &Path) -> Errs {
    let mut errs = Vec::new();
    if target.starts_with('/') {
        errs.push(FieldError::invalid(path, target, "must be a relative path"));
    }
    errs.extend(validate_path_no_backsteps(target, path));
    errs
}

fn validate_local_non_reserved_path(target: &str, path: &Path) -> Errs {
    let mut errs = validate_local_descending_path(target, path);
    if target.starts_with("..") && !target.starts_with("../") {
        errs.push(FieldError::invalid(
            path,
            target,
            "must not start with '..'",
        ));
    }
    errs
}

const VOLUME_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const RESOURCE_FIELD_PATHS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

fn validate_downward_api_volume_file(file: &Value, path: &Path) -> Errs {
    let mut errs = Vec::new();
    let f = Some(file);
    let p = str_of(f, "path");
    if p.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(p, &path.child("path")));
    if let Some(fr) = get(f, "fieldRef") {
        errs.extend(validate_object_field_selector(
            fr,
            VOLUME_FIELD_PATHS,
            &path.child("fieldRef"),
        ));
        if get(f, "resourceFieldRef").is_some() {
            errs.push(FieldError::invalid(
                path,
                "resource",
                "fieldRef and resourceFieldRef can not be specified simultaneously",
            ));
        }
    } else if let Some(rf) = get(f, "resourceFieldRef") {
        errs.extend(validate_resource_field_selector(
            rf,
            &path.child("resourceFieldRef"),
            true,
        ));
    } else {
        errs.push(FieldError::required(
            path,
            "one of fieldRef and resourceFieldRef is required",
        ));
    }
    errs.extend(validate_mode(int_of(f, "mode"), &path.child("mode")));
    errs
}

fn validate_projection_sources(projected: Option<&Value>, path: &Path) -> Errs {
    let mut errs = Vec::new();
    let mut all_paths = HashSet::new();
    for (i, source) in arr_of(projected, "sources").iter().enumerate() {
        let src_path = path.child("sources").index(i);
        let mut num = 0;
        let s = Some(source);
        for kind in ["secret", "configMap"] {
            if let Some(sec) = get(s, kind) {
                num += 1;
                let pp = src_path.child(kind);
                let name = str_of(Some(sec), "name");
                if name.is_empty() {
                    errs.push(FieldError::required(&pp.child("name"), ""));
                }
                for (j, kp) in arr_of(Some(sec), "items").iter().enumerate() {
                    errs.extend(validate_key_to_path(kp, &pp.child("items").index(j)));
                    let kpath = str_of(Some(kp), "path");
                    if !kpath.is_empty() && !all_paths.insert(kpath.to_string()) {
                        errs.push(FieldError::invalid(
                            path,
                            name,
                            "conflicting duplicate paths",
                        ));
                    }
                }
            }
        }
        if let Some(d) = get(s, "downwardAPI") {
            num += 1;
            for item in arr_of(Some(d), "items") {
                errs.extend(validate_downward_api_volume_file(
                    item,
                    &src_path.child("downwardAPI"),
                ));
                let ipath = str_of(Some(item), "path");
                if !ipath.is_empty() && !all_paths.insert(ipath.to_string()) {
                    errs.push(FieldError::invalid(
                        path,
                        ipath,
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(t) = get(s, "serviceAccountToken") {
            num += 1;
            let tp = src_path.child("serviceAccountToken");
            if let Some(exp) = int_of(Some(t), "expirationSeconds") {
                if exp < 600 {
                    errs.push(FieldError::invalid(
                        &tp.child("expirationSeconds"),
                        exp,
                        "may not specify a duration less than 10 minutes",
                    ));
                }
                if exp > 1 << 32 {
                    errs.push(FieldError::invalid(
                        &tp.child("expirationSeconds"),
                        exp,
                        "may not specify a duration larger than 2^32 seconds",
                    ));
                }
            }
            let tpath = str_of(Some(t), "path");
            if tpath.is_empty() {
                errs.push(FieldError::required(&path.child("path"), ""));
            } else {
                errs.extend(validate_local_non_reserved_path(tpath, &path.child("path")));
            }
        }
        if get(s, "clusterTrustBundle").is_some() {
            num += 1;
        }
        if num > 1 {
            errs.push(FieldError::forbidden(
                &src_path,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
    errs
}

fn validate_object_field_selector(fs: &Value, expressions: &[&str], path: &Path) -> Errs {
    let fs = Some(fs);
    let api_version = str_of(fs, "apiVersion");
    if api_version.is_empty() {
        return vec![FieldError::required(&path.child("apiVersion"), "")];
    }
    let field_path = str_of(fs, "fieldPath");
    if field_path.is_empty() {
        return vec![FieldError::required(&path.child("fieldPath"), "")];
    }
    if api_version != "v1" {
        return vec![FieldError::invalid(
            &path.child("fieldPath"),
            field_path,
            &format!("error converting fieldPath: invalid field label: {field_path}"),
        )];
    }
    if let Some((p, rest)) = field_path.split_once("['") {
        if let Some(sub) = rest.strip_suffix("']") {
            return match p {
                "metadata.annotations" => qualified_name(&sub.to_lowercase(), path),
                "metadata.labels" => qualified_name(sub, path),
                _ => vec![FieldError::invalid(path, p, "does not support subscript")],
            };
        }
    }
    if !expressions.contains(&field_path) {
        return vec![FieldError::not_supported(
            &path.child("fieldPath"),
            field_path,
            expressions,
        )];
    }
    vec![]
}

fn validate_resource_field_selector(fs: &Value, path: &Path, volume: bool) -> Errs {
    let fs = Some(fs);
    let resource = str_of(fs, "resource");
    if volume && str_of(fs, "containerName").is_empty() {
        return vec![FieldError::required(&path.child("containerName"), "")];
    }
    if resource.is_empty() {
        return vec![FieldError::required(&path.child("resource"), "")];
    }
    if !RESOURCE_FIELD_PATHS.contains(&resource)
        && !resource.starts_with("requests.hugepages-")
        && !resource.starts_with("limits.hugepages-")
    {
        return vec![FieldError::not_supported(
            &path.child("resource"),
            resource,
            RESOURCE_FIELD_PATHS,
        )];
    }
    vec![]
}

// ---------------------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------------------

fn validate_containers(
    containers: &[Value],
    vols: &Volumes<'_>,
    grace: Option<i64>,
    path: &Path,
    restart_policy: &str,
) -> Errs {
    if containers.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errs = Vec::new();
    let mut all_names = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(c, vols, &p, restart_policy));
        let name = str_of(Some(c), "name");
        if !all_names.insert(name) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        }
        errs.extend(validate_lifecycle_and_probes(c, grace, &p));
        if get(Some(c), "restartPolicy").is_some() {
            errs.push(FieldError::forbidden(
                &p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(check_host_port_conflicts(containers, 0, path));
    errs
}

fn validate_init_containers(
    containers: &[Value],
    regular: &[Value],
    vols: &Volumes<'_>,
    grace: Option<i64>,
    path: &Path,
    restart_policy: &str,
) -> Errs {
    let mut errs = Vec::new();
    let mut all_names: HashSet<&str> = regular.iter().map(|c| str_of(Some(c), "name")).collect();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(c, vols, &p, restart_policy));
        let mut restart_always = false;
        if let Some(rp) = opt_str(Some(c), "restartPolicy") {
            if rp != "Always" {
                errs.push(FieldError::not_supported(
                    &p.child("restartPolicy"),
                    rp,
                    &["Always"],
                ));
            }
            restart_always = rp == "Always";
        }
        let name = str_of(Some(c), "name");
        if all_names.contains(name) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        } else if !name.is_empty() {
            all_names.insert(name);
        }
        errs.extend(check_host_port_conflicts(std::slice::from_ref(c), i, path));
        if restart_always {
            errs.extend(validate_lifecycle_and_probes(c, grace, &p));
        } else {
            for field in [
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
            ] {
                if get(Some(c), field).is_some() {
                    errs.push(FieldError::forbidden(
                        &p.child(field),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
    errs
}

fn check_host_port_conflicts(containers: &[Value], first_index: usize, path: &Path) -> Errs {
    let mut errs = Vec::new();
    let mut seen = HashSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, p) in arr_of(Some(c), "ports").iter().enumerate() {
            let port = int_of(Some(p), "hostPort").unwrap_or(0);
            if port == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{port}",
                str_of(Some(p), "protocol"),
                str_of(Some(p), "hostIP")
            );
            if !seen.insert(key.clone()) {
                errs.push(FieldError::duplicate(
                    &path
                        .index(first_index + ci)
                        .child("ports")
                        .index(pi)
                        .child("hostPort"),
                    key,
                ));
            }
        }
    }
    errs
}

fn validate_container_common(
    c: &Value,
    vols: &Volumes<'_>,
    path: &Path,
    _restart_policy: &str,
) -> Errs {
    let mut errs = Vec::new();
    let c = Some(c);
    let name = str_of(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    } else {
        errs.extend(dns_label(name, &path.child("name")));
    }
    if str_of(c, "image").is_empty() {
        errs.push(FieldError::required(&path.child("image"), ""));
    }
    let tmp = str_of(c, "terminationMessagePolicy");
    match tmp {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(
            &path.child("terminationMessagePolicy"),
            "",
        )),
        _ => errs.push(FieldError::not_supported(
            &path.child("terminationMessagePolicy"),
            tmp,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    let mounts = arr_of(c, "volumeMounts");
    let devices = arr_of(c, "volumeDevices");
    errs.extend(validate_container_ports(
        arr_of(c, "ports"),
        &path.child("ports"),
    ));
    errs.extend(validate_env(arr_of(c, "env"), &path.child("env")));
    errs.extend(validate_env_from(
        arr_of(c, "envFrom"),
        &path.child("envFrom"),
    ));
    errs.extend(validate_volume_mounts(
        mounts,
        devices,
        vols,
        c,
        &path.child("volumeMounts"),
    ));
    errs.extend(validate_volume_devices(
        devices,
        mounts,
        vols,
        &path.child("volumeDevices"),
    ));
    let pull = str_of(c, "imagePullPolicy");
    match pull {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(FieldError::required(&path.child("imagePullPolicy"), "")),
        _ => errs.push(FieldError::not_supported(
            &path.child("imagePullPolicy"),
            pull,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    errs.extend(validate_resource_requirements(
        get(c, "resources"),
        &path.child("resources"),
    ));
    if let Some(sc) = get(c, "securityContext") {
        let sp = path.child("securityContext");
        for field in ["runAsUser", "runAsGroup"] {
            validate_id(int_of(Some(sc), field), &sp.child(field), &mut errs);
        }
    }
    errs
}

fn validate_container_ports(ports: &[Value], path: &Path) -> Errs {
    let mut errs = Vec::new();
    let mut names_seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        let port = Some(port);
        let name = str_of(port, "name");
        if !name.is_empty() {
            let msgs = names::is_valid_port_name(name);
            if !msgs.is_empty() {
                for m in msgs {
                    errs.push(FieldError::invalid(&p.child("name"), name, &m));
                }
            } else if !names_seen.insert(name) {
                errs.push(FieldError::duplicate(&p.child("name"), name));
            }
        }
        let cp = int_of(port, "containerPort").unwrap_or(0);
        if cp == 0 {
            errs.push(FieldError::required(&p.child("containerPort"), ""));
        } else {
            for m in names::is_valid_port_num(cp) {
                errs.push(FieldError::invalid(&p.child("containerPort"), cp, &m));
            }
        }
        let hp = int_of(port, "hostPort").unwrap_or(0);
        if hp != 0 {
            for m in names::is_valid_port_num(hp) {
                errs.push(FieldError::invalid(&p.child("hostPort"), hp, &m));
            }
        }
        errs.extend(validate_protocol(
            str_of(port, "protocol"),
            &p.child("protocol"),
        ));
    }
    errs
}

/// Required / `SCTP`, `TCP`, `UDP`.
pub(crate) fn validate_protocol(protocol: &str, path: &Path) -> Errs {
    match protocol {
        "" => vec![FieldError::required(path, "")],
        "TCP" | "UDP" | "SCTP" => vec![],
        _ => vec![FieldError::not_supported(
            path,
            protocol,
            &["SCTP", "TCP", "UDP"],
        )],
    }
}

fn validate_env(vars: &[Value], path: &Path) -> Errs {
    let mut errs = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let p = path.index(i);
        let ev = Some(ev);
        let name = str_of(ev, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else {
            for m in names::is_env_var_name(name) {
                errs.push(FieldError::invalid(&p.child("name"), name, &m));
            }
        }
        errs.extend(validate_env_var_value_from(ev, &p.child("valueFrom")));
    }
    errs
}

fn validate_env_var_value_from(ev: Option<&Value>, path: &Path) -> Errs {
    let mut errs = Vec::new();
    let Some(vf) = get(ev, "valueFrom") else {
        return errs;
    };
    let vf = Some(vf);
    let mut num = 0;
    if let Some(fr) = get(vf, "fieldRef") {
        num += 1;
        errs.extend(validate_object_field_selector(
            fr,
            ENV_FIELD_PATHS,
            &path.child("fieldRef"),
        ));
    }
    if let Some(rf) = get(vf, "resourceFieldRef") {
        num += 1;
        errs.extend(validate_resource_field_selector(
            rf,
            &path.child("resourceFieldRef"),
            false,
        ));
    }
    for kind in ["configMapKeyRef", "secretKeyRef"] {
        if let Some(r) = get(vf, kind) {
            num += 1;
            let p = path.child(kind);
            let name = str_of(Some(r), "name");
            for m in names::name_is_dns_subdomain(name, false) {
                errs.push(FieldError::invalid(&p.child("name"), name, &m));
            }
            let key = str_of(Some(r), "key");
            if key.is_empty() {
                errs.push(FieldError::required(&p.child("key"), ""));
            } else {
                for m in names::is_config_map_key(key) {
                    errs.push(FieldError::invalid(&p.child("key"), key, &m));
                }
            }
        }
    }
    if num == 0 {
        errs.push(FieldError::invalid(
            path,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        ));
    } else if !str_of(ev, "value").is_empty() {
        errs.push(FieldError::invalid(
            path,
            "",
            "may not be specified when `value` is not empty",
        ));
    } else if num > 1 {
        errs.push(FieldError::invalid(
            path,
            "",
            "may not have more than one field specified at a time",
        ));
    }
    errs
}

fn validate_env_from(vars: &[Value], path: &Path) -> Errs {
    let mut errs = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let p = path.index(i);
        let ev = Some(ev);
        let prefix = str_of(ev, "prefix");
        if !prefix.is_empty() {
            for m in names::is_env_var_name(prefix) {
                errs.push(FieldError::invalid(&p.child("prefix"), prefix, &m));
            }
        }
        let mut num = 0;
        for kind in ["configMapRef", "secretRef"] {
            if let Some(r) = get(ev, kind) {
                num += 1;
                let name = str_of(Some(r), "name");
                let np = p.child(kind).child("name");
                if name.is_empty() {
                    errs.push(FieldError::required(&np, ""));
                } else {
                    for m in names::name_is_dns_subdomain(name, true) {
                        errs.push(FieldError::invalid(&np, name, &m));
                    }
                }
            }
        }
        if num == 0 {
            errs.push(FieldError::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if num > 1 {
            errs.push(FieldError::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn validate_volume_mounts(
    mounts: &[Value],
    devices: &[Value],
    vols: &Volumes<'_>,
    container: Option<&Value>,
    path: &Path,
) -> Errs {
    let mut errs = Vec::new();
    let mut mount_points = HashSet::new();
    let device_names: HashSet<&str> = devices.iter().map(|d| str_of(Some(d), "name")).collect();
    let device_paths: HashSet<&str> = devices
        .iter()
        .map(|d| str_of(Some(d), "devicePath"))
        .collect();
    for (i, m) in mounts.iter().enumerate() {
        let p = path.index(i);
        let m = Some(m);
        let name = str_of(m, "name");
        let mount_path = str_of(m, "mountPath");
        if name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        if !vols.contains_key(name) {
            errs.push(FieldError::not_found(&p.child("name"), name));
        }
        if mount_path.is_empty() {
            errs.push(FieldError::required(&p.child("mountPath"), ""));
        }
        if !mount_points.insert(mount_path) {
            errs.push(FieldError::invalid(
                &p.child("mountPath"),
                mount_path,
                "must be unique",
            ));
        }
        if device_names.contains(name) {
            errs.push(FieldError::invalid(
                &p.child("name"),
                name,
                "must not already exist in volumeDevices",
            ));
        }
        if device_paths.contains(mount_path) {
            errs.push(FieldError::invalid(
                &p.child("mountPath"),
                mount_path,
                "must not already exist as a path in volumeDevices",
            ));
        }
        let sub_path = str_of(m, "subPath");
        let sub_path_expr = str_of(m, "subPathExpr");
        if vols
            .get(name)
            .is_some_and(|v| get(Some(*v), "image").is_some())
        {
            if !sub_path.is_empty() {
                errs.push(FieldError::invalid(
                    &p.child("subPath"),
                    sub_path,
                    "not allowed in image volume sources",
                ));
            }
            if !sub_path_expr.is_empty() {
                errs.push(FieldError::invalid(
                    &p.child("subPathExpr"),
                    sub_path_expr,
                    "not allowed in image volume sources",
                ));
            }
        }
        if !sub_path.is_empty() {
            errs.extend(validate_local_descending_path(
                sub_path,
                &path.child("subPath"),
            ));
        }
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(FieldError::invalid(
                    &p.child("subPathExpr"),
                    sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(validate_local_descending_path(
                sub_path_expr,
                &path.child("subPathExpr"),
            ));
        }
        if let Some(mp) = opt_str(m, "mountPropagation") {
            let mpp = path.child("mountPropagation");
            if !["Bidirectional", "HostToContainer", "None"].contains(&mp) {
                errs.push(FieldError::not_supported(
                    &mpp,
                    mp,
                    &["Bidirectional", "HostToContainer", "None"],
                ));
            }
            let privileged = get(get(container, "securityContext"), "privileged")
                .and_then(Value::as_bool)
                == Some(true);
            if mp == "Bidirectional" && !privileged {
                errs.push(FieldError::forbidden(
                    &mpp,
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
        if let Some(rro) = opt_str(m, "recursiveReadOnly") {
            let rp = path.child("recursiveReadOnly");
            match rro {
                "Disabled" => {}
                "Enabled" | "IfPossible" => {
                    if !bool_of(m, "readOnly") {
                        errs.push(FieldError::forbidden(
                            &rp,
                            "may only be specified when readOnly is true",
                        ));
                    }
                    if opt_str(m, "mountPropagation").is_some_and(|p| p != "None") {
                        errs.push(FieldError::forbidden(
                            &rp,
                            "may only be specified when mountPropagation is None or not specified",
                        ));
                    }
                }
                _ => errs.push(FieldError::not_supported(
                    &rp,
                    rro,
                    &["Disabled", "Enabled", "IfPossible"],
                )),
            }
        }
    }
    errs
}

fn validate_volume_devices(
    devices: &[Value],
    mounts: &[Value],
    vols: &Volumes<'_>,
    path: &Path,
) -> Errs {
    let mut errs = Vec::new();
    let mut device_paths = HashSet::new();
    let mut device_names = HashSet::new();
    let mount_names: HashSet<&str> = mounts.iter().map(|m| str_of(Some(m), "name")).collect();
    let mount_paths: HashSet<&str> = mounts
        .iter()
        .map(|m| str_of(Some(m), "mountPath"))
        .collect();
    for (i, d) in devices.iter().enumerate() {
        let p = path.index(i);
        let name = str_of(Some(d), "name");
        let dev_path = str_of(Some(d), "devicePath");
        let vol = vols.get(name);
        let is_pvc = vol.is_some_and(|v| {
            get(Some(*v), "persistentVolumeClaim").is_some() || get(Some(*v), "ephemeral").is_some()
        });
        if name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        if device_names.contains(name) {
            errs.push(FieldError::invalid(
                &p.child("name"),
                name,
                "must be unique",
            ));
        }
        if vol.is_some() && !is_pvc {
            errs.push(FieldError::invalid(
                &p.child("name"),
                name,
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            ));
        }
        if vol.is_none() {
            errs.push(FieldError::not_found(&p.child("name"), name));
        }
        if dev_path.is_empty() {
            errs.push(FieldError::required(&p.child("devicePath"), ""));
        }
        if device_paths.contains(dev_path) {
            errs.push(FieldError::invalid(
                &p.child("devicePath"),
                dev_path,
                "must be unique",
            ));
        }
        if !dev_path.is_empty() && dev_path.split('/').any(|s| s == "..") {
            errs.push(FieldError::invalid(
                &p.child("devicePath"),
                dev_path,
                "can not contain backsteps ('..')",
            ));
        } else {
            device_paths.insert(dev_path);
        }
        if mount_names.contains(name) {
            errs.push(FieldError::invalid(
                &p.child("name"),
                name,
                "must not already exist in volumeMounts",
            ));
        }
        if mount_paths.contains(dev_path) {
            errs.push(FieldError::invalid(
                &p.child("devicePath"),
                dev_path,
                "must not already exist as a path in volumeMounts",
            ));
        }
        if !name.is_empty() {
            device_names.insert(name);
        }
    }
    errs
}

#[derive(Clone, Copy, PartialEq)]
enum Probe {
    Liveness,
    Readiness,
    Startup,
}

fn validate_probe(probe: Option<&Value>, grace: Option<i64>, path: &Path, kind: Probe) -> Errs {
    let Some(probe) = probe else { return vec![] };
    let p = Some(probe);
    let mut errs = validate_handler(probe, false, grace, path);
    for field in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        if let Some(v) = int_of(p, field).filter(|v| *v < 0) {
            errs.push(FieldError::invalid(&path.child(field), v, NONNEG));
        }
    }
    if let Some(t) = int_of(p, "terminationGracePeriodSeconds").filter(|t| *t <= 0) {
        errs.push(FieldError::invalid(
            &path.child("terminationGracePeriodSeconds"),
            t,
            "must be greater than 0",
        ));
    }
    match kind {
        Probe::Liveness | Probe::Startup => {
            let st = int_of(p, "successThreshold").unwrap_or(0);
            if st != 1 {
                errs.push(FieldError::invalid(
                    &path.child("successThreshold"),
                    st,
                    "must be 1",
                ));
            }
        }
        Probe::Readiness => {
            if let Some(t) = int_of(p, "terminationGracePeriodSeconds") {
                errs.push(FieldError::invalid(
                    &path.child("terminationGracePeriodSeconds"),
                    t,
                    "must not be set for readinessProbes",
                ));
            }
        }
    }
    errs
}

/// A container's lifecycle hooks and its liveness, readiness and startup probes.
fn validate_lifecycle_and_probes(c: &Value, grace: Option<i64>, p: &Path) -> Errs {
    let mut errs = Errs::new();
    if let Some(l) = get(Some(c), "lifecycle") {
        errs.extend(validate_lifecycle(l, grace, &p.child("lifecycle")));
    }
    errs.extend(validate_probe(
        get(Some(c), "livenessProbe"),
        grace,
        &p.child("livenessProbe"),
        Probe::Liveness,
    ));
    errs.extend(validate_probe(
        get(Some(c), "readinessProbe"),
        grace,
        &p.child("readinessProbe"),
        Probe::Readiness,
    ));
    errs.extend(validate_probe(
        get(Some(c), "startupProbe"),
        grace,
        &p.child("startupProbe"),
        Probe::Startup,
    ));
    errs
}

fn validate_lifecycle(l: &Value, grace: Option<i64>, path: &Path) -> Errs {
    let mut errs = Vec::new();
    for hook in ["postStart", "preStop"] {
        if let Some(h) = get(Some(l), hook) {
            errs.extend(validate_handler(h, true, grace, &path.child(hook)));
        }
    }
    errs
}

fn validate_handler(h: &Value, lifecycle: bool, grace: Option<i64>, path: &Path) -> Errs {
    let mut errs = Vec::new();
    let mut num = 0;
    let kinds: &[&str] = if lifecycle {
        &["exec", "httpGet", "tcpSocket", "sleep"]
    } else {
        &["exec", "httpGet", "tcpSocket", "grpc"]
    };
    for kind in kinds {
        let Some(action) = get(Some(h), kind) else {
            continue;
        };
        let p = path.child(kind);
        if num > 0 {
            errs.push(FieldError::forbidden(
                &p,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        num += 1;
        let a = Some(action);
        match *kind {
            "exec" if arr_of(a, "command").is_empty() => {
                errs.push(FieldError::required(&p.child("command"), ""));
            }
            "httpGet" => {
                if str_of(a, "path").is_empty() {
                    errs.push(FieldError::required(&p.child("path"), ""));
                }
                errs.extend(validate_port_num_or_name(get(a, "port"), &p.child("port")));
                let scheme = str_of(a, "scheme");
                if scheme != "HTTP" && scheme != "HTTPS" {
                    errs.push(FieldError::not_supported(
                        &p.child("scheme"),
                        scheme,
                        &["HTTP", "HTTPS"],
                    ));
                }
                for header in arr_of(a, "httpHeaders") {
                    let name = str_of(Some(header), "name");
                    for m in names::is_http_header_name(name) {
                        errs.push(FieldError::invalid(&p.child("httpHeaders"), name, &m));
                    }
                }
            }
            "tcpSocket" => errs.extend(validate_port_num_or_name(get(a, "port"), &p.child("port"))),
            "grpc" => {
                let port = int_of(a, "port").unwrap_or(0);
                for m in names::is_valid_port_num(port) {
                    errs.push(FieldError::invalid(&p.child("port"), port, &m));
                }
            }
            "sleep" => {
                let secs = int_of(a, "seconds").unwrap_or(0);
                if let Some(g) = grace {
                    if secs < 0 || secs > g {
                        errs.push(FieldError::invalid(
                            &p,
                            secs,
                            &format!("must be non-negative and less than terminationGracePeriodSeconds ({g})"),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if num == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    errs
}

/// Upstream's `ValidatePortNumOrName` for an IntOrString port.
pub(crate) fn validate_port_num_or_name(port: Option<&Value>, path: &Path) -> Errs {
    match port {
        Some(Value::String(s)) => names::is_valid_port_name(s)
            .iter()
            .map(|m| FieldError::invalid(path, s.as_str(), m))
            .collect(),
        other => {
            let n = other.and_then(as_int).unwrap_or(0);
            names::is_valid_port_num(n)
                .iter()
                .map(|m| FieldError::invalid(path, n, m))
                .collect()
        }
    }
}

// ---------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------

const STANDARD_CONTAINER_RESOURCES: &[&str] = &["cpu", "memory", "ephemeral-storage"];
const STANDARD_QUOTA_RESOURCES: &[&str] = &[
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "services.nodeports",
    "services.loadbalancers",
];

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_hugepages(name)
}

fn validate_container_resource_name(name: &str, path: &Path) -> Errs {
    let mut errs: Errs = names::is_qualified_name(name)
        .iter()
        .map(|m| FieldError::invalid(path, name, m))
        .collect();
    if !errs.is_empty() {
        return errs;
    }
    let standard_container = STANDARD_CONTAINER_RESOURCES.contains(&name) || is_hugepages(name);
    if !name.contains('/') {
        if !standard_container && !STANDARD_QUOTA_RESOURCES.contains(&name) {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource type or fully qualified",
            ));
        }
        if !standard_container {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native(name) && name.starts_with("requests.") {
        errs.push(FieldError::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
    errs
}

/// Upstream's `ValidateContainerResourceRequirements` (requests must not exceed limits).
fn validate_resource_requirements(res: Option<&Value>, path: &Path) -> Errs {
    let mut errs = Vec::new();
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let limits = obj_of(res, "limits");
    let requests = obj_of(res, "requests");
    let (mut lim_cpu_mem, mut req_cpu_mem, mut lim_huge, mut req_huge) =
        (false, false, false, false);
    let mut parsed_limits = HashMap::new();
    for (name, v) in sorted_entries(limits) {
        let p = lim_path.key(name);
        errs.extend(validate_container_resource_name(name, &p));
        if let Some(q) = validate_quantity(v, &p, &mut errs) {
            parsed_limits.insert(name.as_str(), q);
        }
        lim_huge |= is_hugepages(name);
        lim_cpu_mem |= name == "cpu" || name == "memory";
    }
    for (name, v) in sorted_entries(requests) {
        let p = req_path.key(name);
        errs.extend(validate_container_resource_name(name, &p));
        let q = validate_quantity(v, &p, &mut errs);
        if limits.is_some_and(|l| l.contains_key(name.as_str())) {
            if let (Some(q), Some(l)) = (q, parsed_limits.get(name.as_str())) {
                let ord = q.cmp_value(l);
                if ord != std::cmp::Ordering::Equal && !is_overcommit_allowed(name) {
                    errs.push(FieldError::invalid(
                        &req_path,
                        q.canonical(),
                        &format!("must be equal to {name} limit of {}", l.canonical()),
                    ));
                } else if ord == std::cmp::Ordering::Greater {
                    errs.push(FieldError::invalid(
                        &req_path,
                        q.canonical(),
                        &format!(
                            "must be less than or equal to {name} limit of {}",
                            l.canonical()
                        ),
                    ));
                }
            }
        } else if !is_overcommit_allowed(name) {
            errs.push(FieldError::required(
                &lim_path,
                "Limit must be set for non overcommitable resources",
            ));
        }
        req_huge |= is_hugepages(name);
        req_cpu_mem |= name == "cpu" || name == "memory";
    }
    if !lim_cpu_mem && !req_cpu_mem && (req_huge || lim_huge) {
        errs.push(FieldError::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
    }
    errs
}

/// Parses a quantity, reporting unparsable and negative values.
pub(crate) fn validate_quantity(v: &Value, path: &Path, errs: &mut Errs) -> Option<Quantity> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    match Quantity::parse(&s) {
        None => {
            errs.push(FieldError::invalid(path, s, QUANTITY_FORMAT_ERR));
            None
        }
        Some(q) => {
            if q.is_negative() {
                errs.push(FieldError::invalid(path, q.canonical(), NONNEG));
            }
            Some(q)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": spec})
    }

    fn container(name: &str, image: &str) -> Value {
        json!({"name": name, "image": image, "imagePullPolicy": "IfNotPresent", "terminationMessagePolicy": "File", "terminationMessagePath": "/dev/termination-log"})
    }

    fn base_spec(containers: Vec<Value>) -> Value {
        json!({"containers": containers, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30})
    }

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn valid_pod_passes() {
        assert!(validate_pod(&pod(base_spec(vec![container("c", "nginx")])), None).is_empty());
    }

    #[test]
    fn containers_required_and_image_required() {
        let errs = validate_pod(&pod(base_spec(vec![])), None);
        assert_eq!(msgs(&errs), vec!["spec.containers: Required value"]);
        let errs = validate_pod(&pod(base_spec(vec![container("c", "")])), None);
        assert_eq!(
            msgs(&errs),
            vec!["spec.containers[0].image: Required value"]
        );
    }

    #[test]
    fn container_names() {
        let errs = validate_pod(
            &pod(base_spec(vec![container("c", "a"), container("c", "b")])),
            None,
        );
        assert_eq!(
            msgs(&errs),
            vec!["spec.containers[1].name: Duplicate value: \"c\""]
        );
        let errs = validate_pod(&pod(base_spec(vec![container("", "a")])), None);
        assert_eq!(msgs(&errs), vec!["spec.containers[0].name: Required value"]);
        let errs = validate_pod(&pod(base_spec(vec![container("Web", "a")])), None);
        assert_eq!(msgs(&errs), vec!["spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]);
    }

    #[test]
    fn ports_and_protocols() {
        let mut c = container("c", "a");
        c["ports"] = json!([{"containerPort": 0, "protocol": "TCP"}, {"containerPort": 70000, "protocol": "XTP"}]);
        let errs = validate_pod(&pod(base_spec(vec![c])), None);
        assert_eq!(
            msgs(&errs),
            vec![
                "spec.containers[0].ports[0].containerPort: Required value",
                "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[1].protocol: Unsupported value: \"XTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ]
        );
    }

    #[test]
    fn policies() {
        let mut spec = base_spec(vec![container("c", "a")]);
        spec["restartPolicy"] = json!("Sometimes");
        spec["dnsPolicy"] = json!("Bogus");
        let errs = validate_pod(&pod(spec), None);
        assert_eq!(
            msgs(&errs),
            vec![
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                "spec.dnsPolicy: Unsupported value: \"Bogus\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
            ]
        );
    }

    #[test]
    fn volumes_and_mounts() {
        let mut c = container("c", "a");
        c["volumeMounts"] = json!([{"name": "x", "mountPath": "/x"}]);
        let mut spec = base_spec(vec![c]);
        spec["volumes"] = json!([{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]);
        let errs = validate_pod(&pod(spec), None);
        assert_eq!(
            msgs(&errs),
            vec![
                "spec.volumes[1].name: Duplicate value: \"v\"",
                "spec.containers[0].volumeMounts[0].name: Not found: \"x\""
            ]
        );
    }

    #[test]
    fn env_names_and_resources() {
        let mut c = container("c", "a");
        c["env"] = json!([{"name": ""}, {"name": "A=B", "value": "x"}]);
        c["resources"] = json!({"limits": {"cpu": "1"}, "requests": {"cpu": "2"}});
        let errs = validate_pod(&pod(base_spec(vec![c])), None);
        assert_eq!(
            msgs(&errs),
            vec![
                "spec.containers[0].env[0].name: Required value",
                "spec.containers[0].env[1].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            ]
        );
    }

    #[test]
    fn pod_update_rules() {
        let old = pod(base_spec(vec![container("c", "nginx:1")]));
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("nginx:2");
        assert!(validate_pod(&new, Some(&old)).is_empty());
        new["spec"]["restartPolicy"] = json!("Never");
        assert_eq!(
            msgs(&validate_pod(&new, Some(&old))),
            vec!["spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"]
        );
        let mut more = old.clone();
        more["spec"]["containers"] = json!([container("c", "nginx:1"), container("d", "x")]);
        assert_eq!(
            msgs(&validate_pod(&more, Some(&old))),
            vec!["spec.containers: Forbidden: pod updates may not add or remove containers"]
        );
        let mut tol = old.clone();
        tol["spec"]["tolerations"] =
            json!([{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]);
        assert!(validate_pod(&tol, Some(&old)).is_empty());
    }
}
