//! HTTP/1.1 upgrades: the WebSocket handshake (RFC 6455 with Kubernetes' subprotocols) and the
//! SPDY/3.1 one (X-Stream-Protocol-Version negotiated as upstream's httpstream.Handshake does).

use hyper::{
    header::{self, HeaderValue},
    HeaderMap, StatusCode,
};

use super::{
    response::{text, Resp},
    wsstream,
};

pub(crate) const STREAM_PROTOCOL_VERSION: &str = "X-Stream-Protocol-Version";
const ACCEPTED_PROTOCOL_VERSIONS: &str = "X-Accepted-Stream-Protocol-Versions";

/// exec/attach over SPDY, as the kubelet's SupportedStreamingProtocols.
pub(crate) const SPDY_EXEC_PROTOCOLS: &[&str] = &[
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
];
pub(crate) const SPDY_PORT_FORWARD_PROTOCOLS: &[&str] = &["portforward.k8s.io"];

pub(crate) fn is_spdy(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("spdy/3.1"))
}

/// Validates a WebSocket upgrade and picks the subprotocol: the 101 response and the protocol,
/// or the error response to send instead.
pub(crate) fn websocket(
    headers: &HeaderMap,
    supported: &[&'static str],
) -> Result<(Resp, &'static str), Box<Resp>> {
    let Some(key) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(Box::new(text(
            StatusCode::BAD_REQUEST,
            "missing Sec-WebSocket-Key",
        )));
    };
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v.as_bytes() != b"13")
    {
        return Err(Box::new(text(
            StatusCode::BAD_REQUEST,
            "unsupported WebSocket version (13 required)",
        )));
    }
    let offered = wsstream::offered_protocols(headers);
    let Some(protocol) = wsstream::negotiate(&offered, supported) else {
        return Err(Box::new(text(
            StatusCode::FORBIDDEN,
            format!("requested protocol(s) are not supported: {offered:?}; supports {supported:?}"),
        )));
    };
    let mut resp = text(StatusCode::SWITCHING_PROTOCOLS, "");
    let h = resp.headers_mut();
    h.remove(header::CONTENT_TYPE);
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&wsstream::accept_key(key)) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    if !protocol.is_empty() {
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(protocol),
        );
    }
    Ok((resp, protocol))
}

/// Negotiates X-Stream-Protocol-Version for a SPDY upgrade (client order wins); on failure the
/// 403 upstream answers, listing what the server accepts.
pub(crate) fn spdy(
    headers: &HeaderMap,
    supported: &[&'static str],
) -> Result<(Resp, &'static str), Box<Resp>> {
    let offered: Vec<String> = headers
        .get_all(STREAM_PROTOCOL_VERSION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if offered.is_empty() {
        return Err(Box::new(text(
            StatusCode::BAD_REQUEST,
            format!("unable to upgrade: {STREAM_PROTOCOL_VERSION} is required"),
        )));
    }
    let Some(protocol) = offered
        .iter()
        .find_map(|o| supported.iter().find(|s| *s == o).copied())
    else {
        let mut resp = text(
            StatusCode::FORBIDDEN,
            format!(
                "unable to upgrade: unable to negotiate protocol: client supports {offered:?}, server accepts {supported:?}"
            ),
        );
        for s in supported {
            resp.headers_mut()
                .append(ACCEPTED_PROTOCOL_VERSIONS, HeaderValue::from_static(s));
        }
        return Err(Box::new(resp));
    };
    let mut resp = text(StatusCode::SWITCHING_PROTOCOLS, "");
    let h = resp.headers_mut();
    h.remove(header::CONTENT_TYPE);
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    h.insert(STREAM_PROTOCOL_VERSION, HeaderValue::from_static(protocol));
    Ok((resp, protocol))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn websocket_handshake() {
        let h = headers(&[
            ("upgrade", "websocket"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-version", "13"),
            (
                "sec-websocket-protocol",
                "v5.channel.k8s.io, v4.channel.k8s.io",
            ),
        ]);
        let (resp, p) = websocket(&h, wsstream::EXEC_PROTOCOLS).unwrap();
        assert_eq!(p, "v5.channel.k8s.io");
        assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(
            resp.headers()[header::SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            resp.headers()[header::SEC_WEBSOCKET_PROTOCOL],
            "v5.channel.k8s.io"
        );
        let bad = headers(&[
            ("sec-websocket-key", "x"),
            ("sec-websocket-protocol", "chat"),
        ]);
        assert_eq!(
            websocket(&bad, wsstream::EXEC_PROTOCOLS)
                .unwrap_err()
                .status(),
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn spdy_negotiation() {
        let h = headers(&[
            ("upgrade", "SPDY/3.1"),
            (STREAM_PROTOCOL_VERSION, "v5.channel.k8s.io"),
            (STREAM_PROTOCOL_VERSION, "v4.channel.k8s.io"),
            (STREAM_PROTOCOL_VERSION, "channel.k8s.io"),
        ]);
        assert!(is_spdy(&h));
        let (resp, p) = spdy(&h, SPDY_EXEC_PROTOCOLS).unwrap();
        assert_eq!(p, "v4.channel.k8s.io");
        assert_eq!(resp.headers()[STREAM_PROTOCOL_VERSION], "v4.channel.k8s.io");
        let none = headers(&[(STREAM_PROTOCOL_VERSION, "v9.channel.k8s.io")]);
        let err = spdy(&none, SPDY_EXEC_PROTOCOLS).unwrap_err();
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            err.headers()
                .get_all(ACCEPTED_PROTOCOL_VERSIONS)
                .iter()
                .count(),
            4
        );
        assert_eq!(
            spdy(&HeaderMap::new(), SPDY_EXEC_PROTOCOLS)
                .unwrap_err()
                .status(),
            StatusCode::BAD_REQUEST
        );
    }
}
