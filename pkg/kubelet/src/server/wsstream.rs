//! The Kubernetes channel protocol over WebSocket (k8s.io/apimachinery wsstream): the handshake,
//! subprotocol negotiation and the per-message channel framing.
//!
//! Binary protocols prefix each message with one byte, the channel; the base64 ones send text
//! messages whose first character is the channel as an ASCII digit followed by base64 data.
//! v5.channel.k8s.io adds a close signal: a binary message `[255, channel]`.

use base64::Engine as _;
use bytes::Bytes;
use tokio_tungstenite::tungstenite::{
    protocol::{frame::coding::CloseCode, CloseFrame},
    Message,
};

/// The exec/attach subprotocols, newest first (what the kubelet accepts).
pub(crate) const EXEC_PROTOCOLS: &[&str] = &[
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v4.base64.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
    "base64.channel.k8s.io",
];

/// kubectl >= 1.31 port-forward: SPDY/3.1 frames tunneled in binary WebSocket messages.
pub(crate) const TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

/// The channel-per-port WebSocket port-forward protocols.
pub(crate) const PORT_FORWARD_PROTOCOLS: &[&str] = &[
    "portforward.k8s.io",
    "v4.channel.k8s.io",
    "base64.portforward.k8s.io",
];

/// The channel byte of v5's close signal.
pub(crate) const CLOSE_CHANNEL: u8 = 255;

/// What a negotiated subprotocol means for the framing and the error channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Proto {
    pub base64: bool,
    /// v4 and later: the error channel carries a metav1 Status, not plain text.
    pub status_errors: bool,
    /// v5: the client can close a channel (its stdin) with `[255, channel]`.
    pub close_signal: bool,
}

impl Proto {
    /// The meaning of a subprotocol; `""` (none offered) is the original binary protocol.
    pub(crate) fn of(protocol: &str) -> Proto {
        Proto {
            base64: protocol.contains("base64"),
            status_errors: protocol.starts_with("v4.") || protocol.starts_with("v5."),
            close_signal: protocol.starts_with("v5."),
        }
    }
}

/// Upstream's rule: the first protocol in the client's order that the server supports. `None`
/// offered protocols negotiate `""`; offers none of which is supported fail.
pub(crate) fn negotiate<'a>(offered: &[String], supported: &[&'a str]) -> Option<&'a str> {
    if offered.is_empty() {
        return Some("");
    }
    offered.iter().find_map(|o| {
        supported
            .iter()
            .find(|s| s.eq_ignore_ascii_case(o))
            .copied()
    })
}

/// The `Sec-WebSocket-Protocol` values, each header split at commas.
pub(crate) fn offered_protocols(headers: &hyper::HeaderMap) -> Vec<String> {
    headers
        .get_all(hyper::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 section 4.2.2).
pub(crate) fn accept_key(key: &str) -> String {
    const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.trim().as_bytes());
    ctx.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ctx.finish().as_ref())
}

/// Whether a request asks for a WebSocket upgrade.
pub(crate) fn is_websocket(headers: &hyper::HeaderMap) -> bool {
    header_has_token(headers, hyper::header::UPGRADE, "websocket")
}

pub(crate) fn header_has_token(
    headers: &hyper::HeaderMap,
    name: hyper::header::HeaderName,
    token: &str,
) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// One message on `channel`.
pub(crate) fn encode(proto: Proto, channel: u8, data: &[u8]) -> Message {
    if proto.base64 {
        let mut s = String::with_capacity(1 + data.len().div_ceil(3) * 4);
        s.push(char::from(b'0' + channel));
        base64::engine::general_purpose::STANDARD.encode_string(data, &mut s);
        Message::text(s)
    } else {
        let mut v = Vec::with_capacity(1 + data.len());
        v.push(channel);
        v.extend_from_slice(data);
        Message::binary(v)
    }
}

/// The close frame that ends a stream cleanly: Go clients (gorilla) treat anything but 1000 as
/// an error on every channel still being read (kubectl then reports the error stream failing).
pub(crate) fn normal_close() -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
}

/// A received message, split into its channel and payload.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    Data(u8, Bytes),
    /// v5: the peer will send nothing more on this channel.
    Close(u8),
    /// The WebSocket is closing.
    End,
    /// Control messages and empty messages: nothing for the channels.
    Skip,
}

/// Decodes one message; `Err` for a payload that is not valid in the protocol.
pub(crate) fn decode(proto: Proto, msg: Message) -> Result<Frame, String> {
    match msg {
        Message::Binary(b) if !proto.base64 => match b.first().copied() {
            None => Ok(Frame::Skip),
            Some(CLOSE_CHANNEL) if proto.close_signal => match b.get(1) {
                Some(c) => Ok(Frame::Close(*c)),
                None => Err("close signal without a channel".into()),
            },
            Some(c) => Ok(Frame::Data(c, b.slice(1..))),
        },
        Message::Text(t) if proto.base64 => {
            let s = t.as_str();
            let Some(first) = s.bytes().next() else {
                return Ok(Frame::Skip);
            };
            if !first.is_ascii_digit() {
                return Err(format!("invalid channel {:?}", char::from(first)));
            }
            let data = base64::engine::general_purpose::STANDARD
                .decode(&s[1..])
                .map_err(|e| format!("invalid base64 data: {e}"))?;
            Ok(Frame::Data(first - b'0', Bytes::from(data)))
        }
        Message::Close(_) => Ok(Frame::End),
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(Frame::Skip),
        Message::Binary(_) => Err("binary message on a base64 protocol".into()),
        Message::Text(_) => Err("text message on a binary protocol".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V5: &str = "v5.channel.k8s.io";

    #[test]
    fn accept_key_matches_rfc6455() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn negotiates_in_client_order() {
        let offered = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            negotiate(&offered(&[V5, "v4.channel.k8s.io"]), EXEC_PROTOCOLS),
            Some(V5)
        );
        assert_eq!(
            negotiate(&offered(&["nope", "channel.k8s.io", V5]), EXEC_PROTOCOLS),
            Some("channel.k8s.io")
        );
        assert_eq!(negotiate(&offered(&[]), EXEC_PROTOCOLS), Some(""));
        assert_eq!(negotiate(&offered(&["nope"]), EXEC_PROTOCOLS), None);
        assert_eq!(
            negotiate(&offered(&[TUNNEL_PROTOCOL]), &[TUNNEL_PROTOCOL]),
            Some(TUNNEL_PROTOCOL)
        );
    }

    #[test]
    fn protocol_meanings() {
        assert_eq!(
            Proto::of(V5),
            Proto {
                base64: false,
                status_errors: true,
                close_signal: true
            }
        );
        assert!(Proto::of("v4.channel.k8s.io").status_errors);
        assert!(!Proto::of("v4.channel.k8s.io").close_signal);
        assert!(Proto::of("v4.base64.channel.k8s.io").base64);
        assert!(!Proto::of("channel.k8s.io").status_errors);
        assert!(!Proto::of("").base64);
    }

    #[test]
    fn binary_framing_round_trips() {
        let p = Proto::of(V5);
        let m = encode(p, 1, b"hello");
        assert_eq!(m, Message::binary(b"\x01hello".to_vec()));
        assert_eq!(
            decode(p, m).unwrap(),
            Frame::Data(1, Bytes::from_static(b"hello"))
        );
        assert_eq!(
            decode(p, Message::binary(vec![255u8, 0])).unwrap(),
            Frame::Close(0)
        );
        // Before v5, 255 is just a channel number nobody uses.
        assert_eq!(
            decode(
                Proto::of("v4.channel.k8s.io"),
                Message::binary(vec![255u8, 0])
            )
            .unwrap(),
            Frame::Data(255, Bytes::from_static(b"\0"))
        );
        assert_eq!(
            decode(p, Message::binary(Vec::<u8>::new())).unwrap(),
            Frame::Skip
        );
        assert!(decode(p, Message::text("0aGk=")).is_err());
    }

    #[test]
    fn base64_framing_round_trips() {
        let p = Proto::of("base64.channel.k8s.io");
        let m = encode(p, 2, b"hi\n");
        assert_eq!(m, Message::text("2aGkK"));
        assert_eq!(
            decode(p, m).unwrap(),
            Frame::Data(2, Bytes::from_static(b"hi\n"))
        );
        assert!(decode(p, Message::text("xaGk=")).is_err());
        assert!(decode(p, Message::text("0!!")).is_err());
    }
}
