#!/usr/bin/env python3
"""Generates api/src/proto/schema.rs: the protobuf schema of the Kubernetes objects rkube
decodes (kubectl's typed commands send `application/vnd.kubernetes.protobuf` bodies).

    python3 hack/gen-proto-schema.py            # rewrites api/src/proto/schema.rs
    python3 hack/gen-proto-schema.py --check    # fails if the committed file is stale

Inputs (python3 stdlib only, nothing is copied from them but facts):
  - crate k8s-pb (prost types generated from upstream's generated.proto files): every
    message, and each field's tag, wire kind, cardinality and message type. Found in cargo's
    registry; if absent, fetched with `cargo fetch` in a throwaway project.
  - crate k8s-openapi (the workspace dependency, located with `cargo metadata`): the JSON
    name of each field (its serde impls match e.g. `"podIP" => Field::Key_pod_ip`), and
    whether the field is required (a required scalar is always written by Go's JSON
    encoder, even when zero). Definitions are merged over every k8s version module the crate
    ships, the newest winning, so fields newer than the workspace's feature still get their
    exact names.
  - KEEP_ZERO below: the optional scalar fields that Go declares as pointers (or without
    `omitempty`), so that a zero value sent by a client is meaningful (`replicas: 0`,
    `automountServiceAccountToken: false`) and must stay in the JSON. Every other optional
    scalar is written by Go's protobuf encoder even when unset, and kube's JSON omits it
    when zero (`omitempty`), so the decoder drops zero values there.

Each field's JSON name is the k8s-openapi name whose spelling matches the prost field name
ignoring case and underscores; a message field with no such name whose own fields all
appear in the parent's JSON is an inline (embedded) struct (Volume.volumeSource,
Probe.handler, ...); anything else falls back to lowerCamelCase and is reported on stderr.
"""

import glob
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "api", "src", "proto", "schema.rs")
K8S_PB_VERSION = "0.9.0"

# (k8s-pb module directory, the apiVersion its kinds are sent as, or None)
PACKAGES = [
    ("api/core/v1", "v1"),
    ("api/apps/v1", "apps/v1"),
    ("api/authentication/v1", "authentication.k8s.io/v1"),
    ("api/authorization/v1", "authorization.k8s.io/v1"),
    ("api/autoscaling/v1", "autoscaling/v1"),
    ("api/coordination/v1", "coordination.k8s.io/v1"),
    ("api/discovery/v1", "discovery.k8s.io/v1"),
    ("api/events/v1", "events.k8s.io/v1"),
    ("api/policy/v1", "policy/v1"),
    ("api/rbac/v1", "rbac.authorization.k8s.io/v1"),
    ("apimachinery/pkg/apis/meta/v1", "meta.k8s.io/v1"),
    ("apimachinery/pkg/runtime", None),
    ("apimachinery/pkg/util/intstr", None),
    ("apimachinery/pkg/api/resource", None),
]

# Messages whose JSON is not an object of their fields: decoded by hand (see mod.rs).
WELL_KNOWN = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "Time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration": "Duration",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "FieldsV1",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "RawExt",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "Quantity",
}

# Go named slice types, which protobuf wraps in a message with one repeated `items` field
# and JSON writes as the bare array.
ARRAY_WRAPPERS = {"k8s.io.apimachinery.pkg.apis.meta.v1.Verbs"}

# Optional scalar fields (proto names) whose zero value Go's JSON keeps: pointers, and with
# a `!` non-pointers declared without omitempty. Facts read off k8s.io/api and
# k8s.io/apimachinery's types.go (Go struct tags); fields that k8s-openapi marks required
# keep zero values without being listed. Names the crates do not know are ignored.
KEEP_ZERO = """
core.v1.PersistentVolumeSpec volumeMode volumeAttributesClassName
core.v1.PersistentVolumeClaimSpec storageClassName volumeMode volumeAttributesClassName
core.v1.TypedObjectReference apiGroup namespace
core.v1.PersistentVolumeClaimStatus currentVolumeAttributesClassName
core.v1.HostPathVolumeSource type
core.v1.GlusterfsPersistentVolumeSource endpointsNamespace
core.v1.SecretVolumeSource defaultMode optional
core.v1.SecretProjection optional
core.v1.ISCSIVolumeSource initiatorName
core.v1.ISCSIPersistentVolumeSource initiatorName
core.v1.FCVolumeSource lun
core.v1.AzureFilePersistentVolumeSource secretNamespace
core.v1.AzureDiskVolumeSource cachingMode fsType readOnly kind
core.v1.ConfigMapVolumeSource defaultMode optional
core.v1.ConfigMapProjection optional
core.v1.ServiceAccountTokenProjection expirationSeconds
core.v1.ClusterTrustBundleProjection name signerName optional
core.v1.PodCertificateProjection maxExpirationSeconds
core.v1.ProjectedVolumeSource defaultMode
core.v1.KeyToPath mode
core.v1.LocalVolumeSource fsType
core.v1.CSIVolumeSource readOnly fsType
core.v1.VolumeMount recursiveReadOnly mountPropagation
core.v1.FileKeySelector optional
core.v1.ConfigMapKeySelector optional
core.v1.SecretKeySelector optional
core.v1.ConfigMapEnvSource optional
core.v1.SecretEnvSource optional
core.v1.GRPCAction service
core.v1.Probe terminationGracePeriodSeconds
core.v1.Container restartPolicy
core.v1.Lifecycle stopSignal
core.v1.ContainerStatus started stopSignal
core.v1.VolumeMountStatus recursiveReadOnly
core.v1.Toleration tolerationSeconds
core.v1.PodSpec terminationGracePeriodSeconds activeDeadlineSeconds automountServiceAccountToken shareProcessNamespace priority runtimeClassName enableServiceLinks preemptionPolicy setHostnameAsFQDN hostUsers hostnameOverride
core.v1.PodResourceClaim resourceClaimName resourceClaimTemplateName
core.v1.PodResourceClaimStatus resourceClaimName
core.v1.TopologySpreadConstraint minDomains nodeAffinityPolicy nodeTaintsPolicy
core.v1.PodSecurityContext runAsUser runAsGroup runAsNonRoot supplementalGroupsPolicy fsGroup fsGroupChangePolicy seLinuxChangePolicy
core.v1.SeccompProfile localhostProfile
core.v1.AppArmorProfile localhostProfile
core.v1.PodDNSConfigOption value
core.v1.EphemeralContainerCommon name! restartPolicy
core.v1.ReplicationControllerSpec replicas
core.v1.ClientIPConfig timeoutSeconds
core.v1.LoadBalancerIngress ipMode
core.v1.ServiceSpec ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy trafficDistribution
core.v1.ServicePort appProtocol
core.v1.ServiceAccount automountServiceAccountToken
core.v1.EndpointAddress nodeName
core.v1.EndpointPort appProtocol
core.v1.NodeRuntimeHandlerFeatures recursiveReadOnlyMounts userNamespaces
core.v1.NodeRuntimeHandler name!
core.v1.NodeFeatures supplementalGroupsPolicy
core.v1.NodeSwapStatus capacity
core.v1.Preconditions uid
core.v1.PodLogOptions sinceSeconds tailLines limitBytes stream
core.v1.TypedLocalObjectReference apiGroup
core.v1.Event reportingComponent! reportingInstance!
core.v1.Secret immutable
core.v1.ConfigMap immutable
core.v1.DownwardAPIVolumeSource defaultMode
core.v1.DownwardAPIVolumeFile mode
core.v1.SecurityContext privileged runAsUser runAsGroup runAsNonRoot readOnlyRootFilesystem allowPrivilegeEscalation procMount
core.v1.WindowsSecurityContextOptions gmsaCredentialSpecName gmsaCredentialSpec runAsUserName hostProcess
core.v1.RangeAllocation range!
core.v1.PortStatus error
apps.v1.RollingUpdateStatefulSetStrategy partition
apps.v1.StatefulSetOrdinals start!
apps.v1.StatefulSetSpec replicas serviceName! revisionHistoryLimit
apps.v1.StatefulSetStatus collisionCount availableReplicas!
apps.v1.StatefulSetCondition type! status!
apps.v1.DeploymentSpec replicas revisionHistoryLimit progressDeadlineSeconds
apps.v1.DeploymentStatus terminatingReplicas collisionCount
apps.v1.DeploymentCondition type! status!
apps.v1.DaemonSetSpec revisionHistoryLimit
apps.v1.DaemonSetStatus collisionCount
apps.v1.DaemonSetCondition type! status!
apps.v1.ReplicaSetSpec replicas
apps.v1.ReplicaSetStatus terminatingReplicas
apps.v1.ReplicaSetCondition type! status!
apps.v1.ControllerRevision revision!
coordination.v1.LeaseSpec holderIdentity leaseDurationSeconds leaseTransitions strategy preferredHolder
discovery.v1.Endpoint hostname nodeName zone
discovery.v1.EndpointConditions ready serving terminating
discovery.v1.EndpointPort name protocol port appProtocol
autoscaling.v1.HorizontalPodAutoscalerSpec minReplicas targetCPUUtilizationPercentage
autoscaling.v1.HorizontalPodAutoscalerStatus observedGeneration currentCPUUtilizationPercentage
autoscaling.v1.MetricSpec type!
autoscaling.v1.ObjectMetricSource metricName!
autoscaling.v1.PodsMetricSource metricName!
autoscaling.v1.ResourceMetricSource name! targetAverageUtilization
autoscaling.v1.ContainerResourceMetricSource name! targetAverageUtilization container!
autoscaling.v1.ExternalMetricSource metricName!
autoscaling.v1.MetricStatus type!
autoscaling.v1.HorizontalPodAutoscalerCondition type! status!
autoscaling.v1.ObjectMetricStatus metricName!
autoscaling.v1.PodsMetricStatus metricName!
autoscaling.v1.ResourceMetricStatus name! currentAverageUtilization
autoscaling.v1.ContainerResourceMetricStatus name! currentAverageUtilization container!
autoscaling.v1.ExternalMetricStatus metricName!
policy.v1.PodDisruptionBudgetSpec unhealthyPodEvictionPolicy
authentication.v1.TokenRequestSpec expirationSeconds
authentication.v1.TokenRequestStatus token!
authorization.v1.SubjectAccessReviewStatus allowed!
authorization.v1.SubjectRulesReviewStatus incomplete!
rbac.v1.RoleRef apiGroup!
policy.v1.PodDisruptionBudgetStatus disruptionsAllowed! currentHealthy! desiredHealthy! expectedPods!
meta.v1.GroupVersionResource group! version! resource!
meta.v1.GroupKind group! kind!
meta.v1.GroupVersionKind group! version! kind!
meta.v1.GroupVersion group! version!
meta.v1.Timestamp seconds! nanos!
meta.v1.ListMeta remainingItemCount
meta.v1.ObjectMeta deletionGracePeriodSeconds
meta.v1.OwnerReference controller blockOwnerDeletion
meta.v1.ListOptions timeoutSeconds sendInitialEvents
meta.v1.DeleteOptions gracePeriodSeconds orphanDependents propagationPolicy ignoreStoreReadErrorWithClusterBreakingPotential
meta.v1.PatchOptions force
meta.v1.ApplyOptions force! fieldManager!
meta.v1.Preconditions uid resourceVersion
meta.v1.WatchEvent type!
# Packages not generated yet (add them to PACKAGES to serve their kinds):
batch.v1.PodFailurePolicyOnExitCodesRequirement containerName
batch.v1.PodFailurePolicyOnPodConditionsPattern status!
batch.v1.SuccessPolicyRule succeededIndexes succeededCount
batch.v1.JobSpec parallelism completions activeDeadlineSeconds backoffLimit backoffLimitPerIndex maxFailedIndexes manualSelector ttlSecondsAfterFinished completionMode suspend podReplacementPolicy managedBy
batch.v1.JobStatus terminating failedIndexes ready
batch.v1.CronJobSpec timeZone startingDeadlineSeconds suspend successfulJobsHistoryLimit failedJobsHistoryLimit
networking.v1.NetworkPolicyPort protocol endPort
networking.v1.IngressSpec ingressClassName
networking.v1.IngressPortStatus error
networking.v1.IngressClassParametersReference aPIGroup scope namespace
scheduling.v1.PriorityClass value! preemptionPolicy
storage.v1.StorageClass reclaimPolicy allowVolumeExpansion volumeBindingMode
storage.v1.VolumeAttachmentSource persistentVolumeName
storage.v1.VolumeError errorCode
storage.v1.CSIDriverSpec attachRequired podInfoOnMount storageCapacity fsGroupPolicy requiresRepublish seLinuxMount nodeAllocatableUpdatePeriodSeconds serviceAccountTokenInSecrets
storage.v1.TokenRequest expirationSeconds
storage.v1.VolumeNodeResources count
certificates.v1.CertificateSigningRequestSpec expirationSeconds
admissionregistration.v1.Rule scope
admissionregistration.v1.ValidatingAdmissionPolicySpec failurePolicy
admissionregistration.v1.Validation reason
admissionregistration.v1.ParamRef parameterNotFoundAction
admissionregistration.v1.MatchResources matchPolicy
admissionregistration.v1.ValidatingWebhook failurePolicy matchPolicy timeoutSeconds
admissionregistration.v1.MutatingWebhook failurePolicy matchPolicy timeoutSeconds reinvocationPolicy
admissionregistration.v1.WebhookClientConfig url
admissionregistration.v1.ServiceReference path port
"""

# JSON names of fields in messages k8s-openapi has no definition for, where lowerCamelCase
# of the prost name is wrong (an acronym in the Go name).
JSON_NAME_OVERRIDES = {
    "k8s.io.api.core.v1.PodLogOptions.insecure_skip_tls_verify_backend": "insecureSkipTLSVerifyBackend",
}

TYPE_PATH = re.compile(r"((?:super::|[a-z_0-9]+::)*)([A-Z]\w*)")
WRAPPERS = {"Option", "Vec", "BTreeMap", "HashMap", "String"}


def die(msg):
    sys.stderr.write(f"gen-proto-schema: {msg}\n")
    sys.exit(1)


def crate_dir(name, version=None):
    """Source directory of a crate: the workspace's copy, else cargo's registry, else a fetch."""
    try:
        meta = json.loads(
            subprocess.run(
                ["cargo", "metadata", "--format-version", "1"],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        for p in meta["packages"]:
            if p["name"] == name and (version is None or p["version"] == version):
                return os.path.dirname(p["manifest_path"])
    except (OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write(f"gen-proto-schema: cargo metadata failed: {e}\n")
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    found = sorted(glob.glob(os.path.join(home, "registry", "src", "*", f"{name}-{version or '*'}")))
    if found:
        return found[-1]
    if version is None:
        die(f"crate {name} not found")
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "Cargo.toml"), "w") as f:
            f.write(
                '[package]\nname = "probe"\nversion = "0.0.0"\nedition = "2021"\n'
                f'[dependencies]\n{name} = "={version}"\n'
            )
        os.mkdir(os.path.join(tmp, "src"))
        open(os.path.join(tmp, "src", "lib.rs"), "w").close()
        subprocess.run(["cargo", "fetch"], cwd=tmp, check=True)
        meta = json.loads(
            subprocess.run(
                ["cargo", "metadata", "--format-version", "1"],
                cwd=tmp,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        for p in meta["packages"]:
            if p["name"] == name:
                return os.path.dirname(p["manifest_path"])
    die(f"crate {name} {version} not found")


def norm(name):
    return name.replace("_", "").replace("r#", "").lower()


def proto_package(module_dir):
    return "k8s.io." + module_dir.replace("/", ".")


def resolve(module_dir, path, ident):
    """Full proto name of a type written `path ident` in module `module_dir`."""
    segs = module_dir.split("/")
    parts = [p for p in path.split("::") if p]
    while parts and parts[0] == "super":
        parts.pop(0)
        segs.pop()
    return "k8s.io." + ".".join(segs + parts + [ident])


def parse_k8s_pb(src):
    """{full message name: [field dicts]} for PACKAGES."""
    messages = {}
    for module_dir, _ in PACKAGES:
        text = open(os.path.join(src, module_dir, "mod.rs")).read()
        pkg = proto_package(module_dir)
        for sm in re.finditer(r"^pub struct (\w+) \{\n(.*?)^\}", text, re.M | re.S):
            name, body = sm.group(1), sm.group(2)
            fields = []
            for fm in re.finditer(
                r"#\[prost\((.*?)\)\]\n\s*pub (r#)?(\w+):\s*(.*?),\n(?=\s*(?:///|#\[|$))",
                body + "\n",
                re.S,
            ):
                attr, fname, ty = fm.group(1), fm.group(3), " ".join(fm.group(4).split())
                tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
                mm = re.match(r'\s*(btree_map|hash_map)\s*=\s*"([^"]*)"', attr)
                head = f"{mm.group(1)}:{mm.group(2)}" if mm else attr.split(",")[0].strip()
                f = {"name": fname, "tag": tag}
                refs = [
                    resolve(module_dir, m.group(1), m.group(2))
                    for m in TYPE_PATH.finditer(ty)
                    if m.group(2) not in WRAPPERS
                ]
                if head.startswith("btree_map") or head.startswith("hash_map"):
                    key, val = [s.strip() for s in head.split(":", 1)[1].split(",")]
                    if key != "string":
                        die(f"{pkg}.{name}.{fname}: map key {key}")
                    f["card"] = "map"
                    f["kind"] = val
                else:
                    f["card"] = "repeated" if " repeated" in attr else "one"
                    f["kind"] = head.split("=")[0].strip()
                if f["kind"] == "message":
                    if len(refs) != 1:
                        die(f"{pkg}.{name}.{fname}: cannot resolve type {ty}")
                    f["msg"] = refs[0]
                elif f["kind"] not in ("string", "bool", "int32", "int64", "double", "bytes"):
                    die(f"{pkg}.{name}.{fname}: unsupported kind {f['kind']}")
                fields.append(f)
            if len(fields) != body.count("#[prost("):
                die(f"{pkg}.{name}: parsed {len(fields)} of {body.count('#[prost(')} fields")
            messages[f"{pkg}.{name}"] = fields
    return messages


def parse_k8s_openapi(src):
    """{definition name: {"json": {norm: json name}, "required": set of json names}}."""
    defs = {}
    vdirs = sorted(
        (d for d in os.listdir(src) if re.fullmatch(r"v1_\d+", d)),
        key=lambda d: int(d.split("_")[1]),
    )
    for vdir in vdirs:  # oldest first: newer versions override
        for path in glob.glob(os.path.join(src, vdir, "**", "*.rs"), recursive=True):
            text = open(path).read()
            m = re.search(r"^// Generated from definition (\S+)", text, re.M)
            sm = re.search(r"^pub struct \w+ \{\n(.*?)^\}", text, re.M | re.S)
            if not m or not sm:
                continue
            rust = {
                fm.group(1): fm.group(2).startswith("Option<")
                for fm in re.finditer(r"^    pub (?:r#)?(\w+): (.*),$", sm.group(1), re.M)
            }
            names, required = {}, set()
            for jm in re.finditer(r'"([^"]+)" => Field::Key_(\w+)', text):
                json_name, key = jm.group(1), jm.group(2)
                if key not in rust:
                    continue
                names[norm(json_name)] = json_name
                if not rust[key]:
                    required.add(json_name)
            defs[m.group(1)] = {"json": names, "required": required}
    return defs


def keep_zero_set():
    out = set()
    for line in KEEP_ZERO.strip().splitlines():
        if line.startswith("#"):
            continue
        msg, *fields = line.split()
        for f in fields:
            full = ("apimachinery.pkg.apis." if msg.startswith("meta.") else "api.") + msg
            out.add((def_key(full), norm(f.rstrip("!"))))
    return out


def lower_camel(snake):
    parts = snake.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


SCALARS = {"string": "S", "bool": "B", "int32": "I32", "int64": "I64", "double": "F64", "bytes": "Y"}


def def_key(name):
    """Lookup key shared by proto names (k8s.io.api.core.v1.Pod) and OpenAPI definition
    names (io.k8s.api.core.v1.Pod): prost renames RBDVolumeSource to RbdVolumeSource."""
    for prefix in ("k8s.io.", "io.k8s."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name.lower()


def canonical_names(messages, defs):
    """Proto name of each k8s-pb message: the OpenAPI definition's spelling when there is
    one (the upstream Go and proto type name), else prost's."""
    by_key = {def_key(d): d for d in defs}
    return {
        n: ("k8s.io." + by_key[def_key(n)][len("io.k8s."):]) if def_key(n) in by_key else n
        for n in messages
    }


def build(messages, defs):
    keep = keep_zero_set()
    canon = canonical_names(messages, defs)
    defs_by_key = {def_key(d): v for d, v in defs.items()}
    well_known = {def_key(n): kind for n, kind in WELL_KNOWN.items()}
    wrappers = {def_key(n) for n in ARRAY_WRAPPERS}
    names = sorted(canon[n] for n in messages if def_key(n) not in well_known)
    index = {def_key(n): i for i, n in enumerate(names)}
    by_canon = {canon[n]: n for n in messages}
    warnings = []

    def ty(f):
        if f["kind"] == "message":
            target = def_key(f["msg"])
            if target in well_known:
                return well_known[target]
            if target not in index:
                die(f"message {f['msg']} is outside the generated packages")
            return f"M({index[target]})"
        return SCALARS[f["kind"]]

    # A message embedded inline (Volume.volumeSource: VolumeSource) and without a definition
    # of its own takes its JSON names from the embedding type's.
    for n in names:
        d = defs_by_key.get(def_key(n))
        for f in messages[by_canon[n]] if d else []:
            if f["kind"] != "message" or f["card"] != "one" or norm(f["name"]) in d["json"]:
                continue
            inner = messages.get(f["msg"], [])
            if inner and all(norm(g["name"]) in d["json"] for g in inner):
                defs_by_key.setdefault(def_key(f["msg"]), d)

    table = []
    for n in names:
        d = defs_by_key.get(def_key(n))
        rows = []
        for f in messages[by_canon[n]]:
            card = {"one": "O", "repeated": "R", "map": "P"}[f["card"]]
            json_name = d["json"].get(norm(f["name"])) if d else None
            if json_name is None and d and f["kind"] == "message" and f["card"] == "one":
                inner = messages.get(f["msg"], [])
                if inner and all(norm(g["name"]) in d["json"] for g in inner):
                    json_name, card = "", "N"
            if json_name is None:
                json_name = JSON_NAME_OVERRIDES.get(f"{n}.{f['name']}")
            if json_name is None:
                json_name = lower_camel(f["name"])
                if d:
                    warnings.append(f"{n}.{f['name']}: no JSON name in k8s-openapi, using {json_name}")
            if card == "O" and f["kind"] in SCALARS and (
                (d and json_name in d["required"]) or (def_key(n), norm(f["name"])) in keep
            ):
                card = "K"
            rows.append((f["tag"], json_name, ty(f), card))
        table.append((n, rows))
        if def_key(n) in wrappers and [(r[1], r[3]) for r in rows] != [("items", "R")]:
            die(f"{n} is not an items wrapper")
    for n in wrappers:
        if n not in index:
            die(f"array wrapper {n} not found")
    undefined = [n for n in names if def_key(n) not in defs_by_key]
    return table, index, warnings, undefined


def render(table, index, pb_dir, oa_dir):
    out = []
    w = out.append
    w("// @generated by hack/gen-proto-schema.py from the crates "
      f"{os.path.basename(pb_dir)} and {os.path.basename(oa_dir)}: do not edit.")
    w("// Regenerate with `python3 hack/gen-proto-schema.py` (see its header for the inputs).")
    w("")
    used = {t.split("(")[0] for _, rows in table for _, _, t, _ in rows}
    cards = {c for _, rows in table for _, _, _, c in rows}
    card_names = {"N": "Inline", "K": "Keep", "P": "Map", "O": "One", "R": "Repeated"}
    ty_names = {"Y": "Bytes", "M": "Msg"}
    imports = sorted(f"{card_names[c]} as {c}" for c in cards)
    w(f"use super::Card::{{{', '.join(imports)}}};")
    tys = sorted(f"{ty_names[t]} as {t}" if t in ty_names else t for t in used)
    w(f"use super::Ty::{{{', '.join(tys)}}};")
    w("use super::{f, Message};")
    w("")
    w("/// apiVersion -> the protobuf package its kinds are messages of.")
    w("pub(super) static API_VERSIONS: &[(&str, &str)] = &[")
    for module_dir, api_version in PACKAGES:
        if api_version:
            w(f'    ("{api_version}", "{proto_package(module_dir)}"),')
    w("];")
    w("")
    wrappers = ", ".join(str(index[def_key(n)]) for n in sorted(ARRAY_WRAPPERS))
    w("/// Messages wrapping a Go named slice: JSON is the bare `items` array.")
    w(f"pub(super) static ARRAY_WRAPPERS: &[u16] = &[{wrappers}];")
    w("")
    w("/// Every message, sorted by full name; `M(i)` refers to `MESSAGES[i]`.")
    w(f"pub(super) static MESSAGES: [Message; {len(table)}] = [")
    for i, (n, rows) in enumerate(table):
        w(f"    // {i}")
        w("    Message {")
        w(f'        name: "{n}",')
        if not rows:
            w("        fields: &[],")
        else:
            w("        fields: &[")
            for tag, json_name, t, card in rows:
                w(f'            f({tag}, "{json_name}", {t}, {card}),')
            w("        ],")
        w("    },")
    w("];")
    return "\n".join(out) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    pb_dir = crate_dir("k8s-pb", K8S_PB_VERSION)
    oa_dir = crate_dir("k8s-openapi")
    messages = parse_k8s_pb(os.path.join(pb_dir, "src"))
    defs = parse_k8s_openapi(os.path.join(oa_dir, "src"))
    table, index, warnings, undefined = build(messages, defs)
    for msg in warnings:
        sys.stderr.write(f"warning: {msg}\n")
    if "-v" in sys.argv[1:]:
        sys.stderr.write("messages without a k8s-openapi definition (lowerCamelCase names):\n")
        for n in undefined:
            sys.stderr.write(f"  {n}\n")
    text = render(table, index, pb_dir, oa_dir)
    try:
        text = subprocess.run(
            ["rustfmt", "--edition", "2021", "--emit", "stdout"],
            input=text,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        die(f"rustfmt failed: {e}")
    if check:
        current = open(OUT).read() if os.path.exists(OUT) else ""
        if current != text:
            die(f"{os.path.relpath(OUT, ROOT)} is stale: run python3 hack/gen-proto-schema.py")
        return
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    fields = sum(len(rows) for _, rows in table)
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(table)} messages, {fields} fields")


if __name__ == "__main__":
    main()
