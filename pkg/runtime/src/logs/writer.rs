//! Copies a container's stdout/stderr into its CRI log file, rotating by size.

use std::{
    fs::{File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::SystemTime,
};

use tokio::io::{AsyncRead, AsyncReadExt};

use super::{format_timestamp, MAX_LINE};

/// The log file plus its rotation policy; shared by the stdout and stderr copiers.
#[derive(Debug)]
pub(crate) struct LogFile {
    path: PathBuf,
    max_size: u64,
    max_files: usize,
    file: File,
    size: u64,
}

impl LogFile {
    pub(crate) fn open(path: &Path, max_size: u64, max_files: usize) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            max_size,
            max_files,
            file,
            size,
        })
    }

    /// Appends one CRI entry (`content` without its newline).
    pub(crate) fn write_entry(
        &mut self,
        at: SystemTime,
        stream: &str,
        partial: bool,
        content: &[u8],
    ) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(content.len() + 48);
        line.extend_from_slice(format_timestamp(at).as_bytes());
        line.push(b' ');
        line.extend_from_slice(stream.as_bytes());
        line.extend_from_slice(if partial { b" P " } else { b" F " });
        line.extend_from_slice(content);
        line.push(b'\n');
        if self.max_size > 0 && self.size > 0 && self.size + line.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(&line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    /// `<log>` -> `<log>.1` -> `<log>.2` ...; `max_files` counts the live file too.
    fn rotate(&mut self) -> std::io::Result<()> {
        let keep = self.max_files.saturating_sub(1);
        let name = |n: usize| PathBuf::from(format!("{}.{n}", self.path.display()));
        if keep == 0 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let _ = std::fs::remove_file(name(keep));
        for n in (1..keep).rev() {
            let _ = std::fs::rename(name(n), name(n + 1));
        }
        std::fs::rename(&self.path, name(1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// Splits a byte stream into CRI entries: one `F` entry per line, `P` entries for each
/// [`MAX_LINE`] chunk of an overlong line.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    buf: Vec<u8>,
}

impl LineSplitter {
    /// Feeds bytes; calls `emit(partial, content)` for every finished entry.
    pub(crate) fn feed(&mut self, data: &[u8], mut emit: impl FnMut(bool, &[u8])) {
        self.buf.extend_from_slice(data);
        let mut start = 0;
        loop {
            let rest = &self.buf[start..];
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) if i <= MAX_LINE => {
                    emit(false, &rest[..i]);
                    start += i + 1;
                }
                _ if rest.len() >= MAX_LINE => {
                    emit(true, &rest[..MAX_LINE]);
                    start += MAX_LINE;
                }
                _ => break,
            }
        }
        self.buf.drain(..start);
    }

    /// At EOF an unterminated last line is still a full entry.
    pub(crate) fn finish(&mut self, mut emit: impl FnMut(bool, &[u8])) {
        if !self.buf.is_empty() {
            emit(false, &self.buf);
            self.buf.clear();
        }
    }
}

/// Copies `src` into the log until EOF (every writer of the pipe closed it).
pub(crate) async fn copy(
    mut src: impl AsyncRead + Unpin,
    stream: &'static str,
    log: Arc<Mutex<LogFile>>,
) {
    let mut split = LineSplitter::default();
    let mut buf = vec![0u8; 32 * 1024];
    let write = |partial: bool, content: &[u8]| {
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = log.write_entry(SystemTime::now(), stream, partial, content) {
            tracing::warn!(path = %log.path.display(), error = %e, "writing container log");
        }
    };
    loop {
        match src.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => split.feed(&buf[..n], write),
            Err(e) => {
                tracing::warn!(stream, error = %e, "reading container output");
                break;
            }
        }
    }
    split.finish(write);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(chunks: &[&[u8]]) -> Vec<(bool, Vec<u8>)> {
        let mut out = Vec::new();
        let mut s = LineSplitter::default();
        for c in chunks {
            s.feed(c, |p, b| out.push((p, b.to_vec())));
        }
        s.finish(|p, b| out.push((p, b.to_vec())));
        out
    }

    #[test]
    fn lines_split_across_reads() {
        let e = entries(&[b"he", b"llo\nwor", b"ld\n", b"tail"]);
        assert_eq!(
            e,
            vec![
                (false, b"hello".to_vec()),
                (false, b"world".to_vec()),
                (false, b"tail".to_vec())
            ]
        );
    }

    #[test]
    fn long_lines_become_partials() {
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let mut data = long.clone();
        data.push(b'\n');
        let e = entries(&[&data]);
        assert_eq!(e.len(), 3);
        assert!(e[0].0 && e[1].0 && !e[2].0);
        assert_eq!(e[2].1.len(), 10);
    }

    #[test]
    fn rotation_keeps_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut f = LogFile::open(&path, 200, 3).unwrap();
        for i in 0..40 {
            f.write_entry(
                SystemTime::now(),
                "stdout",
                false,
                format!("line {i}").as_bytes(),
            )
            .unwrap();
        }
        assert!(path.exists());
        assert!(dir.path().join("c.log.1").exists());
        assert!(dir.path().join("c.log.2").exists());
        assert!(!dir.path().join("c.log.3").exists());
        assert!(std::fs::metadata(&path).unwrap().len() <= 200);
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(last.ends_with("stdout F line 39\n"), "{last}");
    }
}
