//! Addresses for simulated nodes and their pods, all in memory: a node's InternalIP from the
//! node IP base, a pod CIDR per node carved from the pod CIDR base (sim-0 gets the second
//! subnet, 10.42.1.0/24 from 10.42.0.0/16, as the first belongs to the server's own node), and
//! pod IPs from the node's CIDR (host-local style: .1 is the gateway, handed out in turn,
//! released on delete).

use std::{fmt, net::Ipv4Addr, str::FromStr};

/// An IPv4 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (ip, len) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a CIDR like 10.42.0.0/16"))?;
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("{s:?}: only IPv4 CIDRs are supported"))?;
        let prefix: u8 = match len.parse() {
            Ok(p) if p <= 32 => p,
            _ => return Err(format!("{s:?}: bad prefix length")),
        };
        let mask = mask(prefix);
        Ok(Cidr {
            addr: Ipv4Addr::from(u32::from(ip) & mask),
            prefix,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    }
}

impl Cidr {
    pub fn size(&self) -> u64 {
        1u64 << (32 - self.prefix)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }

    /// The `i`th address (0 is the network address).
    pub fn nth(&self, i: u64) -> Option<Ipv4Addr> {
        (i < self.size()).then(|| Ipv4Addr::from(u32::from(self.addr) + i as u32))
    }

    /// The `i`th subnet of length `prefix`.
    pub fn subnet(&self, prefix: u8, i: u64) -> Option<Cidr> {
        if prefix < self.prefix || prefix > 32 || i >= 1u64 << (prefix - self.prefix) {
            return None;
        }
        let addr = u32::from(self.addr) + (i << (32 - prefix)) as u32;
        Some(Cidr {
            addr: Ipv4Addr::from(addr),
            prefix,
        })
    }
}

/// The node CIDR length: /24 (k3s' default) when `base` has a /24 for each of `nodes` plus
/// the server's, else the longest prefix that makes room (fewer pod IPs per node). Pod IPs a
/// small subnet cannot hold wait for one to be released.
pub fn node_prefix(base: &Cidr, nodes: usize) -> Result<u8, String> {
    let want = nodes as u64 + 1;
    for prefix in 24..=30u8 {
        if prefix < base.prefix {
            continue;
        }
        if 1u64 << (prefix - base.prefix) >= want {
            return Ok(prefix);
        }
    }
    Err(format!(
        "pod CIDR {base} has no room for {nodes} node subnets; use a larger pod CIDR"
    ))
}

/// Node `i`'s pod CIDR.
pub fn node_cidr(base: &Cidr, prefix: u8, i: usize) -> Option<Cidr> {
    base.subnet(prefix, i as u64 + 1)
}

/// Node `i`'s InternalIP: the base's (i+1)th address.
pub fn node_ip(base: &Cidr, i: usize) -> Option<Ipv4Addr> {
    let idx = i as u64 + 1;
    (idx + 1 < base.size()).then(|| base.nth(idx)).flatten()
}

/// One node's pod addresses.
#[derive(Debug, Clone)]
pub struct NodeIpam {
    cidr: Cidr,
    used: Vec<bool>,
    next: u64,
    in_use: usize,
}

impl NodeIpam {
    pub fn new(cidr: Cidr) -> Self {
        NodeIpam {
            cidr,
            used: vec![false; cidr.size() as usize],
            next: FIRST_HOST,
            in_use: 0,
        }
    }

    pub fn cidr(&self) -> Cidr {
        self.cidr
    }

    /// Addresses handed out: network+2 up to the one before broadcast.
    fn last_host(&self) -> u64 {
        self.cidr.size().saturating_sub(2)
    }

    pub fn capacity(&self) -> usize {
        (self.last_host() + 1).saturating_sub(FIRST_HOST) as usize
    }

    pub fn in_use(&self) -> usize {
        self.in_use
    }

    /// The next free address after the last one handed out (wrapping), or None when full.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        let cap = self.capacity() as u64;
        for k in 0..cap {
            let i = FIRST_HOST + (self.next - FIRST_HOST + k) % cap;
            if !self.used[i as usize] {
                self.used[i as usize] = true;
                self.in_use += 1;
                self.next = if i + 1 > self.last_host() {
                    FIRST_HOST
                } else {
                    i + 1
                };
                return self.cidr.nth(i);
            }
        }
        None
    }

    /// Marks an address taken (a pod that already had it); false when outside the
    /// assignable range or taken.
    pub fn reserve(&mut self, ip: Ipv4Addr) -> bool {
        if !self.cidr.contains(ip) {
            return false;
        }
        let i = u64::from(u32::from(ip) - u32::from(self.cidr.addr));
        if i < FIRST_HOST || i > self.last_host() || self.used[i as usize] {
            return false;
        }
        self.used[i as usize] = true;
        self.in_use += 1;
        true
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        if !self.cidr.contains(ip) {
            return;
        }
        let i = (u32::from(ip) - u32::from(self.cidr.addr)) as usize;
        if std::mem::take(&mut self.used[i]) {
            self.in_use -= 1;
        }
    }

    /// `10.42.1.2-10.42.1.254`, for "no IP addresses available" messages.
    pub fn range(&self) -> String {
        match (self.cidr.nth(FIRST_HOST), self.cidr.nth(self.last_host())) {
            (Some(a), Some(b)) if self.capacity() > 0 => format!("{a}-{b}"),
            _ => format!("{} (empty)", self.cidr),
        }
    }
}

/// .0 is the network, .1 the bridge's gateway.
const FIRST_HOST: u64 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_subnets() {
        assert_eq!(cidr("10.42.7.9/16").to_string(), "10.42.0.0/16");
        assert!("10.42.0.0".parse::<Cidr>().is_err());
        assert!("10.42.0.0/33".parse::<Cidr>().is_err());
        assert!("::/0".parse::<Cidr>().is_err());
        let base = cidr("10.42.0.0/16");
        assert_eq!(node_prefix(&base, 3), Ok(24));
        assert_eq!(node_cidr(&base, 24, 0).unwrap().to_string(), "10.42.1.0/24");
        assert_eq!(node_cidr(&base, 24, 2).unwrap().to_string(), "10.42.3.0/24");
        assert_eq!(
            node_cidr(&base, 24, 254).unwrap().to_string(),
            "10.42.255.0/24"
        );
        assert_eq!(node_cidr(&base, 24, 255), None);
        // 1000 nodes: /26 subnets (1024 of them).
        assert_eq!(node_prefix(&base, 255), Ok(24));
        assert_eq!(node_prefix(&base, 256), Ok(25));
        assert_eq!(node_prefix(&base, 1000), Ok(26));
        assert_eq!(
            node_cidr(&base, 26, 999).unwrap().to_string(),
            "10.42.250.0/26"
        );
        assert_eq!(node_prefix(&cidr("10.42.0.0/29"), 1), Ok(30));
        assert!(node_prefix(&cidr("10.42.0.0/31"), 1).is_err());
        assert!(node_prefix(&cidr("10.0.0.0/8"), 60_000).is_ok());
    }

    #[test]
    fn node_ips() {
        let base = cidr("10.41.0.0/16");
        assert_eq!(node_ip(&base, 0), Some("10.41.0.1".parse().unwrap()));
        assert_eq!(node_ip(&base, 299), Some("10.41.1.44".parse().unwrap()));
        let small = cidr("192.0.2.0/24");
        assert_eq!(node_ip(&small, 253), Some("192.0.2.254".parse().unwrap()));
        assert_eq!(node_ip(&small, 254), None, "broadcast");
    }

    #[test]
    fn pod_ips_in_turn_and_released() {
        let mut ipam = NodeIpam::new(cidr("10.42.1.0/24"));
        assert_eq!(ipam.capacity(), 253);
        assert_eq!(ipam.range(), "10.42.1.2-10.42.1.254");
        let a = ipam.allocate().unwrap();
        let b = ipam.allocate().unwrap();
        assert_eq!(a.to_string(), "10.42.1.2");
        assert_eq!(b.to_string(), "10.42.1.3");
        ipam.release(a);
        // In turn, not the lowest free: a released address is not reused at once.
        assert_eq!(ipam.allocate().unwrap().to_string(), "10.42.1.4");
        assert_eq!(ipam.in_use(), 2);
        ipam.release(a);
        assert_eq!(ipam.in_use(), 2, "double release is harmless");
        assert!(ipam.reserve("10.42.1.100".parse().unwrap()));
        assert!(!ipam.reserve("10.42.1.100".parse().unwrap()));
        assert!(!ipam.reserve("10.42.1.1".parse().unwrap()), "gateway");
        assert!(!ipam.reserve("10.42.1.255".parse().unwrap()), "broadcast");
        assert!(!ipam.reserve("10.42.2.5".parse().unwrap()), "elsewhere");
    }

    #[test]
    fn exhaustion_and_wrap() {
        let mut ipam = NodeIpam::new(cidr("10.42.1.0/29"));
        assert_eq!(ipam.capacity(), 5);
        let ips: Vec<_> = std::iter::from_fn(|| ipam.allocate()).collect();
        assert_eq!(ips.len(), 5);
        assert_eq!(ips[4].to_string(), "10.42.1.6");
        assert!(ipam.allocate().is_none());
        ipam.release(ips[1]);
        assert_eq!(ipam.allocate(), Some(ips[1]));
        let mut tiny = NodeIpam::new(cidr("10.42.1.0/31"));
        assert_eq!(tiny.capacity(), 0);
        assert!(tiny.allocate().is_none());
    }
}
