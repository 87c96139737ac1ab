//! The figures of data that changes (`updates`) and of the clients that
//! follow it, as `summary.json` holds them, and `updates_timeseries.csv`
//! (staleness per generator per interval), which the report draws.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// How fresh one generator's clients kept their view, and what it took.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FollowFigures {
    /// `poll`, `long_poll` or `subscribe`.
    pub way: String,
    /// From a version's creation to the moment a client held it (or a newer
    /// one); a version still not held when the generator stopped counts
    /// until then.
    pub staleness_ms: Staleness,
    /// Versions the target's data went through while the generator ran.
    pub versions_created: u64,
    /// Versions clients received, summed over clients.
    pub versions_seen: u64,
    /// Versions clients never received (a newer one came first), summed
    /// over clients.
    pub versions_missed: u64,
    /// Requests or streams started again after a failure or a broken stream.
    pub reconnects: u64,
}

/// Staleness in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Staleness {
    pub mean: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// What following clients cost one endpoint, its replicas together.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndpointUpdates {
    /// Requests per second over the load's span (polls and long polls).
    pub requests_per_s: f64,
    /// Long polls held (all), and the most one replica held at once.
    pub long_polls: u64,
    pub max_held: u64,
    /// Streams opened and refused (queue full), the most one replica held
    /// open at once, and messages pushed down them.
    pub streams_opened: u64,
    pub streams_rejected: u64,
    pub max_streams: u64,
    pub pushed: u64,
}

/// One row of `updates_timeseries.csv`: versions clients received in the
/// interval that ends at `t_s` and how stale they were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StalenessRow {
    pub t_s: f64,
    pub generator: String,
    pub received: u64,
    pub staleness_mean_ms: Option<f64>,
    pub staleness_max_ms: Option<f64>,
}

/// The file's name in a run folder.
pub const FILE: &str = "updates_timeseries.csv";

/// The header of `updates_timeseries.csv`.
pub const HEADER: &str = "t_s,generator,received,staleness_mean_ms,staleness_max_ms";

/// Writes the rows as CSV.
pub fn to_csv(rows: &[StalenessRow]) -> String {
    let mut out = format!("{HEADER}\n");
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_default();
    for r in rows {
        out.push_str(&format!(
            "{:.3},{},{},{},{}\n",
            r.t_s,
            r.generator,
            r.received,
            opt(r.staleness_mean_ms),
            opt(r.staleness_max_ms)
        ));
    }
    out
}

/// Reads a run folder's `updates_timeseries.csv`, by generator; `None`
/// when the run followed no updates.
pub fn read(run_dir: &Path) -> anyhow::Result<Option<BTreeMap<String, Vec<StalenessRow>>>> {
    let path = run_dir.join(FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let mut out: BTreeMap<String, Vec<StalenessRow>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        anyhow::ensure!(
            f.len() == 5,
            "{}:{}: expected 5 fields",
            path.display(),
            i + 1
        );
        let num = |s: &str| -> anyhow::Result<Option<f64>> {
            Ok(if s.is_empty() { None } else { Some(s.parse()?) })
        };
        let row = StalenessRow {
            t_s: f[0].parse()?,
            generator: f[1].to_string(),
            received: f[2].parse()?,
            staleness_mean_ms: num(f[3])?,
            staleness_max_ms: num(f[4])?,
        };
        out.entry(row.generator.clone()).or_default().push(row);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_the_file() {
        let rows = vec![
            StalenessRow {
                t_s: 0.1,
                generator: "pollers".into(),
                received: 3,
                staleness_mean_ms: Some(512.25),
                staleness_max_ms: Some(900.0),
            },
            StalenessRow {
                t_s: 0.2,
                generator: "pollers".into(),
                received: 0,
                staleness_mean_ms: None,
                staleness_max_ms: None,
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), to_csv(&rows)).unwrap();
        let back = read(dir.path()).unwrap().unwrap();
        assert_eq!(back["pollers"], rows);
    }
}
