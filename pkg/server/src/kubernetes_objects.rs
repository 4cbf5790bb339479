//! What the `default/kubernetes` Service, Endpoints and EndpointSlice must hold, as
//! kube-apiserver writes them (pkg/controlplane/reconcilers/endpointsadapter.go,
//! controller/kubernetesservice): pure functions from the current object (if any) to the
//! object to write, None when it is already right.

use std::{collections::BTreeMap, net::IpAddr};

use k8s_openapi::{
    api::{
        core::v1::{
            EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service, ServicePort,
        },
        discovery::v1::{Endpoint, EndpointConditions, EndpointSlice},
    },
    apimachinery::pkg::{apis::meta::v1::ObjectMeta, util::intstr::IntOrString},
};

pub const NAMESPACE: &str = "default";
pub const NAME: &str = "kubernetes";
const PORT_NAME: &str = "https";
const SERVICE_PORT: i32 = 443;
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Keeps the EndpointSlice mirroring controller away from these Endpoints.
const SKIP_MIRROR_LABEL: &str = "endpointslice.kubernetes.io/skip-mirror";

fn labels(k: &str, v: &str) -> Option<BTreeMap<String, String>> {
    Some(BTreeMap::from([(k.to_string(), v.to_string())]))
}

fn meta() -> ObjectMeta {
    ObjectMeta {
        name: Some(NAME.into()),
        namespace: Some(NAMESPACE.into()),
        ..Default::default()
    }
}

/// The Service as bootstrapped, for when it has been deleted.
pub fn service(cluster_ip: IpAddr, port: u16) -> Service {
    let mut svc = Service {
        metadata: ObjectMeta {
            labels: Some(BTreeMap::from([
                ("component".into(), "apiserver".into()),
                ("provider".into(), "kubernetes".into()),
            ])),
            ..meta()
        },
        ..Default::default()
    };
    let spec = svc.spec.get_or_insert_default();
    spec.cluster_ip = Some(cluster_ip.to_string());
    spec.cluster_ips = Some(vec![cluster_ip.to_string()]);
    spec.session_affinity = Some("None".into());
    fix_service(&mut svc, port);
    svc
}

/// The Service with one port 443/TCP named https to `port` and type ClusterIP, if it had not.
pub fn service_update(current: &Service, port: u16) -> Option<Service> {
    let mut svc = current.clone();
    fix_service(&mut svc, port);
    (svc != *current).then_some(svc)
}

fn fix_service(svc: &mut Service, port: u16) {
    let spec = svc.spec.get_or_insert_default();
    spec.type_ = Some("ClusterIP".into());
    let want = ServicePort {
        name: Some(PORT_NAME.into()),
        port: SERVICE_PORT,
        protocol: Some("TCP".into()),
        target_port: Some(IntOrString::Int(port.into())),
        ..Default::default()
    };
    // Only the fields upstream checks: defaulted ones the server added (appProtocol...) stay.
    let ok = matches!(spec.ports.as_deref(), Some([p]) if p.name == want.name
        && p.port == want.port
        && p.protocol == want.protocol
        && p.target_port == want.target_port);
    if !ok {
        spec.ports = Some(vec![want]);
    }
}

/// The Endpoints listing `ips` on `port`, labelled skip-mirror, if `current` is not that.
pub fn endpoints(current: Option<&Endpoints>, ips: &[IpAddr], port: u16) -> Option<Endpoints> {
    let mut ep = current.cloned().unwrap_or_else(|| Endpoints {
        metadata: meta(),
        ..Default::default()
    });
    ep.metadata.labels = labels(SKIP_MIRROR_LABEL, "true");
    ep.subsets = Some(vec![EndpointSubset {
        addresses: Some(
            ips.iter()
                .map(|ip| EndpointAddress {
                    ip: ip.to_string(),
                    ..Default::default()
                })
                .collect(),
        ),
        ports: Some(vec![EndpointPort {
            name: Some(PORT_NAME.into()),
            port: port.into(),
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        ..Default::default()
    }]);
    (current != Some(&ep)).then_some(ep)
}

/// The EndpointSlice `kubernetes` listing `ips` (all ready) on `port`, if `current` is not
/// that. `address_type` is the Service's family.
pub fn endpoint_slice(
    current: Option<&EndpointSlice>,
    address_type: &str,
    ips: &[IpAddr],
    port: u16,
) -> Option<EndpointSlice> {
    let mut slice = current.cloned().unwrap_or_else(|| EndpointSlice {
        metadata: meta(),
        ..Default::default()
    });
    slice.metadata.labels = labels(SERVICE_NAME_LABEL, NAME);
    slice.address_type = address_type.into();
    slice.endpoints = ips
        .iter()
        .map(|ip| Endpoint {
            addresses: vec![ip.to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    slice.ports = Some(vec![k8s_openapi::api::discovery::v1::EndpointPort {
        name: Some(PORT_NAME.into()),
        port: Some(port.into()),
        protocol: Some("TCP".into()),
        ..Default::default()
    }]);
    (current != Some(&slice)).then_some(slice)
}

/// The label selector of the Service's EndpointSlices.
pub fn slice_selector() -> String {
    format!("{SERVICE_NAME_LABEL}={NAME}")
}

#[cfg(test)]
#[path = "kubernetes_objects_tests.rs"]
mod tests;
