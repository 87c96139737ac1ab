//! `summary.json`'s figures made from the engines' own ([`topolab_figures`]):
//! one way from counts and histograms to what the file says, whether a run
//! measured them or the simulator predicted them.

use hdrhistogram::{Counter, Histogram};
use topolab_figures::{CallFigures, EndpointFigures, FollowFigures, Freshness};
use topolab_model::Follow;

use crate::summary::{CallSummary, EndpointSummary, Percentiles, round3};
use crate::updates::{self, EndpointUpdates, Staleness};

impl Percentiles {
    /// Milliseconds (to the microsecond) from a histogram of microseconds;
    /// all zero when it is empty.
    pub fn of<C: Counter>(h: &Histogram<C>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |us: u64| round3(us as f64 / 1000.0);
        Percentiles {
            mean: round3(h.mean() / 1000.0),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

impl EndpointSummary {
    /// An endpoint's summary; `updates` is filled by the caller for a
    /// service with `updates` (it needs the load's span).
    pub fn of(e: &EndpointFigures) -> EndpointSummary {
        EndpointSummary {
            requests: e.requests,
            ok: e.ok,
            rejected: e.rejected,
            errors: e.errors.clone(),
            deadline_dropped: e.deadline_dropped,
            max_queue: e.max_queue,
            session_misses: e.session_misses,
            per_replica: e.per_replica.clone(),
            latency_ms: Percentiles::of(&e.latency_us),
            queue_wait_ms: Percentiles::of(&e.queue_wait_us),
            work_ms: Percentiles::of(&e.work_us),
            updates: None,
        }
    }
}

impl CallSummary {
    /// What one service's calls to one callee endpoint came to.
    pub fn of(c: &CallFigures) -> CallSummary {
        CallSummary {
            attempts: c.attempts,
            outcomes: c.outcomes.clone(),
            per_replica: c.per_replica.clone(),
            retries: c.retries,
            retries_denied: c.retries_denied,
            breaker_rejected: c.breaker_rejected,
            breaker_opened: c.breaker_opened,
        }
    }
}

impl EndpointUpdates {
    /// What following clients cost an endpoint that served `requests_per_s`.
    pub fn of(f: &FollowFigures, requests_per_s: f64) -> EndpointUpdates {
        EndpointUpdates {
            requests_per_s,
            long_polls: f.long_polls,
            max_held: f.max_held,
            streams_opened: f.streams_opened,
            streams_rejected: f.streams_rejected,
            max_streams: f.max_streams,
            pushed: f.pushed,
        }
    }
}

impl updates::FollowFigures {
    /// What one following generator's clients saw, `way` being how they
    /// followed.
    pub fn of(way: Follow, f: &Freshness) -> updates::FollowFigures {
        let h = f.staleness_us();
        let ms = |us: u64| round3(us as f64 / 1000.0);
        let staleness_ms = if h.is_empty() {
            Staleness::default()
        } else {
            Staleness {
                mean: round3(h.mean() / 1000.0),
                p50: ms(h.value_at_quantile(0.5)),
                p99: ms(h.value_at_quantile(0.99)),
                max: ms(h.max()),
            }
        };
        updates::FollowFigures {
            way: way.key().to_string(),
            staleness_ms,
            versions_created: f.versions_created(),
            versions_seen: f.versions_seen(),
            versions_missed: f.versions_missed(),
            reconnects: f.reconnects(),
        }
    }
}
