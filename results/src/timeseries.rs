//! `timeseries.csv`: one row per replica per sampling interval, exactly as the
//! contract names its columns. This module owns the file: the launcher
//! writes it row by row while the run goes on ([`Writer`]), so a long run
//! holds none of it; the report and the cascade analysis read it back per
//! service ([`read_by_service`]), a row at a time.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::csv_file::{self, CsvError};

/// The file's name in a run folder.
pub const FILE: &str = "timeseries.csv";

/// The header line ([`Row`]'s fields): the contract's columns in its order,
/// then those of data that changes (`updates`): long polls held and streams
/// open at the instant, messages pushed during the interval.
pub const HEADER: &str =
    "t_s,service,replica,queue,in_flight,arrived,completed,rejected,failed,held,streams,pushed";

/// The columns a reader requires: the contract's (files written before
/// `updates` lack the others, which then read as 0).
pub const CONTRACT_HEADER: &str =
    "t_s,service,replica,queue,in_flight,arrived,completed,rejected,failed";

/// One replica at one sampling instant. Levels are at `t_s`; counts are over
/// the interval that ends at `t_s`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Seconds from the start of load.
    #[serde(serialize_with = "csv_file::seconds")]
    pub t_s: f64,
    pub service: String,
    pub replica: u32,
    pub queue: u64,
    pub in_flight: u64,
    pub arrived: u64,
    /// Answered OK.
    pub completed: u64,
    /// Turned away, the queue full.
    pub rejected: u64,
    /// Answered with any other error.
    pub failed: u64,
    /// Long polls held and subscription streams open at `t_s`.
    #[serde(default)]
    pub held: u64,
    #[serde(default)]
    pub streams: u64,
    /// Messages pushed down streams during the interval.
    #[serde(default)]
    pub pushed: u64,
}

/// The file's text for `rows` (sorted by time, then service, then replica).
pub fn to_csv(rows: &[Row]) -> Result<String, csv::Error> {
    csv_file::to_string(HEADER, rows)
}

/// Writes `rows` to `path`.
pub fn write(path: &Path, rows: &[Row]) -> Result<(), CsvError> {
    csv_file::write(path, HEADER, rows)
}

/// Reads `timeseries.csv` whole (tests and small files; a run's readers use
/// [`read_by_service`]).
pub fn read(path: &Path) -> Result<Vec<Row>, CsvError> {
    csv_file::read(path, CONTRACT_HEADER)
}

/// Reads `timeseries.csv` a row at a time into per-service series: memory
/// grows with services × instants, not with replicas.
pub fn read_by_service(path: &Path) -> Result<BTreeMap<String, ServiceSeries>, CsvError> {
    let mut acc = ByService::default();
    csv_file::for_each(path, CONTRACT_HEADER, |r: Row| acc.add(&r))?;
    Ok(acc.finish())
}

/// Writes `timeseries.csv` a row at a time, in the order given.
pub type Writer = csv_file::Writer<Row>;

/// Creates `path` with the header, for rows to follow.
pub fn writer(path: &Path) -> Result<Writer, CsvError> {
    Writer::create(path, HEADER)
}

/// One service's replicas added up at each sampling instant.
#[derive(Debug, Clone, Default)]
pub struct ServiceSeries {
    pub t_s: Vec<f64>,
    pub queue: Vec<u64>,
    pub in_flight: Vec<u64>,
    pub arrived: Vec<u64>,
    pub completed: Vec<u64>,
    pub rejected: Vec<u64>,
    pub failed: Vec<u64>,
    /// Long polls held and streams open (levels), messages pushed (counts).
    pub held: Vec<u64>,
    pub streams: Vec<u64>,
    pub pushed: Vec<u64>,
}

/// Rows summed per service and instant (replicas share the sampling grid, so
/// their rows at one instant carry the same `t_s`).
pub fn by_service(rows: &[Row]) -> BTreeMap<String, ServiceSeries> {
    let mut acc = ByService::default();
    rows.iter().for_each(|r| acc.add(r));
    acc.finish()
}

/// Adds rows up per service and instant, in any order.
#[derive(Debug, Default)]
struct ByService {
    /// Instants keyed in whole microseconds so equal times group together.
    points: BTreeMap<String, BTreeMap<i64, [u64; 9]>>,
}

impl ByService {
    fn add(&mut self, r: &Row) {
        let service = match self.points.get_mut(&r.service) {
            Some(s) => s,
            None => self.points.entry(r.service.clone()).or_default(),
        };
        let slot = service.entry((r.t_s * 1e6).round() as i64).or_default();
        for (s, v) in slot.iter_mut().zip([
            r.queue,
            r.in_flight,
            r.arrived,
            r.completed,
            r.rejected,
            r.failed,
            r.held,
            r.streams,
            r.pushed,
        ]) {
            *s += v;
        }
    }

    fn finish(self) -> BTreeMap<String, ServiceSeries> {
        self.points
            .into_iter()
            .map(|(name, points)| {
                let mut s = ServiceSeries::default();
                for (t, v) in points {
                    s.t_s.push(t as f64 / 1e6);
                    s.queue.push(v[0]);
                    s.in_flight.push(v[1]);
                    s.arrived.push(v[2]);
                    s.completed.push(v[3]);
                    s.rejected.push(v[4]);
                    s.failed.push(v[5]);
                    s.held.push(v[6]);
                    s.streams.push(v[7]);
                    s.pushed.push(v[8]);
                }
                (name, s)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: f64, service: &str, replica: u32, queue: u64) -> Row {
        Row {
            t_s: t,
            service: service.into(),
            replica,
            queue,
            in_flight: 1,
            arrived: 2,
            completed: 1,
            rejected: 1,
            failed: 0,
            held: 0,
            streams: 0,
            pushed: 0,
        }
    }

    #[test]
    fn round_trips_with_the_contract_columns_first() {
        let mut rows = vec![row(0.1, "kitchen", 0, 0), row(12.35, "db", 1, 7)];
        rows[1].held = 5;
        rows[1].streams = 3;
        rows[1].pushed = 9;
        let text = to_csv(&rows).unwrap();
        assert!(text.starts_with(
            "t_s,service,replica,queue,in_flight,arrived,completed,rejected,failed,held,streams,pushed\n0.1,kitchen,0,0,1,2,1,1,0,0,0,0\n"
        ));
        let back: Vec<Row> = csv_file::parse(&text, HEADER).unwrap();
        assert_eq!(back, rows);
    }

    #[test]
    fn files_with_only_the_contract_columns_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE);
        std::fs::write(
            &p,
            format!("{CONTRACT_HEADER}\n0.1,kitchen,0,0,1,2,1,1,0\n"),
        )
        .unwrap();
        assert_eq!(read(&p).unwrap(), vec![row(0.1, "kitchen", 0, 0)]);
    }

    #[test]
    fn bad_lines_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE);
        std::fs::write(&p, format!("{HEADER}\n0.1,a,0,1\n")).unwrap();
        let err = read(&p).unwrap_err().to_string();
        assert!(err.contains("line: 2"), "{err}");
        std::fs::write(&p, "t,s\n").unwrap();
        assert!(matches!(read(&p), Err(CsvError::Header { .. })));
    }

    #[test]
    fn written_row_by_row_and_read_back_per_service() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE);
        let mut w = writer(&p).unwrap();
        // Out of order, as a late replica's rows may come.
        for r in [
            row(0.2, "db", 0, 1),
            row(0.1, "db", 1, 4),
            row(0.1, "db", 0, 3),
        ] {
            w.row(&r).unwrap();
        }
        w.finish().unwrap();
        let s = &read_by_service(&p).unwrap()["db"];
        assert_eq!(s.t_s, vec![0.1, 0.2]);
        assert_eq!(s.queue, vec![7, 1]);
    }

    #[test]
    fn replicas_add_up_per_instant() {
        let rows = vec![
            row(0.1, "db", 0, 3),
            row(0.1, "db", 1, 4),
            row(0.2, "db", 0, 1),
        ];
        let s = &by_service(&rows)["db"];
        assert_eq!(s.t_s, vec![0.1, 0.2]);
        assert_eq!(s.queue, vec![7, 1]);
        assert_eq!(s.arrived, vec![4, 2]);
    }
}
