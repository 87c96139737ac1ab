//! The checked form of what runs many servers: balancer hops, sessions,
//! restarts, deadline handling, the resilience policies of a call step
//! (retry budget, backoff growth and jitter, circuit breaker) and the faults
//! timeline. Kept apart from [`crate::model`] so the core types stay small.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Balance, ErrorInjection};

/// What a service is: ordinary, or a load-balancer hop in front of another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Service,
    /// A process of its own that forwards each request to one replica of
    /// `backend` picked by `policy`; its endpoints mirror the backend's.
    Balancer {
        backend: String,
        policy: Balance,
    },
}

/// Whether replicas remember their callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Stateless,
    /// Each replica remembers, in memory, the session keys it has served;
    /// an unseen key runs the service's `session_miss` steps first.
    Sessions,
}

/// What the launcher does when a replica's process dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    Never,
    /// Start a fresh process (empty memory) on the same address.
    Always,
}

/// Whether a replica heeds its callers' deadlines (load shedding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deadlines {
    /// Drop a queued request whose caller's deadline passed, stop working on
    /// one whose caller went away, and cut calls to the time left.
    Honor,
    /// Serve every admitted request to the end, as servers that ignore
    /// deadlines and cancellation do: the work for callers that gave up is
    /// wasted, which is what turns a slowdown into lasting overload.
    Ignore,
}

/// `retry_budget`: retries may add at most this share of a caller's first
/// attempts to one callee, over a sliding window (tower's `TpsBudget`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetryBudget {
    /// Retries per first attempt, 0.0..=1.0 (`20%`).
    pub ratio: f64,
}

/// How long before each retry: the `backoff` sample, grown and jittered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BackoffShape {
    /// Each retry waits this many times longer than the one before (`2x`).
    pub multiplier: f64,
    /// Share of the wait drawn at random: the wait is uniform in
    /// `[(1 - jitter) * w, w]`, so callers that failed together spread out.
    pub jitter: f64,
}

impl BackoffShape {
    /// The wait before retry number `retry` (1 for the first), given a
    /// `sample` of the step's `backoff` and a uniform draw `u` in `[0, 1)`:
    /// grown by the multiplier for each retry after the first, then jittered
    /// down. The replicas and the simulator both wait this long.
    pub fn wait(&self, sample: Duration, retry: u32, u: f64) -> Duration {
        let grown = sample.as_secs_f64() * self.multiplier.powi(retry.saturating_sub(1) as i32);
        let jittered = grown * (1.0 - self.jitter * u);
        // Capped so a long chain of doublings cannot overflow a Duration.
        Duration::from_secs_f64(jittered.clamp(0.0, 3600.0))
    }
}

impl Default for BackoffShape {
    fn default() -> Self {
        BackoffShape {
            multiplier: 1.0,
            jitter: 0.0,
        }
    }
}

/// `breaker`: a circuit breaker per caller replica and callee endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Breaker {
    /// Opens when at least this share of the calls in `window` failed...
    pub failures: f64,
    /// ...over this sliding window...
    pub window: Duration,
    /// ...and the window holds at least this many calls.
    pub min_calls: u32,
    /// While open, calls fail at once with UNAVAILABLE, for this long.
    pub open_for: Duration,
    /// Then half-open: this many trial calls go through; all OK closes it,
    /// any failure opens it again.
    pub probes: u32,
}

/// One fault of the `faults` timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// From the start of load.
    pub at: Duration,
    /// How long it lasts; `None`: until the end of the run.
    pub duration: Option<Duration>,
    pub target: FaultTarget,
    pub action: FaultAction,
}

/// A service (all its replicas) or one replica, `db#1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultTarget {
    pub service: String,
    pub replica: Option<u32>,
}

impl std::fmt::Display for FaultTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.replica {
            Some(i) => write!(f, "{}#{i}", self.service),
            None => f.write_str(&self.service),
        }
    }
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// `work` steps take this many times longer.
    Slow(f64),
    /// Requests fail at this rate with this status.
    Errors(ErrorInjection),
    /// SIGKILL; `restart: always` brings a fresh process back.
    Kill,
    /// SIGSTOP, then SIGCONT when the fault ends.
    Pause,
}

impl std::fmt::Display for FaultAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FaultAction::Slow(x) => write!(f, "slow {x}x"),
            FaultAction::Errors(e) => write!(f, "errors {}% {}", e.rate * 100.0, e.status),
            FaultAction::Kill => f.write_str("kill"),
            FaultAction::Pause => f.write_str("pause"),
        }
    }
}
