//! Subject alternative names for serving certificates, and host detection.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::{Error, Result};

/// The first IP of k3s's default service CIDR (10.43.0.0/16): the
/// `kubernetes.default` ClusterIP, which in-cluster clients dial.
pub const DEFAULT_SERVICE_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 43, 0, 1));

/// Names every apiserver serving certificate carries, whatever the host:
/// in-cluster clients use the `kubernetes.default...` forms.
const APISERVER_DNS: [&str; 5] = [
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];
const APISERVER_IPS: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

/// One subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum San {
    Dns(String),
    Ip(IpAddr),
}

impl San {
    /// An IP if `s` parses as one (brackets around IPv6 allowed), else a DNS
    /// name, lowercased since DNS matching is case-insensitive and so the
    /// covers-check compares like with like.
    pub fn parse(s: &str) -> Result<San> {
        let s = s.trim();
        let unbracketed = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(s);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(San::Ip(ip));
        }
        let valid = !s.is_empty()
            && s.len() <= 253
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'*' | b'_'));
        if !valid {
            return Err(Error::InvalidSan(s.to_owned()));
        }
        Ok(San::Dns(s.to_ascii_lowercase()))
    }

    pub(crate) fn to_rcgen(&self) -> Result<rcgen::SanType> {
        Ok(match self {
            San::Ip(ip) => rcgen::SanType::IpAddress(*ip),
            San::Dns(d) => rcgen::SanType::DnsName(
                d.as_str()
                    .try_into()
                    .map_err(|_| Error::InvalidSan(d.clone()))?,
            ),
        })
    }
}

impl FromStr for San {
    type Err = Error;
    fn from_str(s: &str) -> Result<San> {
        San::parse(s)
    }
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(d) => f.write_str(d),
            San::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl From<IpAddr> for San {
    fn from(ip: IpAddr) -> San {
        San::Ip(ip)
    }
}

/// What the apiserver's serving certificate must cover beyond the fixed
/// names (`localhost`, `kubernetes[.default[.svc[.cluster.local]]]`,
/// 127.0.0.1, ::1), which are always added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServingSans {
    /// The node's hostname (added as a DNS SAN when non-empty).
    pub hostname: String,
    /// Host addresses and the service ClusterIP.
    pub ips: Vec<IpAddr>,
    /// Additional DNS names.
    pub dns: Vec<String>,
    /// `--tls-san` values, each an IP if it parses as one, else a DNS name.
    pub extra: Vec<String>,
}

impl ServingSans {
    /// Fills the hostname and host addresses from /proc (see
    /// [`host_addresses`]), plus `service_ip` and the `extra` (`--tls-san`)
    /// entries. Unreadable /proc files just mean fewer SANs, not an error:
    /// clients can still use a `--tls-san` or localhost.
    pub fn detect(extra: Vec<String>, service_ip: IpAddr) -> ServingSans {
        let mut ips = vec![service_ip];
        for ip in host_addresses() {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        ServingSans {
            hostname: hostname(),
            ips,
            dns: Vec::new(),
            extra,
        }
    }

    /// The full SAN set the serving certificate must cover, fixed names
    /// included. Fails on an `extra`/`dns` entry that is neither an IP nor a
    /// plausible DNS name, so a typo in `--tls-san` is reported, not dropped.
    pub fn required(&self) -> Result<BTreeSet<San>> {
        let mut out: BTreeSet<San> = APISERVER_DNS
            .iter()
            .map(|d| San::Dns((*d).to_owned()))
            .chain(APISERVER_IPS.iter().copied().map(San::Ip))
            .chain(self.ips.iter().copied().map(San::Ip))
            .collect();
        if !self.hostname.trim().is_empty() {
            out.insert(San::parse(&self.hostname)?);
        }
        for s in self.dns.iter().chain(&self.extra) {
            out.insert(San::parse(s)?);
        }
        Ok(out)
    }
}

/// The hostname from /proc/sys/kernel/hostname (std has no gethostname),
/// falling back to /etc/hostname; lowercased like Kubernetes node names.
/// Empty if neither is readable.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_ascii_lowercase())
        .find(|s| !s.is_empty())
        .unwrap_or_default()
}

/// This host's usable unicast addresses, without sending anything on the
/// network and without a libc binding: IPv4 from the "/32 host LOCAL"
/// entries of /proc/net/fib_trie (the kernel's local routes, one per
/// address assigned to an interface), IPv6 from /proc/net/if_inet6.
/// Loopback, link-local, unspecified and multicast addresses are left out:
/// loopback is always in the certificate and link-local ones are
/// interface-scoped, so no client can name them portably.
pub fn host_addresses() -> Vec<IpAddr> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let mut out = parse_fib_trie(&read("/proc/net/fib_trie"));
    for ip in parse_if_inet6(&read("/proc/net/if_inet6")) {
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out.retain(usable);
    out
}

fn usable(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() || v4.is_multicast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// In fib_trie, an address line (`|-- 10.0.0.5`) is followed by its
/// route lines; a `/32 host LOCAL` route means the address is assigned to
/// this host. Each address appears in both the Main and Local tables, so
/// duplicates are dropped.
fn parse_fib_trie(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(addr) = t.strip_prefix("|-- ") {
            last = addr.trim().parse().ok();
        } else if t.starts_with("/32 host LOCAL") {
            if let Some(ip) = last {
                let ip = IpAddr::V4(ip);
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
    }
    out
}

/// Each if_inet6 line starts with the address as 32 hex digits.
fn parse_if_inet6(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|h| h.len() == 32)
        .filter_map(|h| u128::from_str_radix(h, 16).ok())
        .map(|n| IpAddr::V6(Ipv6Addr::from(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIB_TRIE: &str = "Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.168.1.0/24 2 0 2
        |-- 192.168.1.0
           /24 link UNICAST
        |-- 192.168.1.23
           /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
     +-- 192.168.1.0/24 2 0 2
        |-- 192.168.1.23
           /32 host LOCAL
";

    const IF_INET6: &str = "\
00000000000000000000000000000001 01 80 10 80       lo
fe80000000000000021122fffe334455 02 40 20 80     eth0
20010db8000000000000000000000042 02 40 00 80     eth0
";

    #[test]
    fn parses_proc_files() {
        let v4 = parse_fib_trie(FIB_TRIE);
        assert_eq!(
            v4,
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "192.168.1.23".parse().unwrap()
            ]
        );
        let v6 = parse_if_inet6(IF_INET6);
        assert_eq!(v6.len(), 3);
        let usable: Vec<IpAddr> = v4.into_iter().chain(v6).filter(usable).collect();
        assert_eq!(
            usable,
            vec![
                "192.168.1.23".parse::<IpAddr>().unwrap(),
                "2001:db8::42".parse().unwrap()
            ]
        );
    }

    #[test]
    fn san_parse() {
        assert_eq!(
            San::parse("10.0.0.1").unwrap(),
            San::Ip("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            San::parse("[::1]").unwrap(),
            San::Ip("::1".parse().unwrap())
        );
        assert_eq!(
            San::parse("API.Example.com").unwrap(),
            San::Dns("api.example.com".into())
        );
        assert!(San::parse("not a name").is_err());
        assert!(San::parse("").is_err());
    }

    #[test]
    fn required_includes_fixed_names() {
        let s = ServingSans {
            hostname: "node1".into(),
            ips: vec![DEFAULT_SERVICE_IP],
            dns: vec![],
            extra: vec!["1.2.3.4".into(), "k.example".into()],
        };
        let r = s.required().unwrap();
        for want in [
            "localhost",
            "kubernetes.default.svc.cluster.local",
            "node1",
            "127.0.0.1",
            "::1",
            "10.43.0.1",
            "1.2.3.4",
            "k.example",
        ] {
            assert!(r.contains(&San::parse(want).unwrap()), "{want}");
        }
        let detected = ServingSans::detect(vec![], DEFAULT_SERVICE_IP);
        assert_eq!(detected.ips[0], DEFAULT_SERVICE_IP);
        assert!(detected.ips.iter().all(|ip| !ip.is_loopback()));
    }
}
