//! Client certificates for registries (registries.yaml `configs.<host>.tls.cert_file/key_file`).
//! oci-client 0.18 can neither take a client identity nor a ready reqwest client, so pulls from
//! such hosts go through this loopback HTTPS proxy: oci-client sends `CONNECT host:port`, the
//! bridge terminates TLS with a leaf for `host` signed by its in-memory CA (which only that
//! oci-client trusts), opens TLS to the registry with the configured client certificate, and
//! splices both ways. Only registered hosts are tunnelled; anything else gets 403.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::Path,
    sync::{Arc, Mutex},
};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rkube_pki::any_server::AnyServerCert;
use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, ServerName};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinSet,
};

use crate::registries::HostTls;

/// A CONNECT request head larger than this is refused (reqwest sends ~100 bytes).
const MAX_HEAD: usize = 8 * 1024;

/// The loopback bridge of one ImageService; its listener and connections end when it is dropped.
pub(crate) struct TlsBridge {
    addr: SocketAddr,
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
    targets: Arc<Mutex<HashMap<String, Arc<Target>>>>,
    /// The last failure towards each host, so a pull error can say why the tunnel failed.
    errors: Arc<Mutex<HashMap<String, String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TlsBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsBridge")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// What the bridge needs for one registry `host:port`.
struct Target {
    /// Towards oci-client: a leaf for the host signed by the bridge's CA.
    server: Arc<rustls::ServerConfig>,
    /// Towards the registry: the client certificate and the roots (or no verification).
    client: Arc<rustls::ClientConfig>,
}

impl Drop for TlsBridge {
    fn drop(&mut self) {
        // The accept task owns the connection tasks (a JoinSet): aborting it ends them all.
        self.task.abort();
    }
}

impl TlsBridge {
    /// Binds 127.0.0.1 on a free port and starts accepting. Needs a tokio runtime.
    pub(crate) fn start() -> Result<Self, String> {
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| format!("generating the TLS bridge CA key: {e}"))?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(
            DnType::CommonName,
            "rkube registry client-certificate bridge",
        );
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = params
            .self_signed(&ca_key)
            .map_err(|e| format!("generating the TLS bridge CA: {e}"))?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|_| l))
            .and_then(TcpListener::from_std)
            .map_err(|e| format!("starting the registry TLS bridge: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("starting the registry TLS bridge: {e}"))?;
        let targets: Arc<Mutex<HashMap<String, Arc<Target>>>> = Arc::default();
        let errors: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let task = tokio::spawn(accept_loop(listener, targets.clone(), errors.clone()));
        tracing::info!(%addr, "started the registry client-certificate TLS bridge");
        Ok(Self {
            addr,
            ca_pem: ca.pem(),
            issuer: Issuer::new(params, ca_key),
            targets,
            errors,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, for oci-client's `https_proxy`.
    pub(crate) fn proxy_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The CA oci-client must trust for tunnelled hosts (PEM).
    pub(crate) fn ca_pem(&self) -> &[u8] {
        self.ca_pem.as_bytes()
    }

    /// Allows tunnelling to `host` (`name[:port]`, port 443 when absent) with `tls`'s client
    /// certificate. Reads the files now, so a bad file is a pull error naming it.
    pub(crate) fn register(&self, host: &str, tls: &HostTls) -> Result<(), String> {
        let target = host_port(host);
        let client = client_config(tls)?;
        let name = server_name(&target);
        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| format!("generating a TLS bridge key: {e}"))?;
        // new() turns an IP address string into an IP SAN, a name into a DNS SAN.
        let leaf = CertificateParams::new(vec![name.to_string()])
            .and_then(|p| p.signed_by(&leaf_key, &self.issuer))
            .map_err(|e| format!("issuing a TLS bridge certificate for {name}: {e}"))?;
        let server = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .map_err(|e| format!("TLS bridge server config for {name}: {e}"))?;
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&target);
        self.targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                target,
                Arc::new(Target {
                    server: Arc::new(server),
                    client,
                }),
            );
        Ok(())
    }

    /// Why the last tunnel to `host` failed, if it did since it was registered.
    pub(crate) fn last_error(&self, host: &str) -> Option<String> {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&host_port(host))
            .cloned()
    }
}

/// `registry.example` -> `registry.example:443`; `127.0.0.1:5000` unchanged.
fn host_port(host: &str) -> String {
    let has_port = match host.rsplit_once(':') {
        Some((h, p)) => p.parse::<u16>().is_ok() && (!h.contains(':') || h.ends_with(']')),
        None => false,
    };
    if has_port {
        host.to_string()
    } else {
        format!("{host}:443")
    }
}

/// The name part of `host:port` (brackets of an IPv6 address removed).
fn server_name(target: &str) -> &str {
    let name = target.rsplit_once(':').map_or(target, |(h, _)| h);
    name.trim_start_matches('[').trim_end_matches(']')
}

/// Towards the registry: the client certificate, the configured CA or the system roots, or no
/// verification with insecure_skip_verify.
fn client_config(tls: &HostTls) -> Result<Arc<rustls::ClientConfig>, String> {
    let (Some(cert_file), Some(key_file)) = (&tls.cert_file, &tls.key_file) else {
        return Err("tls.cert_file and tls.key_file must be set together".to_string());
    };
    let certs = read_certs(cert_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("reading the client key {}: {e}", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS client config: {e}"))?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCert::new(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &tls.ca_file {
            Some(ca) => {
                for c in read_certs(ca)? {
                    roots
                        .add(c)
                        .map_err(|e| format!("using the CA {}: {e}", ca.display()))?;
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(native.certs);
            }
        }
        builder.with_root_certificates(roots)
    };
    let config = builder.with_client_auth_cert(certs, key).map_err(|e| {
        format!(
            "using the client certificate {} with the key {}: {e}",
            cert_file.display(),
            key_file.display()
        )
    })?;
    Ok(Arc::new(config))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("reading the certificate {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no PEM certificate in {}", path.display()));
    }
    Ok(certs)
}

async fn accept_loop(
    listener: TcpListener,
    targets: Arc<Mutex<HashMap<String, Arc<Target>>>>,
    errors: Arc<Mutex<HashMap<String, String>>>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let targets = targets.clone();
                    let errors = errors.clone();
                    connections.spawn(async move {
                        if let Err((target, e)) = serve(stream, &targets, &errors).await {
                            tracing::warn!(%target, error = %e, "registry TLS bridge: tunnel failed");
                        }
                    });
                }
                Err(e) => tracing::warn!(error = %e, "registry TLS bridge: accept failed"),
            },
            // Reaps finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// One CONNECT tunnel. Errors carry the target (empty before it is known); errors towards a
/// registered host are recorded for the pull's error message before the puller's side closes.
async fn serve(
    stream: TcpStream,
    targets: &Mutex<HashMap<String, Arc<Target>>>,
    errors: &Mutex<HashMap<String, String>>,
) -> Result<(), (String, String)> {
    let mut target = String::new();
    let r = tunnel(stream, targets, &mut target).await;
    if let Err(e) = &r {
        if !target.is_empty() {
            errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(target.clone(), e.clone());
        }
    }
    r.map_err(|e| (target, e))
}

/// Answers the CONNECT and splices; `target` is set once known and registered. The streams
/// live until this returns, so a recorded error precedes the puller seeing the close.
async fn tunnel(
    mut stream: TcpStream,
    targets: &Mutex<HashMap<String, Arc<Target>>>,
    registered: &mut String,
) -> Result<(), String> {
    let head = read_head(&mut stream).await?;
    let target = head
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("CONNECT "))
        .and_then(|l| l.split_whitespace().next())
        .map(str::to_string);
    let Some(target) = target else {
        let _ = stream
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            .await;
        return Err("not a CONNECT request".to_string());
    };
    let Some(t) = targets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&target)
        .cloned()
    else {
        let _ = stream
            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            .await;
        tracing::warn!(%target, "registry TLS bridge: refused a CONNECT to an unregistered host");
        return Ok(());
    };
    registered.clone_from(&target);
    // The registry side first, so a failure there is a 502 instead of a half-open tunnel.
    let upstream = async {
        let tcp = TcpStream::connect(&target)
            .await
            .map_err(|e| format!("connecting to {target}: {e}"))?;
        let name = ServerName::try_from(server_name(&target).to_string())
            .map_err(|e| format!("registry name {target}: {e}"))?;
        tokio_rustls::TlsConnector::from(t.client.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {target}: {e}"))
    }
    .await;
    let mut upstream = match upstream {
        Ok(u) => u,
        Err(e) => {
            let _ = stream
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                .await;
            return Err(e);
        }
    };
    stream
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut downstream = tokio_rustls::TlsAcceptor::from(t.server.clone())
        .accept(stream)
        .await
        .map_err(|e| format!("TLS handshake with the puller: {e}"))?;
    // With TLS 1.3 a registry refusing the client certificate says so only after the
    // handshake, as an alert on the first read: that ends the splice with its error.
    tokio::io::copy_bidirectional(&mut downstream, &mut upstream)
        .await
        .map(|_| ())
        .map_err(|e| format!("TLS with {target}: {e}"))
}

/// Reads up to the blank line ending the request head; nothing after it is expected before 200.
async fn read_head(stream: &mut TcpStream) -> Result<String, String> {
    let mut buf = Vec::with_capacity(256);
    let mut byte = [0u8; 512];
    loop {
        let n = stream
            .read(&mut byte)
            .await
            .map_err(|e| format!("reading the CONNECT request: {e}"))?;
        if n == 0 {
            return Err("connection closed before the CONNECT request ended".to_string());
        }
        buf.extend_from_slice(&byte[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(String::from_utf8_lossy(&buf).into_owned());
        }
        if buf.len() > MAX_HEAD {
            return Err("CONNECT request head too large".to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_defaults_to_443() {
        assert_eq!(host_port("registry.example"), "registry.example:443");
        assert_eq!(host_port("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(host_port("[::1]:5000"), "[::1]:5000");
        assert_eq!(server_name("[::1]:5000"), "::1");
        assert_eq!(server_name("registry.example:443"), "registry.example");
    }

    /// Only registered hosts are tunnelled; the listener is loopback-only and ends with the bridge.
    #[tokio::test]
    async fn refuses_unregistered_hosts_and_stops_when_dropped() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let bridge = TlsBridge::start().unwrap();
        let addr = bridge.addr;
        assert!(addr.ip().is_loopback());
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 403 "), "{reply}");
        drop(bridge);
        // The abort lands when the accept task next runs: poll for the refused connection.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while TcpStream::connect(addr).await.is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "bridge still listening"
            );
            tokio::task::yield_now().await;
        }
    }
}
