//! The generator's own time series: per `sample_every` interval, requests
//! sent and how those that ended in it ended, with the p50/p99 of the OK
//! latencies that ended in it. Becomes `load_timeseries.csv` for the report.
//!
//! Events are recorded under the recorder's lock with the clock read inside
//! it, so they arrive in time order and only the current interval needs a
//! histogram; a finished interval keeps just its two percentiles.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use topolab_results::load_series::LoadRow;
use topolab_results::summary::round3;

use super::recorder::{Outcome, Recorder};

/// One interval's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interval {
    pub sent: u64,
    pub ok: u64,
    pub rejected: u64,
    pub timeouts: u64,
    pub errors: u64,
    /// Percentiles of the OK latencies that ended in the interval, in µs;
    /// `None` when none did.
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
}

/// Per-interval figures from the start of load.
#[derive(Debug, Clone)]
pub struct Series {
    begin: Instant,
    every: Duration,
    /// Interval `i` covers `[begin + i·every, begin + (i+1)·every)`.
    pub rows: Vec<Interval>,
    current: usize,
    latency_us: Histogram<u64>,
}

impl Series {
    /// A series whose intervals of `every` start at `begin` (the start of load).
    pub fn new(begin: Instant, every: Duration) -> Self {
        Series {
            begin,
            every: every.max(Duration::from_millis(1)),
            rows: Vec::new(),
            current: 0,
            // Cannot fail: 3 significant figures is within hdrhistogram's range.
            latency_us: Histogram::new(3).expect("valid sigfig"),
        }
    }

    /// The interval `now` falls in, sealing the current one if time moved on.
    fn row(&mut self, now: Instant) -> &mut Interval {
        let i =
            (now.saturating_duration_since(self.begin).as_nanos() / self.every.as_nanos()) as usize;
        if i > self.current {
            self.seal();
            self.current = i;
        }
        if self.rows.len() <= i {
            self.rows.resize(i + 1, Interval::default());
        }
        &mut self.rows[i]
    }

    /// Stores the current interval's percentiles and empties its histogram.
    fn seal(&mut self) {
        if !self.latency_us.is_empty() {
            let h = &self.latency_us;
            let (p50, p99) = (h.value_at_quantile(0.5), h.value_at_quantile(0.99));
            if let Some(r) = self.rows.get_mut(self.current) {
                r.p50_us = Some(p50);
                r.p99_us = Some(p99);
            }
            self.latency_us.reset();
        }
    }

    /// A request sent at `now`.
    pub fn sent(&mut self, now: Instant) {
        self.row(now).sent += 1;
    }

    /// A request that ended at `now`; `latency_us` counts only when OK.
    pub fn finished(&mut self, now: Instant, outcome: Outcome, latency_us: u64) {
        let r = self.row(now);
        match outcome {
            Outcome::Ok => r.ok += 1,
            Outcome::Rejected => r.rejected += 1,
            Outcome::Timeout => r.timeouts += 1,
            Outcome::Error(_) => r.errors += 1,
        }
        if outcome == Outcome::Ok {
            // Cannot fail: auto-resize is on.
            let _ = self.latency_us.record(latency_us.max(1));
        }
    }

    /// Ends the series at `until`: the last interval is sealed and empty
    /// intervals up to `until` are filled in.
    pub fn close(&mut self, until: Instant) {
        self.row(until);
        self.seal();
    }
}

/// The rows of `load_timeseries.csv` (its owner is
/// [`topolab_results::load_series`]): one per generator per interval, every
/// generator over the same intervals (zeros where it was idle), `t_s` the
/// end of the interval in seconds since the start of load.
pub fn rows(recorders: &BTreeMap<String, Recorder>, every: Duration) -> Vec<LoadRow> {
    let n = recorders
        .values()
        .filter_map(|r| r.series.as_ref())
        .map(|s| s.rows.len())
        .max()
        .unwrap_or(0);
    let empty = Interval::default();
    let ms = |us: Option<u64>| us.map(|v| v as f64 / 1e3);
    let mut out = Vec::with_capacity(n * recorders.len());
    for i in 0..n {
        let t = round3(every.as_secs_f64() * (i + 1) as f64);
        for (name, r) in recorders {
            let row = r
                .series
                .as_ref()
                .and_then(|s| s.rows.get(i))
                .unwrap_or(&empty);
            out.push(LoadRow {
                t_s: t,
                generator: name.clone(),
                sent: row.sent,
                ok: row.ok,
                rejected: row.rejected,
                timeouts: row.timeouts,
                errors: row.errors,
                p50_ms: ms(row.p50_us),
                p99_ms: ms(row.p99_us),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_their_interval_with_percentiles() {
        let begin = Instant::now();
        let every = Duration::from_millis(100);
        let mut s = Series::new(begin, every);
        let at = |ms: u64| begin + Duration::from_millis(ms);
        s.sent(at(10));
        s.sent(at(20));
        s.finished(at(50), Outcome::Ok, 2_000);
        s.finished(at(150), Outcome::Rejected, 0);
        s.sent(at(260));
        s.finished(at(270), Outcome::Ok, 9_000);
        s.close(at(420));
        assert_eq!(s.rows.len(), 5);
        assert_eq!((s.rows[0].sent, s.rows[0].ok), (2, 1));
        assert_eq!(s.rows[0].p50_us, Some(2_000));
        assert_eq!((s.rows[1].rejected, s.rows[1].p50_us), (1, None));
        assert_eq!(s.rows[2].p99_us.map(|v| v / 100), Some(90));
        assert_eq!(s.rows[4], Interval::default());
    }

    #[test]
    fn csv_has_the_contract_columns_and_pads_generators() {
        let begin = Instant::now();
        let every = Duration::from_millis(100);
        let mut a = Recorder::default();
        let mut series = Series::new(begin, every);
        series.sent(begin);
        series.finished(begin + Duration::from_millis(150), Outcome::Ok, 1_500);
        series.close(begin + Duration::from_millis(150));
        a.series = Some(series);
        let b = Recorder::default();
        let all = BTreeMap::from([("a".to_string(), a), ("b".to_string(), b)]);
        let text = topolab_results::load_series::to_csv(&rows(&all, every)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                topolab_results::load_series::HEADER,
                "0.1,a,1,0,0,0,0,,",
                "0.1,b,0,0,0,0,0,,",
                "0.2,a,0,1,0,0,0,1.500,1.500",
                "0.2,b,0,0,0,0,0,,",
            ]
        );
    }
}
