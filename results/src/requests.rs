//! `requests.csv`: a bounded sample of the load's requests, each with when
//! it was due, how long it took, how it ended and its trace id (so the
//! report can find how long it waited in queues). This module owns the
//! file: the launcher writes each generator's evenly drawn sample through
//! [`write`]; the report reads it through [`read`].

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::csv_file::{self, CsvError};

/// The file's name in a run folder.
pub const FILE: &str = "requests.csv";

/// The header ([`RequestSample`]'s fields).
pub const HEADER: &str = "generator,t_s,latency_ms,outcome,trace_id";

/// The most requests a generator's sample holds: about what one chart can
/// show as separate dots. Fixed, so memory does not grow with run length.
pub const PER_GENERATOR: usize = 2000;

/// One request of the load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestSample {
    pub generator: String,
    /// When it was due, seconds from the start of load.
    #[serde(serialize_with = "csv_file::seconds")]
    pub t_s: f64,
    /// From due to its final answer (retries included), milliseconds.
    pub latency_ms: f64,
    /// The final gRPC code name: `OK`, `RESOURCE_EXHAUSTED`, ...
    pub outcome: String,
    /// The W3C trace id (32 hex digits) when the request was traced.
    pub trace_id: Option<String>,
}

/// Writes `rows` to `path`.
pub fn write(path: &Path, rows: &[RequestSample]) -> Result<(), CsvError> {
    csv_file::write(path, HEADER, rows)
}

/// Reads the file.
pub fn read(path: &Path) -> Result<Vec<RequestSample>, CsvError> {
    csv_file::read(path, HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_and_without_a_trace() {
        let rows = vec![
            RequestSample {
                generator: "rush".into(),
                t_s: 6.25,
                latency_ms: 812.5,
                outcome: "OK".into(),
                trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
            },
            RequestSample {
                generator: "rush".into(),
                t_s: 7.0,
                latency_ms: 0.4,
                outcome: "RESOURCE_EXHAUSTED".into(),
                trace_id: None,
            },
        ];
        let text = csv_file::to_string(HEADER, &rows).unwrap();
        assert!(
            text.starts_with(&format!("{HEADER}\nrush,6.25,812.5,OK,4bf9")),
            "{text}"
        );
        assert_eq!(
            csv_file::parse::<RequestSample>(&text, HEADER).unwrap(),
            rows
        );
    }
}
