//! A run folder as the readers see it: the topology it ran (required), and
//! each of the other files the contract names when present. What is missing
//! is listed, so a report can say so instead of failing.

use std::path::{Path, PathBuf};

use anyhow::Context;
use topolab_model::Topology;

use crate::hops::{self, HopSplit};
use crate::load_series::{self, LoadRow};
use crate::summary::{self, Summary};
use crate::sweep::{self, Sweep};
use crate::timeseries::{self, Row};

/// Everything readable in one run folder.
pub struct RunDir {
    pub path: PathBuf,
    pub topology: Topology,
    /// `summary.json`, read through its owner.
    pub summary: Option<Summary>,
    pub timeseries: Option<Vec<Row>>,
    pub load: Option<Vec<LoadRow>>,
    pub hops: Option<std::collections::BTreeMap<String, HopSplit>>,
    /// `sweep.csv` (and `sweep.json`) when the folder also holds a sweep.
    pub sweep: Option<Sweep>,
    /// Each file that was absent or unreadable, with why.
    pub missing: Vec<(String, String)>,
}

impl RunDir {
    /// Reads `dir`; fails only when `topology.yaml` is absent or invalid
    /// (then it is not a run folder).
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let yaml_path = dir.join("topology.yaml");
        let yaml = std::fs::read_to_string(&yaml_path).with_context(|| {
            format!(
                "{} is not a run folder: no readable topology.yaml",
                dir.display()
            )
        })?;
        let topology = topolab_model::load_str(&yaml_path.display().to_string(), &yaml, &[])
            .map_err(|r| anyhow::anyhow!("{}: invalid topology.yaml:\n{r}", dir.display()))?
            .topology;
        let mut missing = Vec::new();
        let mut opt = |file: &str, what: &str| -> Option<PathBuf> {
            let p = dir.join(file);
            if p.exists() {
                Some(p)
            } else {
                missing.push((file.to_string(), what.to_string()));
                None
            }
        };
        let summary_p = opt(summary::FILE, "run figures");
        let ts_p = opt(timeseries::FILE, "per-replica telemetry");
        let load_p = opt(load_series::FILE, "the load over time");
        let traces_p = opt("traces.json", "traced request chains");
        let sweep_p = dir.join(sweep::CSV_FILE);
        let mut run = RunDir {
            path: dir.to_path_buf(),
            topology,
            summary: None,
            timeseries: None,
            load: None,
            hops: None,
            sweep: None,
            missing,
        };
        run.summary = run.attempt(summary::FILE, summary_p, |p| Ok(summary::read(p)?));
        run.timeseries = run.attempt(timeseries::FILE, ts_p, |p| Ok(timeseries::read(p)?));
        run.load = run.attempt(load_series::FILE, load_p, |p| Ok(load_series::read(p)?));
        run.hops = run.attempt("traces.json", traces_p, hops::read);
        let sweep_p = sweep_p.exists().then_some(dir.to_path_buf());
        run.sweep = run.attempt(sweep::CSV_FILE, sweep_p, |d| Ok(sweep::read(d)?));
        Ok(run)
    }

    fn attempt<T>(
        &mut self,
        file: &str,
        path: Option<PathBuf>,
        f: impl FnOnce(&Path) -> anyhow::Result<T>,
    ) -> Option<T> {
        match f(&path?) {
            Ok(v) => Some(v),
            Err(e) => {
                self.missing
                    .push((file.to_string(), format!("unreadable: {e:#}")));
                None
            }
        }
    }
}
