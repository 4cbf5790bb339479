//! port-forward over SPDY/3.1 (`portforward.k8s.io`): per forwarded connection the client opens an
//! error stream and a data stream carrying `port` and `requestID` headers; data is relayed to the
//! port inside the pod's network namespace. Also used for the WebSocket tunnel
//! (`SPDY/3.1+portforward.k8s.io`, kubectl 1.31+), where `io` is the WebSocket as a byte stream.

use tokio::io::{AsyncRead, AsyncWrite};

pub(crate) async fn serve_port_forward<T>(
    io: T,
    runtime: rkube_runtime::Runtime,
    sandbox: rkube_runtime::Sandbox,
) -> crate::Result<()>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let _ = (io, runtime, sandbox);
    Err(crate::Error::Server(
        "port-forward over SPDY: not implemented yet".into(),
    ))
}
