//! Telemetry samples on their way to `timeseries.csv`, written while the run
//! goes on so that nothing of a long run's time series stays in memory: each
//! instant is held until every replica has had time to report it (a few
//! polls), then its rows are written in the file's order (time, service,
//! replica). What is held is bounded by that window, not by the run's length.

use std::collections::BTreeMap;
use std::path::Path;

use topolab_proto::v1::Sample;
use topolab_results::timeseries::{self, Row};

/// How long an instant waits for every replica's sample before it is
/// written: several polls, and longer than one poll may take.
const REORDER_US: u64 = 3_000_000;
/// Rows held at most; past it the oldest instants are written early.
const MAX_HELD: usize = 1_000_000;

/// What the sink wrote, for the run's summary and log.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Rows in `timeseries.csv`.
    pub rows: u64,
    /// Rows that came after later instants were already written (a replica
    /// unreachable for longer than the window): written out of order.
    pub late: u64,
    /// Why the file could not be written, if it could not.
    pub error: Option<String>,
}

/// The file being written and the instants not yet complete.
pub struct Sink {
    /// Wall-clock µs of the start of load; samples at or before it are not
    /// written, and `t_s` counts from it. Unknown until the load starts.
    begin_us: Option<u64>,
    held: BTreeMap<(u64, String, u32), Sample>,
    newest_us: u64,
    written_to_us: u64,
    writer: Option<timeseries::Writer>,
    written: Written,
}

impl Sink {
    /// Creates `timeseries.csv` in `folder`.
    pub fn create(folder: &Path) -> anyhow::Result<Self> {
        let writer = timeseries::Writer::create(&folder.join(timeseries::FILE))?;
        Ok(Sink {
            begin_us: None,
            held: BTreeMap::new(),
            newest_us: 0,
            written_to_us: 0,
            writer: Some(writer),
            written: Written::default(),
        })
    }

    /// The load starts at `begin_us`: what was sampled before it is dropped.
    pub fn begin(&mut self, begin_us: u64) {
        self.begin_us = Some(begin_us);
        self.held = self.held.split_off(&(begin_us + 1, String::new(), 0));
        self.written_to_us = begin_us;
    }

    /// Takes one replica's new samples; writes the instants now complete.
    pub fn add(&mut self, service: &str, replica: u32, samples: &[Sample]) {
        for s in samples {
            if self.begin_us.is_some_and(|b| s.t_unix_us <= b) {
                continue;
            }
            self.newest_us = self.newest_us.max(s.t_unix_us);
            if s.t_unix_us <= self.written_to_us && self.begin_us.is_some() {
                self.written.late += 1;
                self.write(s.t_unix_us, service, replica, s);
                continue;
            }
            self.held
                .insert((s.t_unix_us, service.to_string(), replica), *s);
        }
        if self.begin_us.is_some() {
            self.write_until(self.newest_us.saturating_sub(REORDER_US));
        }
        while self.held.len() > MAX_HELD {
            let Some(((t, _, _), _)) = self.held.first_key_value() else {
                break;
            };
            let t = *t;
            self.write_until(t);
        }
    }

    /// Writes everything held and closes the file; what comes after is
    /// not written.
    pub fn finish(&mut self) -> Written {
        self.write_until(u64::MAX);
        if let Some(w) = self.writer.take()
            && let Err(e) = w.finish()
            && self.written.error.is_none()
        {
            self.written.error = Some(e.to_string());
        }
        self.written.clone()
    }

    /// Writes the held instants up to and including `until_us`.
    fn write_until(&mut self, until_us: u64) {
        let rest = self
            .held
            .split_off(&(until_us.saturating_add(1), String::new(), 0));
        let due = std::mem::replace(&mut self.held, rest);
        for ((t, service, replica), s) in due {
            self.written_to_us = self.written_to_us.max(t);
            self.write(t, &service, replica, &s);
        }
    }

    fn write(&mut self, t_us: u64, service: &str, replica: u32, s: &Sample) {
        let Some(begin) = self.begin_us else {
            return;
        };
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        let row = Row {
            t_s: t_us.saturating_sub(begin) as f64 / 1e6,
            service: service.to_string(),
            replica,
            queue: s.queue,
            in_flight: s.in_flight,
            arrived: s.arrived,
            completed: s.completed,
            rejected: s.rejected,
            failed: s.failed,
            held: s.held,
            streams: s.streams,
            pushed: s.pushed,
        };
        match w.row(&row) {
            Ok(()) => self.written.rows += 1,
            Err(e) => {
                tracing::warn!("{e}; no more telemetry is written");
                self.written.error = Some(e.to_string());
                self.writer = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_unix_us: u64, queue: u64) -> Sample {
        Sample {
            t_unix_us,
            queue,
            ..Default::default()
        }
    }

    #[test]
    fn writes_complete_instants_in_order_and_holds_only_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = Sink::create(dir.path()).unwrap();
        // Before the load: dropped once it begins at 1 s.
        sink.add("db", 0, &[sample(900_000, 9)]);
        sink.begin(1_000_000);
        let mut t = 1_100_000;
        while t <= 10_000_000 {
            // Replica 1 reports first, replica 0 a poll later.
            sink.add("db", 1, &[sample(t, 1)]);
            sink.add("db", 0, &[sample(t - 100_000, 2)]);
            assert!(sink.held.len() <= 2 * 32, "held {}", sink.held.len());
            t += 100_000;
        }
        sink.add("db", 0, &[sample(10_000_000, 2)]);
        let w = sink.finish();
        assert_eq!((w.rows, w.late, w.error), (180, 0, None));
        let rows = timeseries::read(&dir.path().join(timeseries::FILE)).unwrap();
        assert_eq!(rows.len(), 180);
        assert!(
            rows.windows(2)
                .all(|p| (p[0].t_s, p[0].replica) < (p[1].t_s, p[1].replica))
        );
        assert_eq!((rows[0].t_s, rows[0].replica), (0.1, 0));
    }

    #[test]
    fn a_sample_after_its_instant_was_written_is_counted_late() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = Sink::create(dir.path()).unwrap();
        sink.begin(0);
        sink.add("db", 0, &[sample(100_000, 1), sample(5_000_000, 1)]);
        sink.add("db", 1, &[sample(100_000, 3)]);
        let w = sink.finish();
        assert_eq!((w.rows, w.late), (3, 1));
    }
}
