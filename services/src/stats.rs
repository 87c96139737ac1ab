//! What a replica counts per endpoint (arrivals and outcomes) and measures
//! (latency, queue wait, work, as HDR histograms in microseconds), and how it
//! hands them to the launcher. Once a replica has drained, for every endpoint
//! `requests = ok + rejected + sum(errors)`.

use std::time::Duration;

use parking_lot::Mutex;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2Serializer};
use topolab_figures::{Ending, EndpointFigures};
use topolab_model::StatusCode;
use topolab_proto::v1 as pb;

/// How one request ended, as the replica counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Turned away at once: the queue was full.
    Rejected,
    /// Its deadline had passed before it got a worker; not served at all.
    DeadlineDropped,
    /// Any other non-OK answer, by gRPC code.
    Error(tonic::Code),
}

/// Timings of one finished request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Arrival to response.
    pub latency: Duration,
    /// Time spent waiting for a worker, summed over waits.
    pub queue_wait: Duration,
    /// Time spent in `work` steps, summed.
    pub work: Duration,
}

/// Counters and histograms of every endpoint of this replica.
#[derive(Debug)]
pub struct Stats {
    endpoints: Vec<(String, Mutex<EndpointStats>)>,
    /// Wakes the telemetry sampler parked on an idle replica.
    activity: crate::telemetry::Activity,
}

/// One endpoint's figures as this replica counts them, and the levels its
/// following clients hold now (the figures keep only their maxima).
#[derive(Debug)]
struct EndpointStats {
    figures: EndpointFigures,
    /// Long polls held and streams open now.
    held: u64,
    open_streams: u64,
}

impl EndpointStats {
    fn new() -> Self {
        Self {
            figures: EndpointFigures::new(0, 3),
            held: 0,
            open_streams: 0,
        }
    }
}

/// Running counts of a replica, all endpoints together; telemetry reports the
/// differences between two of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub arrived: u64,
    /// Answered OK.
    pub completed: u64,
    pub rejected: u64,
    /// Any other non-OK answer (deadline drops included).
    pub failed: u64,
    /// Long polls held and streams open now (levels, not counts).
    pub held: u64,
    pub streams: u64,
    /// Messages pushed down streams.
    pub pushed: u64,
}

/// Index of an endpoint in [`Stats`], fixed at start so the hot path never
/// looks names up.
pub type EndpointId = usize;

impl Stats {
    /// Empty figures for these endpoints, in this order.
    pub fn new<'a>(endpoints: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            endpoints: endpoints
                .into_iter()
                .map(|n| (n.to_string(), Mutex::new(EndpointStats::new())))
                .collect(),
            activity: Default::default(),
        }
    }

    /// What the telemetry sampler parks on while nothing is counted.
    pub fn activity(&self) -> &crate::telemetry::Activity {
        &self.activity
    }

    fn with<R>(&self, ep: EndpointId, f: impl FnOnce(&mut EndpointStats) -> R) -> R {
        let mut s = self.endpoints[ep].1.lock();
        let r = f(&mut s);
        drop(s);
        self.activity.poke();
        r
    }

    /// A request arrived (before admission).
    pub fn arrived(&self, ep: EndpointId) {
        self.with(ep, |s| s.figures.requests += 1);
    }

    /// A request joined the queue, which then held `depth` requests.
    pub fn queued(&self, ep: EndpointId, depth: usize) {
        self.with(ep, |s| s.figures.queued(depth as u64));
    }

    /// A request brought a session key this replica did not hold.
    pub fn session_miss(&self, ep: EndpointId) {
        self.with(ep, |s| s.figures.session_misses += 1);
    }

    /// A long poll starts (`true`) or stops (`false`) being held.
    pub fn hold(&self, ep: EndpointId, start: bool) {
        self.with(ep, |s| {
            if start {
                s.held += 1;
                s.figures.follow.long_polls += 1;
                s.figures.follow.max_held = s.figures.follow.max_held.max(s.held);
            } else {
                s.held = s.held.saturating_sub(1);
            }
        });
    }

    /// A stream opens (`true`) or closes (`false`): the level of open
    /// streams (the request that opened it counts in [`Stats::subscribed`]).
    pub fn stream(&self, ep: EndpointId, open: bool) {
        self.with(ep, |s| {
            if open {
                s.open_streams += 1;
                s.figures.follow.streams_opened += 1;
                s.figures.follow.max_streams = s.figures.follow.max_streams.max(s.open_streams);
            } else {
                s.open_streams = s.open_streams.saturating_sub(1);
            }
        });
    }

    /// A subscription's request ended: its stream opened (`Ok`: a request
    /// served, whose pushes are counted apart), the queue was full
    /// (`Rejected`), or it failed. Its latency runs from arrival to the
    /// opening; it did no work of its own (each push runs the steps).
    pub fn subscribed(&self, ep: EndpointId, outcome: Outcome, t: Timings) {
        self.with(ep, |s| {
            let f = &mut s.figures;
            f.ended(ending(outcome));
            match outcome {
                Outcome::Rejected => f.follow.streams_rejected += 1,
                _ => f.timings(us(t.latency), us(t.queue_wait), None),
            }
        });
    }

    /// A version was pushed down a stream.
    pub fn pushed(&self, ep: EndpointId) {
        self.with(ep, |s| s.figures.follow.pushed += 1);
    }

    /// A request ended. Rejections carry no timings (they never waited).
    pub fn finished(&self, ep: EndpointId, outcome: Outcome, t: Timings) {
        self.with(ep, |s| {
            let f = &mut s.figures;
            f.ended(ending(outcome));
            match outcome {
                Outcome::Rejected => {}
                Outcome::DeadlineDropped => f.timings(us(t.latency), us(t.queue_wait), None),
                _ => f.timings(us(t.latency), us(t.queue_wait), Some(us(t.work))),
            }
        });
    }

    /// Counts over every endpoint since start, for telemetry: a handful of
    /// brief locks, cheap enough to take every few milliseconds.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for (_, s) in &self.endpoints {
            let s = s.lock();
            let f = &s.figures;
            t.arrived += f.requests;
            t.completed += f.ok;
            t.rejected += f.rejected;
            t.failed += f.errors.values().sum::<u64>();
            t.held += s.held;
            t.streams += s.open_streams;
            t.pushed += f.follow.pushed;
        }
        t
    }

    /// Calls `f` with each endpoint's counts and histograms (latency, queue
    /// wait, work), one endpoint locked at a time: `/metrics` reads the
    /// figures the request path keeps anyway, at scrape time.
    pub fn visit(&self, mut f: impl FnMut(&str, &EndpointFigures)) {
        for (name, s) in &self.endpoints {
            f(name, &s.lock().figures);
        }
    }

    /// The figures as the launcher reads them; histograms are left empty when
    /// `histograms` is false (cheap polling for telemetry).
    pub fn to_proto(&self, histograms: bool) -> Vec<pb::EndpointStats> {
        self.endpoints
            .iter()
            .map(|(name, s)| {
                let s = s.lock();
                let f = &s.figures;
                let ser = |h: &Histogram<u64>| if histograms { serialize(h) } else { Vec::new() };
                pb::EndpointStats {
                    endpoint: name.clone(),
                    requests: f.requests,
                    ok: f.ok,
                    rejected: f.rejected,
                    errors: f.errors.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                    deadline_dropped: f.deadline_dropped,
                    latency_us: ser(&f.latency_us),
                    queue_wait_us: ser(&f.queue_wait_us),
                    work_us: ser(&f.work_us),
                    max_queue: f.max_queue,
                    session_misses: f.session_misses,
                    long_polls: f.follow.long_polls,
                    max_held: f.follow.max_held,
                    held: s.held,
                    streams_opened: f.follow.streams_opened,
                    streams_rejected: f.follow.streams_rejected,
                    max_streams: f.follow.max_streams,
                    open_streams: s.open_streams,
                    pushed: f.follow.pushed,
                }
            })
            .collect()
    }
}

/// How the figures count an outcome.
fn ending(outcome: Outcome) -> Ending {
    match outcome {
        Outcome::Ok => Ending::Ok,
        Outcome::Rejected => Ending::Rejected,
        Outcome::DeadlineDropped => Ending::DeadlineDropped,
        Outcome::Error(code) => Ending::Error(StatusCode(code as i32)),
    }
}

/// Whole microseconds, as the histograms hold them.
fn us(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

/// The gRPC name of a code (`UNAVAILABLE`), as users write it.
pub fn code_name(code: tonic::Code) -> &'static str {
    topolab_model::StatusCode(code as i32).name()
}

fn serialize(h: &Histogram<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    // Cannot fail: V2 serialization into a Vec does no I/O that can fail.
    V2Serializer::new()
        .serialize(h, &mut out)
        .expect("serialize into memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::Deserializer;

    #[test]
    fn requests_equal_the_sum_of_outcomes() {
        let s = Stats::new(["Cook"]);
        let outcomes = [
            Outcome::Ok,
            Outcome::Ok,
            Outcome::Rejected,
            Outcome::DeadlineDropped,
            Outcome::Error(tonic::Code::Unavailable),
            Outcome::Error(tonic::Code::DeadlineExceeded),
        ];
        for o in outcomes {
            s.arrived(0);
            s.finished(
                0,
                o,
                Timings {
                    latency: Duration::from_millis(5),
                    queue_wait: Duration::from_millis(2),
                    work: Duration::from_millis(3),
                },
            );
        }
        let p = &s.to_proto(true)[0];
        let errors: u64 = p.errors.values().sum();
        assert_eq!(p.requests, 6);
        assert_eq!(p.requests, p.ok + p.rejected + errors);
        assert_eq!(p.deadline_dropped, 1);
        assert_eq!(p.errors["DEADLINE_EXCEEDED"], 2);
        assert_eq!(p.errors["UNAVAILABLE"], 1);

        let read =
            |b: &[u8]| -> Histogram<u64> { Deserializer::new().deserialize(&mut &b[..]).unwrap() };
        let lat = read(&p.latency_us);
        assert_eq!(lat.len(), 5, "rejections carry no latency");
        assert!((lat.mean() - 5000.0).abs() < 10.0, "{}", lat.mean());
        assert_eq!(read(&p.work_us).len(), 4, "dropped requests did no work");
    }

    #[test]
    fn a_subscription_is_a_request_that_ends_when_its_stream_opens() {
        let s = Stats::new(["Watch"]);
        let t = Timings {
            latency: Duration::from_millis(2),
            queue_wait: Duration::from_millis(1),
            work: Duration::ZERO,
        };
        for o in [Outcome::Ok, Outcome::Ok, Outcome::Rejected] {
            s.arrived(0);
            if o == Outcome::Ok {
                s.stream(0, true);
            }
            s.subscribed(0, o, t);
        }
        s.stream(0, false);
        let p = &s.to_proto(true)[0];
        assert_eq!((p.requests, p.ok, p.rejected), (3, 2, 1));
        assert_eq!((p.streams_opened, p.streams_rejected), (2, 1));
        assert_eq!(p.open_streams, 1, "one still open, its request ended");
        let read =
            |b: &[u8]| -> Histogram<u64> { Deserializer::new().deserialize(&mut &b[..]).unwrap() };
        assert_eq!(read(&p.latency_us).len(), 2, "opening took time");
        assert!(
            read(&p.work_us).is_empty(),
            "pushes run the steps, not the opening"
        );
    }

    #[test]
    fn histograms_can_be_left_out() {
        let s = Stats::new(["A", "B"]);
        s.queued(1, 7);
        let p = s.to_proto(false);
        assert_eq!(p.len(), 2);
        assert!(p[0].latency_us.is_empty());
        assert_eq!(p[1].max_queue, 7);
    }
}
