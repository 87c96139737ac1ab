//! The generator's own time series: per `sample_every` interval, requests
//! sent and how those that ended in it ended, with the p50/p99 of the OK
//! latencies that ended in it. [`SeriesFile`] writes it to
//! `load_timeseries.csv` once a second while the load runs, so a recorder
//! holds only the intervals since.
//!
//! Events are recorded under the recorder's lock with the clock read inside
//! it, so they arrive in time order and only the current interval needs a
//! histogram; a finished interval keeps just its two percentiles.

use std::path::Path;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use topolab_results::load_series::{self, LoadRow};
use topolab_results::summary::round3;

use super::LiveLoad;
use super::recorder::Outcome;
use super::updates::StalenessFile;

/// How often ended intervals go to the file.
const DRAIN: Duration = Duration::from_secs(1);

/// One interval's figures: the simulator's own type, so that a run and a
/// prediction write `load_timeseries.csv` through the one [`row`]. The
/// percentiles are of the OK latencies that ended in the interval, in µs;
/// `None` when none did.
pub use topolab_sim::figures::LoadInterval as Interval;

/// The file's row of generator `generator`'s interval `i` of `every`
/// seconds (`t_s` is its end).
pub fn row(every: f64, i: usize, generator: &str, r: &Interval) -> LoadRow {
    let ms = |us: Option<u64>| us.map(|v| v as f64 / 1e3);
    LoadRow {
        t_s: round3(every * (i + 1) as f64),
        generator: generator.to_string(),
        sent: r.sent,
        ok: r.ok,
        rejected: r.rejected,
        timeouts: r.timeouts,
        errors: r.errors,
        p50_ms: ms(r.p50_us),
        p99_ms: ms(r.p99_us),
    }
}

/// Per-interval figures from the start of load, since they were last taken.
#[derive(Debug, Clone)]
pub struct Series {
    begin: Instant,
    every: Duration,
    /// `rows[k]` is interval `first + k`, which covers
    /// `[begin + i·every, begin + (i+1)·every)` for `i = first + k`.
    pub rows: Vec<Interval>,
    first: usize,
    current: usize,
    closed: bool,
    latency_us: Histogram<u64>,
}

impl Series {
    /// A series whose intervals of `every` start at `begin` (the start of load).
    pub fn new(begin: Instant, every: Duration) -> Self {
        Series {
            begin,
            every: every.max(Duration::from_millis(1)),
            rows: Vec::new(),
            first: 0,
            current: 0,
            closed: false,
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
        // Events come in time order, so never before an interval taken.
        let k = i.max(self.first) - self.first;
        if self.rows.len() <= k {
            self.rows.resize(k + 1, Interval::default());
        }
        &mut self.rows[k]
    }

    /// Stores the current interval's percentiles and empties its histogram.
    fn seal(&mut self) {
        if !self.latency_us.is_empty() {
            let h = &self.latency_us;
            let (p50, p99) = (h.value_at_quantile(0.5), h.value_at_quantile(0.99));
            if let Some(r) = self.rows.get_mut(self.current - self.first) {
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
        if !self.closed {
            self.row(until);
            self.seal();
            self.closed = true;
        }
    }

    /// Takes the intervals that ended before `now` (with `all`, every one
    /// kept, once closed), with the index of the first. A series closed
    /// early still holds back the interval `now` falls in: the file writes
    /// each interval once, for every generator at a time, and the others
    /// are still counting into it.
    pub fn take_ended(&mut self, now: Instant, all: bool) -> (usize, Vec<Interval>) {
        let end = if self.closed {
            let kept = self.first + self.rows.len();
            if all {
                kept
            } else {
                let at = (now.saturating_duration_since(self.begin).as_nanos()
                    / self.every.as_nanos()) as usize;
                kept.min(at).max(self.first)
            }
        } else {
            self.row(now);
            self.current
        };
        let taken: Vec<Interval> = self.rows.drain(..end - self.first).collect();
        let first = std::mem::replace(&mut self.first, end);
        (first, taken)
    }
}

/// `load_timeseries.csv` being written (its owner is
/// [`topolab_results::load_series`]): one row per generator per interval,
/// every generator over the same intervals (zeros where it was idle), in
/// the generators' name order, `t_s` the end of the interval in seconds
/// since the start of load.
pub struct SeriesFile {
    writer: load_series::Writer,
    every: Duration,
    /// The next interval to write.
    next: usize,
}

impl SeriesFile {
    /// Creates the file in `folder`.
    pub fn create(folder: &Path, every: Duration) -> anyhow::Result<Self> {
        Ok(SeriesFile {
            writer: load_series::writer(&folder.join(load_series::FILE))?,
            every: every.max(Duration::from_millis(1)),
            next: 0,
        })
    }

    /// Writes the intervals of every generator in `live` that ended before
    /// `now` (with `all`, every interval the closed series hold).
    pub fn drain(&mut self, live: &LiveLoad, now: Instant, all: bool) -> anyhow::Result<()> {
        let mut taken = Vec::with_capacity(live.len());
        for (name, recorder) in live {
            if let Some(s) = &mut recorder.lock().series {
                taken.push((name, s.take_ended(now, all)));
            }
        }
        let end = taken
            .iter()
            .map(|(_, (first, rows))| first + rows.len())
            .max()
            .unwrap_or(self.next);
        let empty = Interval::default();
        let every = self.every.as_secs_f64();
        for i in self.next..end {
            for (name, (first, rows)) in &taken {
                let r = i
                    .checked_sub(*first)
                    .and_then(|k| rows.get(k))
                    .unwrap_or(&empty);
                self.writer.row(&row(every, i, name, r))?;
            }
        }
        self.next = self.next.max(end);
        Ok(())
    }

    /// Writes what is left (every series closed) and closes the file.
    pub fn finish(mut self, live: &LiveLoad) -> anyhow::Result<()> {
        self.drain(live, Instant::now(), true)?;
        Ok(self.writer.finish()?)
    }
}

/// Drains `live` into a [`SeriesFile`] and a [`StalenessFile`] every
/// second until [`Drainer::finish`].
pub struct Drainer {
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<(SeriesFile, StalenessFile)>>,
}

impl Drainer {
    /// Starts draining `live` into `file` and `staleness`.
    pub fn start(live: LiveLoad, mut file: SeriesFile, mut staleness: StalenessFile) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(DRAIN) => {
                        let now = Instant::now();
                        file.drain(&live, now, false)?;
                        staleness.drain(&live, now)?;
                    }
                    _ = stopped.changed() => return Ok((file, staleness)),
                }
            }
        });
        Drainer { stop, task }
    }

    /// Stops draining; writes the rest of `live` (its series closed).
    pub async fn finish(self, live: &LiveLoad) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let (file, staleness) = self.task.await??;
        file.finish(live)?;
        staleness.finish(live)
    }
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
    fn the_file_has_the_contract_columns_and_pads_generators() {
        use parking_lot::Mutex;
        use std::sync::Arc;

        use crate::Recorder;

        let begin = Instant::now() - Duration::from_secs(1);
        let every = Duration::from_millis(100);
        let (mut a, mut b) = (Recorder::default(), Recorder::default());
        let mut series = Series::new(begin, every);
        series.sent(begin);
        series.finished(begin + Duration::from_millis(150), Outcome::Ok, 1_500);
        a.series = Some(series);
        let mut series = Series::new(begin, every);
        series.sent(begin + Duration::from_millis(50));
        b.series = Some(series);
        let live = LiveLoad::from([
            ("a".to_string(), Arc::new(Mutex::new(a))),
            ("b".to_string(), Arc::new(Mutex::new(b))),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let mut file = SeriesFile::create(dir.path(), every).unwrap();
        // The first interval has ended at 150 ms, the second not yet.
        file.drain(&live, begin + Duration::from_millis(150), false)
            .unwrap();
        for r in live.values() {
            let mut r = r.lock();
            let s = r.series.as_mut().unwrap();
            assert_eq!((s.first, s.rows.len()), (1, 1));
            s.close(begin + Duration::from_millis(150));
        }
        file.finish(&live).unwrap();
        let text = std::fs::read_to_string(dir.path().join(load_series::FILE)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                load_series::HEADER,
                "0.1,a,1,0,0,0,0,,",
                "0.1,b,1,0,0,0,0,,",
                "0.2,a,0,1,0,0,0,1.500,1.500",
                "0.2,b,0,0,0,0,0,,",
            ]
        );
    }

    /// A generator that ends mid-interval must not make the file write that
    /// interval before the others have counted into it (a run's rows went
    /// missing where one generator ended and another went on).
    #[test]
    fn a_series_closed_early_holds_back_the_interval_others_count_into() {
        use parking_lot::Mutex;
        use std::sync::Arc;

        use crate::Recorder;

        let begin = Instant::now() - Duration::from_secs(1);
        let every = Duration::from_millis(100);
        let at = |ms: u64| begin + Duration::from_millis(ms);
        let (mut a, mut b) = (Recorder::default(), Recorder::default());
        let mut ended = Series::new(begin, every);
        ended.sent(at(10));
        ended.close(at(200)); // keeps [200, 300) as an empty last interval
        a.series = Some(ended);
        let mut going = Series::new(begin, every);
        going.sent(at(120));
        b.series = Some(going);
        let live = LiveLoad::from([
            ("a".to_string(), Arc::new(Mutex::new(a))),
            ("b".to_string(), Arc::new(Mutex::new(b))),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let mut file = SeriesFile::create(dir.path(), every).unwrap();
        file.drain(&live, at(250), false).unwrap();
        {
            let mut b = live["b"].lock();
            let s = b.series.as_mut().unwrap();
            s.sent(at(260)); // in [200, 300), which `a` already closed over
            s.close(at(300));
        }
        file.finish(&live).unwrap();
        let text = std::fs::read_to_string(dir.path().join(load_series::FILE)).unwrap();
        let sent_by_b: u64 = text
            .lines()
            .skip(1)
            .filter(|l| l.split(',').nth(1) == Some("b"))
            .map(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(sent_by_b, 2, "{text}");
        let rows_at_03 = text.lines().filter(|l| l.starts_with("0.3,")).count();
        assert_eq!(
            rows_at_03, 2,
            "one row per generator for [200, 300): {text}"
        );
    }
}
