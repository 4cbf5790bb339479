//! Pod sandboxes: network, IPC and UTS namespaces kept alive by bind mounts, plus the pod's
//! hosts, resolv.conf and hostname files that every container bind-mounts.

use std::path::{Path, PathBuf};

use nix::{
    mount::{mount, umount2, MntFlags, MsFlags},
    sched::{unshare, CloneFlags},
};

use crate::{Sandbox, SandboxSpec};

pub(crate) const NAMESPACES: [&str; 3] = ["net", "ipc", "uts"];

/// Where a sandbox's files live (no I/O).
pub(crate) fn layout(dir: &Path, spec_id: &str, host_network: bool) -> Sandbox {
    let ns = dir.join("ns");
    Sandbox {
        id: spec_id.to_string(),
        netns: (!host_network).then(|| ns.join("net")),
        ipc_ns: ns.join("ipc"),
        uts_ns: (!host_network).then(|| ns.join("uts")),
        hosts_file: dir.join("hosts"),
        resolv_conf: dir.join("resolv.conf"),
    }
}

/// The pod's /etc/hostname, next to its hosts file.
pub(crate) fn hostname_file(sandbox: &Sandbox) -> PathBuf {
    sandbox
        .hosts_file
        .parent()
        .unwrap_or(Path::new("/"))
        .join("hostname")
}

/// Writes the files a sandbox's containers bind-mount.
pub(crate) fn write_files(dir: &Path, spec: &SandboxSpec) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("ns"))?;
    std::fs::write(dir.join("hosts"), &spec.hosts_file)?;
    std::fs::write(dir.join("resolv.conf"), &spec.resolv_conf)?;
    std::fs::write(dir.join("hostname"), format!("{}\n", spec.hostname))
}

/// In the helper (single-threaded, so unshare moves the whole process): new namespaces, the
/// hostname set and `lo` up in them, each bind-mounted to `dir/ns/<kind>` so it outlives us.
pub(crate) fn create_namespaces(
    dir: &Path,
    hostname: &str,
    host_network: bool,
) -> std::io::Result<()> {
    let mut flags = CloneFlags::CLONE_NEWIPC;
    if !host_network {
        flags |= CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWUTS;
    }
    unshare(flags)?;
    if !host_network {
        nix::unistd::sethostname(hostname)?;
        crate::sys::loopback_up()?;
    }
    for kind in NAMESPACES {
        if host_network && kind != "ipc" {
            continue;
        }
        let target = dir.join("ns").join(kind);
        std::fs::File::create(&target)?;
        mount(
            Some(&PathBuf::from(format!("/proc/self/ns/{kind}"))),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )?;
    }
    Ok(())
}

/// Unmounts the namespace files and removes the directory; idempotent.
pub(crate) fn remove(dir: &Path) -> std::io::Result<()> {
    for kind in NAMESPACES {
        let target = dir.join("ns").join(kind);
        // Loop: a namespace file may have been bind-mounted twice by an interrupted create.
        while umount2(&target, MntFlags::MNT_DETACH).is_ok() {}
    }
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether `path` is a mount point (a namespace file still bind-mounted).
pub(crate) fn is_mounted(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let path = path.display().to_string();
    info.lines()
        .any(|l| l.split(' ').nth(4).is_some_and(|mp| mp == path))
}
