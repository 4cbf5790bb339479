//! CRI log files -> `kubectl logs` output: prefix stripped (or an RFC3339Nano timestamp kept),
//! stream filter, since, tail, limit-bytes and follow (across rotation).

use std::{
    fs::File,
    io::{Read, Seek, SeekFrom},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use bytes::Bytes;

use super::rfc3339_nano;
use crate::{Error, LogOptions, Result};

/// How often `follow` looks for new data (log files are written by this process; a short poll
/// is simpler than inotify and costs nothing measurable).
const FOLLOW_POLL: Duration = Duration::from_millis(100);

#[derive(Debug, PartialEq, Eq)]
struct Entry<'a> {
    ts: &'a str,
    stream: &'a str,
    partial: bool,
    content: &'a [u8],
}

fn parse(line: &[u8]) -> Option<Entry<'_>> {
    let mut parts = line.splitn(4, |&b| b == b' ');
    let ts = std::str::from_utf8(parts.next()?).ok()?;
    let stream = std::str::from_utf8(parts.next()?).ok()?;
    let tag = parts.next()?;
    let content = parts.next().unwrap_or_default();
    Some(Entry {
        ts,
        stream,
        partial: tag.first() == Some(&b'P'),
        content,
    })
}

fn parse_ts(ts: &str) -> Option<SystemTime> {
    time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(SystemTime::from)
}

/// Output filters applied entry by entry.
struct Filter {
    opts: LogOptions,
    remaining: Option<u64>,
}

impl Filter {
    fn new(opts: LogOptions) -> Self {
        Self {
            remaining: opts.limit_bytes,
            opts,
        }
    }

    fn wants(&self, e: &Entry<'_>) -> bool {
        let stream_ok = match e.stream {
            "stdout" => self.opts.stdout,
            "stderr" => self.opts.stderr,
            _ => false,
        };
        stream_ok
            && self
                .opts
                .since
                .is_none_or(|since| parse_ts(e.ts).is_some_and(|t| t >= since))
    }

    fn exhausted(&self) -> bool {
        self.remaining == Some(0)
    }

    fn render(&mut self, e: &Entry<'_>, out: &mut Vec<u8>) {
        let start = out.len();
        if self.opts.timestamps {
            out.extend_from_slice(rfc3339_nano(e.ts).as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(e.content);
        if !e.partial {
            out.push(b'\n');
        }
        if let Some(rem) = &mut self.remaining {
            let n = (out.len() - start) as u64;
            if n > *rem {
                out.truncate(start + *rem as usize);
                *rem = 0;
            } else {
                *rem -= n;
            }
        }
    }
}

/// The files of a log, oldest first (`<log>.N` ... `<log>.1`), without the live one.
fn rotated(path: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for n in 1.. {
        let p = PathBuf::from(format!("{}.{n}", path.display()));
        if !p.exists() {
            break;
        }
        files.push(p);
    }
    files.reverse();
    files
}

/// Reads everything currently in the log; returns the output and, for follow, the open live
/// file positioned after the last complete line.
fn read_existing(path: &Path, filter: &mut Filter) -> Result<(Vec<u8>, Option<File>)> {
    let io = |op: &str, source| Error::Io {
        op: format!("{op} {}", path.display()),
        source,
    };
    // Open the live file first so a rotation during the read cannot skip lines.
    let mut live = File::open(path).map_err(|e| io("open", e))?;
    let mut data = Vec::new();
    for p in rotated(path) {
        if let Ok(mut f) = File::open(&p) {
            let _ = f.read_to_end(&mut data);
        }
    }
    let mut current = Vec::new();
    live.read_to_end(&mut current).map_err(|e| io("read", e))?;
    // An unterminated last line is still being written: leave it for follow.
    let complete = current
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    live.seek(SeekFrom::Start(complete as u64))
        .map_err(|e| io("seek", e))?;
    data.extend_from_slice(&current[..complete]);

    let entries: Vec<Entry<'_>> = data
        .split(|&b| b == b'\n')
        .filter_map(parse)
        .filter(|e| filter.wants(e))
        .collect();
    let first = match filter.opts.tail_lines {
        Some(n) => {
            // Count whole lines: a run of P entries belongs to the F entry closing it.
            let mut seen = 0u64;
            let mut first = entries.len();
            for (i, e) in entries.iter().enumerate().rev() {
                if !e.partial {
                    if seen == n {
                        break;
                    }
                    seen += 1;
                }
                first = i;
            }
            first
        }
        None => 0,
    };
    let mut out = Vec::new();
    for e in &entries[first..] {
        if filter.exhausted() {
            break;
        }
        filter.render(e, &mut out);
    }
    Ok((out, Some(live)))
}

struct Follow {
    path: PathBuf,
    file: File,
    pending: Vec<u8>,
    filter: Filter,
}

impl Follow {
    /// New complete lines since the last call, switching to the new live file after a rotation
    /// once the old one is drained.
    fn poll(&mut self) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let mut data = Vec::new();
            self.file.read_to_end(&mut data)?;
            self.pending.extend_from_slice(&data);
            if let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') {
                let lines: Vec<u8> = self.pending.drain(..=end).collect();
                for e in lines.split(|&b| b == b'\n').filter_map(parse) {
                    if self.filter.wants(&e) && !self.filter.exhausted() {
                        self.filter.render(&e, &mut out);
                    }
                }
            }
            let rotated = match std::fs::metadata(&self.path) {
                Ok(m) => m.ino() != self.file.metadata()?.ino(),
                Err(_) => false,
            };
            if !rotated {
                return Ok(out);
            }
            self.file = File::open(&self.path)?;
            self.pending.clear();
        }
    }
}

/// See [`crate::read_logs`].
pub(crate) fn read_logs(
    path: &Path,
    opts: LogOptions,
) -> impl futures_core::Stream<Item = Result<Bytes>> + Send + 'static {
    enum State {
        Start(PathBuf, LogOptions),
        Following(Box<Follow>),
        Done,
    }
    futures_util::stream::unfold(State::Start(path.to_path_buf(), opts), |state| async move {
        match state {
            State::Start(path, opts) => {
                let follow = opts.follow;
                let mut filter = Filter::new(opts);
                match read_existing(&path, &mut filter) {
                    Err(e) => Some((Err(e), State::Done)),
                    Ok((out, live)) => {
                        let next = match live {
                            Some(file) if follow && !filter.exhausted() => {
                                State::Following(Box::new(Follow {
                                    path,
                                    file,
                                    pending: Vec::new(),
                                    filter,
                                }))
                            }
                            _ => State::Done,
                        };
                        Some((Ok(Bytes::from(out)), next))
                    }
                }
            }
            State::Following(mut f) => loop {
                match f.poll() {
                    Err(e) => {
                        let err = Error::Io {
                            op: format!("following {}", f.path.display()),
                            source: e,
                        };
                        return Some((Err(err), State::Done));
                    }
                    Ok(out) if !out.is_empty() => {
                        let next = if f.filter.exhausted() {
                            State::Done
                        } else {
                            State::Following(f)
                        };
                        return Some((Ok(Bytes::from(out)), next));
                    }
                    Ok(_) => tokio::time::sleep(FOLLOW_POLL).await,
                }
            },
            State::Done => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn opts() -> LogOptions {
        LogOptions {
            stdout: true,
            stderr: true,
            ..Default::default()
        }
    }

    async fn read_all(path: &Path, o: LogOptions) -> String {
        let chunks: Vec<_> = read_logs(path, o).collect().await;
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(&c.unwrap());
        }
        String::from_utf8(out).unwrap()
    }

    const LOG: &str = "2026-01-01T00:00:01.000000000Z stdout F one\n\
2026-01-01T00:00:02.500000000Z stderr F two\n\
2026-01-01T00:00:03.000000000Z stdout P thr\n\
2026-01-01T00:00:03.000000001Z stdout F ee\n";

    #[tokio::test]
    async fn filters_tail_since_timestamps_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        std::fs::write(&p, LOG).unwrap();
        assert_eq!(read_all(&p, opts()).await, "one\ntwo\nthree\n");
        let o = LogOptions {
            stderr: false,
            ..opts()
        };
        assert_eq!(read_all(&p, o).await, "one\nthree\n");
        let o = LogOptions {
            tail_lines: Some(2),
            ..opts()
        };
        assert_eq!(read_all(&p, o).await, "two\nthree\n");
        let o = LogOptions {
            tail_lines: Some(0),
            ..opts()
        };
        assert_eq!(read_all(&p, o).await, "");
        let since = parse_ts("2026-01-01T00:00:02Z").unwrap();
        let o = LogOptions {
            since: Some(since),
            ..opts()
        };
        assert_eq!(read_all(&p, o).await, "two\nthree\n");
        let o = LogOptions {
            timestamps: true,
            tail_lines: Some(1),
            ..opts()
        };
        assert_eq!(
            read_all(&p, o).await,
            "2026-01-01T00:00:03Z thr2026-01-01T00:00:03.000000001Z ee\n"
        );
        let o = LogOptions {
            limit_bytes: Some(6),
            ..opts()
        };
        assert_eq!(read_all(&p, o).await, "one\ntw");
    }

    #[tokio::test]
    async fn reads_rotated_files_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        std::fs::write(
            dir.path().join("c.log.2"),
            "2026-01-01T00:00:01Z stdout F a\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("c.log.1"),
            "2026-01-01T00:00:02Z stdout F b\n",
        )
        .unwrap();
        std::fs::write(&p, "2026-01-01T00:00:03Z stdout F c\n").unwrap();
        assert_eq!(read_all(&p, opts()).await, "a\nb\nc\n");
    }

    #[tokio::test]
    async fn follow_sees_appends_and_rotation() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        std::fs::write(&p, "2026-01-01T00:00:01Z stdout F a\n").unwrap();
        let mut s = Box::pin(read_logs(
            &p,
            LogOptions {
                follow: true,
                ..opts()
            },
        ));
        assert_eq!(s.next().await.unwrap().unwrap(), "a\n");
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"2026-01-01T00:00:02Z stdout F b\n").unwrap();
        assert_eq!(s.next().await.unwrap().unwrap(), "b\n");
        // Rotate: a last line lands in the old file, then the new file gets one.
        f.write_all(b"2026-01-01T00:00:03Z stdout F c\n").unwrap();
        std::fs::rename(&p, dir.path().join("c.log.1")).unwrap();
        std::fs::write(&p, "2026-01-01T00:00:04Z stdout F d\n").unwrap();
        let mut got = String::new();
        while got != "c\nd\n" {
            let chunk = tokio::time::timeout(Duration::from_secs(5), s.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            got.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}
