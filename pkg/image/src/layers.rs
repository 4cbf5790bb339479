//! Layer blobs -> unpacked layer directories, once per digest, atomically (unpack into tmp/,
//! then rename), off the async runtime.

use std::path::Path;

use crate::{unpack, Inner};

pub async fn unpack_all(inner: &Inner, digests: &[String]) -> Result<(), String> {
    for digest in digests {
        let _guard = inner.locks.lock(format!("layer {digest}")).await;
        let dest = inner.store.layer_path(digest);
        if dest.exists() {
            continue;
        }
        let blob = inner.store.blob_path(digest);
        let tmp = inner.store.tmp_dir();
        let started = std::time::Instant::now();
        let d = digest.clone();
        tokio::task::spawn_blocking(move || unpack_one(&blob, &tmp, &dest))
            .await
            .map_err(|e| format!("unpacking {d}: {e}"))?
            .map_err(|e| format!("unpacking layer {d}: {e}"))?;
        tracing::debug!(digest = %digest, duration_ms = started.elapsed().as_millis() as u64, "unpacked layer");
    }
    Ok(())
}

pub fn unpack_one(blob: &Path, tmp: &Path, dest: &Path) -> std::io::Result<()> {
    let work = tempfile::Builder::new().prefix("layer-").tempdir_in(tmp)?;
    unpack::unpack_layer(blob, work.path())?;
    // The layer root itself must be a plain 0755 directory (the temp dir is 0700).
    std::fs::set_permissions(
        work.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let path = work.keep();
    match std::fs::rename(&path, dest) {
        Ok(()) => Ok(()),
        // An import unpacking the same layer won the race: its copy is as good as ours.
        Err(_) if dest.is_dir() => std::fs::remove_dir_all(&path),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&path);
            Err(e)
        }
    }
}
