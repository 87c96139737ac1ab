//! A sweep folder's own files: `sweep.csv`, one row per step with the
//! offered load, the throughput and the latency it got, and `sweep.json`,
//! what was swept (the key, the goal). This module owns both: `topolab
//! sweep` writes them through [`write`], and the report (`sweep.html`, and a
//! run folder's sweep section) reads them through [`read`].

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::csv_file::{self, CsvError};

/// The files' names in a sweep folder.
pub const CSV_FILE: &str = "sweep.csv";
pub const META_FILE: &str = "sweep.json";

/// The header of `sweep.csv` ([`SweepRow`]'s fields): the columns every
/// sweep has, then those of clients that follow `updates`, then the
/// simulator's prediction of the step (empty when it was not predicted).
pub const HEADER: &str = "step,value,offered_per_s,throughput_per_s,p50_ms,p99_ms,rejected_share,error_share,sent,ok,rejected,timeouts,errors,within_goal,run,measure,max_held,max_streams,server_msgs_per_s,predicted_throughput_per_s,predicted_p50_ms,predicted_p99_ms,predicted_failed_share,predicted_capacity_per_s,sent_per_s";

/// The columns a reader requires (files from before `updates` lack the rest).
pub const REQUIRED: &str = "step,value,offered_per_s,throughput_per_s,p50_ms,p99_ms,rejected_share,error_share,sent,ok,rejected,timeouts,errors,within_goal,run";

/// One step of a sweep, all its generators together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// 1, 2, ... in the order the steps ran.
    pub step: u32,
    /// The varied value, as written (`4/s`).
    pub value: String,
    /// The load asked for (the generators' scheduled mean rate; what closed
    /// loops sent): the knob the sweep turns, and the charts' x axis.
    pub offered_per_s: f64,
    /// OK answers per second, over the same window as `sent_per_s`.
    pub throughput_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Shares of the requests sent, 0..1.
    pub rejected_share: f64,
    pub error_share: f64,
    pub sent: u64,
    pub ok: u64,
    pub rejected: u64,
    pub timeouts: u64,
    pub errors: u64,
    /// Whether this step met the latency goal and the failure bound.
    pub within_goal: bool,
    /// The step's run folder.
    pub run: String,
    /// What `p50_ms` and `p99_ms` measure: `latency`, or `staleness` when
    /// every generator follows `updates` (then the goal is on staleness).
    #[serde(default = "latency")]
    pub measure: String,
    /// Following clients' cost at the server: the most long polls held and
    /// streams open at once on one replica, and requests plus pushed
    /// messages per second at the followed endpoints (0 without `updates`).
    #[serde(default)]
    pub max_held: u64,
    #[serde(default)]
    pub max_streams: u64,
    #[serde(default)]
    pub server_msgs_per_s: f64,
    /// What the simulator predicted for this step (same seed, hop cost as
    /// `sweep.json` says): OK/s, p50 and p99 of OK requests, the share of
    /// requests that failed, and the capacity (the offered load, on this
    /// file's `offered_per_s` scale, at which the first service saturates).
    #[serde(default)]
    pub predicted_throughput_per_s: Option<f64>,
    #[serde(default)]
    pub predicted_p50_ms: Option<f64>,
    #[serde(default)]
    pub predicted_p99_ms: Option<f64>,
    #[serde(default)]
    pub predicted_failed_share: Option<f64>,
    #[serde(default)]
    pub predicted_capacity_per_s: Option<f64>,
    /// Requests actually sent per second, over the window `throughput_per_s`
    /// is taken on: Poisson arrivals send more or fewer than asked, and
    /// `throughput_per_s` never exceeds this (0 in files from before it).
    #[serde(default)]
    pub sent_per_s: f64,
}

fn latency() -> String {
    "latency".into()
}

/// What was swept: enough to draw `sweep.html` again from the folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepMeta {
    /// The topology's name.
    pub topology: String,
    /// The dotted key that was varied (`load.customers.rate`).
    pub vary: String,
    /// The goal in words, and the p99 it came to (infinite: no goal).
    pub goal: String,
    pub goal_p99_ms: Option<f64>,
    /// How the steps were predicted (absent: they were not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted: Option<SweepPrediction>,
}

/// How a sweep's steps were predicted, and the capacity line it draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPrediction {
    pub hop_cost_ms: f64,
    pub work_overhead_ms: f64,
    pub hop_cost_source: String,
    /// The service that saturates first, and where (on the `offered_per_s`
    /// scale), when every step agrees on it (the swept value is the load);
    /// absent when it moves with the swept value (per step in `sweep.csv`).
    pub bottleneck: Option<String>,
    pub capacity_per_s: Option<f64>,
}

/// A sweep folder's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub meta: Option<SweepMeta>,
    pub rows: Vec<SweepRow>,
}

impl Sweep {
    /// The knee: the row of the highest offered load such that it and every
    /// lighter step were served within the goal.
    pub fn knee(&self) -> Option<usize> {
        knee(&self.rows)
    }
}

/// The index of the highest offered load such that it and every lighter
/// step are `within_goal` (the rule `topolab sweep` names the knee by).
pub fn knee(rows: &[SweepRow]) -> Option<usize> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| rows[a].offered_per_s.total_cmp(&rows[b].offered_per_s));
    order
        .into_iter()
        .take_while(|&i| rows[i].within_goal)
        .last()
}

/// Why a sweep folder's files could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error("{path}: {why}")]
    Meta { path: String, why: String },
}

/// Writes `sweep.csv` and `sweep.json` into the sweep folder `dir`.
pub fn write(dir: &Path, meta: &SweepMeta, rows: &[SweepRow]) -> Result<(), SweepError> {
    csv_file::write(&dir.join(CSV_FILE), HEADER, rows)?;
    let p = dir.join(META_FILE);
    let meta_err = |why: String| SweepError::Meta {
        path: p.display().to_string(),
        why,
    };
    let mut json = serde_json::to_vec_pretty(meta).map_err(|e| meta_err(e.to_string()))?;
    json.push(b'\n');
    std::fs::write(&p, json).map_err(|e| meta_err(e.to_string()))
}

/// Reads `sweep.csv` from `dir`, and `sweep.json` when it is there (a sweep
/// folder written before it existed has none).
pub fn read(dir: &Path) -> Result<Sweep, SweepError> {
    let rows = csv_file::read(&dir.join(CSV_FILE), REQUIRED)?;
    let p = dir.join(META_FILE);
    let meta = match std::fs::read_to_string(&p) {
        Ok(text) => Some(serde_json::from_str(&text).map_err(|e| SweepError::Meta {
            path: p.display().to_string(),
            why: e.to_string(),
        })?),
        Err(_) => None,
    };
    Ok(Sweep { meta, rows })
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A row for tests: `offered` per second, its p99, and how many of 100
    /// requests were rejected.
    pub fn row(step: u32, offered: f64, p99: f64, rejected: u64, within: bool) -> SweepRow {
        SweepRow {
            step,
            value: format!("{offered}/s"),
            offered_per_s: offered,
            throughput_per_s: offered.min(5.0),
            p50_ms: p99 / 3.0,
            p99_ms: p99,
            rejected_share: rejected as f64 / 100.0,
            error_share: 0.0,
            sent: 100,
            ok: 100 - rejected,
            rejected,
            timeouts: 0,
            errors: 0,
            within_goal: within,
            run: format!("step-{step:02}"),
            measure: "latency".into(),
            max_held: 0,
            max_streams: 0,
            server_msgs_per_s: 0.0,
            predicted_throughput_per_s: None,
            predicted_p50_ms: None,
            predicted_p99_ms: None,
            predicted_failed_share: None,
            predicted_capacity_per_s: None,
            sent_per_s: offered,
        }
    }

    #[test]
    fn round_trips_and_finds_the_knee() {
        let rows = vec![
            row(1, 1.0, 900.0, 0, true),
            row(2, 4.0, 2000.0, 0, true),
            row(3, 8.0, 2900.0, 30, false),
            row(4, 2.0, 1000.0, 0, true),
        ];
        let meta = SweepMeta {
            topology: "diner".into(),
            vary: "load.c.rate".into(),
            goal: "p99 ≤ 2700 ms".into(),
            goal_p99_ms: Some(2700.0),
            predicted: None,
        };
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &meta, &rows).unwrap();
        let text = std::fs::read_to_string(dir.path().join(CSV_FILE)).unwrap();
        assert!(
            text.starts_with(&format!(
                "{HEADER}\n1,1/s,1.0,1.0,300.0,900.0,0.0,0.0,100,100,0,0,0,true,step-01,latency,0,0,0.0,,,,,,1.0\n"
            )),
            "{text}"
        );
        let back = read(dir.path()).unwrap();
        assert_eq!(back.rows, rows);
        assert_eq!(back.meta, Some(meta));
        assert_eq!(back.knee(), Some(1));
    }
}
