//! How stale each client of a following generator (`poll`, `long_poll`,
//! `subscribe`) kept its view: for every version that appeared while a
//! client ran, the time from its creation to the moment the client held it
//! or a newer one. The launcher draws the same timeline as the replicas.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use topolab_model::{Follow, Timeline};
use topolab_results::summary::round3;
use topolab_results::updates::{FollowFigures, Staleness, StalenessRow};

/// One generator's view of freshness, kept in its recorder.
#[derive(Debug, Clone)]
pub struct Freshness {
    way: Follow,
    timeline: Timeline,
    /// The start of load: version `k` appears at `begin + created(k)`.
    begin: Instant,
    /// The newest version each client holds or no longer counts (versions
    /// that appeared before it started are not its to miss).
    known: Vec<u64>,
    staleness_us: Histogram<u64>,
    seen: u64,
    missed: u64,
    reconnects: u64,
    /// Per interval of `every` from `begin`, from interval `first` on (the
    /// earlier ones are in the file already, see [`Freshness::take_ended`]):
    /// versions received, summed and largest staleness (µs).
    every: Duration,
    first: usize,
    intervals: Vec<(u64, u64, u64)>,
    /// The interval the generator stopped in, once it did.
    last: Option<usize>,
    /// Newest version that appeared while the generator ran, for the figures.
    last_version: u64,
    first_version: Option<u64>,
}

impl Freshness {
    /// A generator of `clients` clients following `timeline` from `begin`.
    pub fn new(
        way: Follow,
        timeline: Timeline,
        begin: Instant,
        clients: u32,
        every: Duration,
    ) -> Self {
        Freshness {
            way,
            timeline,
            begin,
            known: vec![0; clients as usize],
            // Cannot fail: 3 significant figures is within hdrhistogram's range.
            staleness_us: Histogram::new(3).expect("valid sigfig"),
            seen: 0,
            missed: 0,
            reconnects: 0,
            every: every.max(Duration::from_millis(1)),
            first: 0,
            intervals: Vec::new(),
            last: None,
            last_version: 0,
            first_version: None,
        }
    }

    /// The data's versions come `gaps` apart from `from` on, as the
    /// replicas were told (see [`Timeline::retime`]).
    pub fn retime(&mut self, from: Duration, gaps: topolab_model::Dist, change: u64) {
        self.timeline.retime(from, gaps, change);
    }

    fn version_at(&mut self, at: Instant) -> u64 {
        self.timeline
            .version_at(at.saturating_duration_since(self.begin))
    }

    /// Client `c` becomes active at `at`: versions that exist already are
    /// not counted against it.
    pub fn start(&mut self, c: u32, at: Instant) {
        let now = self.version_at(at);
        self.first_version.get_or_insert(now);
        if let Some(k) = self.known.get_mut(c as usize) {
            *k = (*k).max(now);
        }
    }

    /// Client `c` holds `version` from `at` on.
    pub fn held(&mut self, c: u32, version: u64, at: Instant) {
        let Some(&known) = self.known.get(c as usize) else {
            return;
        };
        if version <= known {
            return;
        }
        self.seen += 1;
        self.missed += version - known - 1;
        for k in known + 1..=version {
            self.count(k, at);
        }
        self.known[c as usize] = version;
    }

    /// A client starts a request or stream again after a failure.
    pub fn reconnect(&mut self) {
        self.reconnects += 1;
    }

    fn count(&mut self, k: u64, at: Instant) {
        let created = self.begin + self.timeline.created(k);
        let us = at.saturating_duration_since(created).as_micros() as u64;
        // Cannot fail: auto-resize is on and values are far below u64::MAX / 2.
        let _ = self.staleness_us.record(us.max(1));
        // A client's clock read can trail a drain by a moment: an interval
        // already written takes nothing more, the oldest open one does.
        let k = self.interval(at).max(self.first) - self.first;
        if self.intervals.len() <= k {
            self.intervals.resize(k + 1, (0, 0, 0));
        }
        let slot = &mut self.intervals[k];
        slot.0 += 1;
        slot.1 += us;
        slot.2 = slot.2.max(us);
    }

    /// The generator stopped at `end`: every version a client does not hold
    /// yet counts as stale until then (a client cut off for the rest of the
    /// run was stale all that time, not absent from the figures).
    pub fn close(&mut self, end: Instant) {
        self.last = Some(self.interval(end));
        let newest = self.version_at(end);
        self.last_version = newest;
        for c in 0..self.known.len() {
            let known = self.known[c];
            for k in known + 1..=newest {
                let created = self.begin + self.timeline.created(k);
                let us = end.saturating_duration_since(created).as_micros() as u64;
                let _ = self.staleness_us.record(us.max(1));
            }
            self.known[c] = newest.max(known);
        }
    }

    /// Staleness of every version to every client so far, microseconds.
    pub fn staleness_us(&self) -> &Histogram<u64> {
        &self.staleness_us
    }

    /// The figures for `summary.json`.
    pub fn figures(&self) -> FollowFigures {
        let h = &self.staleness_us;
        let ms = |us: u64| (us as f64 / 1000.0 * 1000.0).round() / 1000.0;
        let staleness_ms = if h.is_empty() {
            Staleness::default()
        } else {
            Staleness {
                mean: (h.mean() / 1000.0 * 1000.0).round() / 1000.0,
                p50: ms(h.value_at_quantile(0.5)),
                p99: ms(h.value_at_quantile(0.99)),
                max: ms(h.max()),
            }
        };
        FollowFigures {
            way: self.way.key().to_string(),
            staleness_ms,
            versions_created: self.last_version - self.first_version.unwrap_or(self.last_version),
            versions_seen: self.seen,
            versions_missed: self.missed,
            reconnects: self.reconnects,
        }
    }

    /// The interval `at` falls in.
    fn interval(&self, at: Instant) -> usize {
        (at.saturating_duration_since(self.begin).as_nanos() / self.every.as_nanos()) as usize
    }

    /// Takes the rows of `updates_timeseries.csv` for generator `name` of
    /// the intervals that ended before `now` (up to the one it stopped in,
    /// once closed), an empty interval as a row of nothing received; times
    /// from the start of load.
    pub fn take_ended(&mut self, name: &str, now: Instant) -> Vec<StalenessRow> {
        let end = match self.last {
            Some(last) => (last + 1).max(self.first + self.intervals.len()),
            None => self.interval(now),
        };
        let every = self.every.as_secs_f64();
        let taken = self.intervals.len().min(end.saturating_sub(self.first));
        let mut counts = self.intervals.drain(..taken);
        let rows = (self.first..end)
            .map(|i| {
                let (n, sum, max) = counts.next().unwrap_or_default();
                StalenessRow {
                    t_s: round3((i + 1) as f64 * every),
                    generator: name.to_string(),
                    received: n,
                    staleness_mean_ms: (n > 0).then(|| sum as f64 / n as f64 / 1000.0),
                    staleness_max_ms: (n > 0).then(|| max as f64 / 1000.0),
                }
            })
            .collect();
        drop(counts);
        self.first = self.first.max(end);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use topolab_model::Dist;

    #[test]
    fn a_poller_that_skips_a_version_counts_it_missed_and_stale() {
        let gaps = Dist::Const(Duration::from_secs(1));
        let begin = Instant::now();
        let timeline = Timeline::new(1, "s", gaps);
        let poll = Follow::Poll {
            interval: Duration::from_secs(2),
        };
        let mut f = Freshness::new(poll, timeline, begin, 1, Duration::from_millis(100));
        f.start(0, begin);
        // Versions 1 and 2 appear at 1 s and 2 s; the client learns of 2 at 2.5 s.
        f.held(0, 2, begin + Duration::from_millis(2500));
        f.close(begin + Duration::from_millis(2600));
        let fig = f.figures();
        assert_eq!((fig.versions_seen, fig.versions_missed), (1, 1));
        assert_eq!(fig.versions_created, 2);
        assert!((fig.staleness_ms.mean - 1000.0).abs() < 2.0, "{fig:?}");
        assert!((fig.staleness_ms.max - 1500.0).abs() < 2.0, "{fig:?}");
    }

    #[test]
    fn versions_never_received_count_until_the_end() {
        let gaps = Dist::Const(Duration::from_secs(1));
        let begin = Instant::now();
        let sub = Follow::Subscribe;
        let mut f = Freshness::new(
            sub,
            Timeline::new(1, "s", gaps),
            begin,
            1,
            Duration::from_millis(100),
        );
        f.start(0, begin);
        f.close(begin + Duration::from_millis(3000));
        let fig = f.figures();
        assert_eq!(fig.versions_seen, 0);
        // Versions at 1 s, 2 s, 3 s: stale 2 s, 1 s and 0 s at the end.
        assert!((fig.staleness_ms.mean - 1000.0).abs() < 2.0, "{fig:?}");
    }

    #[test]
    fn ended_intervals_are_taken_once_and_late_events_join_the_oldest_open_one() {
        let gaps = Dist::Const(Duration::from_millis(100));
        let begin = Instant::now();
        let at = |ms: u64| begin + Duration::from_millis(ms);
        let sub = Follow::Subscribe;
        let every = Duration::from_millis(100);
        let mut f = Freshness::new(sub, Timeline::new(1, "s", gaps), begin, 1, every);
        f.start(0, begin);
        // Version 1 (made at 100 ms) held at 150 ms; up to 3 at 320 ms.
        f.held(0, 1, at(150));
        f.held(0, 3, at(320));
        let first = f.take_ended("g", at(250));
        let t: Vec<f64> = first.iter().map(|r| r.t_s).collect();
        assert_eq!(t, [0.1, 0.2]);
        assert_eq!((first[0].received, first[1].received), (0, 1));
        assert_eq!(first[1].staleness_max_ms, Some(50.0));
        // A clock read from before that drain lands in the oldest open interval.
        f.held(0, 4, at(190));
        f.close(at(450));
        let rest = f.take_ended("g", at(900));
        let t: Vec<f64> = rest.iter().map(|r| r.t_s).collect();
        // Up to the interval the generator stopped in, not to `now`.
        assert_eq!(t, [0.3, 0.4, 0.5]);
        // Versions 2 and 3 at 320 ms; version 4's late read in 200-300 ms.
        assert_eq!((rest[0].received, rest[1].received), (1, 2));
        assert!(f.take_ended("g", at(1000)).is_empty());
    }
}
