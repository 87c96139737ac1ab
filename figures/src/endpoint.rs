//! One endpoint's figures and the rule by which a request is counted: it
//! counts in `requests` when it arrives, and once in exactly one ending
//! ([`Ending`]) when it leaves, so that after a drain
//! `requests = ok + rejected + sum(errors)` on every engine. A deadline drop
//! is an error (`DEADLINE_EXCEEDED`) that is also counted apart, since it
//! never got a worker.

use std::collections::BTreeMap;

use hdrhistogram::errors::{AdditionError, SubtractionError};
use hdrhistogram::{Counter, Histogram};
use topolab_model::StatusCode;

use crate::histogram::{histogram, record};

/// How a request left an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Answered OK.
    Ok,
    /// Turned away at once: the queue was full (`RESOURCE_EXHAUSTED`).
    Rejected,
    /// Its caller's deadline passed while it waited in the queue: dropped
    /// without being served (`DEADLINE_EXCEEDED`).
    DeadlineDropped,
    /// Any other non-OK answer.
    Error(StatusCode),
}

/// What an endpoint's following clients cost it (services with `updates`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowFigures {
    /// Long polls held, all of them.
    pub long_polls: u64,
    /// The most long polls one replica held at once.
    pub max_held: u64,
    pub streams_opened: u64,
    /// Streams refused: the queue was full.
    pub streams_rejected: u64,
    /// The most streams one replica held open at once.
    pub max_streams: u64,
    /// Versions pushed down streams.
    pub pushed: u64,
}

impl FollowFigures {
    fn merge(&mut self, o: &FollowFigures) {
        self.long_polls += o.long_polls;
        self.max_held = self.max_held.max(o.max_held);
        self.streams_opened += o.streams_opened;
        self.streams_rejected += o.streams_rejected;
        self.max_streams = self.max_streams.max(o.max_streams);
        self.pushed += o.pushed;
    }

    /// Counts less a baseline; maxima are the run's and stay.
    fn subtract(&mut self, b: &FollowFigures) {
        self.long_polls = self.long_polls.saturating_sub(b.long_polls);
        self.streams_opened = self.streams_opened.saturating_sub(b.streams_opened);
        self.streams_rejected = self.streams_rejected.saturating_sub(b.streams_rejected);
        self.pushed = self.pushed.saturating_sub(b.pushed);
    }
}

/// One endpoint's counts and timings: of one replica, of a service's
/// replicas added up, or predicted. Histograms hold microseconds; `C` is
/// their counter (`u64` for what a run measures, `u32` where the simulator
/// keeps ten thousand services small).
#[derive(Debug, Clone)]
pub struct EndpointFigures<C: Counter = u64> {
    /// Arrivals, before admission.
    pub requests: u64,
    pub ok: u64,
    pub rejected: u64,
    /// Non-OK answers by gRPC code name, deadline drops included.
    pub errors: BTreeMap<String, u64>,
    pub deadline_dropped: u64,
    /// The deepest the queue was.
    pub max_queue: u64,
    /// Requests whose session key this replica did not hold.
    pub session_misses: u64,
    /// Arrivals at each replica, by index (empty for one replica's own).
    pub per_replica: Vec<u64>,
    /// Arrival to answer, of every request that got an answer other than a
    /// rejection.
    pub latency_us: Histogram<C>,
    /// Time waiting for a worker, summed over waits.
    pub queue_wait_us: Histogram<C>,
    /// Time in `work` steps, of requests that ran (not deadline drops).
    pub work_us: Histogram<C>,
    pub follow: FollowFigures,
}

impl<C: Counter> EndpointFigures<C> {
    /// Nothing counted yet, for `replicas` replicas, with histograms of
    /// `sigfig` significant figures.
    pub fn new(replicas: usize, sigfig: u8) -> Self {
        EndpointFigures {
            requests: 0,
            ok: 0,
            rejected: 0,
            errors: BTreeMap::new(),
            deadline_dropped: 0,
            max_queue: 0,
            session_misses: 0,
            per_replica: vec![0; replicas],
            latency_us: histogram(sigfig),
            queue_wait_us: histogram(sigfig),
            work_us: histogram(sigfig),
            follow: FollowFigures::default(),
        }
    }

    /// Counts how a request left (its timings go to [`Self::timings`]).
    pub fn ended(&mut self, ending: Ending) {
        match ending {
            Ending::Ok => self.ok += 1,
            Ending::Rejected => self.rejected += 1,
            Ending::DeadlineDropped => {
                self.deadline_dropped += 1;
                self.count_error(StatusCode(4));
            }
            Ending::Error(code) => self.count_error(code),
        }
    }

    /// Counts one more `code`, building its name's `String` only the first
    /// time (the request path must not allocate per error).
    fn count_error(&mut self, code: StatusCode) {
        match self.errors.get_mut(code.name()) {
            Some(n) => *n += 1,
            None => {
                self.errors.insert(code.name().to_string(), 1);
            }
        }
    }

    /// Records a request's timings in microseconds; `work: None`: it never
    /// ran (dropped from the queue). Rejections have none: they never waited.
    pub fn timings(&mut self, latency_us: u64, wait_us: u64, work_us: Option<u64>) {
        record(&mut self.latency_us, latency_us);
        record(&mut self.queue_wait_us, wait_us);
        if let Some(w) = work_us {
            record(&mut self.work_us, w);
        }
    }

    /// The queue held `depth` requests.
    pub fn queued(&mut self, depth: u64) {
        self.max_queue = self.max_queue.max(depth);
    }

    /// Requests that have left, one way or another.
    pub fn ended_count(&self) -> u64 {
        self.ok + self.rejected + self.errors.values().sum::<u64>()
    }

    /// Adds replica `replica`'s figures of the same endpoint: counts add up,
    /// the deepest queue is the deepest of any, and its arrivals are its
    /// slot in `per_replica`.
    pub fn merge(&mut self, replica: usize, o: &EndpointFigures<C>) -> Result<(), AdditionError> {
        self.requests += o.requests;
        self.ok += o.ok;
        self.rejected += o.rejected;
        for (code, n) in &o.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
        self.deadline_dropped += o.deadline_dropped;
        self.max_queue = self.max_queue.max(o.max_queue);
        self.session_misses += o.session_misses;
        if let Some(slot) = self.per_replica.get_mut(replica) {
            *slot += o.requests;
        }
        self.follow.merge(&o.follow);
        self.latency_us.add(&o.latency_us)?;
        self.queue_wait_us.add(&o.queue_wait_us)?;
        self.work_us.add(&o.work_us)
    }

    /// The same figures with `u64` counters and 3 significant figures, as a
    /// run's are: what a prediction summarizes, so both are read alike.
    pub fn widened(&self) -> EndpointFigures<u64> {
        let widen = |h: &Histogram<C>| {
            let mut out = histogram::<u64>(3);
            for v in h.iter_recorded() {
                // Cannot fail: auto-resizing, and the value was recordable.
                let _ = out.record_n(v.value_iterated_to(), v.count_at_value().as_u64());
            }
            out
        };
        EndpointFigures {
            requests: self.requests,
            ok: self.ok,
            rejected: self.rejected,
            errors: self.errors.clone(),
            deadline_dropped: self.deadline_dropped,
            max_queue: self.max_queue,
            session_misses: self.session_misses,
            per_replica: self.per_replica.clone(),
            latency_us: widen(&self.latency_us),
            queue_wait_us: widen(&self.queue_wait_us),
            work_us: widen(&self.work_us),
            follow: self.follow,
        }
    }

    /// Takes a baseline taken earlier of the same replicas off (the warmup):
    /// counts less the baseline's, maxima kept as the whole run's. Every
    /// count is taken off even when a histogram cannot be (a replica that
    /// restarted since lost the baseline's values); that histogram keeps the
    /// whole run's and the error says so.
    pub fn subtract(&mut self, b: &EndpointFigures<C>) -> Result<(), SubtractionError> {
        self.requests = self.requests.saturating_sub(b.requests);
        self.ok = self.ok.saturating_sub(b.ok);
        self.rejected = self.rejected.saturating_sub(b.rejected);
        for (code, n) in &b.errors {
            if let Some(v) = self.errors.get_mut(code) {
                *v = v.saturating_sub(*n);
            }
        }
        self.errors.retain(|_, v| *v > 0);
        self.deadline_dropped = self.deadline_dropped.saturating_sub(b.deadline_dropped);
        self.session_misses = self.session_misses.saturating_sub(b.session_misses);
        for (v, n) in self.per_replica.iter_mut().zip(&b.per_replica) {
            *v = v.saturating_sub(*n);
        }
        self.follow.subtract(&b.follow);
        let latency = self.latency_us.subtract(&b.latency_us);
        let wait = self.queue_wait_us.subtract(&b.queue_wait_us);
        let work = self.work_us.subtract(&b.work_us);
        latency.and(wait).and(work)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica() -> EndpointFigures {
        let mut f = EndpointFigures::new(0, 3);
        for ending in [
            Ending::Ok,
            Ending::Ok,
            Ending::Rejected,
            Ending::DeadlineDropped,
            Ending::Error(StatusCode(14)),
        ] {
            f.requests += 1;
            f.ended(ending);
            match ending {
                Ending::Rejected => {}
                Ending::DeadlineDropped => f.timings(900, 900, None),
                _ => f.timings(1_000, 200, Some(800)),
            }
        }
        f
    }

    #[test]
    fn every_request_is_counted_in_one_ending() {
        let f = replica();
        assert_eq!(f.requests, 5);
        assert_eq!(f.ended_count(), f.requests);
        assert_eq!(f.errors["DEADLINE_EXCEEDED"], 1);
        assert_eq!(f.errors["UNAVAILABLE"], 1);
        assert_eq!(f.deadline_dropped, 1);
        // Rejections have no timings; a deadline drop has no work.
        assert_eq!(f.latency_us.len(), 4);
        assert_eq!(f.work_us.len(), 3);
    }

    #[test]
    fn replicas_add_up_and_a_baseline_comes_off() {
        let mut service: EndpointFigures = EndpointFigures::new(2, 3);
        let mut one = replica();
        one.queued(7);
        service.merge(0, &one).unwrap();
        service.merge(1, &replica()).unwrap();
        assert_eq!(service.requests, 10);
        assert_eq!(service.per_replica, vec![5, 5]);
        assert_eq!(service.max_queue, 7);
        assert_eq!(service.latency_us.len(), 8);

        let mut baseline: EndpointFigures = EndpointFigures::new(2, 3);
        baseline.merge(0, &replica()).unwrap();
        service.subtract(&baseline).unwrap();
        assert_eq!(service.requests, 5);
        assert_eq!(service.per_replica, vec![0, 5]);
        assert_eq!(service.ended_count(), service.requests);
        assert_eq!(service.max_queue, 7, "a maximum is the run's");
        assert_eq!(service.latency_us.len(), 4);
    }

    #[test]
    fn a_small_simulated_histogram_widens_to_a_measured_ones_kind() {
        let mut sim: EndpointFigures<u32> = EndpointFigures::new(1, 2);
        sim.requests = 1;
        sim.ended(Ending::Ok);
        sim.timings(12_345, 0, Some(12_000));
        let wide = sim.widened();
        assert_eq!(wide.ok, 1);
        let p50 = wide.latency_us.value_at_quantile(0.5);
        assert!((12_300..=12_400).contains(&p50), "{p50}");
    }
}
