//! Unpacks one layer tarball (plain, gzip or zstd) into its own directory, in the form overlayfs
//! wants for a lower layer: a `.wh.x` whiteout becomes a 0:0 character device `x`, and an opaque
//! marker `.wh..wh..opq` becomes the `trusted.overlay.opaque=y` xattr on its directory.
//! Device nodes and FIFOs are skipped (a pod gets its /dev from the runtime).

use std::{
    fs,
    io::{self, BufRead, BufReader, Read},
    path::{Component, Path, PathBuf},
};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// Opens a possibly compressed tar stream, by its magic bytes rather than a media type (docker
/// archives and some registries label layers loosely).
pub fn decompressed(file: fs::File) -> io::Result<Box<dyn Read>> {
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let head = reader.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let decoder = ruzstd::decoding::StreamingDecoder::new(reader)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        Ok(Box::new(decoder))
    } else {
        Ok(Box::new(reader))
    }
}

/// Unpacks the layer at `blob` into `dest` (which must exist and be empty).
pub fn unpack_layer(blob: &Path, dest: &Path) -> io::Result<()> {
    let file = fs::File::open(blob)?;
    unpack_tar(decompressed(file)?, dest)
}

pub fn unpack_tar(reader: impl Read, dest: &Path) -> io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    let mut opaque = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let Some(rel) = clean_path(&entry.path()?) else {
            continue;
        };
        let name = rel
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let parent = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        if name == OPAQUE_MARKER {
            opaque.push(parent);
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if !hidden.is_empty() {
                whiteout(dest, &parent.join(hidden))?;
            }
            continue;
        }
        match entry.header().entry_type() {
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                tracing::debug!(path = %rel.display(), "skipping device node in layer");
                continue;
            }
            _ => {}
        }
        entry.unpack_in(dest)?;
    }
    for dir in opaque {
        let d = dest.join(&dir);
        create_dirs_inside(dest, &d)?;
        xattr::set(&d, "trusted.overlay.opaque", b"y")?;
    }
    Ok(())
}

/// The entry's path relative to the layer root, or None when it is the root or escapes it.
fn clean_path(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Creates the directories down to `dir`, refusing to pass through symlinks (a layer could
/// otherwise point a whiteout outside its directory).
fn create_dirs_inside(root: &Path, dir: &Path) -> io::Result<()> {
    let rel = dir.strip_prefix(root).map_err(io::Error::other)?;
    let mut cur = root.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::other(format!(
                    "{} is not a directory",
                    cur.display()
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(&cur)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// An overlayfs whiteout: a character device 0:0 in place of the deleted name.
fn whiteout(root: &Path, rel: &Path) -> io::Result<()> {
    let target = root.join(rel);
    create_dirs_inside(root, target.parent().unwrap_or(root))?;
    match fs::symlink_metadata(&target) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(&target)?,
        Ok(_) => fs::remove_file(&target)?,
        Err(_) => {}
    }
    nix::sys::stat::mknod(
        &target,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        nix::sys::stat::makedev(0, 0),
    )
    .map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

    use super::*;

    fn add(b: &mut tar::Builder<Vec<u8>>, path: &str, kind: tar::EntryType, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o640
        });
        h.set_uid(65534);
        h.set_gid(65534);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, path, data).unwrap();
    }

    fn link(b: &mut tar::Builder<Vec<u8>>, path: &str, kind: tar::EntryType, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(0);
        h.set_mode(0o777);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        b.append_link(&mut h, path, target).unwrap();
    }

    #[test]
    fn whiteouts_become_overlay_whiteouts() {
        let mut b = tar::Builder::new(Vec::new());
        add(&mut b, "etc/", tar::EntryType::Directory, b"");
        add(
            &mut b,
            "etc/passwd",
            tar::EntryType::Regular,
            b"root:x:0:0::/:/bin/sh\n",
        );
        add(&mut b, "etc/.wh.shadow", tar::EntryType::Regular, b"");
        add(
            &mut b,
            "var/cache/.wh..wh..opq",
            tar::EntryType::Regular,
            b"",
        );
        add(&mut b, "var/cache/new", tar::EntryType::Regular, b"x");
        add(&mut b, "dev/null", tar::EntryType::Char, b"");
        link(&mut b, "bin/sh", tar::EntryType::Symlink, "/bin/busybox");
        link(&mut b, "etc/passwd2", tar::EntryType::Link, "etc/passwd");
        // tar::Builder refuses `..`; a hostile layer would not: write the name by hand.
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..9].copy_from_slice(b"../escape");
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &b"no"[..]).unwrap();
        let data = b.into_inner().unwrap();

        let dir = tempfile::tempdir().unwrap();
        unpack_tar(&data[..], dir.path()).unwrap();
        let root = dir.path();

        let wh = fs::symlink_metadata(root.join("etc/shadow")).unwrap();
        assert!(wh.file_type().is_char_device());
        assert_eq!(wh.rdev(), 0);
        assert!(!root.join("etc/.wh.shadow").exists());

        let opq = xattr::get(root.join("var/cache"), "trusted.overlay.opaque").unwrap();
        assert_eq!(opq.as_deref(), Some(&b"y"[..]));
        assert!(!root.join("var/cache/.wh..wh..opq").exists());
        assert!(root.join("var/cache/new").exists());

        assert!(fs::symlink_metadata(root.join("dev/null")).is_err());
        assert_eq!(
            fs::read_link(root.join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
        let passwd = fs::metadata(root.join("etc/passwd")).unwrap();
        assert_eq!(passwd.permissions().mode() & 0o7777, 0o640);
        assert_eq!((passwd.uid(), passwd.gid()), (65534, 65534));
        assert_eq!(
            passwd.ino(),
            fs::metadata(root.join("etc/passwd2")).unwrap().ino()
        );
        assert!(!dir.path().parent().unwrap().join("escape").exists());
    }

    #[test]
    fn gzip_and_zstd_are_detected() {
        let mut b = tar::Builder::new(Vec::new());
        add(&mut b, "hello", tar::EntryType::Regular, b"hi");
        let plain = b.into_inner().unwrap();

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &plain).unwrap();
        let gz = gz.finish().unwrap();

        for bytes in [plain.clone(), gz] {
            let dir = tempfile::tempdir().unwrap();
            let blob = dir.path().join("blob");
            fs::write(&blob, &bytes).unwrap();
            let out = dir.path().join("out");
            fs::create_dir(&out).unwrap();
            unpack_layer(&blob, &out).unwrap();
            assert_eq!(fs::read(out.join("hello")).unwrap(), b"hi");
        }
    }
}
