//! Importing image tarballs for air-gapped nodes: OCI image layouts (`skopeo copy ...
//! oci-archive:x.tar`) and docker archives (`docker save`, `skopeo copy ... docker-archive:`),
//! plain or gzip. Importing the same archive again changes nothing.

use std::{
    collections::BTreeMap,
    fs,
    io::{self, Read},
    path::{Path, PathBuf},
};

use sha2::Digest as _;

use crate::{
    config::parse_config,
    layers, normalize_reference,
    store::{check_digest, ImageRecord},
    unpack::decompressed,
    Error, Inner, Result,
};

pub fn import(inner: &Inner, archive: &Path) -> Result<Vec<ImageRecord>> {
    let shown = archive.display().to_string();
    let fail = |m: String| Error::Other(format!("importing {shown}: {m}"));
    let work = tempfile::Builder::new()
        .prefix("import-")
        .tempdir_in(inner.store.tmp_dir())
        .map_err(|e| fail(e.to_string()))?;
    let file = fs::File::open(archive).map_err(|e| fail(e.to_string()))?;
    let mut tar = tar::Archive::new(decompressed(file).map_err(|e| fail(e.to_string()))?);
    tar.unpack(work.path())
        .map_err(|e| fail(format!("not a readable tar archive: {e}")))?;
    let dir = work.path();
    let images = if dir.join("manifest.json").is_file() {
        docker_archive(dir).map_err(fail)?
    } else if dir.join("index.json").is_file() {
        oci_layout(dir).map_err(fail)?
    } else {
        return Err(fail(
            "neither an OCI layout (index.json) nor a docker archive (manifest.json)".into(),
        ));
    };
    let mut out = Vec::new();
    for img in images {
        let record = store_image(inner, img).map_err(fail)?;
        tracing::info!(archive = %shown, id = %record.id, references = ?record.references, "imported image");
        out.push(record);
    }
    Ok(out)
}

/// One image found in an archive, with paths of its blobs inside the extracted archive.
struct Found {
    names: Vec<String>,
    manifest_digest: Option<String>,
    config: PathBuf,
    layers: Vec<PathBuf>,
}

fn store_image(inner: &Inner, img: Found) -> Result<ImageRecord, String> {
    let config_digest = add_blob(inner, &img.config)?;
    let config_bytes = fs::read(inner.store.blob_path(&config_digest))
        .map_err(|e| format!("reading the image config: {e}"))?;
    let config = parse_config(&config_bytes)?;
    let mut layer_digests = Vec::new();
    let mut size = 0;
    // Already present (imported or pulled before): only the names are new.
    let present = inner.store.find(None, &config_digest).is_some();
    for layer in img.layers.iter().filter(|_| !present) {
        size += fs::metadata(layer).map(|m| m.len()).unwrap_or(0);
        layer_digests.push(add_blob(inner, layer)?);
    }
    for d in &layer_digests {
        let dest = inner.store.layer_path(d);
        if !dest.exists() {
            layers::unpack_one(&inner.store.blob_path(d), &inner.store.tmp_dir(), &dest)
                .map_err(|e| format!("unpacking layer {d}: {e}"))?;
        }
    }
    let references: Vec<String> = img
        .names
        .iter()
        .filter_map(|n| normalize_reference(n).ok())
        .collect();
    let repo_digest = img.manifest_digest.as_ref().and_then(|md| {
        references.first().map(|r| {
            let name = crate::reference::parse(r)
                .map(|p| p.name())
                .unwrap_or_default();
            format!("{name}@{md}")
        })
    });
    inner
        .store
        .commit(ImageRecord {
            id: config_digest,
            references,
            repo_digest,
            config,
            layers: layer_digests,
            size,
        })
        .map_err(|e| e.to_string())
}

/// Moves a blob into the store (OCI layout blobs were verified when found); returns its digest.
fn add_blob(inner: &Inner, path: &Path) -> Result<String, String> {
    let digest = sha256_file(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let dest = inner.store.blob_path(&digest);
    if !dest.exists() {
        fs::rename(path, &dest)
            .or_else(|_| fs::copy(path, &dest).map(|_| ()))
            .map_err(|e| format!("storing {digest}: {e}"))?;
    }
    Ok(digest)
}

pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("sha256:{}", hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn docker_archive(dir: &Path) -> Result<Vec<Found>, String> {
    let text = fs::read(dir.join("manifest.json")).map_err(|e| e.to_string())?;
    let entries: Vec<DockerManifestEntry> =
        serde_json::from_slice(&text).map_err(|e| format!("manifest.json: {e}"))?;
    entries
        .into_iter()
        .map(|e| {
            Ok(Found {
                names: e.repo_tags.unwrap_or_default(),
                manifest_digest: None,
                config: inside(dir, &e.config)?,
                layers: e
                    .layers
                    .iter()
                    .map(|l| inside(dir, l))
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect()
}

/// A path named by the archive, kept inside it.
fn inside(dir: &Path, rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if p.components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!("archive names a path outside itself: {rel:?}"));
    }
    Ok(dir.join(p))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    digest: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(serde::Deserialize)]
struct Platform {
    architecture: String,
    os: String,
}

#[derive(serde::Deserialize)]
struct IndexOrManifest {
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

fn oci_blob(dir: &Path, digest: &str) -> Result<PathBuf, String> {
    check_digest(digest).map_err(|e| e.to_string())?;
    let hex = digest.split_once(':').map(|x| x.1).unwrap_or_default();
    let p = dir.join("blobs/sha256").join(hex);
    let actual = sha256_file(&p).map_err(|e| format!("blob {digest}: {e}"))?;
    if actual != digest {
        return Err(format!("blob {digest} has digest {actual}"));
    }
    Ok(p)
}

fn read_json(dir: &Path, digest: &str) -> Result<IndexOrManifest, String> {
    let p = oci_blob(dir, digest)?;
    let bytes = fs::read(&p).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("blob {digest}: {e}"))
}

fn oci_layout(dir: &Path) -> Result<Vec<Found>, String> {
    let bytes = fs::read(dir.join("index.json")).map_err(|e| e.to_string())?;
    let index: IndexOrManifest =
        serde_json::from_slice(&bytes).map_err(|e| format!("index.json: {e}"))?;
    let mut out = Vec::new();
    for desc in index.manifests.unwrap_or_default() {
        let names: Vec<String> = [
            "io.containerd.image.name",
            "org.opencontainers.image.ref.name",
        ]
        .iter()
        .filter_map(|k| desc.annotations.get(*k))
        // A bare tag ("1.36") names no repository: such an image is kept by ID only.
        .filter(|n| n.contains('/') || n.contains(':'))
        .take(1)
        .cloned()
        .collect();
        let (manifest_digest, manifest) = resolve_platform(dir, &desc, 0)?;
        let config = manifest
            .config
            .ok_or_else(|| format!("manifest {manifest_digest} has no config"))?;
        let layers = manifest
            .layers
            .unwrap_or_default()
            .iter()
            .map(|l| oci_blob(dir, &l.digest))
            .collect::<Result<_, _>>()?;
        out.push(Found {
            names,
            manifest_digest: Some(desc.digest.clone()),
            config: oci_blob(dir, &config.digest)?,
            layers,
        });
    }
    Ok(out)
}

/// Follows image indexes down to the linux/amd64 manifest.
fn resolve_platform(
    dir: &Path,
    desc: &Descriptor,
    depth: u8,
) -> Result<(String, IndexOrManifest), String> {
    if depth > 4 {
        return Err("image indexes nest too deeply".into());
    }
    let m = read_json(dir, &desc.digest)?;
    let Some(manifests) = &m.manifests else {
        return Ok((desc.digest.clone(), m));
    };
    let pick = manifests
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
        })
        .or_else(|| manifests.iter().find(|d| d.platform.is_none()))
        .ok_or_else(|| format!("index {} has no linux/amd64 image", desc.digest))?;
    resolve_platform(dir, pick, depth + 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_digest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            super::sha256_file(&p).unwrap(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
