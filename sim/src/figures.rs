//! What a simulation measured, in the shapes a run's figures come in: per
//! generator what the askers saw, per endpoint what the answerers saw, per
//! call edge what callers sent, per replica the telemetry samples, and the
//! worker time each service spent (its utilisation).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use topolab_model::StatusCode;

use crate::engine::Nanos;

/// Everything one simulation measured.
#[derive(Debug, Clone)]
pub struct Figures {
    /// From the start of load to the end of the drain.
    pub duration: Nanos,
    /// Per generator, in the topology's order.
    pub load: Vec<LoadFigures>,
    /// Per service, per endpoint, in the topology's order.
    pub endpoints: Vec<Vec<EndpointFigures<u32>>>,
    /// Per service: calls made, by callee `service/Endpoint`.
    pub calls: Vec<BTreeMap<String, CallFigures>>,
    /// Per service: worker-nanoseconds spent busy, over all replicas.
    pub busy_ns: Vec<f64>,
    /// Per service: replicas restarted after a kill, and dead at the end.
    pub restarts: Vec<u32>,
    pub unreachable: Vec<Vec<u32>>,
    /// Telemetry rows, time-ordered.
    pub samples: Vec<Sample>,
    /// The interval between samples (stretched for very large topologies so
    /// the rows stay bounded; see [`crate::MAX_SAMPLE_ROWS`]).
    pub sample_every: Nanos,
    /// Faults as applied: (index in the topology, at, cleared).
    pub faults: Vec<(usize, Nanos, Option<Nanos>)>,
    /// Events the engine handled.
    pub events: u64,
    /// Per generator, how fresh its clients kept their view (followers only).
    pub freshness: Vec<Option<topolab_figures::Freshness>>,
    /// Replicas of services with `updates` at each sampling instant (with
    /// followers only): what `timeseries.csv`'s last columns hold.
    pub follow_samples: Vec<FollowSample>,
}

/// One replica's followers at one sampling instant, beside its [`Sample`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowSample {
    pub tick: u32,
    pub service: u32,
    pub replica: u32,
    /// Long polls held and streams open at the instant.
    pub held: u32,
    pub streams: u32,
    /// Versions pushed down its streams during the interval.
    pub pushed: u32,
}

/// One replica at one sampling instant, as `timeseries.csv` has it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Index of the interval; it ends at `(tick + 1) × sample_every`.
    pub tick: u32,
    pub service: u32,
    pub replica: u32,
    pub queue: u32,
    pub in_flight: u32,
    pub arrived: u32,
    pub completed: u32,
    pub rejected: u32,
    pub failed: u32,
}

/// One generator.
#[derive(Debug, Clone)]
pub struct LoadFigures {
    pub sent: u64,
    pub attempts: u64,
    pub ok: u64,
    pub rejected: u64,
    pub timeouts: u64,
    pub errors: BTreeMap<String, u64>,
    /// OK latency from the due time, microseconds.
    pub latency_us: Histogram<u64>,
    pub first_due: Option<Nanos>,
    pub last_done: Option<Nanos>,
    pub issue_end: Option<Nanos>,
    /// Per interval of `sample_every`: sent, ok, rejected, timeouts, errors
    /// and the p50/p99 (µs) of the OK latencies that ended in it.
    pub series: Vec<LoadInterval>,
    /// The open interval's OK latencies (µs): exact percentiles by selection,
    /// far cheaper per interval than a histogram's walk over its buckets.
    current: Vec<u64>,
}

/// One interval of a generator's series.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadInterval {
    pub sent: u64,
    pub ok: u64,
    pub rejected: u64,
    pub timeouts: u64,
    pub errors: u64,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
}

pub use topolab_figures::{CallFigures, EndpointFigures};
use topolab_figures::{histogram, record};

/// How a request ended, as its asker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Rejected,
    Timeout,
    Error(StatusCode),
}

impl Outcome {
    /// Classifies a final status code as the contract does.
    pub fn of(code: StatusCode) -> Outcome {
        match code {
            crate::OK => Outcome::Ok,
            crate::RESOURCE_EXHAUSTED => Outcome::Rejected,
            crate::DEADLINE_EXCEEDED => Outcome::Timeout,
            other => Outcome::Error(other),
        }
    }
}

impl Figures {
    /// What a simulation with a warmup measured once the warmup is taken
    /// off, as a run takes it off: `warm` is a simulation of the warmup's
    /// generators alone (the first `warm_generators` of `self`'s, then left
    /// out), identical to `self` up to `offset`, the instant the measured
    /// load's clock starts (a multiple of `load_every`). Counts, histograms
    /// and busy time lose the warmup's share; times, samples and the load
    /// series start at `offset`. Maxima (deepest queue) stay whole-run.
    pub fn after_warmup(
        mut self,
        warm: &Figures,
        warm_generators: usize,
        offset: Nanos,
        load_every: Nanos,
    ) -> Figures {
        let back = |t: Option<Nanos>| t.map(|t| t.saturating_sub(offset));
        self.load.drain(..warm_generators.min(self.load.len()));
        self.freshness
            .drain(..warm_generators.min(self.freshness.len()));
        let skip = (offset / load_every.max(1)) as usize;
        for l in &mut self.load {
            l.first_due = back(l.first_due);
            l.last_done = back(l.last_done);
            l.issue_end = back(l.issue_end);
            l.series.drain(..skip.min(l.series.len()));
        }
        for (es, ws) in self.endpoints.iter_mut().zip(&warm.endpoints) {
            for (e, w) in es.iter_mut().zip(ws) {
                e.requests = e.requests.saturating_sub(w.requests);
                e.ok = e.ok.saturating_sub(w.ok);
                e.rejected = e.rejected.saturating_sub(w.rejected);
                e.deadline_dropped = e.deadline_dropped.saturating_sub(w.deadline_dropped);
                e.session_misses = e.session_misses.saturating_sub(w.session_misses);
                take_counts(&mut e.errors, &w.errors);
                take_slots(&mut e.per_replica, &w.per_replica);
                // Cannot fail: `self` recorded every value `warm` did, and more.
                let _ = e.latency_us.subtract(&w.latency_us);
                let _ = e.queue_wait_us.subtract(&w.queue_wait_us);
                let _ = e.work_us.subtract(&w.work_us);
            }
        }
        for (cs, ws) in self.calls.iter_mut().zip(&warm.calls) {
            for (callee, w) in ws {
                let Some(c) = cs.get_mut(callee) else {
                    continue;
                };
                c.attempts = c.attempts.saturating_sub(w.attempts);
                c.retries = c.retries.saturating_sub(w.retries);
                c.retries_denied = c.retries_denied.saturating_sub(w.retries_denied);
                c.breaker_rejected = c.breaker_rejected.saturating_sub(w.breaker_rejected);
                c.breaker_opened = c.breaker_opened.saturating_sub(w.breaker_opened);
                take_counts(&mut c.outcomes, &w.outcomes);
                take_slots(&mut c.per_replica, &w.per_replica);
            }
        }
        for (b, w) in self.busy_ns.iter_mut().zip(&warm.busy_ns) {
            *b = (*b - w).max(0.0);
        }
        for (r, w) in self.restarts.iter_mut().zip(&warm.restarts) {
            *r = r.saturating_sub(*w);
        }
        let ticks = (offset / self.sample_every.max(1)) as u32;
        self.samples.retain(|s| s.tick >= ticks);
        for s in &mut self.samples {
            s.tick -= ticks;
        }
        for f in &mut self.faults {
            f.1 = f.1.saturating_sub(offset);
            f.2 = back(f.2);
        }
        self.duration = self.duration.saturating_sub(offset);
        self
    }
}

fn take_counts(a: &mut BTreeMap<String, u64>, b: &BTreeMap<String, u64>) {
    for (k, n) in b {
        if let Some(v) = a.get_mut(k) {
            *v = v.saturating_sub(*n);
        }
    }
    a.retain(|_, v| *v > 0);
}

fn take_slots(a: &mut [u64], b: &[u64]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x = x.saturating_sub(*y);
    }
}

impl LoadFigures {
    pub(crate) fn new() -> Self {
        LoadFigures {
            sent: 0,
            attempts: 0,
            ok: 0,
            rejected: 0,
            timeouts: 0,
            errors: BTreeMap::new(),
            latency_us: histogram(3),
            first_due: None,
            last_done: None,
            issue_end: None,
            series: Vec::new(),
            current: Vec::new(),
        }
    }

    fn interval(&mut self, at: Nanos, every: Nanos) -> &mut LoadInterval {
        let i = (at / every) as usize;
        if i + 1 > self.series.len() {
            self.seal();
            self.series.resize(i + 1, LoadInterval::default());
        }
        &mut self.series[i]
    }

    /// Stores the last interval's percentiles and empties its histogram.
    /// Events arrive in time order, so only the last interval is open.
    fn seal(&mut self) {
        if let Some(last) = self.series.last_mut()
            && !self.current.is_empty()
        {
            last.p50_us = Some(quantile(&mut self.current, 0.5));
            last.p99_us = Some(quantile(&mut self.current, 0.99));
            self.current.clear();
        }
    }

    pub(crate) fn sent(&mut self, due: Nanos, every: Nanos) {
        self.sent += 1;
        self.first_due.get_or_insert(due);
        self.interval(due, every).sent += 1;
    }

    pub(crate) fn finish(
        &mut self,
        due: Nanos,
        now: Nanos,
        code: StatusCode,
        attempts: u32,
        every: Nanos,
    ) {
        self.attempts += u64::from(attempts);
        self.last_done = Some(self.last_done.map_or(now, |t| t.max(now)));
        let us = (now.saturating_sub(due) / 1000).max(1);
        let outcome = Outcome::of(code);
        let row = self.interval(now, every);
        match outcome {
            Outcome::Ok => row.ok += 1,
            Outcome::Rejected => row.rejected += 1,
            Outcome::Timeout => row.timeouts += 1,
            Outcome::Error(_) => row.errors += 1,
        }
        match outcome {
            Outcome::Ok => {
                self.ok += 1;
                record(&mut self.latency_us, us);
                self.current.push(us);
            }
            Outcome::Rejected => self.rejected += 1,
            Outcome::Timeout => self.timeouts += 1,
            Outcome::Error(c) => count_code(&mut self.errors, c),
        }
    }

    /// Ends the series at `until`.
    pub(crate) fn close(&mut self, until: Nanos, every: Nanos) {
        self.interval(until, every);
        self.seal();
    }

    /// Requests that ended one way or another.
    pub fn finished(&self) -> u64 {
        self.ok + self.rejected + self.timeouts + self.errors.values().sum::<u64>()
    }
}

/// Status codes counted by number (gRPC's 0..=16; others read `UNKNOWN`).
pub(crate) const CODES: usize = 17;

/// Where `code` is counted in a per-code array.
pub(crate) fn code_slot(code: StatusCode) -> usize {
    match usize::try_from(code.0) {
        Ok(i) if i < CODES => i,
        _ => 2, // UNKNOWN, as `StatusCode::name` reads it
    }
}

/// Adds per-code counts to a map by name.
pub(crate) fn name_codes(counts: &[u64; CODES], into: &mut BTreeMap<String, u64>) {
    for (i, &n) in counts.iter().enumerate() {
        if n > 0 {
            *into
                .entry(StatusCode(i as i32).name().to_string())
                .or_default() += n;
        }
    }
}

/// Counts one more `code` in a map by name, building the name only the
/// first time.
fn count_code(map: &mut BTreeMap<String, u64>, code: StatusCode) {
    match map.get_mut(code.name()) {
        Some(n) => *n += 1,
        None => {
            map.insert(code.name().to_string(), 1);
        }
    }
}

/// The smallest value with at least a `q` share of `xs` at or below it (a
/// histogram's `value_at_quantile`, exact).
fn quantile(xs: &mut [u64], q: f64) -> u64 {
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    *xs.select_nth_unstable(rank - 1).1
}
