//! How stale each client of a following generator (`poll`, `long_poll`,
//! `subscribe`) kept its view: for every version that appeared while a
//! client ran, the time from its creation to the moment the client held it
//! or a newer one. The counting is the one both engines share
//! (`topolab_figures::Freshness`); this adds the wall clock and the rows of
//! `updates_timeseries.csv`. The launcher draws the same timeline as the replicas.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use topolab_model::{Follow, Timeline};
use topolab_results::summary::round3;
use topolab_results::updates::{self, FollowFigures, StalenessRow};

/// One generator's view of freshness, kept in its recorder: the counting
/// both engines share ([`updates::Freshness`]) on the wall clock, and the
/// per-interval rows of `updates_timeseries.csv`.
#[derive(Debug, Clone)]
pub struct Freshness {
    way: Follow,
    core: updates::Freshness,
    /// The start of load: version `k` appears at `begin + created(k)`.
    begin: Instant,
    /// Per interval of `every` from `begin`, from interval `first` on (the
    /// earlier ones are in the file already, see [`Freshness::take_ended`]):
    /// versions received, summed and largest staleness (µs).
    every: Duration,
    first: usize,
    intervals: Vec<(u64, u64, u64)>,
    /// The interval the generator stopped in, once it did.
    last: Option<usize>,
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
            core: updates::Freshness::new(timeline, clients),
            begin,
            every: every.max(Duration::from_millis(1)),
            first: 0,
            intervals: Vec::new(),
            last: None,
        }
    }

    /// The data's versions come `gaps` apart from `from` on, as the
    /// replicas were told (see [`Timeline::retime`]).
    pub fn retime(&mut self, from: Duration, gaps: topolab_model::Dist, change: u64) {
        self.core.retime(from, gaps, change);
    }

    fn since(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.begin)
    }

    /// Client `c` becomes active at `at`: versions that exist already are
    /// not counted against it.
    pub fn start(&mut self, c: u32, at: Instant) {
        self.core.start(c, self.since(at));
    }

    /// Client `c` holds `version` from `at` on.
    pub fn held(&mut self, c: u32, version: u64, at: Instant) {
        // A client's clock read can trail a drain by a moment: an interval
        // already written takes nothing more, the oldest open one does.
        let k = self.interval(at).max(self.first) - self.first;
        let (mut n, mut sum, mut max) = (0, 0, 0);
        self.core.held(c, version, self.since(at), |us| {
            n += 1;
            sum += us;
            max = max.max(us);
        });
        if n == 0 {
            return;
        }
        if self.intervals.len() <= k {
            self.intervals.resize(k + 1, (0, 0, 0));
        }
        let slot = &mut self.intervals[k];
        slot.0 += n;
        slot.1 += sum;
        slot.2 = slot.2.max(max);
    }

    /// A client starts a request or stream again after a failure.
    pub fn reconnect(&mut self) {
        self.core.reconnect();
    }

    /// The generator stopped at `end`: every version a client does not hold
    /// yet counts as stale until then.
    pub fn close(&mut self, end: Instant) {
        self.last = Some(self.interval(end));
        self.core.close(self.since(end));
    }

    /// Staleness of every version to every client so far, microseconds.
    pub fn staleness_us(&self) -> &Histogram<u64> {
        self.core.staleness_us()
    }

    /// The figures for `summary.json`.
    pub fn figures(&self) -> FollowFigures {
        FollowFigures::of(self.way, &self.core)
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
