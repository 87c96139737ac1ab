//! The resilience policies of a `call` step, checked: the retry budget,
//! how backoff grows and is jittered, and the circuit breaker.

use std::time::Duration;

use serde::{Deserialize, Serialize};

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
