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

/// How long before each retry: the `backoff` sample, grown and jittered
/// (the arithmetic is `topolab_rules::backoff`, which replicas and the
/// simulator share).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BackoffShape {
    /// Each retry waits this many times longer than the one before (`2x`).
    pub multiplier: f64,
    /// Share of the wait drawn at random: the wait is uniform in
    /// `[(1 - jitter) * w, w]`, so callers that failed together spread out.
    pub jitter: f64,
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
