//! The container rootfs: an overlay of the image layers with a per-container upper dir.

use std::path::{Path, PathBuf};

use nix::mount::{umount2, MntFlags, MsFlags};

/// Mounts `rootfs` = overlay(lower = `layers` top-first, upper/work under `bundle`).
/// Runs in the helper (single-threaded): long layer lists fall back to relative paths after a
/// chdir, which would race with other threads in the agent.
pub fn mount(bundle: &Path, rootfs: &Path, layers: &[PathBuf]) -> std::io::Result<()> {
    let upper = bundle.join("upper");
    let work = bundle.join("work");
    for d in [rootfs, &upper, &work] {
        std::fs::create_dir_all(d)?;
    }
    let mut lowers: Vec<PathBuf> = layers.iter().rev().cloned().collect();
    if lowers.is_empty() {
        // overlayfs needs a lower dir; an image with no layers is an empty rootfs.
        let empty = bundle.join("empty");
        std::fs::create_dir_all(&empty)?;
        lowers.push(empty);
    }
    let lower = join(&lowers);
    let opts = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        upper.display(),
        work.display()
    );
    // The kernel takes at most one page of mount options.
    let opts = if opts.len() < 4000 {
        opts
    } else {
        relative_opts(&lowers, &upper, &work)?
    };
    nix::mount::mount(
        Some("overlay"),
        rootfs,
        Some("overlay"),
        MsFlags::empty(),
        Some(opts.as_str()),
    )
    .map_err(std::io::Error::from)
}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// Options relative to the layers' common parent, which becomes the working directory.
fn relative_opts(lowers: &[PathBuf], upper: &Path, work: &Path) -> std::io::Result<String> {
    let parent = lowers[0]
        .parent()
        .ok_or_else(|| std::io::Error::other("layer without a parent directory"))?;
    let rel: Option<Vec<PathBuf>> = lowers
        .iter()
        .map(|l| l.strip_prefix(parent).ok().map(Path::to_path_buf))
        .collect();
    let rel = rel.ok_or_else(|| std::io::Error::other("layers do not share a parent directory"))?;
    std::env::set_current_dir(parent)?;
    Ok(format!(
        "lowerdir={},upperdir={},workdir={}",
        join(&rel),
        upper.display(),
        work.display()
    ))
}

/// Detaches the rootfs mount; a path that is not mounted (or gone) is fine.
pub fn unmount(rootfs: &Path) -> std::io::Result<()> {
    match umount2(rootfs, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowers_are_joined_with_colons() {
        let l = [PathBuf::from("/a/top"), PathBuf::from("/a/bottom")];
        assert_eq!(join(&l), "/a/top:/a/bottom");
    }
}
