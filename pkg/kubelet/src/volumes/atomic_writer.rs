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
    for top in payload
        .keys()
        .filter_map(|k| k.split('/').next())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let link = dir.join(top);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(format!("..data/{top}"), &link)?;
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
    }
}
