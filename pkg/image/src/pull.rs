//! Pulling from registries with oci-client: endpoint fallback (mirrors first), credentials from
//! pull secrets and registries.yaml, verified blob downloads, unpack.

use std::time::{Duration, Instant};

use oci_client::{
    client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol},
    errors::OciDistributionError,
    manifest::OciImageManifest,
    secrets::RegistryAuth as OciAuth,
    Reference,
};

use crate::{
    config::parse_config,
    reference::{credential_host, ImageRef},
    registries::Endpoint,
    store::{check_digest, ImageRecord},
    tls_bridge::TlsBridge,
    Error, Inner, PullReport, RegistryAuth, Result,
};

/// Pulls `image` (as the user wrote it: `original`) and records it under its normalized name.
pub async fn pull(
    inner: &Inner,
    image: &ImageRef,
    original: &str,
    auth: &[RegistryAuth],
) -> Result<(ImageRecord, PullReport)> {
    let started = Instant::now();
    let fail = |message: String| Error::Pull {
        reference: original.to_string(),
        message,
    };
    let mut failures = Vec::new();
    for ep in inner.registries.endpoints(image) {
        let client = client_for(inner, &ep).map_err(fail)?;
        let reference = match &image.digest {
            Some(d) => Reference::with_digest(ep.host.clone(), ep.repository.clone(), d.clone()),
            None => Reference::with_tag(
                ep.host.clone(),
                ep.repository.clone(),
                image.tag_or_digest().to_string(),
            ),
        };
        let credentials = credentials_for(inner, &ep, image, auth);
        let resolved = client
            .pull_image_manifest_and_list_digest(&reference, &credentials)
            .await;
        let (manifest, manifest_digest, list_digest) = match resolved {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(image = %image, endpoint = %ep.url(), error = %e, "manifest not resolved");
                let mut failure = describe(&ep, &e);
                if let Some(why) = bridge_error(inner, &ep) {
                    failure.push_str(&format!(" (registry TLS bridge: {why})"));
                }
                failures.push(failure);
                continue;
            }
        };
        tracing::debug!(image = %image, endpoint = %ep.url(), digest = %manifest_digest, "resolved");
        let bytes = fetch_content(inner, &client, &reference, &manifest)
            .await
            .map_err(|m| fail(format!("{m} (from {})", ep.url())))?;
        let config_bytes = std::fs::read(inner.store.blob_path(&manifest.config.digest))
            .map_err(|e| fail(format!("reading the image config: {e}")))?;
        let config = parse_config(&config_bytes).map_err(fail)?;
        let digest = image
            .digest
            .clone()
            .or(list_digest)
            .unwrap_or(manifest_digest);
        let record = ImageRecord {
            id: manifest.config.digest.clone(),
            references: vec![image.to_string()],
            repo_digest: Some(format!("{}@{digest}", image.name())),
            config,
            layers: manifest.layers.iter().map(|l| l.digest.clone()).collect(),
            size: manifest.layers.iter().map(|l| l.size.max(0) as u64).sum(),
        };
        crate::layers::unpack_all(inner, &record.layers)
            .await
            .map_err(fail)?;
        let record = inner.store.commit(record)?;
        let report = PullReport {
            bytes,
            duration: started.elapsed(),
        };
        tracing::info!(image = %image, id = %record.id, endpoint = %ep.url(), bytes, duration_ms = report.duration.as_millis() as u64, "pulled image");
        return Ok((record, report));
    }
    Err(fail(failures.join("; ")))
}

/// Downloads the config and the layers that are not in the store yet; returns the bytes fetched.
async fn fetch_content(
    inner: &Inner,
    client: &oci_client::Client,
    reference: &Reference,
    manifest: &OciImageManifest,
) -> Result<u64, String> {
    let mut descriptors = vec![&manifest.config];
    descriptors.extend(manifest.layers.iter());
    for d in &descriptors {
        check_digest(&d.digest).map_err(|e| e.to_string())?;
    }
    // Layers download in parallel; each digest is fetched once even across concurrent pulls.
    let downloads = descriptors.into_iter().map(|d| async move {
        let _guard = inner.locks.lock(format!("blob {}", d.digest)).await;
        let path = inner.store.blob_path(&d.digest);
        if path.exists() {
            return Ok(0);
        }
        let tmp = tempfile::NamedTempFile::new_in(inner.store.tmp_dir())
            .map_err(|e| format!("creating a download file: {e}"))?;
        let file = tokio::fs::File::from_std(
            tmp.reopen()
                .map_err(|e| format!("opening a download file: {e}"))?,
        );
        let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
        client
            .pull_blob(reference, d, &mut out)
            .await
            .map_err(|e| format!("downloading {}: {}", d.digest, reason(&e)))?;
        let size = tmp.as_file().metadata().map(|m| m.len()).unwrap_or(0);
        tmp.persist(&path)
            .map_err(|e| format!("storing {}: {}", d.digest, e.error))?;
        tracing::debug!(digest = %d.digest, size, "downloaded blob");
        Ok::<u64, String>(size)
    });
    let sizes = futures_util::future::try_join_all(downloads).await?;
    Ok(sizes.into_iter().sum())
}

/// One client per pull and endpoint: oci-client keeps credentials per registry host for the
/// client's lifetime, and pods may bring different pull secrets for the same host.
fn client_for(inner: &Inner, ep: &Endpoint) -> Result<oci_client::Client, String> {
    let mut config = ClientConfig {
        protocol: if ep.insecure_http {
            ClientProtocol::HttpsExcept(vec![ep.host.clone()])
        } else {
            ClientProtocol::Https
        },
        connect_timeout: Some(Duration::from_secs(10)),
        read_timeout: Some(Duration::from_secs(60)),
        ..Default::default()
    };
    if let Some(tls) = inner
        .registries
        .host_config(&ep.host)
        .and_then(|c| c.tls.as_ref())
    {
        config.accept_invalid_certificates = tls.insecure_skip_verify;
        if let Some(ca) = &tls.ca_file {
            let data = std::fs::read(ca).map_err(|e| format!("reading {}: {e}", ca.display()))?;
            config.extra_root_certificates.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
        }
        if (tls.cert_file.is_some() || tls.key_file.is_some()) && !ep.insecure_http {
            // oci-client cannot present a client certificate: tunnel through the TLS bridge,
            // which does (and verifies the registry itself).
            let bridge = bridge(inner)?;
            bridge.register(&ep.host, tls)?;
            config.https_proxy = Some(bridge.proxy_url());
            config.no_proxy = None;
            config.accept_invalid_certificates = false;
            config.extra_root_certificates = vec![Certificate {
                encoding: CertificateEncoding::Pem,
                data: bridge.ca_pem().to_vec(),
            }];
        }
    }
    oci_client::Client::try_from(config).map_err(|e| format!("creating a registry client: {e}"))
}

/// The service's TLS bridge, started on first use.
fn bridge(inner: &Inner) -> Result<&TlsBridge, String> {
    inner
        .tls_bridge
        .get_or_init(TlsBridge::start)
        .as_ref()
        .map_err(Clone::clone)
}

/// Why the bridge's tunnel for the endpoint failed, when the pull went through it.
fn bridge_error(inner: &Inner, ep: &Endpoint) -> Option<String> {
    inner.tls_bridge.get()?.as_ref().ok()?.last_error(&ep.host)
}

/// Pull-secret credentials for the endpoint's host win, then registries.yaml's `configs`; a
/// secret for the image's registry is sent only to that registry, never to a mirror.
fn credentials_for(
    inner: &Inner,
    ep: &Endpoint,
    image: &ImageRef,
    auth: &[RegistryAuth],
) -> OciAuth {
    let endpoint_host = credential_host(&ep.host);
    let from_secret = auth.iter().find(|a| {
        let h = credential_host(&a.server);
        h == endpoint_host || (ep.upstream && h == image.registry)
    });
    if let Some(a) = from_secret {
        return OciAuth::Basic(a.username.clone(), a.password.clone());
    }
    let Some(host_auth) = inner
        .registries
        .host_config(&ep.host)
        .or_else(|| {
            ep.upstream
                .then(|| inner.registries.host_config(&image.registry))
                .flatten()
        })
        .and_then(|c| c.auth.as_ref())
    else {
        return OciAuth::Anonymous;
    };
    if let (Some(u), Some(p)) = (&host_auth.username, &host_auth.password) {
        return OciAuth::Basic(u.clone(), p.clone());
    }
    if let Some(encoded) = &host_auth.auth {
        use base64::Engine as _;
        if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) {
            if let Some((u, p)) = String::from_utf8_lossy(&decoded).split_once(':') {
                return OciAuth::Basic(u.to_string(), p.to_string());
            }
        }
    }
    if let Some(token) = &host_auth.identitytoken {
        return OciAuth::Bearer(token.clone());
    }
    OciAuth::Anonymous
}

/// `manifest unknown (from http://127.0.0.1:5000)`, `cannot connect to https://x: connection refused`.
fn describe(ep: &Endpoint, e: &OciDistributionError) -> String {
    match e {
        OciDistributionError::RequestError(re) if re.is_connect() || re.is_timeout() => {
            format!("cannot connect to {}: {}", ep.url(), reason(e))
        }
        _ => format!("{} (from {})", reason(e), ep.url()),
    }
}

/// The shortest true text for an oci-client error: the registry's own error messages, or the
/// innermost cause of a transport error.
fn reason(e: &OciDistributionError) -> String {
    match e {
        OciDistributionError::RegistryError { envelope, .. } => {
            let msgs: Vec<String> = envelope
                .errors
                .iter()
                .map(|x| {
                    if x.message.is_empty() {
                        format!("{:?}", x.code)
                    } else {
                        x.message.clone()
                    }
                })
                .collect();
            msgs.join(", ")
        }
        OciDistributionError::ServerError { code, message, .. } => {
            let message = message.trim();
            if message.is_empty() {
                format!("HTTP status {code}")
            } else {
                format!("HTTP status {code}: {message}")
            }
        }
        OciDistributionError::UnauthorizedError { .. } => {
            "unauthorized: the registry refused the credentials (or needs some)".to_string()
        }
        OciDistributionError::RequestError(re) => {
            let mut source: &dyn std::error::Error = re;
            while let Some(next) = source.source() {
                source = next;
            }
            let text = source.to_string();
            let lower = text.to_lowercase();
            if lower.contains("connection refused") {
                "connection refused".to_string()
            } else {
                text
            }
        }
        other => other.to_string(),
    }
}
