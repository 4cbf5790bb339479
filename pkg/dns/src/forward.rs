//! Everything outside the cluster zone goes to the host's resolvers (`/etc/resolv.conf`): the
//! query bytes are relayed as they came, over the protocol they came on (a truncated UDP answer
//! goes back truncated, so the client retries over TCP and so do we).

use std::{
    net::{IpAddr, SocketAddr},
    path::Path,
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
    time::timeout,
};
use tracing::debug;

/// The host's nameservers, tried in order.
#[derive(Debug, Clone)]
pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    timeout: Duration,
}

impl Forwarder {
    pub fn new(upstreams: Vec<SocketAddr>) -> Self {
        Forwarder {
            upstreams,
            timeout: Duration::from_secs(2),
        }
    }

    /// `nameserver` lines of a resolv.conf, on port 53, minus `exclude` (our own address: a
    /// forwarding loop).
    pub fn from_resolv_conf(path: &Path, exclude: Option<SocketAddr>) -> Self {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        Forwarder::new(
            parse_nameservers(&text)
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 53))
                .filter(|a| Some(*a) != exclude)
                .collect(),
        )
    }

    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// The first upstream's answer to `query` (a whole DNS message), or None if none answered.
    pub async fn forward(&self, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
        for up in &self.upstreams {
            let reply = if tcp {
                timeout(self.timeout, ask_tcp(*up, query)).await
            } else {
                timeout(self.timeout, ask_udp(*up, query)).await
            };
            match reply {
                Ok(Ok(r)) => return Some(r),
                Ok(Err(e)) => debug!(upstream = %up, error = %e, "upstream failed"),
                Err(_) => debug!(upstream = %up, "upstream timed out"),
            }
        }
        None
    }
}

pub fn parse_nameservers(resolv_conf: &str) -> Vec<IpAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            // Zone-scoped IPv6 ("fe80::1%eth0") cannot be a SocketAddr here: skipped.
            words.next()?.parse().ok()
        })
        .collect()
}

async fn ask_udp(up: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let bind: SocketAddr = if up.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(up).await?;
    sock.send(query).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await?;
        // Only the reply to this query (same ID) counts.
        if n >= 2 && query.len() >= 2 && buf[..2] == query[..2] {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn ask_tcp(up: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(up).await?;
    let len = u16::try_from(query.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "query too long"))?;
    let mut msg = len.to_be_bytes().to_vec();
    msg.extend_from_slice(query);
    s.write_all(&msg).await?;
    let len = s.read_u16().await? as usize;
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_from_resolv_conf() {
        let text = "# generated\nsearch example.com\nnameserver 10.0.0.2\nnameserver  ::1\n\
                    nameserver fe80::1%eth0\noptions ndots:5\nnameserver\n";
        assert_eq!(
            parse_nameservers(text),
            vec![
                "10.0.0.2".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
    }
}
