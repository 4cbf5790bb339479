//! The few cgroup facts the runtime reads itself (libcontainer manages the rest): where a
//! container's cgroup lives, its OOM-kill counter, and removing leftover directories.

use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";

/// cgroup v1 (or hybrid, where libcontainer uses the v1 controllers) vs. unified v2.
fn is_v1() -> bool {
    Path::new(ROOT).join("memory").is_dir()
}

/// Number of OOM kills recorded in the container's memory cgroup.
pub(crate) fn oom_kills(cgroups_path: &str) -> u64 {
    let rel = cgroups_path.trim_start_matches('/');
    let (file, key) = if is_v1() {
        (
            Path::new(ROOT)
                .join("memory")
                .join(rel)
                .join("memory.oom_control"),
            "oom_kill",
        )
    } else {
        (Path::new(ROOT).join(rel).join("memory.events"), "oom_kill")
    };
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                let (k, v) = l.split_once(' ')?;
                (k == key).then(|| v.trim().parse().ok())?
            })
        })
        .unwrap_or(0)
}

/// Every directory this cgroup path has (one per mounted v1 hierarchy, or one on v2).
pub(crate) fn dirs(cgroups_path: &str) -> Vec<PathBuf> {
    let rel = cgroups_path.trim_start_matches('/');
    if rel.is_empty() {
        return Vec::new();
    }
    if !is_v1() {
        return vec![Path::new(ROOT).join(rel)];
    }
    let Ok(entries) = std::fs::read_dir(ROOT) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        // Skip the symlinks (cpu -> cpu,cpuacct) so each hierarchy is visited once.
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path().join(rel))
        .filter(|p| p.is_dir())
        .collect()
}

/// Removes the cgroup's (empty) directories libcontainer left, e.g. after a failed create.
pub(crate) fn remove(cgroups_path: &str) {
    for d in dirs(cgroups_path) {
        if let Err(e) = std::fs::remove_dir(&d) {
            tracing::debug!(dir = %d.display(), error = %e, "removing cgroup directory");
        }
    }
}
