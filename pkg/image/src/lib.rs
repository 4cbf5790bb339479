//! rkube-image: OCI images for the kubelet. Pulls with oci-client (mirrors and auth from a k3s
//! `registries.yaml`), keeps blobs once by digest, unpacks layers into a content-addressed
//! directory per layer (overlayfs lowerdirs for container root filesystems), and imports
//! OCI-layout / docker-archive tarballs for air-gapped nodes. No Kubernetes types here.

mod config;
pub mod gc;
mod import;
mod layers;
mod locks;
mod pull;
pub mod reference;
pub mod registries;
mod store;
mod tls_bridge;
pub mod unpack;
mod usage;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

pub use gc::{GcError, GcOutcome, GcPolicy};
pub use registries::{HostAuth, HostTls, Mirror, RegistriesConfig, RegistryHostConfig};

/// Errors of the image store. `Display` texts end up in pod status messages and events.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid image reference {0:?}")]
    InvalidReference(String),
    #[error("image {0:?} is not present with pull policy Never")]
    NeverPull(String),
    #[error("failed to pull image {reference:?}: {message}")]
    Pull { reference: String, message: String },
    #[error("image {0:?} not found")]
    NotFound(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// imagePullPolicy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

/// Credentials for one registry host, e.g. from a kubernetes.io/dockerconfigjson secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    /// Registry host as written in the secret (`docker.io`, `https://index.docker.io/v1/`, `127.0.0.1:5000`).
    pub server: String,
    pub username: String,
    pub password: String,
}

/// The parts of the image config that the kubelet merges into a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `KEY=value` entries.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
}

/// An image present on this node.
#[derive(Debug, Clone)]
pub struct Image {
    /// `sha256:<config digest>` (what `docker images --no-trunc` calls the ID).
    pub id: String,
    /// Normalized references pointing at it (`docker.io/library/busybox:1.36`).
    pub references: Vec<String>,
    /// `docker.io/library/busybox@sha256:<manifest digest>`, for containerStatuses[].imageID.
    pub repo_digest: Option<String>,
    pub config: ImageConfig,
    /// Unpacked layer directories, bottom layer first (overlayfs wants them top first: reverse).
    pub layers: Vec<PathBuf>,
    /// Compressed size of the layers in bytes.
    pub size: u64,
}

/// What a pull did, for the `Pulled` event ("Successfully pulled image ... in 1.2s. Image size: N bytes.").
#[derive(Debug, Clone)]
pub struct PullReport {
    pub bytes: u64,
    pub duration: Duration,
}

/// Normalizes like the Docker/Kubernetes tooling: `busybox` -> `docker.io/library/busybox:latest`,
/// `foo/bar:1` -> `docker.io/foo/bar:1`, `127.0.0.1:5000/x` -> `127.0.0.1:5000/x:latest`;
/// a `@sha256:` digest is kept.
pub fn normalize_reference(reference: &str) -> Result<String> {
    reference::parse(reference).map(|r| r.to_string())
}

/// The node's image store, under `<data-dir>/agent/images` (blobs, unpacked layers, index).
/// Cheap to clone; safe to use from many tasks (concurrent pulls of one image share one download).
#[derive(Debug, Clone)]
pub struct ImageService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: store::Store,
    registries: RegistriesConfig,
    locks: locks::KeyedLocks,
    /// When each reference was last pulled, so a pull that waited for another one of the same
    /// reference takes its result instead of pulling again.
    pulled_at: Mutex<HashMap<String, Instant>>,
    /// First-seen and last-used times (image GC's LRU order).
    usage: usage::Usage,
    /// Pulls hold it shared, image GC exclusively: a pull's layers are not deleted under it.
    gc_lock: tokio::sync::RwLock<()>,
    /// The loopback proxy giving oci-client registry client certificates, started on first use.
    tls_bridge: std::sync::OnceLock<Result<tls_bridge::TlsBridge, String>>,
}

impl ImageService {
    pub fn open(root: &std::path::Path, registries: RegistriesConfig) -> Result<Self> {
        // oci-client's HTTPS uses rustls without a built-in provider; the workspace uses ring.
        // Another component may have installed it already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Self {
            inner: Arc::new(Inner {
                store: store::Store::open(root)?,
                registries,
                locks: locks::KeyedLocks::default(),
                pulled_at: Mutex::new(HashMap::new()),
                usage: usage::Usage::open(root),
                gc_lock: tokio::sync::RwLock::new(()),
                tls_bridge: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The image for `reference` per `policy`: pulls when Always, or IfNotPresent and absent;
    /// `Err(NeverPull)` when Never and absent. The report is `Some` only when it pulled.
    /// Counts as a use of the image (image GC deletes least recently used images first).
    #[tracing::instrument(level = "debug", skip(self, auth), fields(auths = auth.len()))]
    pub async fn ensure(
        &self,
        reference: &str,
        policy: PullPolicy,
        auth: &[RegistryAuth],
    ) -> Result<(Image, Option<PullReport>)> {
        // Image GC deletes nothing while an image is being looked up or pulled.
        let _no_gc = self.inner.gc_lock.read().await;
        let r = self.ensure_present(reference, policy, auth).await;
        if let Ok((image, _)) = &r {
            self.mark_used(&image.id);
        }
        r
    }

    async fn ensure_present(
        &self,
        reference: &str,
        policy: PullPolicy,
        auth: &[RegistryAuth],
    ) -> Result<(Image, Option<PullReport>)> {
        let parsed = reference::parse(reference)?;
        let normalized = parsed.to_string();
        if policy != PullPolicy::Always {
            if let Some(r) = self.find(&parsed) {
                return Ok((self.inner.store.image(&r), None));
            }
            if policy == PullPolicy::Never {
                return Err(Error::NeverPull(reference.to_string()));
            }
        }
        let requested = Instant::now();
        let _guard = self.inner.locks.lock(format!("pull {normalized}")).await;
        if let Some(r) = self.find(&parsed) {
            let fresh = self
                .inner
                .pulled_at
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&normalized)
                .is_some_and(|t| *t >= requested);
            if policy == PullPolicy::IfNotPresent || fresh {
                return Ok((self.inner.store.image(&r), None));
            }
        }
        let (record, report) = pull::pull(&self.inner, &parsed, reference, auth).await?;
        self.inner
            .pulled_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(normalized, Instant::now());
        Ok((self.inner.store.image(&record), Some(report)))
    }

    fn find(&self, r: &reference::ImageRef) -> Option<store::ImageRecord> {
        let normalized = r.to_string();
        if let Some(rec) = self.inner.store.find(Some(&normalized), "") {
            return Some(rec);
        }
        // By digest: any image pulled with that manifest (or index) digest.
        let digest = r.digest.as_ref()?;
        let by_digest = format!("{}@{digest}", r.name());
        self.inner
            .store
            .list()
            .into_iter()
            .find(|rec| rec.repo_digest.as_deref() == Some(by_digest.as_str()))
    }

    /// A present image by reference (normalized first) or by ID.
    pub fn get(&self, reference: &str) -> Result<Option<Image>> {
        let found = match reference::parse(reference) {
            Ok(parsed) => self
                .find(&parsed)
                .or_else(|| self.inner.store.find(None, reference)),
            Err(e) => Some(self.inner.store.find(None, reference).ok_or(e)?),
        };
        Ok(found.map(|r| self.inner.store.image(&r)))
    }

    /// Imports an OCI-layout or docker-archive tarball (plain or gzip); returns what it added.
    /// Blocking: call it from a blocking thread when on an async runtime.
    pub fn import(&self, archive: &std::path::Path) -> Result<Vec<Image>> {
        let records = import::import(&self.inner, archive)?;
        Ok(records.iter().map(|r| self.inner.store.image(r)).collect())
    }

    pub fn list(&self) -> Result<Vec<Image>> {
        Ok(self
            .inner
            .store
            .list()
            .iter()
            .map(|r| self.inner.store.image(r))
            .collect())
    }

    /// Removes a reference (and the image with its unshared layers when no reference is left).
    pub fn remove(&self, reference_or_id: &str) -> Result<()> {
        let store = &self.inner.store;
        if let Ok(parsed) = reference::parse(reference_or_id) {
            let normalized = parsed.to_string();
            if let Some(r) = store.find(Some(&normalized), "") {
                return store.remove(&r.id, Some(&normalized));
            }
        }
        match store.find(None, reference_or_id) {
            Some(r) => store.remove(&r.id, None),
            None => Err(Error::NotFound(reference_or_id.to_string())),
        }
    }
}
