//! rkube-image: OCI images for the kubelet. Pulls with oci-client (mirrors and auth from a k3s
//! `registries.yaml`), keeps blobs once by digest, unpacks layers into a content-addressed
//! directory per layer (overlayfs lowerdirs for container root filesystems), and imports
//! OCI-layout / docker-archive tarballs for air-gapped nodes. No Kubernetes types here.

use std::{path::PathBuf, time::Duration};

/// Errors of the image store. `Display` texts end up in pod status messages and events.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid image reference {0:?}")]
    InvalidReference(String),
    #[error("image {0:?} is not present with pull policy Never")]
    NeverPull(String),
    #[error("pulling {reference}: {message}")]
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
    Err(Error::InvalidReference(reference.to_string()))
}

/// k3s' `registries.yaml` (`--private-registry`): mirrors per registry host and per-host configs.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RegistriesConfig {
    #[serde(default)]
    pub mirrors: std::collections::BTreeMap<String, Mirror>,
    #[serde(default)]
    pub configs: std::collections::BTreeMap<String, RegistryHostConfig>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Mirror {
    /// e.g. `http://127.0.0.1:5000`; tried in order, then the registry itself.
    #[serde(default)]
    pub endpoint: Vec<String>,
    /// Optional rewrites (regex -> replacement) of the repository path.
    #[serde(default)]
    pub rewrite: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RegistryHostConfig {
    #[serde(default)]
    pub auth: Option<HostAuth>,
    #[serde(default)]
    pub tls: Option<HostTls>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct HostAuth {
    pub username: Option<String>,
    pub password: Option<String>,
    pub auth: Option<String>,
    pub identitytoken: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct HostTls {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

impl RegistriesConfig {
    /// Reads and validates a registries.yaml; errors name the file and the bad key.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
        serde_yaml::from_str(&text).map_err(|e| Error::Other(format!("{}: {e}", path.display())))
    }
}

/// The node's image store, under `<data-dir>/agent/images-store` (blobs, unpacked layers, index).
/// Cheap to clone; safe to use from many tasks (concurrent pulls of one image share one download).
#[derive(Debug, Clone)]
pub struct ImageService {
    _root: PathBuf,
}

impl ImageService {
    pub fn open(root: &std::path::Path, registries: RegistriesConfig) -> Result<Self> {
        let _ = registries;
        Ok(Self {
            _root: root.to_path_buf(),
        })
    }

    /// The image for `reference` per `policy`: pulls when Always, or IfNotPresent and absent;
    /// `Err(NeverPull)` when Never and absent. The report is `Some` only when it pulled.
    pub async fn ensure(
        &self,
        reference: &str,
        policy: PullPolicy,
        auth: &[RegistryAuth],
    ) -> Result<(Image, Option<PullReport>)> {
        let _ = (policy, auth);
        Err(Error::NotFound(reference.to_string()))
    }

    /// A present image by reference (normalized first) or by ID.
    pub fn get(&self, reference: &str) -> Result<Option<Image>> {
        let _ = reference;
        Ok(None)
    }

    /// Imports an OCI-layout or docker-archive tarball (plain or gzip); returns what it added.
    pub fn import(&self, archive: &std::path::Path) -> Result<Vec<Image>> {
        Err(Error::Other(format!("cannot import {}", archive.display())))
    }

    pub fn list(&self) -> Result<Vec<Image>> {
        Ok(Vec::new())
    }

    /// Removes a reference (and the image with its unshared layers when no reference is left).
    pub fn remove(&self, reference_or_id: &str) -> Result<()> {
        Err(Error::NotFound(reference_or_id.to_string()))
    }
}
