//! `timeseries.csv`: one row per replica per sampling interval, exactly as the
//! contract names its columns. This module owns the file: the launcher
//! writes it row by row while the run goes on ([`Writer`]), so a long run
//! holds none of it; the report and the cascade analysis read it back per
//! service ([`read_by_service`]), a row at a time.

use std::collections::{BTreeMap, BTreeSet};
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

/// What one replica counted over the whole file, every endpoint together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Served {
    pub arrived: u64,
    pub completed: u64,
    pub rejected: u64,
    pub failed: u64,
}

/// Sums the counts of the replicas in `wanted` over `timeseries.csv`, a row
/// at a time: what a replica that died had served by its last sample.
pub fn served_by(
    path: &Path,
    wanted: &BTreeSet<(String, u32)>,
) -> Result<BTreeMap<(String, u32), Served>, CsvError> {
    let mut out: BTreeMap<(String, u32), Served> = BTreeMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    csv_file::for_each(path, CONTRACT_HEADER, |r: Row| {
        let key = (r.service, r.replica);
        if wanted.contains(&key) {
            let s = out.entry(key).or_default();
            s.arrived += r.arrived;
            s.completed += r.completed;
            s.rejected += r.rejected;
            s.failed += r.failed;
        }
    })?;
    Ok(out)
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

impl ServiceSeries {
    /// The time between neighbouring points (the median gap): the sampling
    /// interval, or a multiple of it once a long run's points merged (see
    /// [`MAX_POINTS`]); `None` with fewer than two points.
    pub fn spacing(&self) -> Option<f64> {
        let mut gaps: Vec<f64> = self.t_s.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_by(f64::total_cmp);
        gaps.get(gaps.len() / 2).copied()
    }
}

/// Rows summed per service and instant (replicas share the sampling grid, so
/// their rows at one instant carry the same `t_s`).
pub fn by_service(rows: &[Row]) -> BTreeMap<String, ServiceSeries> {
    let mut acc = ByService::default();
    rows.iter().for_each(|r| acc.add(r));
    acc.finish()
}

/// Instants a service's series keeps at the most: beyond it (a run longer
/// than 204.8 s at the default 100 ms sampling) neighbouring points merge
/// in pairs, so reading a run of an hour takes no more memory than one of
/// a few minutes. 2,048 points is still twice what a chart is wide.
pub const MAX_POINTS: usize = 2048;

/// Adds rows up per service and instant. Rows may come in any order; once
/// a series is longer than [`MAX_POINTS`] each point covers `factor`
/// consecutive instants, and rows are expected in time order but for
/// replicas reporting an instant already counted (what the launcher's
/// `timeseries.csv` holds).
#[derive(Debug, Default)]
struct ByService {
    points: BTreeMap<String, Points>,
}

/// One service's points: keyed by their last instant in whole microseconds
/// (so equal times group together); the sums of every row in them, and how
/// many instants they cover (levels are averaged over those).
#[derive(Debug)]
struct Points {
    map: BTreeMap<i64, ([u64; 9], u64)>,
    factor: u64,
}

impl Default for Points {
    fn default() -> Self {
        Points {
            map: BTreeMap::new(),
            factor: 1,
        }
    }
}

impl Points {
    fn add(&mut self, t: i64, v: [u64; 9]) {
        let add = |sums: &mut [u64; 9]| sums.iter_mut().zip(v).for_each(|(s, v)| *s += v);
        let last = self.map.last_key_value().map(|(k, p)| (*k, p.1));
        match last {
            // Another replica at an instant already counted: into the point
            // that covers it.
            Some((k, _)) if t <= k && self.factor > 1 => {
                if let Some((_, p)) = self.map.range_mut(t..).next() {
                    add(&mut p.0);
                }
            }
            // A new instant joins the last point while it covers fewer than
            // `factor`, and the point takes its time.
            Some((k, n)) if t > k && n < self.factor => {
                let mut p = self.map.remove(&k).unwrap_or_default();
                add(&mut p.0);
                p.1 += 1;
                self.map.insert(t, p);
            }
            _ => {
                let p = self.map.entry(t).or_insert(([0; 9], 0));
                if p.1 == 0 {
                    p.1 = 1;
                }
                add(&mut p.0);
            }
        }
        if self.map.len() > MAX_POINTS {
            self.halve();
        }
    }

    /// Merges neighbouring points in pairs: each then covers twice the
    /// instants (the last, still filling, may cover fewer).
    fn halve(&mut self) {
        let mut old = std::mem::take(&mut self.map).into_iter();
        while let Some((t, (mut sums, n))) = old.next() {
            match old.next() {
                Some((later, (more, m))) => {
                    sums.iter_mut().zip(more).for_each(|(a, b)| *a += b);
                    self.map.insert(later, (sums, n + m));
                }
                None => {
                    self.map.insert(t, (sums, n));
                }
            }
        }
        self.factor *= 2;
    }
}

impl ByService {
    fn add(&mut self, r: &Row) {
        let service = match self.points.get_mut(&r.service) {
            Some(s) => s,
            None => self.points.entry(r.service.clone()).or_default(),
        };
        service.add(
            (r.t_s * 1e6).round() as i64,
            [
                r.queue,
                r.in_flight,
                r.arrived,
                r.completed,
                r.rejected,
                r.failed,
                r.held,
                r.streams,
                r.pushed,
            ],
        );
    }

    fn finish(self) -> BTreeMap<String, ServiceSeries> {
        self.points
            .into_iter()
            .map(|(name, points)| {
                let mut s = ServiceSeries::default();
                for (t, (v, n)) in points.map {
                    // Levels: their mean over the instants; counts: their sum.
                    let level = |x: u64| (x + n / 2) / n.max(1);
                    s.t_s.push(t as f64 / 1e6);
                    s.queue.push(level(v[0]));
                    s.in_flight.push(level(v[1]));
                    s.arrived.push(v[2]);
                    s.completed.push(v[3]);
                    s.rejected.push(v[4]);
                    s.failed.push(v[5]);
                    s.held.push(level(v[6]));
                    s.streams.push(level(v[7]));
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
    fn a_replicas_counts_add_up_over_the_file() {
        let rows = [
            row(0.1, "db", 0, 0),
            row(0.1, "db", 1, 0),
            row(0.2, "db", 0, 0),
            row(0.2, "api", 0, 0),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        write(&path, &rows).unwrap();
        let wanted = BTreeSet::from([("db".to_string(), 0), ("api".to_string(), 3)]);
        let served = served_by(&path, &wanted).unwrap();
        let db0 = Served {
            arrived: 4,
            completed: 2,
            rejected: 2,
            failed: 0,
        };
        assert_eq!(served, BTreeMap::from([(("db".to_string(), 0), db0)]));
        assert!(
            served_by(&dir.path().join("none"), &BTreeSet::new())
                .unwrap()
                .is_empty()
        );
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

    #[test]
    fn a_long_series_merges_neighbours_and_keeps_counts_and_mean_levels() {
        // 5,000 instants of two replicas, in file order; a straggler of
        // replica 1 for an early instant comes last.
        let mut rows = Vec::new();
        for i in 1..=5000u64 {
            let t = i as f64 / 10.0;
            rows.push(row(t, "db", 0, i % 4));
            rows.push(row(t, "db", 1, 0));
        }
        rows.push(row(0.3, "db", 1, 8));
        let s = &by_service(&rows)["db"];
        let n = s.t_s.len();
        assert!((MAX_POINTS / 2..=MAX_POINTS).contains(&n), "{n} points");
        // Every count is kept: 2 arrivals per row.
        assert_eq!(s.arrived.iter().sum::<u64>(), 2 * 10_001);
        // 4 instants a point: queue levels 1, 2, 3, 0 average to 1.5, and
        // the straggler's 8 over 4 instants adds 2 to the first point.
        assert_eq!(s.t_s[..2], [0.4, 0.8]);
        assert_eq!(s.queue[..2], [4, 2]);
        assert_eq!(*s.t_s.last().unwrap(), 500.0);
        assert!((s.spacing().unwrap() - 0.4).abs() < 1e-9);
    }
}
