//! ContainerSpec -> OCI runtime spec (config.json), with containerd's CRI defaults.

use oci_spec::runtime::Spec;
use serde_json::{json, Value};

use crate::{sandbox::hostname_file, ContainerSpec, MountKind};

/// containerd's default capability set for CRI containers.
pub(crate) const DEFAULT_CAPS: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

const ALL_CAPS: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

const MASKED_PATHS: [&str; 11] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Syscalls the RuntimeDefault profile refuses with EPERM. Not Docker's full allowlist: a
/// denylist of the calls its profile exists to stop (kernel modules, kexec, reboot, clocks,
/// keyrings, bpf/perf, userfaultfd, handle-based opens, namespace and mount tricks).
const RUNTIME_DEFAULT_DENY: [&str; 36] = [
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "move_mount",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "userfaultfd",
    "uselib",
];

/// The seccomp section for a profile name: `RuntimeDefault`, `Unconfined`, or the path of an
/// OCI-format (Docker-compatible) JSON profile, optionally prefixed `localhost/`.
fn seccomp(profile: Option<&str>, privileged: bool) -> Result<Option<Value>, String> {
    match profile {
        None | Some("") | Some("Unconfined") | Some("unconfined") => Ok(None),
        // Privileged containers run unconfined, as in containerd.
        Some(_) if privileged => Ok(None),
        Some("RuntimeDefault") | Some("runtime/default") | Some("docker/default") => {
            Ok(Some(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{
                    "names": RUNTIME_DEFAULT_DENY.to_vec(),
                    "action": "SCMP_ACT_ERRNO",
                    "errnoRet": libc::EPERM,
                }],
            })))
        }
        Some(path) => {
            let path = path
                .strip_prefix("localhost/")
                .or_else(|| path.strip_prefix("Localhost/"))
                .unwrap_or(path);
            let data = std::fs::read(path).map_err(|e| format!("seccomp profile {path}: {e}"))?;
            serde_json::from_slice(&data)
                .map(Some)
                .map_err(|e| format!("seccomp profile {path}: {e}"))
        }
    }
}

/// The capability set after add/drop (names without `CAP_`, `ALL` allowed), as OCI names.
pub(crate) fn capabilities(privileged: bool, add: &[String], drop: &[String]) -> Vec<String> {
    let norm = |c: &String| c.trim_start_matches("CAP_").to_ascii_uppercase();
    let drop: Vec<String> = drop.iter().map(norm).collect();
    let add: Vec<String> = add.iter().map(norm).collect();
    let mut caps: Vec<String> = if privileged || add.iter().any(|c| c == "ALL") {
        ALL_CAPS.iter().map(|c| c.to_string()).collect()
    } else {
        DEFAULT_CAPS.iter().map(|c| c.to_string()).collect()
    };
    if !privileged {
        if drop.iter().any(|c| c == "ALL") {
            caps.clear();
        } else {
            caps.retain(|c| !drop.contains(c));
        }
        for c in add {
            if c != "ALL"
                && !caps.contains(&c)
                && (!drop.contains(&c) || drop.contains(&"ALL".into()))
            {
                caps.push(c);
            }
        }
    }
    caps.into_iter().map(|c| format!("CAP_{c}")).collect()
}

fn bind(source: &std::path::Path, destination: &str, read_only: bool) -> Value {
    json!({
        "destination": destination,
        "type": "bind",
        "source": source,
        "options": ["rbind", "rprivate", if read_only { "ro" } else { "rw" }],
    })
}

/// The OCI spec for `spec`, with the rootfs at `<bundle>/rootfs` and cgroup `cgroups_path`.
pub(crate) fn build(spec: &ContainerSpec, cgroups_path: &str) -> Result<Spec, String> {
    let sec = &spec.security;
    let caps = capabilities(sec.privileged, &sec.cap_add, &sec.cap_drop);
    let sys_opts = if sec.privileged {
        json!(["nosuid", "noexec", "nodev"])
    } else {
        json!(["nosuid", "noexec", "nodev", "ro"])
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts}),
        bind(&spec.sandbox.hosts_file, "/etc/hosts", false),
        bind(&spec.sandbox.resolv_conf, "/etc/resolv.conf", false),
        bind(&hostname_file(&spec.sandbox), "/etc/hostname", false),
    ];
    for m in &spec.mounts {
        mounts.push(match &m.kind {
            MountKind::Bind => bind(&m.source, &m.destination, m.read_only),
            MountKind::Tmpfs { size } => {
                let mut opts = vec!["nosuid".to_string(), "nodev".into(), "mode=1777".into()];
                if let Some(size) = size {
                    opts.push(format!("size={size}"));
                }
                if m.read_only {
                    opts.push("ro".into());
                }
                json!({"destination": m.destination, "type": "tmpfs", "source": "tmpfs",
                       "options": opts})
            }
        });
    }

    let mut namespaces = vec![json!({"type": "pid"}), json!({"type": "mount"})];
    namespaces.push(json!({"type": "ipc", "path": spec.sandbox.ipc_ns}));
    if let Some(net) = &spec.sandbox.netns {
        namespaces.push(json!({"type": "network", "path": net}));
    }
    if let Some(uts) = &spec.sandbox.uts_ns {
        namespaces.push(json!({"type": "uts", "path": uts}));
    }

    let r = &spec.resources;
    let mut resources = json!({
        "devices": [{"allow": sec.privileged, "access": "rwm"}],
    });
    if r.memory_limit.is_some() {
        resources["memory"] = json!({"limit": r.memory_limit});
    }
    if r.cpu_shares.is_some() || r.cpu_quota.is_some() || r.cpu_period.is_some() {
        let mut cpu = serde_json::Map::new();
        if let Some(v) = r.cpu_shares {
            cpu.insert("shares".into(), json!(v));
        }
        if let Some(v) = r.cpu_quota {
            cpu.insert("quota".into(), json!(v));
        }
        if let Some(v) = r.cpu_period {
            cpu.insert("period".into(), json!(v));
        }
        resources["cpu"] = Value::Object(cpu);
    }
    if let Some(limit) = r.pids_limit {
        resources["pids"] = json!({"limit": limit});
    }

    let mut linux = json!({
        "namespaces": namespaces,
        "cgroupsPath": cgroups_path,
        "resources": resources,
    });
    if !sec.privileged {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
    }
    if let Some(profile) = seccomp(sec.seccomp.as_deref(), sec.privileged)? {
        linux["seccomp"] = profile;
    }

    let mut user = json!({"uid": spec.uid, "gid": spec.gid});
    if !spec.additional_gids.is_empty() {
        user["additionalGids"] = json!(spec.additional_gids);
    }
    let mut config = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": spec.tty,
            "user": user,
            "args": spec.args,
            "env": spec.env,
            "cwd": if spec.cwd.is_empty() { "/" } else { spec.cwd.as_str() },
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps,
            },
        },
        "root": {"path": "rootfs", "readonly": sec.read_only_rootfs},
        "mounts": mounts,
        "linux": linux,
    });
    // Only when true: libcontainer 0.7 loads seccomp before dropping capabilities only when
    // the field is absent, and `false` would make a non-root container fail to load it.
    if sec.no_new_privileges {
        config["process"]["noNewPrivileges"] = json!(true);
    }
    serde_json::from_value(config).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn default_caps_with_add_and_drop() {
        let caps = capabilities(false, &s(&["NET_ADMIN"]), &s(&["KILL", "CAP_CHOWN"]));
        assert!(caps.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!caps.contains(&"CAP_KILL".to_string()));
        assert!(!caps.contains(&"CAP_CHOWN".to_string()));
        assert!(caps.contains(&"CAP_SETUID".to_string()));
    }

    #[test]
    fn drop_all_keeps_only_added() {
        let caps = capabilities(false, &s(&["NET_BIND_SERVICE"]), &s(&["ALL"]));
        assert_eq!(caps, s(&["CAP_NET_BIND_SERVICE"]));
    }

    #[test]
    fn privileged_gets_everything() {
        assert_eq!(capabilities(true, &[], &s(&["ALL"])).len(), ALL_CAPS.len());
    }
}
