//! `timeseries.csv`: one row per replica per sampling interval, exactly as the
//! contract names its columns. The launcher writes it through [`write`]; the
//! report and the cascade analysis read it back through [`read`] and see it
//! per service through [`by_service`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The header line: the contract's columns in its order, then the columns of
/// data that changes (`updates`): long polls held and streams open at the
/// instant, messages pushed during the interval.
pub const HEADER: &str =
    "t_s,service,replica,queue,in_flight,arrived,completed,rejected,failed,held,streams,pushed";

/// The contract's header alone, as files written before `updates` have it.
pub const CONTRACT_HEADER: &str =
    "t_s,service,replica,queue,in_flight,arrived,completed,rejected,failed";

/// One replica at one sampling instant. Levels are at `t_s`; counts are over
/// the interval that ends at `t_s`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Seconds from the start of load.
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
    pub held: u64,
    pub streams: u64,
    /// Messages pushed down streams during the interval.
    pub pushed: u64,
}

/// Why `timeseries.csv` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TimeseriesError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {why}")]
    Malformed {
        path: String,
        line: usize,
        why: String,
    },
}

/// The file's text for `rows` (sorted by time, then service, then replica).
pub fn to_csv(rows: &[Row]) -> String {
    let mut out = String::with_capacity(48 * (rows.len() + 1));
    out.push_str(HEADER);
    out.push('\n');
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            fmt_t(r.t_s),
            r.service,
            r.replica,
            r.queue,
            r.in_flight,
            r.arrived,
            r.completed,
            r.rejected,
            r.failed,
            r.held,
            r.streams,
            r.pushed
        );
    }
    out
}

/// Writes `rows` to `path`.
pub fn write(path: &Path, rows: &[Row]) -> std::io::Result<()> {
    std::fs::write(path, to_csv(rows))
}

/// Seconds with millisecond precision, without trailing zeros (`0.1`, `12.35`).
fn fmt_t(t: f64) -> String {
    let s = format!("{t:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// Reads `timeseries.csv`.
pub fn read(path: &Path) -> Result<Vec<Row>, TimeseriesError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TimeseriesError::Io {
        path: p.clone(),
        source,
    })?;
    parse(&text).map_err(|(line, why)| TimeseriesError::Malformed { path: p, line, why })
}

/// Parses the file's text; errors carry the 1-based line.
pub fn parse(text: &str) -> Result<Vec<Row>, (usize, String)> {
    let mut lines = text.lines().enumerate();
    let fields = match lines.next() {
        Some((_, h)) if h.trim() == HEADER => 12,
        Some((_, h)) if h.trim() == CONTRACT_HEADER => 9,
        other => {
            return Err((
                1,
                format!("expected the header {HEADER:?}, found {other:?}"),
            ));
        }
    };
    let mut rows = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != fields {
            return Err((
                i + 1,
                format!("expected {fields} fields, found {}", f.len()),
            ));
        }
        let num = |k: usize| -> Result<u64, (usize, String)> {
            f[k].parse()
                .map_err(|_| (i + 1, format!("field {} is not a count: {:?}", k + 1, f[k])))
        };
        rows.push(Row {
            t_s: f[0]
                .parse()
                .map_err(|_| (i + 1, format!("t_s is not a number: {:?}", f[0])))?,
            service: f[1].to_string(),
            replica: num(2)? as u32,
            queue: num(3)?,
            in_flight: num(4)?,
            arrived: num(5)?,
            completed: num(6)?,
            rejected: num(7)?,
            failed: num(8)?,
            held: if fields > 9 { num(9)? } else { 0 },
            streams: if fields > 9 { num(10)? } else { 0 },
            pushed: if fields > 9 { num(11)? } else { 0 },
        });
    }
    Ok(rows)
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
    // Instants keyed in whole microseconds so equal times group together.
    let mut acc: BTreeMap<&str, BTreeMap<i64, [u64; 9]>> = BTreeMap::new();
    for r in rows {
        let slot = acc
            .entry(&r.service)
            .or_default()
            .entry((r.t_s * 1e6).round() as i64)
            .or_default();
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
    acc.into_iter()
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
            (name.to_string(), s)
        })
        .collect()
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
        let text = to_csv(&rows);
        assert!(text.starts_with(
            "t_s,service,replica,queue,in_flight,arrived,completed,rejected,failed,held,streams,pushed\n0.1,kitchen,0,0,1,2,1,1,0,0,0,0\n"
        ));
        assert_eq!(parse(&text).unwrap(), rows);
    }

    #[test]
    fn files_with_only_the_contract_columns_still_read() {
        let text = format!("{CONTRACT_HEADER}\n0.1,kitchen,0,0,1,2,1,1,0\n");
        assert_eq!(parse(&text).unwrap(), vec![row(0.1, "kitchen", 0, 0)]);
    }

    #[test]
    fn bad_lines_are_located() {
        let err = parse(&format!("{HEADER}\n0.1,a,0,1\n")).unwrap_err();
        assert_eq!(err.0, 2);
        assert!(parse("t,s\n").is_err());
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
