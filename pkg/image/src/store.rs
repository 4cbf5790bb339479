//! The on-disk image store:
//!
//! ```text
//! <root>/blobs/sha256/<hex>     compressed layers and configs, once per digest
//! <root>/layers/sha256/<hex>/   a layer unpacked (by compressed digest): an overlayfs lowerdir
//! <root>/images/<hex>.json      one record per image (by config digest), written atomically
//! <root>/tmp/                   downloads and unpacks in progress (same filesystem: renames)
//! ```
//! The records are the index: they are read at open, so images survive restarts.

use std::{
    collections::BTreeMap,
    fs,
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
};

use crate::{Error, Image, ImageConfig, Result};

/// The durable description of one image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageRecord {
    /// `sha256:<config digest>`.
    pub id: String,
    pub references: Vec<String>,
    pub repo_digest: Option<String>,
    pub config: ConfigRecord,
    /// Layer blob digests, bottom first.
    pub layers: Vec<String>,
    pub size: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConfigRecord {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
}

impl From<ConfigRecord> for ImageConfig {
    fn from(c: ConfigRecord) -> Self {
        Self {
            entrypoint: c.entrypoint,
            cmd: c.cmd,
            env: c.env,
            working_dir: c.working_dir,
            user: c.user,
        }
    }
}

/// Paths of the store plus the in-memory copy of the records.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    records: Mutex<Loaded>,
}

/// The records and the modification time of the images directory they were read at.
#[derive(Debug, Default)]
struct Loaded {
    dir_mtime: Option<std::time::SystemTime>,
    records: BTreeMap<String, ImageRecord>,
}

pub fn io_error(what: impl std::fmt::Display, e: std::io::Error) -> Error {
    Error::Other(format!("{what}: {e}"))
}

impl Store {
    pub fn open(root: &Path) -> Result<Self> {
        for dir in ["blobs/sha256", "layers/sha256", "images", "tmp"] {
            let d = root.join(dir);
            fs::create_dir_all(&d).map_err(|e| io_error(format!("creating {}", d.display()), e))?;
        }
        // Leftovers of interrupted downloads and unpacks.
        if let Ok(entries) = fs::read_dir(root.join("tmp")) {
            for entry in entries.flatten() {
                let p = entry.path();
                let _ = if p.is_dir() {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
            }
        }
        let dir = root.join("images");
        let dir_mtime = fs::metadata(&dir).and_then(|m| m.modified()).ok();
        let records = load_records(&dir)?;
        Ok(Self {
            root: root.to_path_buf(),
            records: Mutex::new(Loaded { dir_mtime, records }),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.root.join("blobs").join(digest_path(digest))
    }

    pub fn layer_path(&self, digest: &str) -> PathBuf {
        self.root.join("layers").join(digest_path(digest))
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.root
            .join("images")
            .join(format!("{}.json", hex_of(id)))
    }

    pub fn image(&self, r: &ImageRecord) -> Image {
        Image {
            id: r.id.clone(),
            references: r.references.clone(),
            repo_digest: r.repo_digest.clone(),
            config: r.config.clone().into(),
            layers: r.layers.iter().map(|d| self.layer_path(d)).collect(),
            size: r.size,
        }
    }

    /// The records, re-read when the images directory changed: `rkube images import|rm` may
    /// change them while a server runs on the same store. Every write renames a file into that
    /// directory, which moves its mtime.
    fn records(&self) -> std::sync::MutexGuard<'_, Loaded> {
        // A panic while holding the lock cannot leave a record half-changed: keep going.
        let mut loaded = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let dir = self.root.join("images");
        // Read before loading, so a write during the load is seen by the next call.
        let mtime = fs::metadata(&dir).and_then(|m| m.modified()).ok();
        if mtime.is_none() || mtime != loaded.dir_mtime {
            match load_records(&dir) {
                Ok(records) => {
                    loaded.records = records;
                    loaded.dir_mtime = mtime;
                }
                Err(e) => tracing::warn!(error = %e, "cannot re-read the image index"),
            }
        }
        loaded
    }

    /// The record a normalized reference or an ID (`sha256:<hex>`, `<hex>` or a unique hex
    /// prefix of at least 12 characters) names.
    pub fn find(&self, normalized: Option<&str>, id_like: &str) -> Option<ImageRecord> {
        Self::find_in(&self.records().records, normalized, id_like)
    }

    fn find_in(
        records: &BTreeMap<String, ImageRecord>,
        normalized: Option<&str>,
        id_like: &str,
    ) -> Option<ImageRecord> {
        if let Some(n) = normalized {
            if let Some(r) = records
                .values()
                .find(|r| r.references.iter().any(|x| x == n))
            {
                return Some(r.clone());
            }
        }
        let hex = id_like.strip_prefix("sha256:").unwrap_or(id_like);
        if hex.len() >= 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut matches = records.values().filter(|r| hex_of(&r.id).starts_with(hex));
            if let (Some(r), None) = (matches.next(), matches.next()) {
                return Some(r.clone());
            }
        }
        None
    }

    pub fn list(&self) -> Vec<ImageRecord> {
        self.records().records.values().cloned().collect()
    }

    /// Stores `record`, merging references with an existing record of the same ID and taking
    /// its references away from other images (a tag points at one image).
    pub fn commit(&self, mut record: ImageRecord) -> Result<ImageRecord> {
        let mut loaded = self.records();
        let records = &mut loaded.records;
        if let Some(old) = records.get(&record.id) {
            // Same config, same layer contents: keep the layers already unpacked (an import
            // of an uncompressed docker archive names them by other digests).
            record.layers.clone_from(&old.layers);
            record.size = old.size;
            for r in &old.references {
                if !record.references.contains(r) {
                    record.references.push(r.clone());
                }
            }
            if record.repo_digest.is_none() {
                record.repo_digest.clone_from(&old.repo_digest);
            }
        }
        record.references.sort();
        let mut changed = Vec::new();
        for other in records.values_mut() {
            if other.id == record.id {
                continue;
            }
            let before = other.references.len();
            other.references.retain(|r| !record.references.contains(r));
            if other.references.len() != before {
                changed.push(other.clone());
            }
        }
        for other in &changed {
            self.write_record(other)?;
        }
        self.write_record(&record)?;
        records.insert(record.id.clone(), record.clone());
        Ok(record)
    }

    /// Removes a reference, or the whole image when `reference` is None; deletes the image and
    /// its unshared layers when no reference is left. Returns whether anything was removed.
    pub fn remove(&self, id: &str, reference: Option<&str>) -> Result<()> {
        let mut loaded = self.records();
        let records = &mut loaded.records;
        let Some(mut record) = records.get(id).cloned() else {
            return Ok(());
        };
        if let Some(r) = reference {
            record.references.retain(|x| x != r);
        } else {
            record.references.clear();
        }
        if !record.references.is_empty() {
            self.write_record(&record)?;
            records.insert(record.id.clone(), record);
            return Ok(());
        }
        self.delete(records, &record).map(|_| ())
    }

    /// Removes the image with all its references (image GC); returns the bytes freed on disk
    /// (its config blob and the layers no other image shares), or None when it was gone.
    pub fn remove_image(&self, id: &str) -> Result<Option<u64>> {
        let mut loaded = self.records();
        let records = &mut loaded.records;
        let Some(record) = records.get(id).cloned() else {
            return Ok(None);
        };
        self.delete(records, &record).map(Some)
    }

    fn delete(
        &self,
        records: &mut BTreeMap<String, ImageRecord>,
        record: &ImageRecord,
    ) -> Result<u64> {
        records.remove(&record.id);
        let path = self.record_path(&record.id);
        fs::remove_file(&path).map_err(|e| io_error(format!("removing {}", path.display()), e))?;
        let in_use: std::collections::HashSet<&String> =
            records.values().flat_map(|r| r.layers.iter()).collect();
        let mut freed = 0;
        for layer in record.layers.iter().filter(|l| !in_use.contains(l)) {
            freed += remove_path(&self.layer_path(layer));
            freed += remove_path(&self.blob_path(layer));
        }
        freed += remove_path(&self.blob_path(&record.id));
        tracing::info!(image = %record.id, freed, "removed image");
        Ok(freed)
    }

    fn write_record(&self, record: &ImageRecord) -> Result<()> {
        let path = self.record_path(&record.id);
        let bytes = serde_json::to_vec_pretty(record).map_err(|e| Error::Other(e.to_string()))?;
        write_atomic(&path, &bytes)
    }
}

/// Reads every record under `dir`; unreadable ones are logged and skipped.
fn load_records(dir: &Path) -> Result<BTreeMap<String, ImageRecord>> {
    let mut records = BTreeMap::new();
    let entries =
        fs::read_dir(dir).map_err(|e| io_error(format!("reading {}", dir.display()), e))?;
    for entry in entries.flatten() {
        let p = entry.path();
        if p.extension().is_none_or(|e| e != "json") {
            continue;
        }
        match fs::read(&p)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<ImageRecord>(&b).map_err(|e| e.to_string()))
        {
            Ok(r) => {
                records.insert(r.id.clone(), r);
            }
            Err(e) => {
                tracing::warn!(path = %p.display(), error = %e, "skipping unreadable image record")
            }
        }
    }
    Ok(records)
}

/// Writes via a temporary file, fsync and rename, so a crash leaves the old or the new file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let err = |e| io_error(format!("writing {}", path.display()), e);
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes a file or tree; returns the bytes of the files it held.
fn remove_path(p: &Path) -> u64 {
    let size = disk_size(p);
    let res = if p.is_dir() {
        fs::remove_dir_all(p)
    } else {
        fs::remove_file(p)
    };
    if let Err(e) = res {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %p.display(), error = %e, "cannot remove");
        }
        return 0;
    }
    size
}

/// The apparent size of the regular files under `p` (or of `p`), symlinks not followed.
pub fn disk_size(p: &Path) -> u64 {
    let Ok(m) = fs::symlink_metadata(p) else {
        return 0;
    };
    if m.is_file() {
        return m.len();
    }
    if !m.is_dir() {
        return 0;
    }
    fs::read_dir(p)
        .map(|entries| entries.flatten().map(|e| disk_size(&e.path())).sum())
        .unwrap_or(0)
}

/// `sha256:<hex>` -> `sha256/<hex>` (digests are validated before they reach a path).
fn digest_path(digest: &str) -> PathBuf {
    match digest.split_once(':') {
        Some((algo, hex)) => Path::new(algo).join(hex),
        None => Path::new("sha256").join(digest),
    }
}

pub fn hex_of(digest: &str) -> &str {
    digest.split_once(':').map_or(digest, |(_, h)| h)
}

/// A digest safe to turn into a path: `sha256:` and 64 lowercase hex digits.
pub fn check_digest(digest: &str) -> Result<()> {
    match digest.split_once(':') {
        Some(("sha256", hex))
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(())
        }
        _ => Err(Error::Other(format!("unsupported digest {digest:?}"))),
    }
}
