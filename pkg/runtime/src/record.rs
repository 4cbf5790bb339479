//! What the runtime keeps on disk per container (`<bundle>/rkube.json`, `<bundle>/exit.json`),
//! so a restarted agent can list, re-adopt and clean up.

use std::{
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

use crate::{Error, ExitInfo, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    pub id: String,
    pub sandbox_id: String,
    pub pid: i32,
    /// /proc/<pid>/stat start time, to detect PID reuse.
    pub pid_start: u64,
    pub started_at_ns: u128,
    pub cgroups_path: String,
    pub log_path: PathBuf,
    pub log_max_size: u64,
    pub log_max_files: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ExitRecord {
    exit_code: i32,
    signal: Option<i32>,
    oom_killed: bool,
    finished_at_ns: u128,
}

pub(crate) fn to_ns(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()
}

pub(crate) fn from_ns(ns: u128) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns as u64)
}

fn write_json(path: &Path, v: &impl Serialize) -> Result<()> {
    // Write-then-rename so a crash never leaves half a record.
    let tmp = path.with_extension("tmp");
    let data = serde_json::to_vec(v).map_err(|e| Error::Other(e.to_string()))?;
    std::fs::write(&tmp, data)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| Error::Io {
            op: format!("writing {}", path.display()),
            source,
        })
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

pub(crate) fn save(bundle: &Path, r: &Record) -> Result<()> {
    write_json(&bundle.join("rkube.json"), r)
}

pub(crate) fn load(bundle: &Path) -> Option<Record> {
    read_json(&bundle.join("rkube.json"))
}

pub(crate) fn save_exit(bundle: &Path, e: &ExitInfo) -> Result<()> {
    let r = ExitRecord {
        exit_code: e.exit_code,
        signal: e.signal,
        oom_killed: e.oom_killed,
        finished_at_ns: to_ns(e.finished_at),
    };
    write_json(&bundle.join("exit.json"), &r)
}

pub(crate) fn load_exit(bundle: &Path) -> Option<ExitInfo> {
    let r: ExitRecord = read_json(&bundle.join("exit.json"))?;
    Some(ExitInfo {
        exit_code: r.exit_code,
        signal: r.signal,
        oom_killed: r.oom_killed,
        finished_at: from_ns(r.finished_at_ns),
    })
}
