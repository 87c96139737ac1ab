//! `load_timeseries.csv`: per load generator and interval, requests sent and
//! how they ended, and the latency percentiles of the interval. This module
//! owns the file: the launcher writes [`LoadRow`]s through a [`Writer`] as
//! intervals end, so a long run holds none of them; the report reads them
//! through [`read`].

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::csv_file::{self, CsvError};

/// The file's name in a run folder.
pub const FILE: &str = "load_timeseries.csv";

/// The header the file starts with ([`LoadRow`]'s fields).
pub const HEADER: &str = "t_s,generator,sent,ok,rejected,timeouts,errors,p50_ms,p99_ms";

/// One generator over one interval; `t_s` is the end of the interval in
/// seconds since the start of load; percentiles are absent when nothing
/// succeeded in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadRow {
    #[serde(serialize_with = "csv_file::seconds")]
    pub t_s: f64,
    pub generator: String,
    pub sent: u64,
    pub ok: u64,
    pub rejected: u64,
    pub timeouts: u64,
    pub errors: u64,
    #[serde(serialize_with = "csv_file::millis")]
    pub p50_ms: Option<f64>,
    #[serde(serialize_with = "csv_file::millis")]
    pub p99_ms: Option<f64>,
}

impl LoadRow {
    /// Requests that ended in the interval other than OK.
    pub fn failed(&self) -> u64 {
        self.rejected + self.timeouts + self.errors
    }
}

/// The file's text for `rows`.
pub fn to_csv(rows: &[LoadRow]) -> Result<String, csv::Error> {
    csv_file::to_string(HEADER, rows)
}

/// Writes `rows` to `path`.
pub fn write(path: &Path, rows: &[LoadRow]) -> Result<(), CsvError> {
    csv_file::write(path, HEADER, rows)
}

/// Writes the file a row at a time.
pub type Writer = csv_file::Writer<LoadRow>;

/// Creates `path` with the header, for rows to follow.
pub fn writer(path: &Path) -> Result<Writer, CsvError> {
    Writer::create(path, HEADER)
}

/// Reads the file; an error names the line.
pub fn read(path: &Path) -> Result<Vec<LoadRow>, CsvError> {
    csv_file::read(path, HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_with_and_without_percentiles() {
        let text = format!("{HEADER}\n0.1,rush,10,8,1,1,0,2.5,9.75\n0.2,rush,3,0,3,0,0,,\n");
        let rows: Vec<LoadRow> = csv_file::parse(&text, HEADER).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].p99_ms, Some(9.75));
        assert_eq!((rows[1].rejected, rows[1].p50_ms), (3, None));
        assert!(csv_file::parse::<LoadRow>("t_s,x\n", HEADER).is_err());
        let again = to_csv(&rows).unwrap();
        assert!(again.starts_with(&format!("{HEADER}\n0.1,rush,10,8,1,1,0,2.500,9.750\n")));
        assert_eq!(csv_file::parse::<LoadRow>(&again, HEADER).unwrap(), rows);
    }
}
