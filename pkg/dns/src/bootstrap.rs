//! The objects that let clients find the DNS server: the Service kube-system/kube-dns on the
//! cluster DNS IP (as kubeadm and k3s name it), selector-less, and its Endpoints and
//! EndpointSlice pointing at the address this server listens on, so the Service proxy DNATs
//! `<cluster-dns>:53` there. Applied (server-side) at every start: a new node IP or port wins.

use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::{
    core::v1::{Endpoints, Service},
    discovery::v1::EndpointSlice,
};
use kube::{
    api::{Api, Patch, PatchParams},
    Client,
};
use serde_json::json;

pub const NAMESPACE: &str = "kube-system";
pub const NAME: &str = "kube-dns";
pub const FIELD_MANAGER: &str = "rkube-dns";

/// kube-dns' Service with `cluster_ip`; Endpoints and EndpointSlice to `listen`.
pub async fn apply(client: &Client, cluster_ip: IpAddr, listen: SocketAddr) -> kube::Result<()> {
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    let labels = json!({
        "k8s-app": "kube-dns",
        "kubernetes.io/cluster-service": "true",
        "kubernetes.io/name": "CoreDNS",
    });
    let svc = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "clusterIP": cluster_ip.to_string(),
            "clusterIPs": [cluster_ip.to_string()],
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
            ],
        },
    });
    Api::<Service>::namespaced(client.clone(), NAMESPACE)
        .patch(NAME, &pp, &Patch::Apply(svc))
        .await?;
    let (ip, port) = (listen.ip().to_string(), listen.port());
    let family = if listen.is_ipv4() { "IPv4" } else { "IPv6" };
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {
                "k8s-app": "kube-dns",
                "kubernetes.io/service-name": NAME,
                // Not the EndpointSlice controller's: it leaves this slice alone.
                "endpointslice.kubernetes.io/managed-by": FIELD_MANAGER,
            },
        },
        "addressType": family,
        "endpoints": [{
            "addresses": [ip],
            "conditions": {"ready": true, "serving": true, "terminating": false},
        }],
        "ports": [
            {"name": "dns", "port": port, "protocol": "UDP"},
            {"name": "dns-tcp", "port": port, "protocol": "TCP"},
        ],
    });
    Api::<EndpointSlice>::namespaced(client.clone(), NAMESPACE)
        .patch(NAME, &pp, &Patch::Apply(slice))
        .await?;
    // Last: upstream's validation (which rkube follows) rejects loopback addresses here.
    let endpoints = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels},
        "subsets": [{
            "addresses": [{"ip": ip}],
            "ports": [
                {"name": "dns", "port": port, "protocol": "UDP"},
                {"name": "dns-tcp", "port": port, "protocol": "TCP"},
            ],
        }],
    });
    Api::<Endpoints>::namespaced(client.clone(), NAMESPACE)
        .patch(NAME, &pp, &Patch::Apply(endpoints))
        .await?;
    Ok(())
}
