//! Air-gapped images: archives dropped in `<data-dir>/agent/images/` (k3s' airgap folder:
//! `skopeo copy ... oci-archive:`, `docker save`, plain or gzip) are imported on start, so pods
//! with imagePullPolicy Never/IfNotPresent run without a registry.

use std::path::Path;

use tracing::{info, warn};

/// Imports every archive in `dir`; a bad archive is logged and skipped, never fatal.
pub async fn import_dir(images: &rkube_image::ImageService, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut archives: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.ends_with(".tar") || name.ends_with(".tar.gz") || name.ends_with(".tgz")
        })
        .collect();
    archives.sort();
    for archive in archives {
        let svc = images.clone();
        let path = archive.clone();
        // Import reads and unpacks whole archives: off the async workers.
        match tokio::task::spawn_blocking(move || svc.import(&path)).await {
            Ok(Ok(imported)) => {
                let refs: Vec<_> = imported.iter().flat_map(|i| i.references.clone()).collect();
                info!(archive = %archive.display(), images = ?refs, "imported an image archive");
            }
            Ok(Err(e)) => {
                warn!(archive = %archive.display(), error = %e, "importing an image archive failed")
            }
            Err(e) => {
                warn!(archive = %archive.display(), error = %e, "importing an image archive panicked")
            }
        }
    }
}
