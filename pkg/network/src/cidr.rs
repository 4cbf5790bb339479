//! IPv4 CIDR arithmetic for one node's pod range: parsing, the gateway (first host) and the
//! assignable host addresses. Pure functions, no I/O.

use std::{fmt, net::Ipv4Addr, str::FromStr};

use crate::Error;

/// An IPv4 network, normalized (host bits cleared).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    network: Ipv4Addr,
    prefix_len: u8,
}

impl Ipv4Cidr {
    pub fn new(addr: Ipv4Addr, prefix_len: u8) -> Option<Self> {
        if prefix_len > 32 {
            return None;
        }
        Some(Self {
            network: Ipv4Addr::from(u32::from(addr) & mask(prefix_len)),
            prefix_len,
        })
    }

    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix_len) == u32::from(self.network)
    }

    /// The bridge's address: the first host of the range.
    pub fn gateway(&self) -> Option<Ipv4Addr> {
        self.hosts().next()
    }

    /// Usable host addresses (without network and broadcast), as the kernel sees them on a
    /// bridge: /31 and /32 have none, so they are rejected for pod networks.
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        let first = u32::from(self.network);
        let size: u64 = 1u64 << (32 - u32::from(self.prefix_len));
        let (lo, hi) = if size < 4 {
            (1, 0) // empty
        } else {
            (u64::from(first) + 1, u64::from(first) + size - 2)
        };
        (lo..=hi).map(|a| Ipv4Addr::from(a as u32))
    }
}

fn mask(prefix_len: u8) -> u32 {
    if prefix_len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix_len))
    }
}

impl FromStr for Ipv4Cidr {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidCidr(s.to_string());
        let (addr, len) = s.trim().split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let len: u8 = len.parse().map_err(|_| bad())?;
        Self::new(addr, len).ok_or_else(bad)
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        let c: Ipv4Cidr = "10.42.3.7/24".parse().unwrap();
        assert_eq!(c.to_string(), "10.42.3.0/24");
        assert_eq!(c.gateway(), Some(Ipv4Addr::new(10, 42, 3, 1)));
        assert!(c.contains(Ipv4Addr::new(10, 42, 3, 255)));
        assert!(!c.contains(Ipv4Addr::new(10, 42, 4, 1)));
        for bad in [
            "10.42.0.0",
            "10.42.0.0/33",
            "x/24",
            "10.42.0.0/-1",
            "::1/64",
        ] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_exclude_network_and_broadcast() {
        let c: Ipv4Cidr = "10.0.0.0/30".parse().unwrap();
        let hosts: Vec<_> = c.hosts().collect();
        assert_eq!(
            hosts,
            [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]
        );
        assert_eq!(
            "10.0.0.0/31".parse::<Ipv4Cidr>().unwrap().hosts().count(),
            0
        );
        assert_eq!(
            "10.0.0.0/24".parse::<Ipv4Cidr>().unwrap().hosts().count(),
            254
        );
    }
}
