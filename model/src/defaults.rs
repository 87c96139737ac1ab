//! The format's defaults, all in one place: what a key left out of a
//! topology means. Validation starts every service, call, generator and the
//! settings from these, and docs/topology.md names the same
//! values.

use std::time::Duration;

use crate::model::{
    Arrivals, Balance, Call, Discipline, Generator, OnError, Pattern, ServeModel, Service,
    Settings, Target,
};
use crate::policy::{BackoffShape, Breaker, RetryBudget};
use crate::service_kind::{Deadlines, Kind, Restart, State};

/// Requests that may wait per replica when `queue` is left out.
pub const DEFAULT_QUEUE: u32 = 64;

/// A balancer's default `workers`: requests it forwards at once. A real load
/// balancer holds thousands of connections; one worker would make it the
/// bottleneck of every experiment.
pub const DEFAULT_BALANCER_WORKERS: u32 = 1000;

/// A forward has no timeout of its own: it lasts as long as the caller's
/// deadline (this, when a caller sent none).
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(3600);

/// A generator's default deadline per request. The spec leaves it open; 10 s
/// is long enough not to cut off the slow tails a run is meant to show, and
/// short enough that a deadlocked topology still produces results.
pub const DEFAULT_GENERATOR_TIMEOUT: Duration = Duration::from_secs(10);

/// Default per-attempt timeout of calls (`settings.timeout`).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Default telemetry sampling interval (`settings.sample_every`).
pub const DEFAULT_SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Default share of load requests traced (`settings.trace`): all of them.
pub const DEFAULT_TRACE: f64 = 1.0;

/// Default disk budget of `traces.jsonl` (`settings.trace_budget`): a few
/// minutes of a fully traced flood of thousands of requests a second.
pub const DEFAULT_TRACE_BUDGET: u64 = 256 << 20;

/// Retries may add at most 20% to a caller's first attempts (Finagle's
/// default), so a callee in trouble never sees retries multiply its load.
pub const DEFAULT_RETRY_BUDGET: RetryBudget = RetryBudget { ratio: 0.2 };

/// A breaker written as `breaker: {}` opens at 50% failures over 10 s with
/// at least 10 calls, stays open 5 s, then lets 3 probes through.
pub const DEFAULT_BREAKER: Breaker = Breaker {
    failures: 0.5,
    window: Duration::from_secs(10),
    min_calls: 10,
    open_for: Duration::from_secs(5),
    probes: 3,
};

/// `settings` when left out.
pub fn settings() -> Settings {
    Settings {
        seed: None,
        timeout: DEFAULT_CALL_TIMEOUT,
        sample_every: DEFAULT_SAMPLE_EVERY,
        trace: DEFAULT_TRACE,
        trace_budget: DEFAULT_TRACE_BUDGET,
        warmup: Duration::ZERO,
    }
}

/// A service named `name` with nothing but its name written: one replica,
/// one worker, a FIFO queue of [`DEFAULT_QUEUE`], blocking, round-robin,
/// stateless, never restarted, heeding deadlines.
pub fn service(name: &str) -> Service {
    Service {
        name: name.to_string(),
        replicas: 1,
        workers: 1,
        queue: Some(DEFAULT_QUEUE),
        discipline: Discipline::Fifo,
        model: ServeModel::Blocking,
        balance: Balance::RoundRobin,
        endpoints: Vec::new(),
        kind: Kind::Service,
        state: State::Stateless,
        session_miss: Vec::new(),
        restart: Restart::Never,
        deadlines: Deadlines::Honor,
        updates: None,
    }
}

/// A `call` step with only its target written: the settings' timeout, no
/// retries, always made once, failing its request on error, under the
/// default retry budget, no breaker.
pub fn call(target: Target, settings: &Settings) -> Call {
    Call {
        service: target.service,
        endpoint: target.endpoint,
        timeout: settings.timeout,
        retries: 0,
        backoff: None,
        probability: 1.0,
        times: 1,
        request: 0,
        on_error: OnError::Fail,
        retry_budget: Some(DEFAULT_RETRY_BUDGET),
        backoff_shape: BackoffShape::default(),
        breaker: None,
    }
}

/// A generator with only its name and target written: Poisson arrivals,
/// starting with the load, [`DEFAULT_GENERATOR_TIMEOUT`], no retries, no
/// sessions (its rate or clients and duration are required).
pub fn generator(name: &str, target: Target) -> Generator {
    Generator {
        name: name.to_string(),
        target,
        mix: Vec::new(),
        pattern: Pattern::Open {
            arrivals: Arrivals::Poisson,
            stages: Vec::new(),
        },
        duration: Duration::ZERO,
        start: Duration::ZERO,
        timeout: DEFAULT_GENERATOR_TIMEOUT,
        retries: 0,
        request: 0,
        sessions: 0,
        follow: None,
    }
}
