//! Pod volumes on the host, under `<pod-dir>/.volumes/<name>` (a container cannot be named `.volumes`): emptyDir (a directory, or a
//! tmpfs for medium Memory), configMap, secret, downwardAPI and projected (atomic `..data`
//! layout), hostPath. Set up once when the pod starts.

pub mod atomic_writer;
mod sources;
mod tokens;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use k8s_openapi::api::core::v1::{Container, Pod};
use kube::Client;
use rkube_runtime::{Mount, MountKind};
use tracing::warn;

pub use sources::Facts;

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// A missing ConfigMap/Secret or key (FailedMount; the pod waits in ContainerCreating).
    #[error("MountVolume.SetUp failed for volume {volume:?} : {message}")]
    Setup { volume: String, message: String },
    #[error("volume {volume:?}: {source}")]
    Io {
        volume: String,
        #[source]
        source: std::io::Error,
    },
}

/// Volume name -> where it is on the host.
pub type Prepared = HashMap<String, PathBuf>;

pub fn volumes_dir(pod_dir: &Path) -> PathBuf {
    pod_dir.join(".volumes")
}

pub async fn prepare(
    client: &Client,
    pod: &Pod,
    pod_dir: &Path,
    facts: &Facts<'_>,
) -> Result<Prepared, VolumeError> {
    let mut out = Prepared::new();
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(out);
    };
    let base = volumes_dir(pod_dir);
    for v in spec.volumes.iter().flatten() {
        let io_err = |source| VolumeError::Io {
            volume: v.name.clone(),
            source,
        };
        let dir = base.join(&v.name);
        if let Some(hp) = &v.host_path {
            let path = PathBuf::from(&hp.path);
            match hp.type_.as_deref().unwrap_or("") {
                "DirectoryOrCreate" => std::fs::create_dir_all(&path).map_err(io_err)?,
                "FileOrCreate" if !path.exists() => {
                    if let Some(p) = path.parent() {
                        std::fs::create_dir_all(p).map_err(io_err)?;
                    }
                    std::fs::write(&path, b"").map_err(io_err)?;
                }
                "Directory" | "File" | "Socket" | "CharDevice" | "BlockDevice"
                    if !path.exists() =>
                {
                    return Err(VolumeError::Setup {
                        volume: v.name.clone(),
                        message: format!("hostPath type check failed: {} does not exist", hp.path),
                    })
                }
                _ => {}
            }
            out.insert(v.name.clone(), path);
            continue;
        }
        if let Some(ed) = &v.empty_dir {
            std::fs::create_dir_all(&dir).map_err(io_err)?;
            if ed.medium.as_deref() == Some("Memory") && !is_mountpoint(&dir) {
                let size = ed
                    .size_limit
                    .as_ref()
                    .and_then(|q| crate::env::parse_quantity(&q.0))
                    .map(|b| format!("size={}", b as u64));
                mount_tmpfs(&dir, size.as_deref()).map_err(io_err)?;
            }
            out.insert(v.name.clone(), dir);
            continue;
        }
        let payload = sources::payload(client, pod, v, facts).await?;
        match payload {
            Some(p) => {
                atomic_writer::write(&dir, &p).map_err(io_err)?;
                out.insert(v.name.clone(), dir);
            }
            None => {
                warn!(volume = %v.name, "unsupported volume type; mounting an empty directory");
                std::fs::create_dir_all(&dir).map_err(io_err)?;
                out.insert(v.name.clone(), dir);
            }
        }
    }
    Ok(out)
}

/// Rewrites the configMap, secret, downwardAPI and projected volumes whose content changed
/// (an atomic `..data` swap, so running containers see the new files; subPath mounts keep the
/// file they were started with, as upstream). Returns the names of the volumes rewritten; a
/// source gone or failing keeps the old content.
pub async fn refresh(client: &Client, pod: &Pod, pod_dir: &Path, facts: &Facts<'_>) -> Vec<String> {
    let mut changed = Vec::new();
    let Some(spec) = pod.spec.as_ref() else {
        return changed;
    };
    let base = volumes_dir(pod_dir);
    for v in spec.volumes.iter().flatten() {
        if v.config_map.is_none()
            && v.secret.is_none()
            && v.downward_api.is_none()
            && v.projected.is_none()
        {
            continue;
        }
        let dir = base.join(&v.name);
        if !dir.exists() {
            continue;
        }
        match sources::payload(client, pod, v, facts).await {
            Ok(Some(p)) => match atomic_writer::update(&dir, &p) {
                Ok(true) => changed.push(v.name.clone()),
                Ok(false) => {}
                Err(e) => warn!(volume = %v.name, error = %e, "updating a volume failed"),
            },
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(volume = %v.name, error = %e, "volume source unavailable; keeping its files")
            }
        }
    }
    changed
}

/// The container's volumeMounts as runtime mounts (subPath resolved on the host).
pub fn mounts(c: &Container, prepared: &Prepared) -> Result<Vec<Mount>, String> {
    let mut out = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let Some(src) = prepared.get(&m.name) else {
            return Err(format!(
                "unable to find volume {:?} for volumeMount",
                m.name
            ));
        };
        let mut source = src.clone();
        if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
            if sub.split('/').any(|p| p == "..") || sub.starts_with('/') {
                return Err(format!("invalid subPath {sub:?}"));
            }
            source = source.join(sub);
            if !source.exists() {
                std::fs::create_dir_all(&source).map_err(|e| e.to_string())?;
            }
        }
        out.push(Mount {
            source,
            destination: m.mount_path.clone(),
            read_only: m.read_only.unwrap_or(false),
            kind: MountKind::Bind,
        });
    }
    Ok(out)
}

/// Unmounts tmpfs volumes and removes the pod's volume directories; idempotent.
pub fn teardown(pod_dir: &Path) {
    let base = volumes_dir(pod_dir);
    let Ok(entries) = std::fs::read_dir(&base) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if is_mountpoint(&p) {
            if let Err(e) = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH) {
                warn!(path = %p.display(), error = %e, "unmounting a volume failed");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&base);
}

fn mount_tmpfs(dir: &Path, data: Option<&str>) -> std::io::Result<()> {
    use nix::mount::{mount, MsFlags};
    mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        data,
    )
    .map_err(std::io::Error::from)
}

/// Whether `p` is a mount point (its device differs from its parent's).
pub fn is_mountpoint(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(m), Some(parent)) = (std::fs::metadata(p), p.parent()) else {
        return false;
    };
    std::fs::metadata(parent).is_ok_and(|pm| pm.dev() != m.dev())
}
