//! The figures of data that changes (`updates`) and of the clients that
//! follow it, as `summary.json` holds them, and `updates_timeseries.csv`
//! (staleness per generator per interval), which the report draws. This
//! module owns the file: the launcher writes [`StalenessRow`]s through a
//! [`Writer`] as intervals end, so a long run holds none of them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::csv_file::{self, CsvError};

/// The freshness counting both engines share (see [`FollowFigures::of`]).
pub use topolab_figures::Freshness;

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
    /// Requests per second over the load's span (polls, long polls and
    /// subscriptions: a stream opened is a request).
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
/// interval that ends at `t_s` (seconds since the start of load) and how
/// stale they were; the staleness is absent when nothing was received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StalenessRow {
    #[serde(serialize_with = "csv_file::seconds")]
    pub t_s: f64,
    pub generator: String,
    pub received: u64,
    #[serde(serialize_with = "csv_file::millis")]
    pub staleness_mean_ms: Option<f64>,
    #[serde(serialize_with = "csv_file::millis")]
    pub staleness_max_ms: Option<f64>,
}

/// The file's name in a run folder.
pub const FILE: &str = "updates_timeseries.csv";

/// The header the file starts with ([`StalenessRow`]'s fields).
pub const HEADER: &str = "t_s,generator,received,staleness_mean_ms,staleness_max_ms";

/// Writes the file a row at a time.
pub type Writer = csv_file::Writer<StalenessRow>;

/// Creates `path` with the header, for rows to follow.
pub fn writer(path: &Path) -> Result<Writer, CsvError> {
    Writer::create(path, HEADER)
}

/// Reads a run folder's `updates_timeseries.csv`, by generator, each in
/// time order; `None` when the run followed no updates (no file). The
/// file holds a few numbers per generator and interval, so it is read whole.
pub fn read(run_dir: &Path) -> Result<Option<BTreeMap<String, Vec<StalenessRow>>>, CsvError> {
    let path = run_dir.join(FILE);
    if !path.exists() {
        return Ok(None);
    }
    let mut out: BTreeMap<String, Vec<StalenessRow>> = BTreeMap::new();
    csv_file::for_each(&path, HEADER, |row: StalenessRow| {
        out.entry(row.generator.clone()).or_default().push(row);
    })?;
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
        let mut w = writer(&dir.path().join(FILE)).unwrap();
        for r in &rows {
            w.row(r).unwrap();
        }
        w.finish().unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(
            text,
            format!("{HEADER}\n0.1,pollers,3,512.250,900.000\n0.2,pollers,0,,\n")
        );
        let back = read(dir.path()).unwrap().unwrap();
        assert_eq!(back["pollers"], rows);
        assert!(read(&dir.path().join("nothing")).unwrap().is_none());
    }
}
