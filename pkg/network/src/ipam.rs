//! Pod address management, persisted like CNI host-local: one file per allocated address, named
//! by the address and holding the pod id. A file appears only complete and only once (written
//! to a temporary name, then hard-linked into place, which fails with EEXIST exactly like
//! `O_CREAT|O_EXCL`), so an address is never handed out twice, even across processes and
//! restarts. Allocation is round-robin from the last reserved address so a just-released address
//! (with stale ARP or conntrack entries elsewhere) is not reused at once.

use std::{
    collections::HashSet,
    fs, io,
    net::Ipv4Addr,
    path::{Path, PathBuf},
};

use tracing::debug;

use crate::{cidr::Ipv4Cidr, Error, Result};

const LAST_RESERVED: &str = "last_reserved_ip";

/// The next free address of `range` after `last` (wrapping), never the gateway; `None` when full.
pub fn next_free(
    range: &Ipv4Cidr,
    used: &HashSet<Ipv4Addr>,
    last: Option<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    let gateway = range.gateway()?;
    let free = |ip: &Ipv4Addr| *ip != gateway && !used.contains(ip);
    let start = last.filter(|l| range.contains(*l));
    match start {
        Some(last) => range
            .hosts()
            .skip_while(|ip| *ip <= last)
            .find(free)
            .or_else(|| range.hosts().take_while(|ip| *ip <= last).find(free)),
        None => range.hosts().find(free),
    }
}

/// The on-disk allocations of one node's pod range.
#[derive(Debug, Clone)]
pub(crate) struct Ipam {
    dir: PathBuf,
    range: Ipv4Cidr,
}

impl Ipam {
    pub(crate) fn open(dir: &Path, range: Ipv4Cidr) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| io_err("create IPAM directory", dir, e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            range,
        })
    }

    /// Every allocation on disk: (address, pod id).
    fn entries(&self) -> Result<Vec<(Ipv4Addr, String)>> {
        let mut out = Vec::new();
        let rd = fs::read_dir(&self.dir).map_err(|e| io_err("read", &self.dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| io_err("read", &self.dir, e))?;
            let Some(ip) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<Ipv4Addr>().ok())
            else {
                continue;
            };
            match fs::read_to_string(entry.path()) {
                Ok(owner) => out.push((ip, owner)),
                // Released between read_dir and read.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("read", &entry.path(), e)),
            }
        }
        Ok(out)
    }

    /// The address `pod_id` holds, if any.
    pub(crate) fn find(&self, pod_id: &str) -> Result<Option<Ipv4Addr>> {
        Ok(self
            .entries()?
            .into_iter()
            .filter(|(_, owner)| owner == pod_id)
            .map(|(ip, _)| ip)
            .min())
    }

    /// The address of `pod_id`, allocating one if it has none. The bool says whether it is new.
    pub(crate) fn allocate(&self, pod_id: &str) -> Result<(Ipv4Addr, bool)> {
        let entries = self.entries()?;
        if let Some(ip) = entries
            .iter()
            .filter(|(_, owner)| owner == pod_id)
            .map(|(ip, _)| *ip)
            .min()
        {
            return Ok((ip, false));
        }
        let mut used: HashSet<Ipv4Addr> = entries.into_iter().map(|(ip, _)| ip).collect();
        let mut last = self.last_reserved();
        loop {
            let Some(ip) = next_free(&self.range, &used, last) else {
                return Err(Error::Exhausted(self.range.to_string()));
            };
            if self.reserve(ip, pod_id)? {
                self.set_last_reserved(ip);
                debug!(%ip, pod_id, "address allocated");
                return Ok((ip, true));
            }
            // Another process took it between our scan and the link.
            used.insert(ip);
            last = Some(ip);
        }
    }

    /// Creates `<dir>/<ip>` holding `pod_id`; false if the address is taken.
    fn reserve(&self, ip: Ipv4Addr, pod_id: &str) -> Result<bool> {
        let tmp = self.dir.join(format!(".{ip}.{}.tmp", std::process::id()));
        let target = self.dir.join(ip.to_string());
        write_synced(&tmp, pod_id).map_err(|e| io_err("write", &tmp, e))?;
        let linked = fs::hard_link(&tmp, &target);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                sync_dir(&self.dir);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io_err("create", &target, e)),
        }
    }

    /// Releases every address `pod_id` holds; returns them.
    pub(crate) fn release(&self, pod_id: &str) -> Result<Vec<Ipv4Addr>> {
        let mut released = Vec::new();
        for (ip, owner) in self.entries()? {
            if owner != pod_id {
                continue;
            }
            let path = self.dir.join(ip.to_string());
            match fs::remove_file(&path) {
                Ok(()) => released.push(ip),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", &path, e)),
            }
        }
        if !released.is_empty() {
            sync_dir(&self.dir);
        }
        Ok(released)
    }

    fn last_reserved(&self) -> Option<Ipv4Addr> {
        fs::read_to_string(self.dir.join(LAST_RESERVED))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Best effort: losing it only changes where the next scan starts.
    fn set_last_reserved(&self, ip: Ipv4Addr) {
        let _ = fs::write(self.dir.join(LAST_RESERVED), ip.to_string());
    }
}

fn write_synced(path: &Path, content: &str) -> io::Result<()> {
    use std::io::Write;
    let mut f = fs::File::create(path)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()
}

/// Makes a create/remove in `dir` durable; best effort (some filesystems refuse fsync on dirs).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn io_err(what: &str, path: &Path, e: io::Error) -> Error {
    Error::Other(format!("IPAM: {what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn a_slash_24_holds_253_pods_and_the_254th_fails() {
        let range = cidr("10.42.0.0/24");
        let mut used = HashSet::new();
        let mut last = None;
        for _ in 0..253 {
            let ip = next_free(&range, &used, last).expect("room left");
            assert_ne!(
                ip,
                Ipv4Addr::new(10, 42, 0, 1),
                "the gateway is never handed out"
            );
            assert!(used.insert(ip), "{ip} handed out twice");
            last = Some(ip);
        }
        assert_eq!(next_free(&range, &used, last), None);
        assert!(!used.contains(&Ipv4Addr::new(10, 42, 0, 0)));
        assert!(!used.contains(&Ipv4Addr::new(10, 42, 0, 255)));
    }

    #[test]
    fn round_robin_wraps_and_skips_used() {
        let range = cidr("10.0.0.0/29"); // hosts .1-.6, gateway .1
        let used: HashSet<_> = [Ipv4Addr::new(10, 0, 0, 3)].into();
        assert_eq!(
            next_free(&range, &used, None),
            Some(Ipv4Addr::new(10, 0, 0, 2))
        );
        assert_eq!(
            next_free(&range, &used, Some(Ipv4Addr::new(10, 0, 0, 2))),
            Some(Ipv4Addr::new(10, 0, 0, 4))
        );
        assert_eq!(
            next_free(&range, &used, Some(Ipv4Addr::new(10, 0, 0, 6))),
            Some(Ipv4Addr::new(10, 0, 0, 2))
        );
        // A last address outside the range (podCIDR changed) starts from the beginning.
        assert_eq!(
            next_free(&range, &used, Some(Ipv4Addr::new(192, 168, 0, 9))),
            Some(Ipv4Addr::new(10, 0, 0, 2))
        );
    }

    #[test]
    fn files_persist_are_idempotent_and_release() {
        let dir = tempfile::tempdir().unwrap();
        let range = cidr("10.0.0.0/29");
        let ipam = Ipam::open(dir.path(), range).unwrap();
        let (a, new_a) = ipam.allocate("pod-a").unwrap();
        let (a2, new_a2) = ipam.allocate("pod-a").unwrap();
        assert_eq!((a, new_a, new_a2), (a2, true, false));
        let (b, _) = ipam.allocate("pod-b").unwrap();
        assert_ne!(a, b);
        assert_eq!(
            fs::read_to_string(dir.path().join(a.to_string())).unwrap(),
            "pod-a"
        );

        // A second instance (an agent restart) sees the same allocations.
        let again = Ipam::open(dir.path(), range).unwrap();
        assert_eq!(again.find("pod-a").unwrap(), Some(a));
        assert_eq!(again.find("pod-b").unwrap(), Some(b));

        assert_eq!(again.release("pod-a").unwrap(), vec![a]);
        assert!(again.release("pod-a").unwrap().is_empty());
        assert_eq!(again.find("pod-a").unwrap(), None);
        assert!(!dir.path().join(a.to_string()).exists());
    }

    #[test]
    fn exhaustion_is_an_error_and_a_taken_file_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let range = cidr("10.0.0.0/29"); // 5 assignable: .2-.6
                                         // Someone else's file (another process) for .2.
        fs::write(dir.path().join("10.0.0.2"), "other").unwrap();
        let ipam = Ipam::open(dir.path(), range).unwrap();
        let got: Vec<_> = (0..4)
            .map(|i| ipam.allocate(&format!("p{i}")).unwrap().0)
            .collect();
        assert!(!got.contains(&Ipv4Addr::new(10, 0, 0, 2)));
        match ipam.allocate("one-too-many") {
            Err(Error::Exhausted(r)) => assert_eq!(r, "10.0.0.0/29"),
            other => panic!("expected Exhausted, got {other:?}"),
        }
    }
}
