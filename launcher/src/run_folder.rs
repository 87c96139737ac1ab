//! The run folder: `runs/<name>-<YYYYMMDD-HHMMSS>/` unless `--out` names one,
//! holding the topology as run, the summary, the telemetry and load time
//! series, the report, and each replica's stderr.

use std::path::{Path, PathBuf};

use anyhow::Context;

use topolab_results::summary::{self, Summary};
use topolab_results::{load_series, timeseries};

/// A run's output folder, created up front so logs can go there from the start.
pub struct RunFolder {
    pub path: PathBuf,
}

impl RunFolder {
    /// Creates `out`, or `runs/<name>-<UTC timestamp>` (with a suffix if that
    /// already exists, so two runs in one second never share a folder).
    pub fn create(out: Option<&Path>, name: &str) -> anyhow::Result<Self> {
        let path = match out {
            Some(p) => p.to_path_buf(),
            None => {
                let base = PathBuf::from("runs").join(format!("{name}-{}", timestamp()));
                let mut path = base.clone();
                let mut n = 1;
                while path.exists() {
                    n += 1;
                    path = PathBuf::from(format!("{}-{n}", base.display()));
                }
                path
            }
        };
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(RunFolder { path })
    }

    /// Where replica stderr logs go.
    pub fn logs(&self) -> PathBuf {
        self.path.join("logs")
    }

    /// Writes `topology.yaml`: the topology exactly as it ran.
    pub fn write_topology(&self, yaml: &str) -> anyhow::Result<()> {
        self.write("topology.yaml", yaml.as_bytes())
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

    fn write(&self, file: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let p = self.path.join(file);
        std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))
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
