//! registries.yaml `tls.cert_file`/`key_file`: pulls from a real docker-registry that requires
//! TLS client certificates (http.tls.clientcas), through the image service's TLS bridge.

mod common;

use std::{
    net::{TcpListener, TcpStream},
    path::Path,
    process::{Child, Command},
    time::{Duration, Instant},
};

use common::TestRegistry;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rkube_image::{Error, ImageService, PullPolicy, RegistriesConfig};

/// A docker-registry serving TLS on 127.0.0.1 that requires a client certificate signed by the
/// test CA; killed on drop (its files are in the caller's temp dir).
struct TlsRegistry {
    addr: String,
    child: Child,
}

impl Drop for TlsRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes ca.crt, server.cert/key (127.0.0.1), client.cert/key into `dir`.
fn make_certs(dir: &Path) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "client-cert test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.crt"), ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    for (name, san, usage) in [
        ("server", "127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth),
        (
            "client",
            "rkube-test-client",
            ExtendedKeyUsagePurpose::ClientAuth,
        ),
    ] {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![san.to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, san);
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.cert")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
    // A client certificate the registry does not trust (self-signed).
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["stranger".to_string()]).unwrap();
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = p.self_signed(&key).unwrap();
    std::fs::write(dir.join("other.cert"), cert.pem()).unwrap();
    std::fs::write(dir.join("other.key"), key.serialize_pem()).unwrap();
}

fn start_tls_registry(dir: &Path) -> TlsRegistry {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {d}/data\n\
             http:\n  addr: {addr}\n  tls:\n    certificate: {d}/server.cert\n    key: {d}/server.key\n\
             \x20   clientcas:\n      - {d}/ca.crt\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let child =
        rkube_test_support::registry::spawn_docker_registry(&config, &dir.join("registry.log"));
    let mut reg = TlsRegistry { addr, child };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(&reg.addr).is_err() {
        if let Ok(Some(status)) = reg.child.try_wait() {
            panic!(
                "TLS registry exited ({status}): {}",
                std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "TLS registry did not listen in 20s"
        );
        // Paces the poll; the listening port is what is waited for.
        std::thread::sleep(Duration::from_millis(20));
    }
    reg
}

/// Copies busybox:1.36 from the plain registry into the TLS one (skopeo with the client cert).
fn push(plain: &TestRegistry, tls: &TlsRegistry, certs: &Path) {
    let cert_dir = certs.join("skopeo");
    std::fs::create_dir_all(&cert_dir).unwrap();
    for (from, to) in [
        ("ca.crt", "ca.crt"),
        ("client.cert", "client.cert"),
        ("client.key", "client.key"),
    ] {
        std::fs::copy(certs.join(from), cert_dir.join(to)).unwrap();
    }
    let out = Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            "--dest-cert-dir",
        ])
        .arg(&cert_dir)
        .arg(format!("docker://{}/library/busybox:1.36", plain.addr()))
        .arg(format!("docker://{}/library/busybox:1.36", tls.addr))
        .output()
        .expect("skopeo (apt: skopeo) must be installed");
    assert!(
        out.status.success(),
        "skopeo copy to the TLS registry failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `client`: the (cert, key) file names in `certs`, or None for no client certificate.
fn registries_yaml(addr: &str, certs: &Path, client: Option<(&str, &str)>) -> String {
    let d = certs.display();
    let mut y = format!(
        "mirrors:\n  docker.io:\n    endpoint:\n      - \"https://{addr}\"\n\
         configs:\n  \"{addr}\":\n    tls:\n      ca_file: {d}/ca.crt\n"
    );
    if let Some((cert_file, key_file)) = client {
        y.push_str(&format!(
            "      cert_file: {d}/{cert_file}\n      key_file: {d}/{key_file}\n"
        ));
    }
    y
}

async fn pull(yaml: &str) -> (tempfile::TempDir, Result<rkube_image::Image, Error>) {
    let root = tempfile::tempdir().unwrap();
    let svc = ImageService::open(root.path(), RegistriesConfig::parse(yaml).unwrap()).unwrap();
    let r = svc
        .ensure("busybox:1.36", PullPolicy::Always, &[])
        .await
        .map(|(image, _)| image);
    (root, r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_with_registry_client_certificate() {
    let plain = TestRegistry::start();
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let tls = start_tls_registry(certs.path());
    push(&plain, &tls, certs.path());

    // ca_file + cert_file + key_file: pulled through the TLS bridge.
    let started = Instant::now();
    let (_root, r) = pull(&registries_yaml(
        &tls.addr,
        certs.path(),
        Some(("client.cert", "client.key")),
    ))
    .await;
    let image = r.expect("pull with the client certificate");
    eprintln!("pulled through the TLS bridge in {:?}", started.elapsed());
    assert_eq!(image.references, vec!["docker.io/library/busybox:1.36"]);
    assert_eq!(image.config.cmd, vec!["sh"]);
    assert!(
        std::fs::metadata(image.layers[0].join("bin/busybox"))
            .unwrap()
            .len()
            > 500_000
    );

    // Without the client certificate the registry refuses the TLS handshake.
    let (_root, r) = pull(&registries_yaml(&tls.addr, certs.path(), None)).await;
    let message = r
        .expect_err("pull without a client certificate")
        .to_string();
    eprintln!("without a client certificate: {message}");
    let lower = message.to_lowercase();
    assert!(
        ["handshake", "certificate", "alert", "tls"]
            .iter()
            .any(|w| lower.contains(w)),
        "{message}"
    );

    // A key file that does not exist: a pull error naming it.
    let (_root, r) = pull(&registries_yaml(
        &tls.addr,
        certs.path(),
        Some(("client.cert", "missing.key")),
    ))
    .await;
    let message = r.expect_err("pull with a missing key file").to_string();
    assert!(message.contains("missing.key"), "{message}");
    assert!(message.starts_with("failed to pull image"), "{message}");

    // A key that is not the certificate's: refused before connecting, naming both files.
    let (_root, r) = pull(&registries_yaml(
        &tls.addr,
        certs.path(),
        Some(("client.cert", "server.key")),
    ))
    .await;
    let message = r.expect_err("pull with the wrong key").to_string();
    eprintln!("with the wrong key: {message}");
    assert!(message.contains("server.key"), "{message}");

    // A certificate the registry does not trust: the bridge's handshake with the registry fails
    // and the pull error carries its reason.
    let (_root, r) = pull(&registries_yaml(
        &tls.addr,
        certs.path(),
        Some(("other.cert", "other.key")),
    ))
    .await;
    let message = r
        .expect_err("pull with an untrusted certificate")
        .to_string();
    eprintln!("with an untrusted client certificate: {message}");
    assert!(
        message.contains(&format!("registry TLS bridge: TLS with {}", tls.addr))
            && message.contains("alert"),
        "{message}"
    );
}
