//! Facts about this machine for the Node object: CPUs, memory, disk, OS, kernel, IDs.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineInfo {
    pub cpus: usize,
    /// MemTotal in bytes.
    pub memory: u64,
    /// Size of the filesystem holding the data dir, in bytes.
    pub ephemeral_storage: u64,
    pub kernel_version: String,
    pub os_image: String,
    pub machine_id: String,
    pub boot_id: String,
    pub system_uuid: String,
}

impl MachineInfo {
    pub fn detect(data_dir: &Path) -> MachineInfo {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let machine_id = read("/etc/machine-id").trim().to_string();
        MachineInfo {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory: mem_total(&read("/proc/meminfo")).unwrap_or(0),
            ephemeral_storage: fs_size(data_dir).unwrap_or(0),
            kernel_version: read("/proc/sys/kernel/osrelease").trim().to_string(),
            os_image: pretty_name(&read("/etc/os-release")),
            system_uuid: read("/sys/class/dmi/id/product_uuid").trim().to_lowercase(),
            boot_id: read("/proc/sys/kernel/random/boot_id").trim().to_string(),
            machine_id,
        }
    }
}

/// `MemTotal:  24576000 kB` in bytes.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// PRETTY_NAME from os-release, unquoted; `Linux` without one.
pub fn pretty_name(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

fn fs_size(dir: &Path) -> Option<u64> {
    // The data dir may not exist yet: measure the nearest existing ancestor.
    let existing = dir.ancestors().find(|p| p.exists())?;
    let st = nix::sys::statvfs::statvfs(existing).ok()?;
    Some(st.blocks() as u64 * st.fragment_size() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(
            mem_total("MemTotal:       1000 kB\nMemFree: 1 kB\n"),
            Some(1_024_000)
        );
        assert_eq!(
            pretty_name("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)"
        );
        let m = MachineInfo::detect(Path::new("/nonexistent/x"));
        assert!(m.cpus >= 1 && m.memory > 0 && m.ephemeral_storage > 0);
        assert!(!m.kernel_version.is_empty());
    }
}
