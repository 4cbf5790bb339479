//! What upstream's OpenAPI generator (kube-openapi) reads from the Go types of k8s.io/api and
//! k8s.io/apimachinery (v0.33, Kubernetes 1.33) beyond the field docs, for the definitions
//! `schemas.rs` builds: the `+listType`, `+listMapKey`, `+mapType`/`+structType`, `+union`
//! and `+default` comment markers and the `patchStrategy`/`patchMergeKey` struct tags of
//! each field, the values (and their docs) of the `+enum` types fields have, and
//! `required` where kube-openapi's rule (no `omitempty` and no `+optional`)
//! gives other fields, or another order, than k8s-openapi's schema (which marks `metadata`
//! required on every kind and relaxes a few fields). Also the docs of the `<Kind>List` types,
//! which k8s-openapi folds into one generic `List`.
//!
//! Transcribed from those Go sources, not from upstream's swagger.json. Definitions without
//! any of these are absent. Sorted by name.

/// The markers of one field (for a list, of the list itself).
#[derive(Debug, Clone, Copy)]
pub struct FieldMarkers {
    /// `x-kubernetes-list-type`: "atomic", "set" or "map".
    pub list_type: Option<&'static str>,
    /// `x-kubernetes-list-map-keys`.
    pub list_map_keys: &'static [&'static str],
    /// `x-kubernetes-map-type`: "atomic" or "granular".
    pub map_type: Option<&'static str>,
    /// `x-kubernetes-patch-strategy`: "merge", "retainKeys", "merge,retainKeys".
    pub patch_strategy: Option<&'static str>,
    /// `x-kubernetes-patch-merge-key`.
    pub patch_merge_key: Option<&'static str>,
    /// `default`, as JSON.
    pub default: Option<&'static str>,
    /// The field's `+enum` type (in [`enum_values`]): `enum` and the description's
    /// "Possible enum values" (a live server's, with the OpenAPIEnums feature on).
    pub enum_type: Option<&'static str>,
}

const NONE: FieldMarkers = FieldMarkers {
    list_type: None,
    list_map_keys: &[],
    map_type: None,
    patch_strategy: None,
    patch_merge_key: None,
    default: None,
    enum_type: None,
};

/// An `+enum` type: its values and kube-openapi's description line of each (both sorted).
#[derive(Debug)]
pub struct EnumValues {
    pub values: &'static [&'static str],
    pub lines: &'static [&'static str],
}

/// The markers of one definition.
#[derive(Debug)]
pub struct TypeMarkers {
    /// `required`, when it differs from k8s-openapi's (empty: none).
    pub required: Option<&'static [&'static str]>,
    /// `x-kubernetes-map-type` of the type itself (`+structType=atomic`).
    pub map_type: Option<&'static str>,
    /// `x-kubernetes-unions`: the discriminator and each member's JSON and Go names.
    pub union: Option<(&'static str, &'static [(&'static str, &'static str)])>,
    pub fields: &'static [(&'static str, FieldMarkers)],
}

/// The docs of a list kind: of the type, its `items` and its `metadata` ("" for none).
#[derive(Debug)]
pub struct ListDocs {
    pub description: &'static str,
    pub items: &'static str,
    pub metadata: &'static str,
}

/// The markers of a definition, by upstream name.
pub fn type_markers(name: &str) -> Option<&'static TypeMarkers> {
    TYPES
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| &TYPES[i].1)
}

/// The values of an `+enum` type, by Go package path and name (`api/core/v1.PullPolicy`).
pub fn enum_values(name: &str) -> Option<&'static EnumValues> {
    ENUMS
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| &ENUMS[i].1)
}

/// The docs of a list kind, by upstream name (`io.k8s.api.core.v1.PodList`).
pub fn list_docs(name: &str) -> Option<&'static ListDocs> {
    LISTS
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| &LISTS[i].1)
}

#[rustfmt::skip]
static TYPES: &[(&str, TypeMarkers)] = &[
    ("io.k8s.api.apps.v1.ControllerRevision", TypeMarkers { required: Some(&["revision"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.apps.v1.DaemonSet", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.apps.v1.DaemonSetCondition", TypeMarkers { required: Some(&["type", "status"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.apps.v1.DaemonSetStatus", TypeMarkers { required: Some(&["currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"]), map_type: None, union: None, fields: &[
        ("conditions", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
    ] }),
    ("io.k8s.api.apps.v1.DaemonSetUpdateStrategy", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("type", FieldMarkers { enum_type: Some("api/apps/v1.DaemonSetUpdateStrategyType"), ..NONE }),
    ] }),
    ("io.k8s.api.apps.v1.Deployment", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.apps.v1.DeploymentCondition", TypeMarkers { required: Some(&["type", "status"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.apps.v1.DeploymentSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("strategy", FieldMarkers { patch_strategy: Some("retainKeys"), ..NONE }),
    ] }),
    ("io.k8s.api.apps.v1.DeploymentStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("conditions", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
    ] }),
    ("io.k8s.api.apps.v1.DeploymentStrategy", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("type", FieldMarkers { enum_type: Some("api/apps/v1.DeploymentStrategyType"), ..NONE }),
    ] }),
    ("io.k8s.api.apps.v1.ReplicaSet", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.apps.v1.ReplicaSetCondition", TypeMarkers { required: Some(&["type", "status"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.apps.v1.ReplicaSetStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("conditions", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
    ] }),
    ("io.k8s.api.apps.v1.StatefulSet", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.apps.v1.StatefulSetCondition", TypeMarkers { required: Some(&["type", "status"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.apps.v1.StatefulSetSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("volumeClaimTemplates", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("podManagementPolicy", FieldMarkers { enum_type: Some("api/apps/v1.PodManagementPolicyType"), ..NONE }),
    ] }),
    ("io.k8s.api.apps.v1.StatefulSetStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("conditions", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
    ] }),
    ("io.k8s.api.apps.v1.StatefulSetUpdateStrategy", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("type", FieldMarkers { enum_type: Some("api/apps/v1.StatefulSetUpdateStrategyType"), ..NONE }),
    ] }),
    ("io.k8s.api.authentication.v1.TokenRequest", TypeMarkers { required: Some(&["spec"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.authentication.v1.TokenRequestSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("audiences", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.authentication.v1.TokenRequestStatus", TypeMarkers { required: Some(&["token", "expirationTimestamp"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.autoscaling.v1.CrossVersionObjectReference", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[] }),
    ("io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec", TypeMarkers { required: Some(&["scaleTargetRef", "maxReplicas"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.autoscaling.v1.Scale", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.autoscaling.v2.ContainerResourceMetricSource", TypeMarkers { required: Some(&["name", "target", "container"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.autoscaling.v2.ContainerResourceMetricStatus", TypeMarkers { required: Some(&["name", "current", "container"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.autoscaling.v2.ExternalMetricStatus", TypeMarkers { required: Some(&["metric", "current"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.autoscaling.v2.HPAScalingPolicy", TypeMarkers { required: Some(&["type", "value", "periodSeconds"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.autoscaling.v2.HPAScalingRules", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("policies", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerCondition", TypeMarkers { required: Some(&["type", "status"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec", TypeMarkers { required: Some(&["scaleTargetRef", "maxReplicas"]), map_type: None, union: None, fields: &[
        ("metrics", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("currentMetrics", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("conditions", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
    ] }),
    ("io.k8s.api.autoscaling.v2.ObjectMetricSource", TypeMarkers { required: Some(&["describedObject", "target", "metric"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.autoscaling.v2.ObjectMetricStatus", TypeMarkers { required: Some(&["metric", "current", "describedObject"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.autoscaling.v2.PodsMetricStatus", TypeMarkers { required: Some(&["metric", "current"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.autoscaling.v2.ResourceMetricStatus", TypeMarkers { required: Some(&["name", "current"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.batch.v1.CronJob", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.batch.v1.CronJobSpec", TypeMarkers { required: Some(&["schedule", "jobTemplate"]), map_type: None, union: None, fields: &[
        ("concurrencyPolicy", FieldMarkers { enum_type: Some("api/batch/v1.ConcurrencyPolicy"), ..NONE }),
    ] }),
    ("io.k8s.api.batch.v1.CronJobStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("active", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.batch.v1.Job", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.batch.v1.JobCondition", TypeMarkers { required: Some(&["type", "status"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.batch.v1.JobSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("completionMode", FieldMarkers { enum_type: Some("api/batch/v1.CompletionMode"), ..NONE }),
        ("podReplacementPolicy", FieldMarkers { enum_type: Some("api/batch/v1.PodReplacementPolicy"), ..NONE }),
    ] }),
    ("io.k8s.api.batch.v1.JobStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("conditions", FieldMarkers { list_type: Some("atomic"), patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
    ] }),
    ("io.k8s.api.batch.v1.PodFailurePolicy", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("rules", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("operator", FieldMarkers { enum_type: Some("api/batch/v1.PodFailurePolicyOnExitCodesOperator"), ..NONE }),
        ("values", FieldMarkers { list_type: Some("set"), ..NONE }),
    ] }),
    ("io.k8s.api.batch.v1.PodFailurePolicyOnPodConditionsPattern", TypeMarkers { required: Some(&["type", "status"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.batch.v1.PodFailurePolicyRule", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("action", FieldMarkers { enum_type: Some("api/batch/v1.PodFailurePolicyAction"), ..NONE }),
        ("onPodConditions", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.batch.v1.SuccessPolicy", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("rules", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.batch.v1.UncountedTerminatedPods", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("succeeded", FieldMarkers { list_type: Some("set"), ..NONE }),
        ("failed", FieldMarkers { list_type: Some("set"), ..NONE }),
    ] }),
    ("io.k8s.api.certificates.v1.CertificateSigningRequest", TypeMarkers { required: Some(&["spec"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.certificates.v1.CertificateSigningRequestCondition", TypeMarkers { required: Some(&["type", "status"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.certificates.v1.CertificateSigningRequestSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("request", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("usages", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("groups", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.certificates.v1.CertificateSigningRequestStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("conditions", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], ..NONE }),
        ("certificate", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.coordination.v1.Lease", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.AppArmorProfile", TypeMarkers { required: None, map_type: None, union: Some(("type", &[("localhostProfile", "LocalhostProfile")])), fields: &[
        ("type", FieldMarkers { enum_type: Some("api/core/v1.AppArmorProfileType"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.AttachedVolume", TypeMarkers { required: Some(&["name", "devicePath"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.AzureDiskVolumeSource", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("cachingMode", FieldMarkers { default: Some("\"ReadWrite\""), enum_type: Some("api/core/v1.AzureDataDiskCachingMode"), ..NONE }),
        ("fsType", FieldMarkers { default: Some("\"ext4\""), ..NONE }),
        ("readOnly", FieldMarkers { default: Some("false"), ..NONE }),
        ("kind", FieldMarkers { default: Some("\"Shared\""), enum_type: Some("api/core/v1.AzureDataDiskKind"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.Binding", TypeMarkers { required: Some(&["target"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.Capabilities", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("add", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("drop", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.CephFSPersistentVolumeSource", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("monitors", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.CephFSVolumeSource", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("monitors", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ComponentCondition", TypeMarkers { required: Some(&["type", "status"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.ComponentStatus", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[
        ("conditions", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ConfigMap", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.ConfigMapEnvSource", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[
        ("name", FieldMarkers { default: Some("\"\""), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ConfigMapKeySelector", TypeMarkers { required: Some(&["key"]), map_type: Some("atomic"), union: None, fields: &[
        ("name", FieldMarkers { default: Some("\"\""), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ConfigMapNodeConfigSource", TypeMarkers { required: Some(&["namespace", "name", "kubeletConfigKey"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.ConfigMapProjection", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[
        ("name", FieldMarkers { default: Some("\"\""), ..NONE }),
        ("items", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ConfigMapVolumeSource", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[
        ("name", FieldMarkers { default: Some("\"\""), ..NONE }),
        ("items", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.Container", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("command", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("args", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("ports", FieldMarkers { list_type: Some("map"), list_map_keys: &["containerPort", "protocol"], patch_strategy: Some("merge"), patch_merge_key: Some("containerPort"), ..NONE }),
        ("envFrom", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("env", FieldMarkers { list_type: Some("map"), list_map_keys: &["name"], patch_strategy: Some("merge"), patch_merge_key: Some("name"), ..NONE }),
        ("resizePolicy", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("volumeMounts", FieldMarkers { list_type: Some("map"), list_map_keys: &["mountPath"], patch_strategy: Some("merge"), patch_merge_key: Some("mountPath"), ..NONE }),
        ("volumeDevices", FieldMarkers { list_type: Some("map"), list_map_keys: &["devicePath"], patch_strategy: Some("merge"), patch_merge_key: Some("devicePath"), ..NONE }),
        ("terminationMessagePolicy", FieldMarkers { enum_type: Some("api/core/v1.TerminationMessagePolicy"), ..NONE }),
        ("imagePullPolicy", FieldMarkers { enum_type: Some("api/core/v1.PullPolicy"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ContainerImage", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("names", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ContainerPort", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("protocol", FieldMarkers { default: Some("\"TCP\""), enum_type: Some("api/core/v1.Protocol"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ContainerStatus", TypeMarkers { required: Some(&["name", "ready", "restartCount", "image", "imageID"]), map_type: None, union: None, fields: &[
        ("volumeMounts", FieldMarkers { list_type: Some("map"), list_map_keys: &["mountPath"], patch_strategy: Some("merge"), patch_merge_key: Some("mountPath"), ..NONE }),
        ("allocatedResourcesStatus", FieldMarkers { list_type: Some("map"), list_map_keys: &["name"], patch_strategy: Some("merge"), patch_merge_key: Some("name"), ..NONE }),
        ("stopSignal", FieldMarkers { enum_type: Some("api/core/v1.Signal"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.DownwardAPIProjection", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("items", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.DownwardAPIVolumeSource", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("items", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.EndpointAddress", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[] }),
    ("io.k8s.api.core.v1.EndpointPort", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[
        ("protocol", FieldMarkers { enum_type: Some("api/core/v1.Protocol"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.EndpointSubset", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("addresses", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("notReadyAddresses", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("ports", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.Endpoints", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[
        ("subsets", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.EphemeralContainer", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("command", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("args", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("ports", FieldMarkers { list_type: Some("map"), list_map_keys: &["containerPort", "protocol"], patch_strategy: Some("merge"), patch_merge_key: Some("containerPort"), ..NONE }),
        ("envFrom", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("env", FieldMarkers { list_type: Some("map"), list_map_keys: &["name"], patch_strategy: Some("merge"), patch_merge_key: Some("name"), ..NONE }),
        ("resizePolicy", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("volumeMounts", FieldMarkers { list_type: Some("map"), list_map_keys: &["mountPath"], patch_strategy: Some("merge"), patch_merge_key: Some("mountPath"), ..NONE }),
        ("volumeDevices", FieldMarkers { list_type: Some("map"), list_map_keys: &["devicePath"], patch_strategy: Some("merge"), patch_merge_key: Some("devicePath"), ..NONE }),
        ("terminationMessagePolicy", FieldMarkers { enum_type: Some("api/core/v1.TerminationMessagePolicy"), ..NONE }),
        ("imagePullPolicy", FieldMarkers { enum_type: Some("api/core/v1.PullPolicy"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.Event", TypeMarkers { required: Some(&["metadata", "involvedObject"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.ExecAction", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("command", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.FCVolumeSource", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("targetWWNs", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("wwids", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.GRPCAction", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("service", FieldMarkers { default: Some("\"\""), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.HTTPGetAction", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("scheme", FieldMarkers { enum_type: Some("api/core/v1.URIScheme"), ..NONE }),
        ("httpHeaders", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.HostAlias", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("hostnames", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.HostPathVolumeSource", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("type", FieldMarkers { enum_type: Some("api/core/v1.HostPathType"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ISCSIPersistentVolumeSource", TypeMarkers { required: Some(&["targetPortal", "iqn", "lun"]), map_type: None, union: None, fields: &[
        ("iscsiInterface", FieldMarkers { default: Some("\"default\""), ..NONE }),
        ("portals", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ISCSIVolumeSource", TypeMarkers { required: Some(&["targetPortal", "iqn", "lun"]), map_type: None, union: None, fields: &[
        ("iscsiInterface", FieldMarkers { default: Some("\"default\""), ..NONE }),
        ("portals", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ImageVolumeSource", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("pullPolicy", FieldMarkers { enum_type: Some("api/core/v1.PullPolicy"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.Lifecycle", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("stopSignal", FieldMarkers { enum_type: Some("api/core/v1.Signal"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.LimitRange", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.LimitRangeSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("limits", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.LinuxContainerUser", TypeMarkers { required: Some(&["uid", "gid"]), map_type: None, union: None, fields: &[
        ("supplementalGroups", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.LoadBalancerIngress", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("ports", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.LoadBalancerStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("ingress", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.LocalObjectReference", TypeMarkers { required: Some(&[]), map_type: Some("atomic"), union: None, fields: &[
        ("name", FieldMarkers { default: Some("\"\""), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ModifyVolumeStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("status", FieldMarkers { enum_type: Some("api/core/v1.PersistentVolumeClaimModifyVolumeStatus"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.NFSVolumeSource", TypeMarkers { required: Some(&["server", "path"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.Namespace", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.NamespaceCondition", TypeMarkers { required: Some(&["type", "status"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.NamespaceSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("finalizers", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.NamespaceStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("phase", FieldMarkers { enum_type: Some("api/core/v1.NamespacePhase"), ..NONE }),
        ("conditions", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.Node", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.NodeAddress", TypeMarkers { required: Some(&["type", "address"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.NodeAffinity", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("preferredDuringSchedulingIgnoredDuringExecution", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.NodeCondition", TypeMarkers { required: Some(&["type", "status"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.NodeSelector", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[
        ("nodeSelectorTerms", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.NodeSelectorRequirement", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("operator", FieldMarkers { enum_type: Some("api/core/v1.NodeSelectorOperator"), ..NONE }),
        ("values", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.NodeSelectorTerm", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[
        ("matchExpressions", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("matchFields", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.NodeSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("podCIDRs", FieldMarkers { list_type: Some("set"), patch_strategy: Some("merge"), ..NONE }),
        ("taints", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.NodeStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("phase", FieldMarkers { enum_type: Some("api/core/v1.NodePhase"), ..NONE }),
        ("conditions", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
        ("addresses", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
        ("images", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("volumesInUse", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("volumesAttached", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("runtimeHandlers", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.NodeSystemInfo", TypeMarkers { required: Some(&["machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion", "kubeletVersion", "kubeProxyVersion", "operatingSystem", "architecture"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.ObjectFieldSelector", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[] }),
    ("io.k8s.api.core.v1.ObjectReference", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[] }),
    ("io.k8s.api.core.v1.PersistentVolume", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.PersistentVolumeClaim", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.PersistentVolumeClaimCondition", TypeMarkers { required: Some(&["type", "status"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("accessModes", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("volumeMode", FieldMarkers { enum_type: Some("api/core/v1.PersistentVolumeMode"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("phase", FieldMarkers { enum_type: Some("api/core/v1.PersistentVolumeClaimPhase"), ..NONE }),
        ("accessModes", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("conditions", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
        ("allocatedResourceStatuses", FieldMarkers { map_type: Some("granular"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("accessModes", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("claimRef", FieldMarkers { map_type: Some("granular"), ..NONE }),
        ("persistentVolumeReclaimPolicy", FieldMarkers { enum_type: Some("api/core/v1.PersistentVolumeReclaimPolicy"), ..NONE }),
        ("mountOptions", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("volumeMode", FieldMarkers { enum_type: Some("api/core/v1.PersistentVolumeMode"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.PersistentVolumeStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("phase", FieldMarkers { enum_type: Some("api/core/v1.PersistentVolumePhase"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.Pod", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.PodAffinity", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("requiredDuringSchedulingIgnoredDuringExecution", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("preferredDuringSchedulingIgnoredDuringExecution", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.PodAffinityTerm", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("namespaces", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("matchLabelKeys", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("mismatchLabelKeys", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.PodAntiAffinity", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("requiredDuringSchedulingIgnoredDuringExecution", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("preferredDuringSchedulingIgnoredDuringExecution", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.PodCondition", TypeMarkers { required: Some(&["type", "status"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.PodDNSConfig", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("nameservers", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("searches", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("options", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.PodSecurityContext", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("supplementalGroups", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("supplementalGroupsPolicy", FieldMarkers { enum_type: Some("api/core/v1.SupplementalGroupsPolicy"), ..NONE }),
        ("sysctls", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("fsGroupChangePolicy", FieldMarkers { enum_type: Some("api/core/v1.PodFSGroupChangePolicy"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.PodSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("volumes", FieldMarkers { list_type: Some("map"), list_map_keys: &["name"], patch_strategy: Some("merge,retainKeys"), patch_merge_key: Some("name"), ..NONE }),
        ("initContainers", FieldMarkers { list_type: Some("map"), list_map_keys: &["name"], patch_strategy: Some("merge"), patch_merge_key: Some("name"), ..NONE }),
        ("containers", FieldMarkers { list_type: Some("map"), list_map_keys: &["name"], patch_strategy: Some("merge"), patch_merge_key: Some("name"), ..NONE }),
        ("ephemeralContainers", FieldMarkers { list_type: Some("map"), list_map_keys: &["name"], patch_strategy: Some("merge"), patch_merge_key: Some("name"), ..NONE }),
        ("restartPolicy", FieldMarkers { enum_type: Some("api/core/v1.RestartPolicy"), ..NONE }),
        ("dnsPolicy", FieldMarkers { enum_type: Some("api/core/v1.DNSPolicy"), ..NONE }),
        ("nodeSelector", FieldMarkers { map_type: Some("atomic"), ..NONE }),
        ("imagePullSecrets", FieldMarkers { list_type: Some("map"), list_map_keys: &["name"], patch_strategy: Some("merge"), patch_merge_key: Some("name"), ..NONE }),
        ("tolerations", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("hostAliases", FieldMarkers { list_type: Some("map"), list_map_keys: &["ip"], patch_strategy: Some("merge"), patch_merge_key: Some("ip"), ..NONE }),
        ("readinessGates", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("preemptionPolicy", FieldMarkers { enum_type: Some("api/core/v1.PreemptionPolicy"), ..NONE }),
        ("topologySpreadConstraints", FieldMarkers { list_type: Some("map"), list_map_keys: &["topologyKey", "whenUnsatisfiable"], patch_strategy: Some("merge"), patch_merge_key: Some("topologyKey"), ..NONE }),
        ("schedulingGates", FieldMarkers { list_type: Some("map"), list_map_keys: &["name"], patch_strategy: Some("merge"), patch_merge_key: Some("name"), ..NONE }),
        ("resourceClaims", FieldMarkers { list_type: Some("map"), list_map_keys: &["name"], patch_strategy: Some("merge,retainKeys"), patch_merge_key: Some("name"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.PodStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("phase", FieldMarkers { enum_type: Some("api/core/v1.PodPhase"), ..NONE }),
        ("conditions", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
        ("hostIPs", FieldMarkers { list_type: Some("atomic"), patch_strategy: Some("merge"), patch_merge_key: Some("ip"), ..NONE }),
        ("podIPs", FieldMarkers { list_type: Some("map"), list_map_keys: &["ip"], patch_strategy: Some("merge"), patch_merge_key: Some("ip"), ..NONE }),
        ("initContainerStatuses", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("containerStatuses", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("qosClass", FieldMarkers { enum_type: Some("api/core/v1.PodQOSClass"), ..NONE }),
        ("ephemeralContainerStatuses", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("resourceClaimStatuses", FieldMarkers { list_type: Some("map"), list_map_keys: &["name"], patch_strategy: Some("merge,retainKeys"), patch_merge_key: Some("name"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.PodTemplate", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.PortStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("protocol", FieldMarkers { enum_type: Some("api/core/v1.Protocol"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.PreferredSchedulingTerm", TypeMarkers { required: Some(&["weight", "preference"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.ProjectedVolumeSource", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("sources", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.RBDPersistentVolumeSource", TypeMarkers { required: Some(&["monitors", "image"]), map_type: None, union: None, fields: &[
        ("monitors", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("pool", FieldMarkers { default: Some("\"rbd\""), ..NONE }),
        ("user", FieldMarkers { default: Some("\"admin\""), ..NONE }),
        ("keyring", FieldMarkers { default: Some("\"/etc/ceph/keyring\""), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.RBDVolumeSource", TypeMarkers { required: Some(&["monitors", "image"]), map_type: None, union: None, fields: &[
        ("monitors", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("pool", FieldMarkers { default: Some("\"rbd\""), ..NONE }),
        ("user", FieldMarkers { default: Some("\"admin\""), ..NONE }),
        ("keyring", FieldMarkers { default: Some("\"/etc/ceph/keyring\""), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ReplicationController", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.ReplicationControllerCondition", TypeMarkers { required: Some(&["type", "status"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.ReplicationControllerSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("replicas", FieldMarkers { default: Some("1"), ..NONE }),
        ("minReadySeconds", FieldMarkers { default: Some("0"), ..NONE }),
        ("selector", FieldMarkers { map_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ReplicationControllerStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("conditions", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ResourceFieldSelector", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[] }),
    ("io.k8s.api.core.v1.ResourceQuota", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.ResourceQuotaSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("scopes", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ResourceRequirements", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("claims", FieldMarkers { list_type: Some("map"), list_map_keys: &["name"], ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ResourceStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("resources", FieldMarkers { list_type: Some("map"), list_map_keys: &["resourceID"], ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ScaleIOPersistentVolumeSource", TypeMarkers { required: Some(&["gateway", "system", "secretRef"]), map_type: None, union: None, fields: &[
        ("storageMode", FieldMarkers { default: Some("\"ThinProvisioned\""), ..NONE }),
        ("fsType", FieldMarkers { default: Some("\"xfs\""), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ScaleIOVolumeSource", TypeMarkers { required: Some(&["gateway", "system", "secretRef"]), map_type: None, union: None, fields: &[
        ("storageMode", FieldMarkers { default: Some("\"ThinProvisioned\""), ..NONE }),
        ("fsType", FieldMarkers { default: Some("\"xfs\""), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ScopeSelector", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[
        ("matchExpressions", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ScopedResourceSelectorRequirement", TypeMarkers { required: Some(&["scopeName", "operator"]), map_type: None, union: None, fields: &[
        ("scopeName", FieldMarkers { enum_type: Some("api/core/v1.ResourceQuotaScope"), ..NONE }),
        ("operator", FieldMarkers { enum_type: Some("api/core/v1.ScopeSelectorOperator"), ..NONE }),
        ("values", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.SeccompProfile", TypeMarkers { required: None, map_type: None, union: Some(("type", &[("localhostProfile", "LocalhostProfile")])), fields: &[
        ("type", FieldMarkers { enum_type: Some("api/core/v1.SeccompProfileType"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.Secret", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.SecretEnvSource", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[
        ("name", FieldMarkers { default: Some("\"\""), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.SecretKeySelector", TypeMarkers { required: Some(&["key"]), map_type: Some("atomic"), union: None, fields: &[
        ("name", FieldMarkers { default: Some("\"\""), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.SecretProjection", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[
        ("name", FieldMarkers { default: Some("\"\""), ..NONE }),
        ("items", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.SecretReference", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[] }),
    ("io.k8s.api.core.v1.SecretVolumeSource", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("items", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.SecurityContext", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("procMount", FieldMarkers { enum_type: Some("api/core/v1.ProcMountType"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.Service", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.ServiceAccount", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[
        ("secrets", FieldMarkers { list_type: Some("map"), list_map_keys: &["name"], patch_strategy: Some("merge"), patch_merge_key: Some("name"), ..NONE }),
        ("imagePullSecrets", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ServicePort", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("protocol", FieldMarkers { default: Some("\"TCP\""), enum_type: Some("api/core/v1.Protocol"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ServiceSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("ports", FieldMarkers { list_type: Some("map"), list_map_keys: &["port", "protocol"], patch_strategy: Some("merge"), patch_merge_key: Some("port"), ..NONE }),
        ("selector", FieldMarkers { map_type: Some("atomic"), ..NONE }),
        ("clusterIPs", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("type", FieldMarkers { enum_type: Some("api/core/v1.ServiceType"), ..NONE }),
        ("externalIPs", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("sessionAffinity", FieldMarkers { enum_type: Some("api/core/v1.ServiceAffinity"), ..NONE }),
        ("loadBalancerSourceRanges", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("externalTrafficPolicy", FieldMarkers { enum_type: Some("api/core/v1.ServiceExternalTrafficPolicy"), ..NONE }),
        ("ipFamilies", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("ipFamilyPolicy", FieldMarkers { enum_type: Some("api/core/v1.IPFamilyPolicy"), ..NONE }),
        ("internalTrafficPolicy", FieldMarkers { enum_type: Some("api/core/v1.ServiceInternalTrafficPolicy"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.ServiceStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("conditions", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.Taint", TypeMarkers { required: Some(&["key", "effect"]), map_type: None, union: None, fields: &[
        ("effect", FieldMarkers { enum_type: Some("api/core/v1.TaintEffect"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.Toleration", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("operator", FieldMarkers { enum_type: Some("api/core/v1.TolerationOperator"), ..NONE }),
        ("effect", FieldMarkers { enum_type: Some("api/core/v1.TaintEffect"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.TopologySelectorLabelRequirement", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("values", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.TopologySelectorTerm", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[
        ("matchLabelExpressions", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.TopologySpreadConstraint", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("whenUnsatisfiable", FieldMarkers { enum_type: Some("api/core/v1.UnsatisfiableConstraintAction"), ..NONE }),
        ("nodeAffinityPolicy", FieldMarkers { enum_type: Some("api/core/v1.NodeInclusionPolicy"), ..NONE }),
        ("nodeTaintsPolicy", FieldMarkers { enum_type: Some("api/core/v1.NodeInclusionPolicy"), ..NONE }),
        ("matchLabelKeys", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.TypedLocalObjectReference", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[] }),
    ("io.k8s.api.core.v1.VolumeDevice", TypeMarkers { required: Some(&["name", "devicePath"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.VolumeMount", TypeMarkers { required: Some(&["name", "mountPath"]), map_type: None, union: None, fields: &[
        ("mountPropagation", FieldMarkers { enum_type: Some("api/core/v1.MountPropagationMode"), ..NONE }),
    ] }),
    ("io.k8s.api.core.v1.VolumeMountStatus", TypeMarkers { required: Some(&["name", "mountPath"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.core.v1.WeightedPodAffinityTerm", TypeMarkers { required: Some(&["weight", "podAffinityTerm"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.discovery.v1.Endpoint", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("addresses", FieldMarkers { list_type: Some("set"), ..NONE }),
    ] }),
    ("io.k8s.api.discovery.v1.EndpointHints", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("forZones", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("forNodes", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.discovery.v1.EndpointPort", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[
        ("protocol", FieldMarkers { enum_type: Some("api/core/v1.Protocol"), ..NONE }),
    ] }),
    ("io.k8s.api.discovery.v1.EndpointSlice", TypeMarkers { required: Some(&["addressType", "endpoints"]), map_type: None, union: None, fields: &[
        ("endpoints", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("ports", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.events.v1.Event", TypeMarkers { required: Some(&["eventTime"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.networking.v1.HTTPIngressPath", TypeMarkers { required: Some(&["pathType", "backend"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.networking.v1.HTTPIngressRuleValue", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("paths", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.networking.v1.IPBlock", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("except", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.networking.v1.Ingress", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.networking.v1.IngressClass", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.networking.v1.IngressLoadBalancerIngress", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("ports", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.networking.v1.IngressLoadBalancerStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("ingress", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.networking.v1.IngressPortStatus", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("protocol", FieldMarkers { enum_type: Some("api/core/v1.Protocol"), ..NONE }),
    ] }),
    ("io.k8s.api.networking.v1.IngressSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("tls", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("rules", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.networking.v1.IngressTLS", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("hosts", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.networking.v1.NetworkPolicy", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.networking.v1.NetworkPolicyEgressRule", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("ports", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("to", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.networking.v1.NetworkPolicyIngressRule", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("ports", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("from", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.networking.v1.NetworkPolicyPort", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("protocol", FieldMarkers { enum_type: Some("api/core/v1.Protocol"), ..NONE }),
    ] }),
    ("io.k8s.api.networking.v1.NetworkPolicySpec", TypeMarkers { required: Some(&["podSelector"]), map_type: None, union: None, fields: &[
        ("ingress", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("egress", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("policyTypes", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.networking.v1.ServiceBackendPort", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[] }),
    ("io.k8s.api.node.v1.RuntimeClass", TypeMarkers { required: Some(&["handler"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.node.v1.Scheduling", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("nodeSelector", FieldMarkers { map_type: Some("atomic"), ..NONE }),
        ("tolerations", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.policy.v1.Eviction", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.policy.v1.PodDisruptionBudget", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("selector", FieldMarkers { patch_strategy: Some("replace"), ..NONE }),
        ("unhealthyPodEvictionPolicy", FieldMarkers { enum_type: Some("api/policy/v1.UnhealthyPodEvictionPolicyType"), ..NONE }),
    ] }),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetStatus", TypeMarkers { required: Some(&["disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"]), map_type: None, union: None, fields: &[
        ("conditions", FieldMarkers { list_type: Some("map"), list_map_keys: &["type"], patch_strategy: Some("merge"), patch_merge_key: Some("type"), ..NONE }),
    ] }),
    ("io.k8s.api.rbac.v1.AggregationRule", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("clusterRoleSelectors", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.rbac.v1.ClusterRole", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[
        ("rules", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.rbac.v1.ClusterRoleBinding", TypeMarkers { required: Some(&["roleRef"]), map_type: None, union: None, fields: &[
        ("subjects", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.rbac.v1.PolicyRule", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("verbs", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("apiGroups", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("resources", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("resourceNames", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("nonResourceURLs", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.rbac.v1.Role", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[
        ("rules", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.rbac.v1.RoleBinding", TypeMarkers { required: Some(&["roleRef"]), map_type: None, union: None, fields: &[
        ("subjects", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.rbac.v1.RoleRef", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[] }),
    ("io.k8s.api.rbac.v1.Subject", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[] }),
    ("io.k8s.api.scheduling.v1.PriorityClass", TypeMarkers { required: Some(&["value"]), map_type: None, union: None, fields: &[
        ("preemptionPolicy", FieldMarkers { enum_type: Some("api/core/v1.PreemptionPolicy"), ..NONE }),
    ] }),
    ("io.k8s.api.storage.v1.CSIDriver", TypeMarkers { required: Some(&["spec"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.storage.v1.CSIDriverSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("volumeLifecycleModes", FieldMarkers { list_type: Some("set"), ..NONE }),
        ("tokenRequests", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.storage.v1.CSINode", TypeMarkers { required: Some(&["spec"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.storage.v1.CSINodeDriver", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("topologyKeys", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.storage.v1.CSINodeSpec", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("drivers", FieldMarkers { list_type: Some("map"), list_map_keys: &["name"], patch_strategy: Some("merge"), patch_merge_key: Some("name"), ..NONE }),
    ] }),
    ("io.k8s.api.storage.v1.CSIStorageCapacity", TypeMarkers { required: Some(&["storageClassName"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.storage.v1.StorageClass", TypeMarkers { required: Some(&["provisioner"]), map_type: None, union: None, fields: &[
        ("reclaimPolicy", FieldMarkers { enum_type: Some("api/core/v1.PersistentVolumeReclaimPolicy"), ..NONE }),
        ("mountOptions", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("volumeBindingMode", FieldMarkers { enum_type: Some("api/storage/v1.VolumeBindingMode"), ..NONE }),
        ("allowedTopologies", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.api.storage.v1.VolumeAttachment", TypeMarkers { required: Some(&["spec"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.api.storage.v1.VolumeAttachmentSpec", TypeMarkers { required: Some(&["attacher", "source", "nodeName"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("versions", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("serverAddressByClientCIDRs", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("groups", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIResource", TypeMarkers { required: Some(&["name", "singularName", "namespaced", "kind", "verbs"]), map_type: None, union: None, fields: &[
        ("shortNames", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("categories", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("resources", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions", TypeMarkers { required: Some(&["versions", "serverAddressByClientCIDRs"]), map_type: None, union: None, fields: &[
        ("versions", FieldMarkers { list_type: Some("atomic"), ..NONE }),
        ("serverAddressByClientCIDRs", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Condition", TypeMarkers { required: Some(&["type", "status", "lastTransitionTime", "reason", "message"]), map_type: None, union: None, fields: &[] }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("dryRun", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[
        ("matchExpressions", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("values", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("ownerReferences", FieldMarkers { list_type: Some("map"), list_map_keys: &["uid"], patch_strategy: Some("merge"), patch_merge_key: Some("uid"), ..NONE }),
        ("finalizers", FieldMarkers { list_type: Some("set"), patch_strategy: Some("merge"), ..NONE }),
        ("managedFields", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference", TypeMarkers { required: None, map_type: Some("atomic"), union: None, fields: &[] }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Status", TypeMarkers { required: Some(&[]), map_type: None, union: None, fields: &[
        ("details", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails", TypeMarkers { required: None, map_type: None, union: None, fields: &[
        ("causes", FieldMarkers { list_type: Some("atomic"), ..NONE }),
    ] }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent", TypeMarkers { required: Some(&["type", "object"]), map_type: None, union: None, fields: &[] }),
];

#[rustfmt::skip]
static LISTS: &[(&str, ListDocs)] = &[
    ("io.k8s.api.apps.v1.ControllerRevisionList", ListDocs {
        description: "ControllerRevisionList is a resource containing a list of ControllerRevision objects.",
        items: "Items is the list of ControllerRevisions",
        metadata: "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.apps.v1.DaemonSetList", ListDocs {
        description: "DaemonSetList is a collection of daemon sets.",
        items: "A list of daemon sets.",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.apps.v1.DeploymentList", ListDocs {
        description: "DeploymentList is a list of Deployments.",
        items: "Items is the list of Deployments.",
        metadata: "Standard list metadata.",
    }),
    ("io.k8s.api.apps.v1.ReplicaSetList", ListDocs {
        description: "ReplicaSetList is a collection of ReplicaSets.",
        items: "List of ReplicaSets. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.apps.v1.StatefulSetList", ListDocs {
        description: "StatefulSetList is a collection of StatefulSets.",
        items: "Items is the list of stateful sets.",
        metadata: "Standard list's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerList", ListDocs {
        description: "list of horizontal pod autoscaler objects.",
        items: "items is the list of horizontal pod autoscaler objects.",
        metadata: "Standard list metadata.",
    }),
    ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerList", ListDocs {
        description: "HorizontalPodAutoscalerList is a list of horizontal pod autoscaler objects.",
        items: "items is the list of horizontal pod autoscaler objects.",
        metadata: "metadata is the standard list metadata.",
    }),
    ("io.k8s.api.batch.v1.CronJobList", ListDocs {
        description: "CronJobList is a collection of cron jobs.",
        items: "items is the list of CronJobs.",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.batch.v1.JobList", ListDocs {
        description: "JobList is a collection of jobs.",
        items: "items is the list of Jobs.",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.certificates.v1.CertificateSigningRequestList", ListDocs {
        description: "CertificateSigningRequestList is a collection of CertificateSigningRequest objects",
        items: "items is a collection of CertificateSigningRequest objects",
        metadata: "",
    }),
    ("io.k8s.api.coordination.v1.LeaseList", ListDocs {
        description: "LeaseList is a list of Lease objects.",
        items: "items is a list of schema objects.",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.core.v1.ComponentStatusList", ListDocs {
        description: "Status of all the conditions for the component as a list of ComponentStatus objects. Deprecated: This API is deprecated in v1.19+",
        items: "List of ComponentStatus objects.",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.core.v1.ConfigMapList", ListDocs {
        description: "ConfigMapList is a resource containing a list of ConfigMap objects.",
        items: "Items is the list of ConfigMaps.",
        metadata: "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.core.v1.EndpointsList", ListDocs {
        description: "EndpointsList is a list of endpoints. Deprecated: This API is deprecated in v1.33+.",
        items: "List of endpoints.",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.core.v1.EventList", ListDocs {
        description: "EventList is a list of events.",
        items: "List of events",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.core.v1.LimitRangeList", ListDocs {
        description: "LimitRangeList is a list of LimitRange items.",
        items: "Items is a list of LimitRange objects. More info: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.core.v1.NamespaceList", ListDocs {
        description: "NamespaceList is a list of Namespaces.",
        items: "Items is the list of Namespace objects in the list. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.core.v1.NodeList", ListDocs {
        description: "NodeList is the whole list of all Nodes which have been registered with master.",
        items: "List of nodes",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.core.v1.PersistentVolumeClaimList", ListDocs {
        description: "PersistentVolumeClaimList is a list of PersistentVolumeClaim items.",
        items: "items is a list of persistent volume claims. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#persistentvolumeclaims",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.core.v1.PersistentVolumeList", ListDocs {
        description: "PersistentVolumeList is a list of PersistentVolume items.",
        items: "items is a list of persistent volumes. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.core.v1.PodList", ListDocs {
        description: "PodList is a list of Pods.",
        items: "List of pods. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.core.v1.PodTemplateList", ListDocs {
        description: "PodTemplateList is a list of PodTemplates.",
        items: "List of pod templates",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.core.v1.ReplicationControllerList", ListDocs {
        description: "ReplicationControllerList is a collection of replication controllers.",
        items: "List of replication controllers. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.core.v1.ResourceQuotaList", ListDocs {
        description: "ResourceQuotaList is a list of ResourceQuota items.",
        items: "Items is a list of ResourceQuota objects. More info: https://kubernetes.io/docs/concepts/policy/resource-quotas/",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.core.v1.SecretList", ListDocs {
        description: "SecretList is a list of Secret.",
        items: "Items is a list of secret objects. More info: https://kubernetes.io/docs/concepts/configuration/secret",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.core.v1.ServiceAccountList", ListDocs {
        description: "ServiceAccountList is a list of ServiceAccount objects",
        items: "List of ServiceAccounts. More info: https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.core.v1.ServiceList", ListDocs {
        description: "ServiceList holds a list of services.",
        items: "List of services",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    }),
    ("io.k8s.api.discovery.v1.EndpointSliceList", ListDocs {
        description: "EndpointSliceList represents a list of endpoint slices",
        items: "items is the list of endpoint slices",
        metadata: "Standard list metadata.",
    }),
    ("io.k8s.api.events.v1.EventList", ListDocs {
        description: "EventList is a list of Event objects.",
        items: "items is a list of schema objects.",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.networking.v1.IngressClassList", ListDocs {
        description: "IngressClassList is a collection of IngressClasses.",
        items: "items is the list of IngressClasses.",
        metadata: "Standard list metadata.",
    }),
    ("io.k8s.api.networking.v1.IngressList", ListDocs {
        description: "IngressList is a collection of Ingress.",
        items: "items is the list of Ingress.",
        metadata: "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.networking.v1.NetworkPolicyList", ListDocs {
        description: "NetworkPolicyList is a list of NetworkPolicy objects.",
        items: "items is a list of schema objects.",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.node.v1.RuntimeClassList", ListDocs {
        description: "RuntimeClassList is a list of RuntimeClass objects.",
        items: "items is a list of schema objects.",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetList", ListDocs {
        description: "PodDisruptionBudgetList is a collection of PodDisruptionBudgets.",
        items: "Items is a list of PodDisruptionBudgets",
        metadata: "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.rbac.v1.ClusterRoleBindingList", ListDocs {
        description: "ClusterRoleBindingList is a collection of ClusterRoleBindings",
        items: "Items is a list of ClusterRoleBindings",
        metadata: "Standard object's metadata.",
    }),
    ("io.k8s.api.rbac.v1.ClusterRoleList", ListDocs {
        description: "ClusterRoleList is a collection of ClusterRoles",
        items: "Items is a list of ClusterRoles",
        metadata: "Standard object's metadata.",
    }),
    ("io.k8s.api.rbac.v1.RoleBindingList", ListDocs {
        description: "RoleBindingList is a collection of RoleBindings",
        items: "Items is a list of RoleBindings",
        metadata: "Standard object's metadata.",
    }),
    ("io.k8s.api.rbac.v1.RoleList", ListDocs {
        description: "RoleList is a collection of Roles",
        items: "Items is a list of Roles",
        metadata: "Standard object's metadata.",
    }),
    ("io.k8s.api.scheduling.v1.PriorityClassList", ListDocs {
        description: "PriorityClassList is a collection of priority classes.",
        items: "items is the list of PriorityClasses",
        metadata: "Standard list metadata More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.storage.v1.CSIDriverList", ListDocs {
        description: "CSIDriverList is a collection of CSIDriver objects.",
        items: "items is the list of CSIDriver",
        metadata: "Standard list metadata More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.storage.v1.CSINodeList", ListDocs {
        description: "CSINodeList is a collection of CSINode objects.",
        items: "items is the list of CSINode",
        metadata: "Standard list metadata More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.storage.v1.CSIStorageCapacityList", ListDocs {
        description: "CSIStorageCapacityList is a collection of CSIStorageCapacity objects.",
        items: "items is the list of CSIStorageCapacity objects.",
        metadata: "Standard list metadata More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.storage.v1.StorageClassList", ListDocs {
        description: "StorageClassList is a collection of storage classes.",
        items: "items is the list of StorageClasses",
        metadata: "Standard list metadata More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
    ("io.k8s.api.storage.v1.VolumeAttachmentList", ListDocs {
        description: "VolumeAttachmentList is a collection of VolumeAttachment objects.",
        items: "items is the list of VolumeAttachments",
        metadata: "Standard list metadata More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }),
];

#[rustfmt::skip]
static ENUMS: &[(&str, EnumValues)] = &[
    ("api/apps/v1.DaemonSetUpdateStrategyType", EnumValues {
        values: &["OnDelete", "RollingUpdate"],
        lines: &[
            " - `\"OnDelete\"` Replace the old daemons only when it's killed",
            " - `\"RollingUpdate\"` Replace the old daemons by new ones using rolling update i.e replace them on each node one after the other.",
        ],
    }),
    ("api/apps/v1.DeploymentStrategyType", EnumValues {
        values: &["Recreate", "RollingUpdate"],
        lines: &[
            " - `\"Recreate\"` Kill all existing pods before creating new ones.",
            " - `\"RollingUpdate\"` Replace the old ReplicaSets by new one using rolling update i.e gradually scale down the old ReplicaSets and scale up the new one.",
        ],
    }),
    ("api/apps/v1.PodManagementPolicyType", EnumValues {
        values: &["OrderedReady", "Parallel"],
        lines: &[
            " - `\"OrderedReady\"` will create pods in strictly increasing order on scale up and strictly decreasing order on scale down, progressing only when the previous pod is ready or terminated. At most one pod will be changed at any time.",
            " - `\"Parallel\"` will create and delete pods as soon as the stateful set replica count is changed, and will not wait for pods to be ready or complete termination.",
        ],
    }),
    ("api/apps/v1.StatefulSetUpdateStrategyType", EnumValues {
        values: &["OnDelete", "RollingUpdate"],
        lines: &[
            " - `\"OnDelete\"` triggers the legacy behavior. Version tracking and ordered rolling restarts are disabled. Pods are recreated from the StatefulSetSpec when they are manually deleted. When a scale operation is performed with this strategy,specification version indicated by the StatefulSet's currentRevision.",
            " - `\"RollingUpdate\"` indicates that update will be applied to all Pods in the StatefulSet with respect to the StatefulSet ordering constraints. When a scale operation is performed with this strategy, new Pods will be created from the specification version indicated by the StatefulSet's updateRevision.",
        ],
    }),
    ("api/batch/v1.CompletionMode", EnumValues {
        values: &["Indexed", "NonIndexed"],
        lines: &[
            " - `\"Indexed\"` is a Job completion mode. In this mode, the Pods of a Job get an associated completion index from 0 to (.spec.completions - 1). The Job is considered complete when a Pod completes for each completion index.",
            " - `\"NonIndexed\"` is a Job completion mode. In this mode, the Job is considered complete when there have been .spec.completions successfully completed Pods. Pod completions are homologous to each other.",
        ],
    }),
    ("api/batch/v1.ConcurrencyPolicy", EnumValues {
        values: &["Allow", "Forbid", "Replace"],
        lines: &[
            " - `\"Allow\"` allows CronJobs to run concurrently.",
            " - `\"Forbid\"` forbids concurrent runs, skipping next run if previous hasn't finished yet.",
            " - `\"Replace\"` cancels currently running job and replaces it with a new one.",
        ],
    }),
    ("api/batch/v1.PodFailurePolicyAction", EnumValues {
        values: &["Count", "FailIndex", "FailJob", "Ignore"],
        lines: &[
            " - `\"Count\"` This is an action which might be taken on a pod failure - the pod failure is handled in the default way - the counter towards .backoffLimit, represented by the job's .status.failed field, is incremented.",
            " - `\"FailIndex\"` This is an action which might be taken on a pod failure - mark the Job's index as failed to avoid restarts within this index. This action can only be used when backoffLimitPerIndex is set.",
            " - `\"FailJob\"` This is an action which might be taken on a pod failure - mark the pod's job as Failed and terminate all running pods.",
            " - `\"Ignore\"` This is an action which might be taken on a pod failure - the counter towards .backoffLimit, represented by the job's .status.failed field, is not incremented and a replacement pod is created.",
        ],
    }),
    ("api/batch/v1.PodFailurePolicyOnExitCodesOperator", EnumValues {
        values: &["In", "NotIn"],
        lines: &[
            " - `\"In\"`",
            " - `\"NotIn\"`",
        ],
    }),
    ("api/batch/v1.PodReplacementPolicy", EnumValues {
        values: &["Failed", "TerminatingOrFailed"],
        lines: &[
            " - `\"Failed\"` means to wait until a previously created Pod is fully terminated (has phase Failed or Succeeded) before creating a replacement Pod.",
            " - `\"TerminatingOrFailed\"` means that we recreate pods when they are terminating (has a metadata.deletionTimestamp) or failed.",
        ],
    }),
    ("api/core/v1.AppArmorProfileType", EnumValues {
        values: &["Localhost", "RuntimeDefault", "Unconfined"],
        lines: &[
            " - `\"Localhost\"` indicates that a profile pre-loaded on the node should be used.",
            " - `\"RuntimeDefault\"` indicates that the container runtime's default AppArmor profile should be used.",
            " - `\"Unconfined\"` indicates that no AppArmor profile should be enforced.",
        ],
    }),
    ("api/core/v1.AzureDataDiskCachingMode", EnumValues {
        values: &["None", "ReadOnly", "ReadWrite"],
        lines: &[
            " - `\"None\"`",
            " - `\"ReadOnly\"`",
            " - `\"ReadWrite\"`",
        ],
    }),
    ("api/core/v1.AzureDataDiskKind", EnumValues {
        values: &["Dedicated", "Managed", "Shared"],
        lines: &[
            " - `\"Dedicated\"`",
            " - `\"Managed\"`",
            " - `\"Shared\"`",
        ],
    }),
    ("api/core/v1.DNSPolicy", EnumValues {
        values: &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
        lines: &[
            " - `\"ClusterFirst\"` indicates that the pod should use cluster DNS first unless hostNetwork is true, if it is available, then fall back on the default (as determined by kubelet) DNS settings.",
            " - `\"ClusterFirstWithHostNet\"` indicates that the pod should use cluster DNS first, if it is available, then fall back on the default (as determined by kubelet) DNS settings.",
            " - `\"Default\"` indicates that the pod should use the default (as determined by kubelet) DNS settings.",
            " - `\"None\"` indicates that the pod should use empty DNS settings. DNS parameters such as nameservers and search paths should be defined via DNSConfig.",
        ],
    }),
    ("api/core/v1.HostPathType", EnumValues {
        values: &["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"],
        lines: &[
            " - `\"\"` For backwards compatible, leave it empty if unset",
            " - `\"BlockDevice\"` A block device must exist at the given path",
            " - `\"CharDevice\"` A character device must exist at the given path",
            " - `\"Directory\"` A directory must exist at the given path",
            " - `\"DirectoryOrCreate\"` If nothing exists at the given path, an empty directory will be created there as needed with file mode 0755, having the same group and ownership with Kubelet.",
            " - `\"File\"` A file must exist at the given path",
            " - `\"FileOrCreate\"` If nothing exists at the given path, an empty file will be created there as needed with file mode 0644, having the same group and ownership with Kubelet.",
            " - `\"Socket\"` A UNIX socket must exist at the given path",
        ],
    }),
    ("api/core/v1.IPFamilyPolicy", EnumValues {
        values: &["PreferDualStack", "RequireDualStack", "SingleStack"],
        lines: &[
            " - `\"PreferDualStack\"` indicates that this service prefers dual-stack when the cluster is configured for dual-stack. If the cluster is not configured for dual-stack the service will be assigned a single IPFamily. If the IPFamily is not set in service.spec.ipFamilies then the service will be assigned the default IPFamily configured on the cluster",
            " - `\"RequireDualStack\"` indicates that this service requires dual-stack. Using IPFamilyPolicyRequireDualStack on a single stack cluster will result in validation errors. The IPFamilies (and their order) assigned to this service is based on service.spec.ipFamilies. If service.spec.ipFamilies was not provided then it will be assigned according to how they are configured on the cluster. If service.spec.ipFamilies has only one entry then the alternative IPFamily will be added by apiserver",
            " - `\"SingleStack\"` indicates that this service is required to have a single IPFamily. The IPFamily assigned is based on the default IPFamily used by the cluster or as identified by service.spec.ipFamilies field",
        ],
    }),
    ("api/core/v1.MountPropagationMode", EnumValues {
        values: &["Bidirectional", "HostToContainer", "None"],
        lines: &[
            " - `\"Bidirectional\"` means that the volume in a container will receive new mounts from the host or other containers, and its own mounts will be propagated from the container to the host or other containers. Note that this mode is recursively applied to all mounts in the volume (\"rshared\" in Linux terminology).",
            " - `\"HostToContainer\"` means that the volume in a container will receive new mounts from the host or other containers, but filesystems mounted inside the container won't be propagated to the host or other containers. Note that this mode is recursively applied to all mounts in the volume (\"rslave\" in Linux terminology).",
            " - `\"None\"` means that the volume in a container will not receive new mounts from the host or other containers, and filesystems mounted inside the container won't be propagated to the host or other containers. Note that this mode corresponds to \"private\" in Linux terminology.",
        ],
    }),
    ("api/core/v1.NamespacePhase", EnumValues {
        values: &["Active", "Terminating"],
        lines: &[
            " - `\"Active\"` means the namespace is available for use in the system",
            " - `\"Terminating\"` means the namespace is undergoing graceful termination",
        ],
    }),
    ("api/core/v1.NodeInclusionPolicy", EnumValues {
        values: &["Honor", "Ignore"],
        lines: &[
            " - `\"Honor\"` means use this scheduling directive when calculating pod topology spread skew.",
            " - `\"Ignore\"` means ignore this scheduling directive when calculating pod topology spread skew.",
        ],
    }),
    ("api/core/v1.NodePhase", EnumValues {
        values: &["Pending", "Running", "Terminated"],
        lines: &[
            " - `\"Pending\"` means the node has been created/added by the system, but not configured.",
            " - `\"Running\"` means the node has been configured and has Kubernetes components running.",
            " - `\"Terminated\"` means the node has been removed from the cluster.",
        ],
    }),
    ("api/core/v1.NodeSelectorOperator", EnumValues {
        values: &["DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn"],
        lines: &[
            " - `\"DoesNotExist\"`",
            " - `\"Exists\"`",
            " - `\"Gt\"`",
            " - `\"In\"`",
            " - `\"Lt\"`",
            " - `\"NotIn\"`",
        ],
    }),
    ("api/core/v1.PersistentVolumeClaimModifyVolumeStatus", EnumValues {
        values: &["InProgress", "Infeasible", "Pending"],
        lines: &[
            " - `\"InProgress\"` InProgress indicates that the volume is being modified",
            " - `\"Infeasible\"` Infeasible indicates that the request has been rejected as invalid by the CSI driver. To resolve the error, a valid VolumeAttributesClass needs to be specified",
            " - `\"Pending\"` Pending indicates that the PersistentVolumeClaim cannot be modified due to unmet requirements, such as the specified VolumeAttributesClass not existing",
        ],
    }),
    ("api/core/v1.PersistentVolumeClaimPhase", EnumValues {
        values: &["Bound", "Lost", "Pending"],
        lines: &[
            " - `\"Bound\"` used for PersistentVolumeClaims that are bound",
            " - `\"Lost\"` used for PersistentVolumeClaims that lost their underlying PersistentVolume. The claim was bound to a PersistentVolume and this volume does not exist any longer and all data on it was lost.",
            " - `\"Pending\"` used for PersistentVolumeClaims that are not yet bound",
        ],
    }),
    ("api/core/v1.PersistentVolumeMode", EnumValues {
        values: &["Block", "Filesystem"],
        lines: &[
            " - `\"Block\"` means the volume will not be formatted with a filesystem and will remain a raw block device.",
            " - `\"Filesystem\"` means the volume will be or is formatted with a filesystem.",
        ],
    }),
    ("api/core/v1.PersistentVolumePhase", EnumValues {
        values: &["Available", "Bound", "Failed", "Pending", "Released"],
        lines: &[
            " - `\"Available\"` used for PersistentVolumes that are not yet bound Available volumes are held by the binder and matched to PersistentVolumeClaims",
            " - `\"Bound\"` used for PersistentVolumes that are bound",
            " - `\"Failed\"` used for PersistentVolumes that failed to be correctly recycled or deleted after being released from a claim",
            " - `\"Pending\"` used for PersistentVolumes that are not available",
            " - `\"Released\"` used for PersistentVolumes where the bound PersistentVolumeClaim was deleted released volumes must be recycled before becoming available again this phase is used by the persistent volume claim binder to signal to another process to reclaim the resource",
        ],
    }),
    ("api/core/v1.PersistentVolumeReclaimPolicy", EnumValues {
        values: &["Delete", "Recycle", "Retain"],
        lines: &[
            " - `\"Delete\"` means the volume will be deleted from Kubernetes on release from its claim. The volume plugin must support Deletion.",
            " - `\"Recycle\"` means the volume will be recycled back into the pool of unbound persistent volumes on release from its claim. The volume plugin must support Recycling.",
            " - `\"Retain\"` means the volume will be left in its current phase (Released) for manual reclamation by the administrator. The default policy is Retain.",
        ],
    }),
    ("api/core/v1.PodFSGroupChangePolicy", EnumValues {
        values: &["Always", "OnRootMismatch"],
        lines: &[
            " - `\"Always\"` indicates that volume's ownership and permissions should always be changed whenever volume is mounted inside a Pod. This the default behavior.",
            " - `\"OnRootMismatch\"` indicates that volume's ownership and permissions will be changed only when permission and ownership of root directory does not match with expected permissions on the volume. This can help shorten the time it takes to change ownership and permissions of a volume.",
        ],
    }),
    ("api/core/v1.PodPhase", EnumValues {
        values: &["Failed", "Pending", "Running", "Succeeded", "Unknown"],
        lines: &[
            " - `\"Failed\"` means that all containers in the pod have terminated, and at least one container has terminated in a failure (exited with a non-zero exit code or was stopped by the system).",
            " - `\"Pending\"` means the pod has been accepted by the system, but one or more of the containers has not been started. This includes time before being bound to a node, as well as time spent pulling images onto the host.",
            " - `\"Running\"` means the pod has been bound to a node and all of the containers have been started. At least one container is still running or is in the process of being restarted.",
            " - `\"Succeeded\"` means that all containers in the pod have voluntarily terminated with a container exit code of 0, and the system is not going to restart any of these containers.",
            " - `\"Unknown\"` means that for some reason the state of the pod could not be obtained, typically due to an error in communicating with the host of the pod. Deprecated: It isn't being set since 2015 (74da3b14b0c0f658b3bb8d2def5094686d0e9095)",
        ],
    }),
    ("api/core/v1.PodQOSClass", EnumValues {
        values: &["BestEffort", "Burstable", "Guaranteed"],
        lines: &[
            " - `\"BestEffort\"` is the BestEffort qos class.",
            " - `\"Burstable\"` is the Burstable qos class.",
            " - `\"Guaranteed\"` is the Guaranteed qos class.",
        ],
    }),
    ("api/core/v1.PreemptionPolicy", EnumValues {
        values: &["Never", "PreemptLowerPriority"],
        lines: &[
            " - `\"Never\"` means that pod never preempts other pods with lower priority.",
            " - `\"PreemptLowerPriority\"` means that pod can preempt other pods with lower priority.",
        ],
    }),
    ("api/core/v1.ProcMountType", EnumValues {
        values: &["Default", "Unmasked"],
        lines: &[
            " - `\"Default\"` uses the container runtime defaults for readonly and masked paths for /proc. Most container runtimes mask certain paths in /proc to avoid accidental security exposure of special devices or information.",
            " - `\"Unmasked\"` bypasses the default masking behavior of the container runtime and ensures the newly created /proc the container stays in tact with no modifications.",
        ],
    }),
    ("api/core/v1.Protocol", EnumValues {
        values: &["SCTP", "TCP", "UDP"],
        lines: &[
            " - `\"SCTP\"` is the SCTP protocol.",
            " - `\"TCP\"` is the TCP protocol.",
            " - `\"UDP\"` is the UDP protocol.",
        ],
    }),
    ("api/core/v1.PullPolicy", EnumValues {
        values: &["Always", "IfNotPresent", "Never"],
        lines: &[
            " - `\"Always\"` means that kubelet always attempts to pull the latest image. Container will fail If the pull fails.",
            " - `\"IfNotPresent\"` means that kubelet pulls if the image isn't present on disk. Container will fail if the image isn't present and the pull fails.",
            " - `\"Never\"` means that kubelet never pulls an image, but only uses a local image. Container will fail if the image isn't present",
        ],
    }),
    ("api/core/v1.ResourceQuotaScope", EnumValues {
        values: &["BestEffort", "CrossNamespacePodAffinity", "NotBestEffort", "NotTerminating", "PriorityClass", "Terminating", "VolumeAttributesClass"],
        lines: &[
            " - `\"BestEffort\"` Match all pod objects that have best effort quality of service",
            " - `\"CrossNamespacePodAffinity\"` Match all pod objects that have cross-namespace pod (anti)affinity mentioned.",
            " - `\"NotBestEffort\"` Match all pod objects that do not have best effort quality of service",
            " - `\"NotTerminating\"` Match all pod objects where spec.activeDeadlineSeconds is nil",
            " - `\"PriorityClass\"` Match all pod objects that have priority class mentioned",
            " - `\"Terminating\"` Match all pod objects where spec.activeDeadlineSeconds >=0",
            " - `\"VolumeAttributesClass\"` Match all pvc objects that have volume attributes class mentioned.",
        ],
    }),
    ("api/core/v1.RestartPolicy", EnumValues {
        values: &["Always", "Never", "OnFailure"],
        lines: &[
            " - `\"Always\"`",
            " - `\"Never\"`",
            " - `\"OnFailure\"`",
        ],
    }),
    ("api/core/v1.ScopeSelectorOperator", EnumValues {
        values: &["DoesNotExist", "Exists", "In", "NotIn"],
        lines: &[
            " - `\"DoesNotExist\"`",
            " - `\"Exists\"`",
            " - `\"In\"`",
            " - `\"NotIn\"`",
        ],
    }),
    ("api/core/v1.SeccompProfileType", EnumValues {
        values: &["Localhost", "RuntimeDefault", "Unconfined"],
        lines: &[
            " - `\"Localhost\"` indicates a profile defined in a file on the node should be used. The file's location relative to <kubelet-root-dir>/seccomp.",
            " - `\"RuntimeDefault\"` represents the default container runtime seccomp profile.",
            " - `\"Unconfined\"` indicates no seccomp profile is applied (A.K.A. unconfined).",
        ],
    }),
    ("api/core/v1.ServiceAffinity", EnumValues {
        values: &["ClientIP", "None"],
        lines: &[
            " - `\"ClientIP\"` is the Client IP based.",
            " - `\"None\"` - no session affinity.",
        ],
    }),
    ("api/core/v1.ServiceExternalTrafficPolicy", EnumValues {
        values: &["Cluster", "Local"],
        lines: &[
            " - `\"Cluster\"` routes traffic to all endpoints.",
            " - `\"Local\"` preserves the source IP of the traffic by routing only to endpoints on the same node as the traffic was received on (dropping the traffic if there are no local endpoints).",
        ],
    }),
    ("api/core/v1.ServiceInternalTrafficPolicy", EnumValues {
        values: &["Cluster", "Local"],
        lines: &[
            " - `\"Cluster\"` routes traffic to all endpoints.",
            " - `\"Local\"` routes traffic only to endpoints on the same node as the client pod (dropping the traffic if there are no local endpoints).",
        ],
    }),
    ("api/core/v1.ServiceType", EnumValues {
        values: &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        lines: &[
            " - `\"ClusterIP\"` means a service will only be accessible inside the cluster, via the cluster IP.",
            " - `\"ExternalName\"` means a service consists of only a reference to an external name that kubedns or equivalent will return as a CNAME record, with no exposing or proxying of any pods involved.",
            " - `\"LoadBalancer\"` means a service will be exposed via an external load balancer (if the cloud provider supports it), in addition to 'NodePort' type.",
            " - `\"NodePort\"` means a service will be exposed on one port of every node, in addition to 'ClusterIP' type.",
        ],
    }),
    ("api/core/v1.Signal", EnumValues {
        values: &["SIGABRT", "SIGALRM", "SIGBUS", "SIGCHLD", "SIGCLD", "SIGCONT", "SIGFPE", "SIGHUP", "SIGILL", "SIGINT", "SIGIO", "SIGIOT", "SIGKILL", "SIGPIPE", "SIGPOLL", "SIGPROF", "SIGPWR", "SIGQUIT", "SIGRTMAX", "SIGRTMAX-1", "SIGRTMAX-10", "SIGRTMAX-11", "SIGRTMAX-12", "SIGRTMAX-13", "SIGRTMAX-14", "SIGRTMAX-2", "SIGRTMAX-3", "SIGRTMAX-4", "SIGRTMAX-5", "SIGRTMAX-6", "SIGRTMAX-7", "SIGRTMAX-8", "SIGRTMAX-9", "SIGRTMIN", "SIGRTMIN+1", "SIGRTMIN+10", "SIGRTMIN+11", "SIGRTMIN+12", "SIGRTMIN+13", "SIGRTMIN+14", "SIGRTMIN+15", "SIGRTMIN+2", "SIGRTMIN+3", "SIGRTMIN+4", "SIGRTMIN+5", "SIGRTMIN+6", "SIGRTMIN+7", "SIGRTMIN+8", "SIGRTMIN+9", "SIGSEGV", "SIGSTKFLT", "SIGSTOP", "SIGSYS", "SIGTERM", "SIGTRAP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGUSR1", "SIGUSR2", "SIGVTALRM", "SIGWINCH", "SIGXCPU", "SIGXFSZ"],
        lines: &[
            " - `\"SIGABRT\"`",
            " - `\"SIGALRM\"`",
            " - `\"SIGBUS\"`",
            " - `\"SIGCHLD\"`",
            " - `\"SIGCLD\"`",
            " - `\"SIGCONT\"`",
            " - `\"SIGFPE\"`",
            " - `\"SIGHUP\"`",
            " - `\"SIGILL\"`",
            " - `\"SIGINT\"`",
            " - `\"SIGIO\"`",
            " - `\"SIGIOT\"`",
            " - `\"SIGKILL\"`",
            " - `\"SIGPIPE\"`",
            " - `\"SIGPOLL\"`",
            " - `\"SIGPROF\"`",
            " - `\"SIGPWR\"`",
            " - `\"SIGQUIT\"`",
            " - `\"SIGRTMAX\"`",
            " - `\"SIGRTMAX-1\"`",
            " - `\"SIGRTMAX-10\"`",
            " - `\"SIGRTMAX-11\"`",
            " - `\"SIGRTMAX-12\"`",
            " - `\"SIGRTMAX-13\"`",
            " - `\"SIGRTMAX-14\"`",
            " - `\"SIGRTMAX-2\"`",
            " - `\"SIGRTMAX-3\"`",
            " - `\"SIGRTMAX-4\"`",
            " - `\"SIGRTMAX-5\"`",
            " - `\"SIGRTMAX-6\"`",
            " - `\"SIGRTMAX-7\"`",
            " - `\"SIGRTMAX-8\"`",
            " - `\"SIGRTMAX-9\"`",
            " - `\"SIGRTMIN\"`",
            " - `\"SIGRTMIN+1\"`",
            " - `\"SIGRTMIN+10\"`",
            " - `\"SIGRTMIN+11\"`",
            " - `\"SIGRTMIN+12\"`",
            " - `\"SIGRTMIN+13\"`",
            " - `\"SIGRTMIN+14\"`",
            " - `\"SIGRTMIN+15\"`",
            " - `\"SIGRTMIN+2\"`",
            " - `\"SIGRTMIN+3\"`",
            " - `\"SIGRTMIN+4\"`",
            " - `\"SIGRTMIN+5\"`",
            " - `\"SIGRTMIN+6\"`",
            " - `\"SIGRTMIN+7\"`",
            " - `\"SIGRTMIN+8\"`",
            " - `\"SIGRTMIN+9\"`",
            " - `\"SIGSEGV\"`",
            " - `\"SIGSTKFLT\"`",
            " - `\"SIGSTOP\"`",
            " - `\"SIGSYS\"`",
            " - `\"SIGTERM\"`",
            " - `\"SIGTRAP\"`",
            " - `\"SIGTSTP\"`",
            " - `\"SIGTTIN\"`",
            " - `\"SIGTTOU\"`",
            " - `\"SIGURG\"`",
            " - `\"SIGUSR1\"`",
            " - `\"SIGUSR2\"`",
            " - `\"SIGVTALRM\"`",
            " - `\"SIGWINCH\"`",
            " - `\"SIGXCPU\"`",
            " - `\"SIGXFSZ\"`",
        ],
    }),
    ("api/core/v1.SupplementalGroupsPolicy", EnumValues {
        values: &["Merge", "Strict"],
        lines: &[
            " - `\"Merge\"` means that the container's provided SupplementalGroups and FsGroup (specified in SecurityContext) will be merged with the primary user's groups as defined in the container image (in /etc/group).",
            " - `\"Strict\"` means that the container's provided SupplementalGroups and FsGroup (specified in SecurityContext) will be used instead of any groups defined in the container image.",
        ],
    }),
    ("api/core/v1.TaintEffect", EnumValues {
        values: &["NoExecute", "NoSchedule", "PreferNoSchedule"],
        lines: &[
            " - `\"NoExecute\"` Evict any already-running pods that do not tolerate the taint. Currently enforced by NodeController.",
            " - `\"NoSchedule\"` Do not allow new pods to schedule onto the node unless they tolerate the taint, but allow all pods submitted to Kubelet without going through the scheduler to start, and allow all already-running pods to continue running. Enforced by the scheduler.",
            " - `\"PreferNoSchedule\"` Like TaintEffectNoSchedule, but the scheduler tries not to schedule new pods onto the node, rather than prohibiting new pods from scheduling onto the node entirely. Enforced by the scheduler.",
        ],
    }),
    ("api/core/v1.TerminationMessagePolicy", EnumValues {
        values: &["FallbackToLogsOnError", "File"],
        lines: &[
            " - `\"FallbackToLogsOnError\"` will read the most recent contents of the container logs for the container status message when the container exits with an error and the terminationMessagePath has no contents.",
            " - `\"File\"` is the default behavior and will set the container status message to the contents of the container's terminationMessagePath when the container exits.",
        ],
    }),
    ("api/core/v1.TolerationOperator", EnumValues {
        values: &["Equal", "Exists"],
        lines: &[
            " - `\"Equal\"`",
            " - `\"Exists\"`",
        ],
    }),
    ("api/core/v1.URIScheme", EnumValues {
        values: &["HTTP", "HTTPS"],
        lines: &[
            " - `\"HTTP\"` means that the scheme used will be http://",
            " - `\"HTTPS\"` means that the scheme used will be https://",
        ],
    }),
    ("api/core/v1.UnsatisfiableConstraintAction", EnumValues {
        values: &["DoNotSchedule", "ScheduleAnyway"],
        lines: &[
            " - `\"DoNotSchedule\"` instructs the scheduler not to schedule the pod when constraints are not satisfied.",
            " - `\"ScheduleAnyway\"` instructs the scheduler to schedule the pod even if constraints are not satisfied.",
        ],
    }),
    ("api/policy/v1.UnhealthyPodEvictionPolicyType", EnumValues {
        values: &["AlwaysAllow", "IfHealthyBudget"],
        lines: &[
            " - `\"AlwaysAllow\"` policy means that all running pods (status.phase=\"Running\"), but not yet healthy are considered disrupted and can be evicted regardless of whether the criteria in a PDB is met. This means perspective running pods of a disrupted application might not get a chance to become healthy. Healthy pods will be subject to the PDB for eviction.",
            " - `\"IfHealthyBudget\"` policy means that running pods (status.phase=\"Running\"), but not yet healthy can be evicted only if the guarded application is not disrupted (status.currentHealthy is at least equal to status.desiredHealthy). Healthy pods will be subject to the PDB for eviction.",
        ],
    }),
    ("api/storage/v1.VolumeBindingMode", EnumValues {
        values: &["Immediate", "WaitForFirstConsumer"],
        lines: &[
            " - `\"Immediate\"` indicates that PersistentVolumeClaims should be immediately provisioned and bound. This is the default mode.",
            " - `\"WaitForFirstConsumer\"` indicates that PersistentVolumeClaims should not be provisioned and bound until the first Pod is created that references the PeristentVolumeClaim. The volume provisioning and binding will occur during Pod scheduing.",
        ],
    }),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(TYPES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(LISTS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(ENUMS.windows(2).all(|w| w[0].0 < w[1].0));
        for (_, t) in TYPES {
            for (_, f) in t.fields {
                if let Some(e) = f.enum_type {
                    assert!(enum_values(e).is_some(), "{e}");
                }
                if let Some(d) = f.default {
                    assert!(serde_json::from_str::<serde_json::Value>(d).is_ok(), "{d}");
                }
            }
        }
    }
}
