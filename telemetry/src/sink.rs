//! Telemetry samples on their way to `timeseries.csv`, written while the run
//! goes on so that nothing of a long run's time series stays in memory: each
//! instant is held until every replica has had time to report it (a few
//! polls), then its rows are written in the file's order (time, service,
//! replica). What is held is bounded by that window, not by the run's length.
//!
//! A replica parks its sampler after a quiet sample (nothing counted, every
//! level zero) and samples again only when something happens, answering the
//! launcher's long poll at once. So when an instant is written, a replica
//! whose last sample was quiet and that still answers has no sample there
//! because it was quiet: its row is written as a quiet one, keeping one row
//! per replica per interval.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

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

/// What the sink knows of a replica, to fill its parked intervals.
#[derive(Debug, Clone, Copy, Default)]
struct Known {
    /// Its latest sample written (or dropped before the load) was quiet.
    quiet: bool,
    /// Its last poll failed: it may be dead, nothing is filled for it.
    silent: bool,
}

/// Nothing counted and every level at zero: after such a sample a replica
/// parks until something happens, sampling nothing meanwhile.
fn quiet(s: &Sample) -> bool {
    s.arrived == 0
        && s.completed == 0
        && s.rejected == 0
        && s.failed == 0
        && s.pushed == 0
        && s.queue == 0
        && s.in_flight == 0
        && s.held == 0
        && s.streams == 0
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
    /// The sampling grid, and its next point not yet written.
    every_us: u64,
    next_grid_us: Option<u64>,
    replicas: BTreeMap<(String, u32), Known>,
}

impl Sink {
    /// Creates `timeseries.csv` in `folder`, for samples every `every`.
    pub fn create(folder: &Path, every: Duration) -> anyhow::Result<Self> {
        let writer = timeseries::writer(&folder.join(timeseries::FILE))?;
        Ok(Sink {
            begin_us: None,
            held: BTreeMap::new(),
            newest_us: 0,
            written_to_us: 0,
            writer: Some(writer),
            written: Written::default(),
            every_us: (every.as_micros() as u64).max(1000),
            next_grid_us: None,
            replicas: BTreeMap::new(),
        })
    }

    /// The replica did not answer: until it does, its intervals are not
    /// filled (a dead replica has no rows).
    pub fn silent(&mut self, service: &str, replica: u32) {
        if let Some(k) = self.replicas.get_mut(&(service.to_string(), replica)) {
            k.silent = true;
        }
    }

    fn note(&mut self, service: &str, replica: u32, s: &Sample) {
        let k = self
            .replicas
            .entry((service.to_string(), replica))
            .or_default();
        k.quiet = quiet(s);
    }

    /// The load starts at `begin_us`: what was sampled before it is dropped.
    pub fn begin(&mut self, begin_us: u64) {
        self.begin_us = Some(begin_us);
        let rest = self.held.split_off(&(begin_us + 1, String::new(), 0));
        let before = std::mem::replace(&mut self.held, rest);
        for ((_, service, replica), s) in before {
            self.note(&service, replica, &s);
        }
        self.written_to_us = begin_us;
        // The load starts on a grid point (see `aligned_start`).
        self.next_grid_us = Some(begin_us + self.every_us);
    }

    /// Takes one replica's new samples; writes the instants now complete.
    pub fn add(&mut self, service: &str, replica: u32, samples: &[Sample]) {
        if let Some(k) = self.replicas.get_mut(&(service.to_string(), replica)) {
            k.silent = false;
        }
        for s in samples {
            if self.begin_us.is_some_and(|b| s.t_unix_us <= b) {
                self.note(service, replica, s);
                continue;
            }
            self.newest_us = self.newest_us.max(s.t_unix_us);
            if s.t_unix_us <= self.written_to_us && self.begin_us.is_some() {
                self.written.late += 1;
                self.note(service, replica, s);
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

    /// Writes the held instants up to and including `until_us`, each grid
    /// point (up to the newest sample seen) with its parked replicas' rows.
    fn write_until(&mut self, until_us: u64) {
        let rest = self
            .held
            .split_off(&(until_us.saturating_add(1), String::new(), 0));
        let due = std::mem::replace(&mut self.held, rest);
        let mut due = due.into_iter().peekable();
        let fill_to = until_us.min(self.newest_us);
        loop {
            let next = due.peek().map(|((t, _, _), _)| *t);
            match self.next_grid_us {
                Some(g) if g <= fill_to && next.is_none_or(|t| g <= t) => {
                    let mut at = Vec::new();
                    while let Some(e) = due.next_if(|((t, _, _), _)| *t == g) {
                        at.push(e);
                    }
                    self.write_instant(g, at);
                    self.next_grid_us = Some(g + self.every_us);
                }
                _ => match due.next() {
                    Some(((t, service, replica), s)) => {
                        self.written_to_us = self.written_to_us.max(t);
                        self.note(&service, replica, &s);
                        self.write(t, &service, replica, &s);
                    }
                    None => break,
                },
            }
        }
    }

    /// One grid point: the samples taken at it and a quiet row for every
    /// parked replica, in service and replica order.
    fn write_instant(&mut self, t: u64, at: Vec<((u64, String, u32), Sample)>) {
        let reported: BTreeSet<(String, u32)> =
            at.iter().map(|((_, s, r), _)| (s.clone(), *r)).collect();
        let mut rows: Vec<(String, u32, Sample)> =
            at.into_iter().map(|((_, s, r), x)| (s, r, x)).collect();
        for ((service, replica), k) in &self.replicas {
            if k.quiet && !k.silent && !reported.contains(&(service.clone(), *replica)) {
                let s = Sample {
                    t_unix_us: t,
                    ..Default::default()
                };
                rows.push((service.clone(), *replica, s));
            }
        }
        rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        self.written_to_us = self.written_to_us.max(t);
        for (service, replica, s) in rows {
            self.note(&service, replica, &s);
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
        let mut sink = Sink::create(dir.path(), Duration::from_millis(100)).unwrap();
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

    /// A replica that parked (quiet sample, then nothing) has quiet rows on
    /// every grid point until it samples again; a silent one has none.
    #[test]
    fn parked_replicas_get_quiet_rows_and_silent_ones_none() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = Sink::create(dir.path(), Duration::from_millis(100)).unwrap();
        sink.add("db", 0, &[sample(0, 0)]);
        sink.add("db", 1, &[sample(0, 0)]);
        sink.begin(0);
        sink.silent("db", 1);
        for t in 1..=5 {
            sink.add("api", 0, &[sample(t * 100_000, 1)]);
        }
        sink.add("db", 0, &[sample(400_000, 2)]);
        let w = sink.finish();
        let rows = timeseries::read(&dir.path().join(timeseries::FILE)).unwrap();
        let db: Vec<(f64, u64)> = rows
            .iter()
            .filter(|r| r.service == "db")
            .map(|r| (r.t_s, r.queue))
            .collect();
        assert_eq!(db, [(0.1, 0), (0.2, 0), (0.3, 0), (0.4, 2)]);
        assert!(rows.iter().all(|r| r.replica == 0), "db#1 went silent");
        assert_eq!((w.rows, w.late), (9, 0));
        assert!(
            rows.windows(2).all(|p| p[0].t_s <= p[1].t_s),
            "in time order"
        );
    }

    #[test]
    fn a_sample_after_its_instant_was_written_is_counted_late() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = Sink::create(dir.path(), Duration::from_millis(100)).unwrap();
        sink.begin(0);
        sink.add("db", 0, &[sample(100_000, 1), sample(5_000_000, 1)]);
        sink.add("db", 1, &[sample(100_000, 3)]);
        let w = sink.finish();
        assert_eq!((w.rows, w.late), (3, 1));
    }
}
