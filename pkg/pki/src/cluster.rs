//! [`ClusterPki`]: the server's TLS directory, created on first start and
//! reused (with targeted re-issue) afterwards.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::ca::Ca;
use crate::files::{ensure_dir, read_optional, write_atomic};
use crate::issue::{issue_leaf, reissue_reason, Usage, LEAF_VALIDITY_DAYS};
use crate::{Error, Result, San, ServingSans};

/// File names inside the TLS directory, k3s's names so operators find
/// them where they expect.
pub const CA_CERT_FILE: &str = "server-ca.crt";
pub const CA_KEY_FILE: &str = "server-ca.key";
pub const SERVING_CERT_FILE: &str = "serving-kube-apiserver.crt";
pub const SERVING_KEY_FILE: &str = "serving-kube-apiserver.key";
pub const ADMIN_CERT_FILE: &str = "client-admin.crt";
pub const ADMIN_KEY_FILE: &str = "client-admin.key";
/// The API server's client identity towards kubelets (logs, exec, port-forward, nodes/proxy).
pub const KUBELET_CLIENT_CERT_FILE: &str = "client-kube-apiserver.crt";
pub const KUBELET_CLIENT_KEY_FILE: &str = "client-kube-apiserver.key";
/// Upstream kubeadm's name for that identity.
pub const KUBELET_CLIENT_CN: &str = "kube-apiserver-kubelet-client";

const KEY_MODE: u32 = 0o600;
const CERT_MODE: u32 = 0o644;

/// The cluster CA (which signs both serving and client certificates, so
/// one bundle is all a client or node needs to trust) plus the apiserver's
/// serving certificate and the admin client certificate.
pub struct ClusterPki {
    dir: PathBuf,
    ca: Ca,
    serving_chain_pem: String,
    serving_key_pem: String,
    admin_cert_pem: String,
    admin_key_pem: String,
    kubelet_client_cert_pem: String,
    kubelet_client_key_pem: String,
    service_account_key_pem: String,
}

impl fmt::Debug for ClusterPki {
    /// Keys are secrets; only the location is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterPki")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl ClusterPki {
    /// Loads the PKI under `tls_dir`, creating what is missing.
    ///
    /// The CA is created only when its certificate is absent; a CA whose
    /// key is missing or does not match is an error, since replacing it
    /// would silently invalidate every credential handed out. The serving
    /// and admin certificates are re-issued (from the existing CA) when
    /// missing, unreadable, not from this CA, within 90 days of expiry, or,
    /// for the serving certificate, no longer covering `sans` (e.g. a new
    /// `--tls-san`); otherwise the files are reused byte for byte.
    pub fn load_or_create(tls_dir: &Path, sans: &ServingSans) -> Result<ClusterPki> {
        let want = sans.required()?;
        ensure_dir(tls_dir, 0o700)?;
        let ca = load_or_create_ca(tls_dir)?;

        let want_list: Vec<San> = want.iter().cloned().collect();
        let (serving_chain_pem, serving_key_pem) = ensure_leaf(
            tls_dir,
            &ca,
            SERVING_CERT_FILE,
            SERVING_KEY_FILE,
            Some(&want),
            || {
                let (cert, key) = issue_leaf(
                    &ca,
                    "kube-apiserver",
                    &[],
                    Usage::Server,
                    &want_list,
                    LEAF_VALIDITY_DAYS,
                )?;
                Ok((chain(&cert, ca.cert_pem()), key))
            },
        )?;
        let (admin_cert_pem, admin_key_pem) =
            ensure_leaf(tls_dir, &ca, ADMIN_CERT_FILE, ADMIN_KEY_FILE, None, || {
                issue_leaf(
                    &ca,
                    "system:admin",
                    &["system:masters"],
                    Usage::Client,
                    &[],
                    LEAF_VALIDITY_DAYS,
                )
            })?;
        let (kubelet_client_cert_pem, kubelet_client_key_pem) = ensure_leaf(
            tls_dir,
            &ca,
            KUBELET_CLIENT_CERT_FILE,
            KUBELET_CLIENT_KEY_FILE,
            None,
            || {
                issue_leaf(
                    &ca,
                    KUBELET_CLIENT_CN,
                    &["system:masters"],
                    Usage::Client,
                    &[],
                    LEAF_VALIDITY_DAYS,
                )
            },
        )?;

        let service_account_key_pem = crate::load_or_create_service_key(tls_dir)?;

        Ok(ClusterPki {
            dir: tls_dir.to_owned(),
            ca,
            serving_chain_pem,
            serving_key_pem,
            admin_cert_pem,
            admin_key_pem,
            kubelet_client_cert_pem,
            kubelet_client_key_pem,
            service_account_key_pem,
        })
    }

    pub fn tls_dir(&self) -> &Path {
        &self.dir
    }

    /// The CA bundle clients and nodes trust (also the join token's hash input).
    pub fn ca_cert_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// The apiserver's serving certificate followed by the CA, as stored in
    /// `serving-kube-apiserver.crt`.
    pub fn serving_cert_chain_pem(&self) -> &str {
        &self.serving_chain_pem
    }

    pub fn serving_key_pem(&self) -> &str {
        &self.serving_key_pem
    }

    /// `CN=system:admin, O=system:masters`: full access via RBAC's
    /// built-in binding for that group.
    pub fn admin_cert_pem(&self) -> &str {
        &self.admin_cert_pem
    }

    pub fn admin_key_pem(&self) -> &str {
        &self.admin_key_pem
    }

    /// `CN=kube-apiserver-kubelet-client, O=system:masters`: what the API server presents to
    /// kubelets when it proxies logs, exec, port-forward and nodes/proxy.
    pub fn kubelet_client_cert_pem(&self) -> &str {
        &self.kubelet_client_cert_pem
    }

    pub fn kubelet_client_key_pem(&self) -> &str {
        &self.kubelet_client_key_pem
    }

    /// The ServiceAccount token signing key (P-256, PKCS#8 PEM).
    pub fn service_account_key_pem(&self) -> &str {
        &self.service_account_key_pem
    }

    /// A client certificate (EKU clientAuth) for user `cn` in groups
    /// `orgs` (at most two), with a fresh key; returns `(cert_pem, key_pem)`,
    /// the certificate alone (the CA is [`Self::ca_cert_pem`]). Nothing is
    /// written to disk.
    pub fn issue_client_cert(
        &self,
        cn: &str,
        orgs: &[&str],
        validity_days: u32,
    ) -> Result<(String, String)> {
        issue_leaf(&self.ca, cn, orgs, Usage::Client, &[], validity_days)
    }

    /// A serving certificate (EKU serverAuth) for `cn` covering exactly
    /// `sans`, valid one year, with a fresh key (e.g. for a kubelet);
    /// returns `(cert_pem, key_pem)`, the certificate alone. Nothing is
    /// written to disk.
    pub fn issue_serving_cert(&self, cn: &str, sans: &[San]) -> Result<(String, String)> {
        issue_leaf(&self.ca, cn, &[], Usage::Server, sans, LEAF_VALIDITY_DAYS)
    }
}

fn chain(leaf: &str, ca: &str) -> String {
    let mut s = String::with_capacity(leaf.len() + ca.len() + 1);
    s.push_str(leaf);
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s.push_str(ca);
    s
}

/// Creates the CA when its certificate is absent. The key is written
/// before the certificate, so a crash in between leaves no certificate and
/// the next start simply generates again.
fn load_or_create_ca(dir: &Path) -> Result<Ca> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    match read_optional(&cert_path)? {
        Some(cert_pem) => {
            let key_pem = read_optional(&key_path)?.ok_or_else(|| Error::Invalid {
                path: key_path.clone(),
                reason: format!("missing, but {} exists", cert_path.display()),
            })?;
            Ca::load(cert_pem, &key_pem, &cert_path, &key_path)
        }
        None => {
            let (ca, key_pem) = Ca::generate()?;
            write_atomic(&key_path, key_pem.as_bytes(), KEY_MODE)?;
            write_atomic(&cert_path, ca.cert_pem().as_bytes(), CERT_MODE)?;
            tracing::info!(path = %cert_path.display(), "created cluster CA");
            Ok(ca)
        }
    }
}

/// Reuses a stored leaf when [`reissue_reason`] finds nothing wrong, else
/// issues a new one. The key is written first: a crash before the
/// certificate follows leaves a key/cert mismatch, which the next start
/// detects and repairs.
fn ensure_leaf(
    dir: &Path,
    ca: &Ca,
    cert_file: &str,
    key_file: &str,
    want_sans: Option<&BTreeSet<San>>,
    issue: impl FnOnce() -> Result<(String, String)>,
) -> Result<(String, String)> {
    let cert_path = dir.join(cert_file);
    let key_path = dir.join(key_file);
    let cert = read_optional(&cert_path)?;
    let key = read_optional(&key_path)?;
    let reason = reissue_reason(ca, cert.as_deref(), key.as_deref(), want_sans);
    if let (None, Some(cert), Some(key)) = (&reason, cert, key) {
        return Ok((cert, key));
    }
    let reason = reason.unwrap_or_default();
    let (cert, key) = issue()?;
    write_atomic(&key_path, key.as_bytes(), KEY_MODE)?;
    write_atomic(&cert_path, cert.as_bytes(), CERT_MODE)?;
    tracing::info!(path = %cert_path.display(), %reason, "issued certificate");
    Ok((cert, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::{cert_sans, first_cert_der, parse_der};
    use crate::DEFAULT_SERVICE_IP;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use x509_parser::certificate::X509Certificate;

    fn sans(extra: &[&str]) -> ServingSans {
        ServingSans {
            hostname: "node-a".into(),
            ips: vec![DEFAULT_SERVICE_IP, "192.0.2.10".parse().unwrap()],
            dns: vec![],
            extra: extra.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn cn(c: &X509Certificate<'_>) -> String {
        c.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Checks `leaf_pem` is signed by `ca_pem` and returns its DER.
    fn verified(ca_pem: &str, leaf_pem: &str) -> Vec<u8> {
        let ca_der = first_cert_der(ca_pem).unwrap();
        let ca = parse_der(&ca_der).unwrap();
        let der = first_cert_der(leaf_pem).unwrap();
        let leaf = parse_der(&der).unwrap();
        assert_eq!(leaf.issuer().as_raw(), ca.subject().as_raw());
        leaf.verify_signature(Some(ca.public_key())).unwrap();
        assert!(!leaf.is_ca());
        der
    }

    #[test]
    fn creates_then_reuses_identically() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("server/tls");
        let pki = ClusterPki::load_or_create(&dir, &sans(&[])).unwrap();
        assert_eq!(mode(&dir), 0o700);
        for f in [
            CA_KEY_FILE,
            SERVING_KEY_FILE,
            ADMIN_KEY_FILE,
            KUBELET_CLIENT_KEY_FILE,
            crate::SERVICE_ACCOUNT_KEY_FILE,
        ] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
        for f in [
            CA_CERT_FILE,
            SERVING_CERT_FILE,
            ADMIN_CERT_FILE,
            KUBELET_CLIENT_CERT_FILE,
        ] {
            assert_eq!(mode(&dir.join(f)), 0o644, "{f}");
        }
        let before = snapshot(&dir);
        assert_eq!(before.len(), 9, "no temp files left");

        let again = ClusterPki::load_or_create(&dir, &sans(&[])).unwrap();
        assert_eq!(snapshot(&dir), before);
        assert_eq!(again.ca_cert_pem(), pki.ca_cert_pem());
        assert_eq!(again.serving_cert_chain_pem(), pki.serving_cert_chain_pem());
        assert_eq!(again.serving_key_pem(), pki.serving_key_pem());
        assert_eq!(again.admin_cert_pem(), pki.admin_cert_pem());
        assert_eq!(again.admin_key_pem(), pki.admin_key_pem());
        assert_eq!(
            again.kubelet_client_cert_pem(),
            pki.kubelet_client_cert_pem()
        );
        assert_eq!(again.kubelet_client_key_pem(), pki.kubelet_client_key_pem());
        assert_eq!(
            pki.serving_cert_chain_pem().as_bytes(),
            fs::read(dir.join(SERVING_CERT_FILE)).unwrap()
        );
    }

    #[test]
    fn certificates_have_expected_fields() {
        let tmp = tempfile::tempdir().unwrap();
        let pki =
            ClusterPki::load_or_create(tmp.path(), &sans(&["203.0.113.7", "api.example.com"]))
                .unwrap();

        let ca_der = first_cert_der(pki.ca_cert_pem()).unwrap();
        let ca = parse_der(&ca_der).unwrap();
        assert!(ca.is_ca());
        assert!(cn(&ca).starts_with("rkube-server-ca@"));
        assert_eq!(ca.subject().as_raw(), ca.issuer().as_raw());
        ca.verify_signature(None).unwrap();
        let years = (ca.validity().not_after.timestamp() - ca.validity().not_before.timestamp())
            / (365 * 86400);
        assert_eq!(years, 10);

        // Serving: leaf first, then the CA.
        let chain = pki.serving_cert_chain_pem();
        assert!(chain.ends_with(pki.ca_cert_pem()));
        let der = verified(pki.ca_cert_pem(), chain);
        let leaf = parse_der(&der).unwrap();
        assert_eq!(cn(&leaf), "kube-apiserver");
        let eku = leaf.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);
        let have = cert_sans(&leaf);
        for want in [
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "node-a",
            "127.0.0.1",
            "::1",
            "10.43.0.1",
            "192.0.2.10",
            "203.0.113.7",
            "api.example.com",
        ] {
            assert!(have.contains(&San::parse(want).unwrap()), "missing {want}");
        }

        let der = verified(pki.ca_cert_pem(), pki.admin_cert_pem());
        let admin = parse_der(&der).unwrap();
        assert_eq!(cn(&admin), "system:admin");
        let orgs: Vec<_> = admin
            .subject()
            .iter_organization()
            .map(|o| o.as_str().unwrap())
            .collect();
        assert_eq!(orgs, ["system:masters"]);
        let eku = admin.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth);
        let days = (admin.validity().not_after.timestamp()
            - admin.validity().not_before.timestamp())
            / 86400;
        assert_eq!(days, 365);

        let der = verified(pki.ca_cert_pem(), pki.kubelet_client_cert_pem());
        let kc = parse_der(&der).unwrap();
        assert_eq!(cn(&kc), KUBELET_CLIENT_CN);
        let orgs: Vec<_> = kc
            .subject()
            .iter_organization()
            .map(|o| o.as_str().unwrap())
            .collect();
        assert_eq!(orgs, ["system:masters"]);
        let eku = kc.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth);
        rcgen::KeyPair::from_pem(pki.kubelet_client_key_pem()).unwrap();

        // On-demand issuance.
        let (c, k) = pki
            .issue_client_cert("system:node:n1", &["system:nodes", "extra"], 30)
            .unwrap();
        let der = verified(pki.ca_cert_pem(), &c);
        let node = parse_der(&der).unwrap();
        assert_eq!(cn(&node), "system:node:n1");
        let orgs: Vec<_> = node
            .subject()
            .iter_organization()
            .map(|o| o.as_str().unwrap())
            .collect();
        assert_eq!(orgs, ["system:nodes", "extra"]);
        rcgen::KeyPair::from_pem(&k).unwrap();
        assert!(pki.issue_client_cert("x", &["a", "b", "c"], 1).is_err());

        let want = [San::parse("n1").unwrap(), San::parse("192.0.2.11").unwrap()];
        let (c, _) = pki.issue_serving_cert("n1", &want).unwrap();
        let der = verified(pki.ca_cert_pem(), &c);
        assert_eq!(
            cert_sans(&parse_der(&der).unwrap()),
            want.into_iter().collect()
        );
    }

    #[test]
    fn new_san_reissues_serving_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = ClusterPki::load_or_create(dir, &sans(&[])).unwrap();
        let before = snapshot(dir);

        let second = ClusterPki::load_or_create(dir, &sans(&["lb.example.com"])).unwrap();
        let after = snapshot(dir);
        for ((name, old), (_, new)) in before.iter().zip(&after) {
            let reissued = name.starts_with("serving-kube-apiserver");
            assert_eq!(old != new, reissued, "{name}");
        }
        assert_eq!(second.ca_cert_pem(), first.ca_cert_pem());
        let der = verified(second.ca_cert_pem(), second.serving_cert_chain_pem());
        assert!(cert_sans(&parse_der(&der).unwrap()).contains(&San::Dns("lb.example.com".into())));
        assert_eq!(mode(&dir.join(SERVING_KEY_FILE)), 0o600);

        // Dropping back to a subset is still covered: no churn.
        ClusterPki::load_or_create(dir, &sans(&[])).unwrap();
        assert_eq!(snapshot(dir), after);
    }

    #[test]
    fn repairs_leaves_but_never_replaces_the_ca() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = ClusterPki::load_or_create(dir, &sans(&[])).unwrap();

        // A key from an interrupted re-issue no longer matches its cert.
        fs::write(dir.join(ADMIN_KEY_FILE), first.serving_key_pem()).unwrap();
        let second = ClusterPki::load_or_create(dir, &sans(&[])).unwrap();
        assert_ne!(second.admin_cert_pem(), first.admin_cert_pem());
        assert_eq!(second.serving_key_pem(), first.serving_key_pem());
        verified(second.ca_cert_pem(), second.admin_cert_pem());

        fs::remove_file(dir.join(CA_KEY_FILE)).unwrap();
        let err = ClusterPki::load_or_create(dir, &sans(&[])).unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err}");

        assert!(matches!(
            ClusterPki::load_or_create(dir, &sans(&["bad name"])),
            Err(Error::InvalidSan(_))
        ));
    }
}
