//! The resilience policies of a caller, per callee endpoint: a retry budget
//! and a circuit breaker (each a [`Guard`] kept for the replica's life). The
//! decisions are `topolab_rules`' (the simulator's too): which failures are
//! retried (`retry`), the breaker's phases (`breaker`), the budget's
//! arithmetic (`budget`, which tower's `TpsBudget` makes here) and the wait
//! between retries (`backoff`).
//!
//! # Order
//!
//! One `call` step wraps each of its `times` repetitions in these layers,
//! outermost first (as tower's `ServiceBuilder` lists them):
//!
//! 1. **retries** ([`crate::executor`]): on UNAVAILABLE, DEADLINE_EXCEEDED or
//!    RESOURCE_EXHAUSTED, while `retries` are left *and* the [`budget`] allows
//!    one, after a backoff wait;
//! 2. **circuit breaker** ([`breaker`]): an open breaker fails the attempt at
//!    once with UNAVAILABLE, which is not retried;
//! 3. **timeout**: the step's per-attempt `timeout`, cut to the caller's
//!    remaining deadline, which travels on as `grpc-timeout`;
//! 4. **balance** ([`crate::balance`]): pick a replica of the callee;
//! 5. the connection to that replica.
//!
//! So a retry is a new attempt through the breaker, with a fresh timeout and,
//! possibly, another replica; and the breaker counts attempts, not calls.

pub mod breaker;
pub mod budget;

use std::sync::atomic::{AtomicU64, Ordering};

use topolab_model::Call;

pub use breaker::{Breaker, Refused, Ticket};
pub use budget::Budget;

/// What guards a caller's calls to one callee endpoint.
#[derive(Debug)]
pub struct Guard {
    budget: Option<Budget>,
    breaker: Option<Breaker>,
    retries: AtomicU64,
    retries_denied: AtomicU64,
}

impl Guard {
    /// The guard for `call`'s callee, as the first step calling it says.
    pub fn new(call: &Call) -> Self {
        Guard {
            budget: call.retry_budget.map(Budget::new),
            breaker: call.breaker.map(Breaker::new),
            retries: AtomicU64::new(0),
            retries_denied: AtomicU64::new(0),
        }
    }

    /// A call begins: its first attempt earns the budget its share of retries.
    pub fn first_attempt(&self) {
        if let Some(b) = &self.budget {
            b.deposit();
        }
    }

    /// Whether one more retry may go; counted either way.
    pub fn allow_retry(&self) -> bool {
        let ok = self.budget.as_ref().is_none_or(Budget::withdraw);
        let counter = if ok {
            &self.retries
        } else {
            &self.retries_denied
        };
        counter.fetch_add(1, Ordering::Relaxed);
        ok
    }

    /// Lets an attempt through the breaker, or refuses it (breaker open).
    pub fn admit(&self) -> Result<Option<Ticket<'_>>, Refused> {
        match &self.breaker {
            Some(b) => b.admit().map(Some),
            None => Ok(None),
        }
    }

    /// The breaker's state (0 closed, 1 open, 2 half-open), if there is one.
    pub fn breaker_state(&self) -> Option<u8> {
        self.breaker.as_ref().map(Breaker::state_code)
    }

    /// (retries, retries denied, breaker rejections, breaker openings).
    pub fn counts(&self) -> (u64, u64, u64, u64) {
        let (rejected, opened) = self.breaker.as_ref().map_or((0, 0), Breaker::counts);
        (
            self.retries.load(Ordering::Relaxed),
            self.retries_denied.load(Ordering::Relaxed),
            rejected,
            opened,
        )
    }
}
