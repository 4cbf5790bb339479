//! DNS queries from a test, with hickory's message codec (rkube_dns::proto), over UDP and TCP.

use std::{
    io::{Read, Write},
    net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket},
    time::Duration,
};

use rkube_dns::proto::{
    op::{Message, MessageType, OpCode, Query},
    rr::{Name, RData, RecordType},
};

/// A port free on `ip` for both UDP and TCP (for a DNS server of the test's own).
pub fn free_dns_port(ip: IpAddr) -> u16 {
    loop {
        let udp = UdpSocket::bind((ip, 0)).unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind((ip, port)).is_ok() {
            return port;
        }
    }
}

/// A recursive query for `name`/`qtype`, encoded.
pub fn question(name: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(0x5eed, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    m.to_vec().unwrap()
}

/// The answer over UDP, or None when none comes within 5 s.
pub fn ask_udp(server: SocketAddr, name: &str, qtype: RecordType) -> Option<Message> {
    let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(&question(name, qtype), server).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).ok()?;
    Message::from_vec(&buf[..n]).ok()
}

/// The answer over TCP (length-prefixed messages).
pub fn ask_tcp(server: SocketAddr, name: &str, qtype: RecordType) -> Message {
    let mut s = TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let q = question(name, qtype);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    s.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).unwrap();
    Message::from_vec(&buf).unwrap()
}

/// The answer's A records, sorted.
pub fn a_records(m: &Message) -> Vec<String> {
    let mut v: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    v.sort();
    v
}
