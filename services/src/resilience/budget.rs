//! The retry budget: tower's `TpsBudget` (Finagle's design), so retries add
//! at most a share of first attempts over a sliding window, whatever
//! `retries` allows per call. Without it, every layer's retries multiply: a
//! callee in trouble sees `(1 + retries)^depth` times its load.
//!
//! tower reads the clock itself, so the simulator cannot share it: it uses
//! `topolab_rules::budget`, tower's arithmetic with the time passed in, and
//! `tests/budget_conformance.rs` holds the two to the same decisions. The
//! window and floor are the rule's, so they are set once.

use std::time::Duration;

use topolab_model::RetryBudget;
use topolab_rules::budget::{MIN_PER_SEC, WINDOW};
use tower::retry::budget::{Budget as _, TpsBudget};

/// One caller's budget towards one callee endpoint.
#[derive(Debug)]
pub struct Budget(TpsBudget);

impl Budget {
    /// A budget of `b.ratio` retries per first attempt.
    pub fn new(b: RetryBudget) -> Self {
        let window = Duration::from_nanos(WINDOW);
        Budget(TpsBudget::new(window, MIN_PER_SEC, b.ratio as f32))
    }

    /// A first attempt was made.
    pub fn deposit(&self) {
        self.0.deposit();
    }

    /// Takes one retry from the budget, if there is one.
    pub fn withdraw(&self) -> bool {
        self.0.withdraw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_capped_at_the_share_plus_the_floor() {
        let b = Budget::new(RetryBudget { ratio: 0.2 });
        for _ in 0..100 {
            b.deposit();
        }
        let granted = (0..1000).filter(|_| b.withdraw()).count();
        let floor = (u64::from(MIN_PER_SEC) * WINDOW / topolab_rules::SEC) as usize;
        assert_eq!(granted, 20 + floor);
    }
}
