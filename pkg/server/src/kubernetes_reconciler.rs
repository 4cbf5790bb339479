//! Keeps `default/kubernetes` pointing at the API servers, as kube-apiserver's
//! kubernetesservice controller with the lease endpoint reconciler: every [`INTERVAL`] this
//! server renews its master lease, puts the Service's port right (targetPort = the secure
//! port), and writes the Endpoints and EndpointSlice with the live servers' addresses. So an
//! edit or deletion is undone within one interval, and a new address or port after a restart
//! replaces the old one. On a clean stop it drops its lease and address.

use std::{net::IpAddr, time::SystemTime};

use k8s_openapi::api::{
    core::v1::{Endpoints, Service},
    discovery::v1::EndpointSlice,
};
use kube::{
    api::{Api, DeleteParams, ListParams, PostParams},
    Client,
};
use tracing::{debug, info, warn};

use crate::{
    kubernetes_objects::{self as objects, NAME, NAMESPACE},
    master_leases::MasterLeases,
};

/// kube-apiserver's `--endpoint-reconciler` interval.
pub const INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("master leases: {0}")]
    Leases(#[from] rkube_store::Error),
    #[error(transparent)]
    Api(#[from] kube::Error),
}

pub struct Reconciler {
    pub client: Client,
    pub leases: MasterLeases,
    /// This server's advertised address and secure port.
    pub ip: IpAddr,
    pub port: u16,
    /// The Service's cluster IP, for recreating it.
    pub service_ip: IpAddr,
}

impl Reconciler {
    /// Reconciles until `stop`, then removes this server from the Endpoints.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        // Upstream's validation rejects these in Endpoints: the Service alone is kept right.
        let publish = !(self.ip.is_loopback() || self.ip.is_unspecified());
        if !publish {
            warn!(ip = %self.ip, "advertise address is not reachable from pods: the kubernetes Service gets no endpoints; set --advertise-address");
        }
        tokio::pin!(stop);
        loop {
            if let Err(e) = self.sync(publish).await {
                warn!(error = %e, "reconciling the kubernetes Service's endpoints");
            }
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(INTERVAL) => {}
            }
        }
        if publish {
            let removed = async {
                self.leases.remove(self.ip).await?;
                self.sync_endpoints().await
            };
            match removed.await {
                Ok(()) => info!(ip = %self.ip, "removed from the kubernetes Service's endpoints"),
                Err(e) => warn!(error = %e, "removing this server's endpoint"),
            }
        }
    }

    async fn sync(&self, publish: bool) -> Result<(), Error> {
        self.sync_service().await?;
        if publish {
            self.leases.renew(self.ip, SystemTime::now()).await?;
            self.sync_endpoints().await?;
        }
        Ok(())
    }

    async fn sync_service(&self) -> Result<(), Error> {
        let api = Api::<Service>::namespaced(self.client.clone(), NAMESPACE);
        let pp = PostParams::default();
        match api.get_opt(NAME).await? {
            None => {
                info!("recreating the kubernetes Service");
                api.create(&pp, &objects::service(self.service_ip, self.port))
                    .await?;
            }
            Some(svc) => {
                if let Some(fixed) = objects::service_update(&svc, self.port) {
                    info!(port = self.port, "resetting the kubernetes Service's port");
                    api.replace(NAME, &pp, &fixed).await?;
                }
            }
        }
        Ok(())
    }

    /// Endpoints and EndpointSlice to the live leases' addresses. None live (this server
    /// stopping as the last one): left as they are, as upstream refuses to erase them all.
    async fn sync_endpoints(&self) -> Result<(), Error> {
        let now = SystemTime::now();
        let family_v4 = self.service_ip.is_ipv4();
        let ips: Vec<IpAddr> = (self.leases.live(now).await?.into_iter())
            .filter(|ip| ip.is_ipv4() == family_v4)
            .collect();
        if ips.is_empty() {
            debug!("no live API server address: endpoints left as they are");
            return Ok(());
        }
        let pp = PostParams::default();
        let eps = Api::<Endpoints>::namespaced(self.client.clone(), NAMESPACE);
        let current = eps.get_opt(NAME).await?;
        if let Some(ep) = objects::endpoints(current.as_ref(), &ips, self.port) {
            info!(?ips, port = self.port, "writing the kubernetes Endpoints");
            match current {
                None => eps.create(&pp, &ep).await?,
                Some(_) => eps.replace(NAME, &pp, &ep).await?,
            };
        }

        let slices = Api::<EndpointSlice>::namespaced(self.client.clone(), NAMESPACE);
        let address_type = if family_v4 { "IPv4" } else { "IPv6" };
        let mut current = None;
        let listed = slices
            .list(&ListParams::default().labels(&objects::slice_selector()))
            .await?;
        for s in listed.items {
            if s.metadata.name.as_deref() == Some(NAME) && s.address_type == address_type {
                current = Some(s);
            } else if let Some(other) = s.metadata.name {
                // Not this server's to keep (e.g. another family's, left by an older setup).
                info!(slice = %other, "deleting a stale kubernetes EndpointSlice");
                slices.delete(&other, &DeleteParams::default()).await?;
            }
        }
        if let Some(slice) =
            objects::endpoint_slice(current.as_ref(), address_type, &ips, self.port)
        {
            info!(
                ?ips,
                port = self.port,
                "writing the kubernetes EndpointSlice"
            );
            match current {
                None => slices.create(&pp, &slice).await?,
                Some(_) => slices.replace(NAME, &pp, &slice).await?,
            };
        }
        Ok(())
    }
}
