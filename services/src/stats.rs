//! What a replica counts per endpoint (arrivals and outcomes) and measures
//! (latency, queue wait, work, as HDR histograms in microseconds), and how it
//! hands them to the launcher. Once a replica has drained, for every endpoint
//! `requests = ok + rejected + sum(errors)`.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2Serializer};
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

#[derive(Debug)]
struct EndpointStats {
    requests: u64,
    ok: u64,
    rejected: u64,
    errors: BTreeMap<&'static str, u64>,
    deadline_dropped: u64,
    max_queue: u64,
    session_misses: u64,
    /// Long polls and subscriptions (`updates`); levels kept with the counts.
    follow: Follow,
    latency: Histogram<u64>,
    queue_wait: Histogram<u64>,
    work: Histogram<u64>,
}

impl EndpointStats {
    fn new() -> Self {
        // Cannot fail: 3 significant figures is within hdrhistogram's 0..=5.
        let h = || Histogram::new(3).expect("3 significant figures");
        Self {
            requests: 0,
            ok: 0,
            rejected: 0,
            errors: BTreeMap::new(),
            deadline_dropped: 0,
            max_queue: 0,
            session_misses: 0,
            follow: Follow::default(),
            latency: h(),
            queue_wait: h(),
            work: h(),
        }
    }
}

/// What an endpoint of a service with `updates` counts for the clients that
/// follow its versions: long polls held, streams open, messages pushed.
#[derive(Debug, Clone, Copy, Default)]
struct Follow {
    long_polls: u64,
    held: u64,
    max_held: u64,
    streams_opened: u64,
    streams_rejected: u64,
    open_streams: u64,
    max_streams: u64,
    pushed: u64,
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
        self.with(ep, |s| s.requests += 1);
    }

    /// A request joined the queue, which then held `depth` requests.
    pub fn queued(&self, ep: EndpointId, depth: usize) {
        self.with(ep, |s| s.max_queue = s.max_queue.max(depth as u64));
    }

    /// A request brought a session key this replica did not hold.
    pub fn session_miss(&self, ep: EndpointId) {
        self.with(ep, |s| s.session_misses += 1);
    }

    /// A long poll starts (`true`) or stops (`false`) being held.
    pub fn hold(&self, ep: EndpointId, start: bool) {
        self.with(ep, |s| {
            let f = &mut s.follow;
            if start {
                f.long_polls += 1;
                f.held += 1;
                f.max_held = f.max_held.max(f.held);
            } else {
                f.held = f.held.saturating_sub(1);
            }
        });
    }

    /// A subscription opens (`true`) or closes (`false`).
    pub fn stream(&self, ep: EndpointId, open: bool) {
        self.with(ep, |s| {
            let f = &mut s.follow;
            if open {
                f.streams_opened += 1;
                f.open_streams += 1;
                f.max_streams = f.max_streams.max(f.open_streams);
            } else {
                f.open_streams = f.open_streams.saturating_sub(1);
            }
        });
    }

    /// A subscription was refused: the queue was full.
    pub fn stream_rejected(&self, ep: EndpointId) {
        self.with(ep, |s| s.follow.streams_rejected += 1);
    }

    /// A version was pushed down a stream.
    pub fn pushed(&self, ep: EndpointId) {
        self.with(ep, |s| s.follow.pushed += 1);
    }

    /// A request ended. Rejections carry no timings (they never waited).
    pub fn finished(&self, ep: EndpointId, outcome: Outcome, t: Timings) {
        self.with(ep, |s| {
            match outcome {
                Outcome::Ok => s.ok += 1,
                Outcome::Rejected => {
                    s.rejected += 1;
                    return;
                }
                Outcome::DeadlineDropped => {
                    s.deadline_dropped += 1;
                    *s.errors
                        .entry(code_name(tonic::Code::DeadlineExceeded))
                        .or_default() += 1;
                }
                Outcome::Error(code) => *s.errors.entry(code_name(code)).or_default() += 1,
            }
            record(&mut s.latency, t.latency);
            record(&mut s.queue_wait, t.queue_wait);
            if outcome != Outcome::DeadlineDropped {
                record(&mut s.work, t.work);
            }
        });
    }

    /// Counts over every endpoint since start, for telemetry: a handful of
    /// brief locks, cheap enough to take every few milliseconds.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for (_, s) in &self.endpoints {
            let s = s.lock();
            t.arrived += s.requests;
            t.completed += s.ok;
            t.rejected += s.rejected;
            t.failed += s.errors.values().sum::<u64>();
            t.held += s.follow.held;
            t.streams += s.follow.open_streams;
            t.pushed += s.follow.pushed;
        }
        t
    }

    /// Calls `f` with each endpoint's counts and histograms (latency, queue
    /// wait, work), one endpoint locked at a time: `/metrics` reads the
    /// figures the request path keeps anyway, at scrape time.
    pub fn visit(&self, mut f: impl FnMut(&str, &pb::EndpointStats, [&Histogram<u64>; 3])) {
        for (name, s) in &self.endpoints {
            let s = s.lock();
            let counts = pb::EndpointStats {
                endpoint: name.clone(),
                requests: s.requests,
                ok: s.ok,
                rejected: s.rejected,
                errors: s.errors.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                deadline_dropped: s.deadline_dropped,
                max_queue: s.max_queue,
                session_misses: s.session_misses,
                ..Default::default()
            };
            f(name, &counts, [&s.latency, &s.queue_wait, &s.work]);
        }
    }

    /// The figures as the launcher reads them; histograms are left empty when
    /// `histograms` is false (cheap polling for telemetry).
    pub fn to_proto(&self, histograms: bool) -> Vec<pb::EndpointStats> {
        self.endpoints
            .iter()
            .map(|(name, s)| {
                let s = s.lock();
                let ser = |h: &Histogram<u64>| if histograms { serialize(h) } else { Vec::new() };
                pb::EndpointStats {
                    endpoint: name.clone(),
                    requests: s.requests,
                    ok: s.ok,
                    rejected: s.rejected,
                    errors: s.errors.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                    deadline_dropped: s.deadline_dropped,
                    latency_us: ser(&s.latency),
                    queue_wait_us: ser(&s.queue_wait),
                    work_us: ser(&s.work),
                    max_queue: s.max_queue,
                    session_misses: s.session_misses,
                    long_polls: s.follow.long_polls,
                    max_held: s.follow.max_held,
                    held: s.follow.held,
                    streams_opened: s.follow.streams_opened,
                    streams_rejected: s.follow.streams_rejected,
                    max_streams: s.follow.max_streams,
                    open_streams: s.follow.open_streams,
                    pushed: s.follow.pushed,
                }
            })
            .collect()
    }
}

/// The gRPC name of a code (`UNAVAILABLE`), as users write it.
pub fn code_name(code: tonic::Code) -> &'static str {
    topolab_model::StatusCode(code as i32).name()
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = d.as_micros().min(u64::MAX as u128) as u64;
    // `record` grows the (auto-resizing) histogram; `saturating_record` would
    // clamp to its current range instead. It fails only beyond u64 range.
    if h.record(us).is_err() {
        h.saturating_record(us);
    }
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
    fn histograms_can_be_left_out() {
        let s = Stats::new(["A", "B"]);
        s.queued(1, 7);
        let p = s.to_proto(false);
        assert_eq!(p.len(), 2);
        assert!(p[0].latency_us.is_empty());
        assert_eq!(p[1].max_queue, 7);
    }
}
