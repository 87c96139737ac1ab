//! The run folder: `runs/<name>-<YYYYMMDD-HHMMSS>/` unless `--out` names one,
//! holding the topology as run, the summary, the telemetry and load time
//! series, the report, and each replica's stderr.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;

use topolab_results::summary::{self, Summary};
use topolab_results::{load_series, requests, timeseries};

/// A run's output folder, created up front so logs can go there from the
/// start, and locked for as long as this value lives, so two runs can never
/// write one folder.
pub struct RunFolder {
    pub path: PathBuf,
    /// An exclusive `flock` on the folder itself; the kernel releases it when
    /// the process ends, however it ends.
    _lock: File,
}

/// Why a run folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error(
        "{path} is not empty (it holds {held}); a run never mixes its files with another's: \
         choose another --out, or add --force to empty it first"
    )]
    NotEmpty { path: String, held: String },
    #[error("{path} is being written by another topolab run right now; choose another --out")]
    InUse { path: String },
    #[error("{path} exists and is not a folder; choose another --out")]
    NotAFolder { path: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
}

/// Every replica's addresses (see [`RunFolder::write_replicas`]).
pub const REPLICAS_FILE: &str = "replicas.csv";

impl RunFolder {
    /// Takes `out` (created if missing; refused if it holds anything unless
    /// `force`, which empties it), or creates a fresh `runs/<name>-<timestamp>`
    /// (with a suffix when another run took that name first: the folder is
    /// made with an exclusive create, so two runs in one second never share it).
    pub fn create(out: Option<&Path>, name: &str, force: bool) -> Result<Self, FolderError> {
        let io = |what: &'static str, path: &Path| {
            let path = path.display().to_string();
            move |source| FolderError::Io { what, path, source }
        };
        let path = match out {
            Some(p) => {
                std::fs::create_dir_all(p).map_err(io("creating", p))?;
                p.to_path_buf()
            }
            None => fresh(&PathBuf::from("runs"), name)
                .map_err(io("creating a folder in", Path::new("runs")))?,
        };
        let shown = path.display().to_string();
        if !path.is_dir() {
            return Err(FolderError::NotAFolder { path: shown });
        }
        let lock = File::open(&path).map_err(io("opening", &path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(FolderError::InUse { path: shown });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io("locking", &path)(e)),
        }
        let held = entries(&path).map_err(io("reading", &path))?;
        if !held.is_empty() {
            if !force {
                return Err(FolderError::NotEmpty {
                    path: shown,
                    held: describe(&held),
                });
            }
            for name in &held {
                let p = path.join(name);
                let gone = if p.is_dir() && !p.is_symlink() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
                gone.map_err(io("emptying (--force)", &p))?;
            }
        }
        Ok(RunFolder { path, _lock: lock })
    }

    /// Where replica stderr logs go.
    pub fn logs(&self) -> PathBuf {
        self.path.join("logs")
    }

    /// Writes `topology.yaml`: the topology exactly as it ran.
    pub fn write_topology(&self, yaml: &str) -> anyhow::Result<()> {
        self.write("topology.yaml", yaml.as_bytes())
    }

    /// Writes `replicas.csv`: every replica's gRPC address and, when it
    /// serves one, its `/metrics` URL (the terminal lists only the first few).
    pub fn write_replicas(&self, rows: &[(String, String, String)]) -> anyhow::Result<()> {
        let mut text = String::from("replica,address,metrics\n");
        for (replica, addr, metrics) in rows {
            text.push_str(&format!("{replica},{addr},{metrics}\n"));
        }
        self.write(REPLICAS_FILE, text.as_bytes())
    }

    /// Writes `summary.json` through its owner.
    pub fn write_summary(&self, summary: &Summary) -> anyhow::Result<()> {
        Ok(summary::write(&self.path.join(summary::FILE), summary)?)
    }

    /// Writes `timeseries.csv` through its owner: one row per replica per
    /// sampling interval.
    pub fn write_timeseries(&self, rows: &[timeseries::Row]) -> anyhow::Result<()> {
        Ok(timeseries::write(&self.path.join(timeseries::FILE), rows)?)
    }

    /// Writes `load_timeseries.csv` through its owner: the generators'
    /// per-interval figures.
    pub fn write_load_timeseries(&self, rows: &[load_series::LoadRow]) -> anyhow::Result<()> {
        Ok(load_series::write(
            &self.path.join(load_series::FILE),
            rows,
        )?)
    }

    /// Writes `requests.csv` through its owner: each generator's evenly
    /// drawn sample of requests.
    pub fn write_requests(&self, rows: &[requests::RequestSample]) -> anyhow::Result<()> {
        Ok(requests::write(&self.path.join(requests::FILE), rows)?)
    }

    fn write(&self, file: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let p = self.path.join(file);
        std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))
    }
}

/// `parent/<name>-<timestamp>`, made with an exclusive create: a name another
/// run made first gets the next suffix (`-2`, `-3`, ...).
fn fresh(parent: &Path, name: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(parent)?;
    let base = format!("{name}-{}", timestamp());
    let mut path = parent.join(&base);
    let mut n = 1;
    loop {
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                n += 1;
                path = parent.join(format!("{base}-{n}"));
            }
            Err(e) => return Err(e),
        }
    }
}

/// The names in a folder, sorted.
fn entries(path: &Path) -> std::io::Result<Vec<String>> {
    let mut names = std::fs::read_dir(path)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

/// `summary.json, logs and 3 more`: enough to recognise what is there.
fn describe(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [a, b, rest @ ..] => format!("{a}, {b} and {} more", rest.len()),
    }
}

/// Local `YYYYMMDD-HHMMSS`, as people read the clock.
fn timestamp() -> String {
    chrono::Local::now().format("%Y%m%d-%H%M%S").to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamp_has_the_contract_shape() {
        let t = super::timestamp();
        assert_eq!(t.len(), 15);
        assert_eq!(&t[8..9], "-");
        assert!(t.starts_with("20"));
    }
}
