//! The columns kubectl shows for each kind (`Accept: ...;as=Table;g=meta.k8s.io;v=v1`),
//! reproducing kube-apiserver v1.33's printers (pkg/printers/internalversion/printers.go).
//!
//! The server always prints "wide" (upstream's TableConvertor passes `Wide: true`): every
//! row carries the priority-1 cells too, and kubectl hides them unless `-o wide`.
//! Cells are what upstream's Table serializes: strings, and integers where upstream
//! appends an `int64` (even under a column typed "string", as upstream does).
use serde_json::Value;

use crate::ResourceDef;

mod format;
mod printers;
pub mod time;

pub(crate) use printers::primary_pod_ip;
pub use time::{human_duration, short_human_duration, Timestamp};

/// A Table column definition (meta.k8s.io/v1 TableColumnDefinition).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    /// "string", "integer", "date", ...
    pub type_: &'static str,
    /// "name", "date", "" ...
    pub format: &'static str,
    pub description: &'static str,
    /// 0: always shown; 1: only with `-o wide`.
    pub priority: i32,
}

const fn col(
    name: &'static str,
    type_: &'static str,
    description: &'static str,
    priority: i32,
) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority,
    }
}

// Descriptions are upstream's: the swagger docs of the fields each column shows
// (k8s.io/api v0.33 `SwaggerDoc()`), or the literal strings in printers.go.
const D_NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const D_AGE: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const D_CONTAINERS: &str = "Names of each container in the template.";
const D_IMAGES: &str = "Images referenced by each container in the template.";

const NAME: Column = Column {
    name: "Name",
    type_: "string",
    format: "name",
    description: D_NAME,
    priority: 0,
};
const AGE: Column = col("Age", "string", D_AGE, 0);

const POD: &[Column] = &[
    NAME,
    col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic.", 0),
    col("Status", "string", "The aggregate status of the containers in this pod.", 0),
    col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0),
    AGE,
    col("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", 1),
    col("Node", "string", "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename", 1),
    col("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.", 1),
    col("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates", 1),
];

const REPLICA_SET: &[Column] = &[
    NAME,
    col("Desired", "integer", "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset", 0),
    col("Current", "integer", "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset", 0),
    col("Ready", "integer", "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.", 0),
    AGE,
    col("Containers", "string", D_CONTAINERS, 1),
    col("Images", "string", D_IMAGES, 1),
    col("Selector", "string", "Selector is a label query over pods that should match the replica count. If the selector is empty, it is defaulted to the labels present on the pod template. Label keys and values that must match in order to be controlled by this replica set. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors", 1),
];

const DEPLOYMENT: &[Column] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state", 0),
    col("Up-to-date", "string", "Total number of non-terminating pods targeted by this deployment that have the desired template spec.", 0),
    col("Available", "string", "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.", 0),
    AGE,
    col("Containers", "string", D_CONTAINERS, 1),
    col("Images", "string", D_IMAGES, 1),
    col("Selector", "string", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.", 1),
];

const SERVICE: &[Column] = &[
    NAME,
    col("Type", "string", "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types", 0),
    col("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies", 0),
    col("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.", 0),
    col("Port(s)", "string", "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies", 0),
    AGE,
    col("Selector", "string", "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/", 1),
];

const ENDPOINTS: &[Column] = &[
    NAME,
    col("Endpoints", "string", "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.", 0),
    AGE,
];

const NODE_ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";

const NODE: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the node", 0),
    col("Roles", "string", "The roles of the node", 0),
    AGE,
    col("Version", "string", "Kubelet Version reported by the node.", 0),
    col("Internal-IP", "string", NODE_ADDRESSES, 1),
    col("External-IP", "string", NODE_ADDRESSES, 1),
    col("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1),
    col("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
    col("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", 1),
];

const EVENT: &[Column] = &[
    col("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded.", 0),
    col("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future", 0),
    col("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.", 0),
    col("Object", "string", "The object that this event is about.", 0),
    col("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.", 1),
    col("Source", "string", "The component reporting this event. Should be a short machine understandable string.", 1),
    col("Message", "string", "A human-readable description of the status of this operation.", 0),
    col("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", 1),
    col("Count", "string", "The number of times this event has occurred.", 1),
    Column { priority: 1, ..NAME },
];

const NAMESPACE: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the namespace", 0),
    AGE,
];

const SECRET: &[Column] = &[
    NAME,
    col("Type", "string", "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types", 0),
    col("Data", "string", "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4", 0),
    AGE,
];

const SERVICE_ACCOUNT: &[Column] = &[
    NAME,
    col("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret", 0),
    AGE,
];

const CONFIG_MAP: &[Column] = &[
    NAME,
    col("Data", "string", "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.", 0),
    AGE,
];

const LEASE: &[Column] = &[
    NAME,
    col("Holder", "string", "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.", 0),
    AGE,
];

const ENDPOINT_SLICE: &[Column] = &[
    NAME,
    col("AddressType", "string", "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.", 0),
    col("Ports", "string", "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates \"all ports\". Each slice may include a maximum of 100 ports.", 0),
    col("Endpoints", "string", "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.", 0),
    AGE,
];

const ROLE_BINDING: &[Column] = &[
    NAME,
    col("Role", "string", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.", 0),
    AGE,
    col("Users", "string", "Users in the roleBinding", 1),
    col("Groups", "string", "Groups in the roleBinding", 1),
    col("ServiceAccounts", "string", "ServiceAccounts in the roleBinding", 1),
];

const CLUSTER_ROLE_BINDING: &[Column] = &[
    NAME,
    col("Role", "string", "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.", 0),
    AGE,
    col("Users", "string", "Users in the clusterRoleBinding", 1),
    col("Groups", "string", "Groups in the clusterRoleBinding", 1),
    col("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding", 1),
];

/// The apiserver's default table (k8s.io/apiserver registry/rest/table.go) for kinds
/// without a printer, and for Roles and ClusterRoles (their storage uses
/// `rest.NewDefaultTableConvertor`).
const DEFAULT: &[Column] = &[
    NAME,
    Column {
        name: "Created At",
        type_: "date",
        format: "",
        description: D_AGE,
        priority: 0,
    },
];

/// Which printer a kind uses. events.k8s.io Events print through the core Event printer,
/// as upstream does (both are the internal core Event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Printer {
    Pod,
    ReplicaSet,
    Deployment,
    Service,
    Endpoints,
    Node,
    Event,
    Namespace,
    Secret,
    ServiceAccount,
    ConfigMap,
    Lease,
    EndpointSlice,
    RoleBinding,
    ClusterRoleBinding,
    Default,
}

fn printer(def: &ResourceDef) -> Printer {
    match (def.group, def.kind) {
        ("", "Pod") => Printer::Pod,
        ("apps", "ReplicaSet") => Printer::ReplicaSet,
        ("apps", "Deployment") => Printer::Deployment,
        ("", "Service") => Printer::Service,
        ("", "Endpoints") => Printer::Endpoints,
        ("", "Node") => Printer::Node,
        ("", "Event") | ("events.k8s.io", "Event") => Printer::Event,
        ("", "Namespace") => Printer::Namespace,
        ("", "Secret") => Printer::Secret,
        ("", "ServiceAccount") => Printer::ServiceAccount,
        ("", "ConfigMap") => Printer::ConfigMap,
        ("coordination.k8s.io", "Lease") => Printer::Lease,
        ("discovery.k8s.io", "EndpointSlice") => Printer::EndpointSlice,
        ("rbac.authorization.k8s.io", "RoleBinding") => Printer::RoleBinding,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => Printer::ClusterRoleBinding,
        // Upstream has no printer for roles: NAME and CREATED AT.
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => Printer::Default,
        _ => Printer::Default,
    }
}

/// Columns for a kind (the default NAME/CREATED AT pair for kinds without their own).
pub fn columns(def: &ResourceDef) -> &'static [Column] {
    match printer(def) {
        Printer::Pod => POD,
        Printer::ReplicaSet => REPLICA_SET,
        Printer::Deployment => DEPLOYMENT,
        Printer::Service => SERVICE,
        Printer::Endpoints => ENDPOINTS,
        Printer::Node => NODE,
        Printer::Event => EVENT,
        Printer::Namespace => NAMESPACE,
        Printer::Secret => SECRET,
        Printer::ServiceAccount => SERVICE_ACCOUNT,
        Printer::ConfigMap => CONFIG_MAP,
        Printer::Lease => LEASE,
        Printer::EndpointSlice => ENDPOINT_SLICE,
        Printer::RoleBinding => ROLE_BINDING,
        Printer::ClusterRoleBinding => CLUSTER_ROLE_BINDING,
        Printer::Default => DEFAULT,
    }
}

/// One row's cells, matching `columns`; `now` is the server's current time (RFC 3339) for
/// ages. An unparsable `now` makes every age "<unknown>".
pub fn cells(def: &ResourceDef, obj: &Value, now: &str) -> Vec<Value> {
    let now = Timestamp::parse(now);
    let cells = match printer(def) {
        Printer::Pod => printers::pod(obj, now),
        Printer::ReplicaSet => printers::replica_set(obj, now),
        Printer::Deployment => printers::deployment(obj, now),
        Printer::Service => printers::service(obj, now),
        Printer::Endpoints => printers::endpoints(obj, now),
        Printer::Node => printers::node(obj, now),
        Printer::Event => printers::event(obj, def.group == "events.k8s.io", now),
        Printer::Namespace => printers::namespace(obj, now),
        Printer::Secret => printers::secret(obj, now),
        Printer::ServiceAccount => printers::service_account(obj, now),
        Printer::ConfigMap => printers::config_map(obj, now),
        Printer::Lease => printers::lease(obj, now),
        Printer::EndpointSlice => printers::endpoint_slice(obj, now),
        Printer::RoleBinding | Printer::ClusterRoleBinding => printers::role_binding(obj, now),
        Printer::Default => printers::default(obj),
    };
    debug_assert_eq!(cells.len(), columns(def).len());
    cells
}

/// Whether a row is for a finished pod: upstream marks Succeeded/Failed pod rows with a
/// `Completed` row condition (kubectl hides them unless `--show-all` in old versions).
/// Returns the TableRowCondition (`type`, `status`, `reason`, `message`) to attach, if any.
pub fn row_conditions(def: &ResourceDef, obj: &Value) -> Vec<Value> {
    if printer(def) != Printer::Pod {
        return Vec::new();
    }
    let (reason, message) = match obj.pointer("/status/phase").and_then(Value::as_str) {
        Some("Succeeded") => ("Succeeded", "The pod has completed successfully."),
        Some("Failed") => ("Failed", "The pod failed."),
        _ => return Vec::new(),
    };
    vec![
        serde_json::json!({"type": "Completed", "status": "True", "reason": reason, "message": message}),
    ]
}

#[cfg(test)]
mod tests;
