//! Upstream's AtomicWriter layout for configMap/secret/downwardAPI/projected volumes: the files
//! live in a timestamped directory `..<ts>`, `..data` is a symlink to it (swapped atomically by
//! rename), and each top-level entry is a symlink through `..data`.

use std::{
    collections::BTreeMap,
    io,
    os::unix::fs::{symlink, PermissionsExt},
    path::Path,
};

/// Relative path -> (content, mode).
pub type Payload = BTreeMap<String, (Vec<u8>, u32)>;

/// Whether the files under `..data` are exactly `payload` (content and mode).
pub fn unchanged(dir: &Path, payload: &Payload) -> bool {
    let data = dir.join("..data");
    let mut found = 0usize;
    let ok = payload.iter().all(|(rel, (content, mode))| {
        let p = data.join(rel);
        let same = std::fs::read(&p).is_ok_and(|c| c == *content)
            && std::fs::metadata(&p).is_ok_and(|m| m.permissions().mode() & 0o7777 == *mode);
        found += 1;
        same
    });
    ok && found == count_files(&data)
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                count_files(&p)
            } else {
                1
            }
        })
        .sum()
}

/// Writes `payload` when it differs from what is there; true when it did.
pub fn update(dir: &Path, payload: &Payload) -> io::Result<bool> {
    if unchanged(dir, payload) {
        return Ok(false);
    }
    write(dir, payload)?;
    Ok(true)
}

pub fn write(dir: &Path, payload: &Payload) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let stamp = format!(
        "..{}",
        k8s_openapi::jiff::fmt::strtime::format(
            "%Y_%m_%d_%H_%M_%S.%f",
            k8s_openapi::jiff::Timestamp::now()
        )
        .unwrap_or_else(|_| "0".into())
    );
    let ts_dir = dir.join(&stamp);
    std::fs::create_dir_all(&ts_dir)?;
    for (rel, (content, mode)) in payload {
        let target = ts_dir.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, content)?;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(*mode))?;
    }
    std::fs::set_permissions(&ts_dir, std::fs::Permissions::from_mode(0o755))?;
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    symlink(&stamp, &tmp)?;
    let old = std::fs::read_link(dir.join("..data")).ok();
    std::fs::rename(&tmp, dir.join("..data"))?;
    let tops: std::collections::BTreeSet<&str> =
        payload.keys().filter_map(|k| k.split('/').next()).collect();
    for top in &tops {
        let link = dir.join(top);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(format!("..data/{top}"), &link)?;
        }
    }
    // Keys that are gone: their links go too (upstream removes them after the swap).
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !tops.contains(name.as_str()) && e.path().is_symlink() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    if let Some(old) = old.filter(|o| o.as_os_str() != stamp.as_str()) {
        let _ = std::fs::remove_dir_all(dir.join(old));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_like_upstream() {
        let d = tempfile::tempdir().unwrap();
        let mut p = Payload::new();
        p.insert("a".into(), (b"1".to_vec(), 0o644));
        p.insert("sub/b".into(), (b"2".to_vec(), 0o400));
        write(d.path(), &p).unwrap();
        assert_eq!(std::fs::read_to_string(d.path().join("a")).unwrap(), "1");
        assert_eq!(
            std::fs::read_to_string(d.path().join("sub/b")).unwrap(),
            "2"
        );
        assert_eq!(
            std::fs::read_link(d.path().join("a")).unwrap(),
            Path::new("..data/a")
        );
        let data = std::fs::read_link(d.path().join("..data")).unwrap();
        assert!(data.to_str().unwrap().starts_with(".."));
        let mode = std::fs::metadata(d.path().join("sub/b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o400);
        // A second write swaps the data and removes the old directory.
        p.insert("a".into(), (b"3".to_vec(), 0o644));
        write(d.path(), &p).unwrap();
        assert_eq!(std::fs::read_to_string(d.path().join("a")).unwrap(), "3");
        assert!(!d.path().join(&data).exists());
        // update() leaves equal content alone and swaps changed content.
        assert!(!update(d.path(), &p).unwrap());
        p.remove("a");
        assert!(update(d.path(), &p).unwrap());
        assert!(std::fs::symlink_metadata(d.path().join("a")).is_err());
        assert_eq!(
            std::fs::read_to_string(d.path().join("sub/b")).unwrap(),
            "2"
        );
    }
}
