//! The retry budget: tower's `TpsBudget` (Finagle's design), so retries add
//! at most a share of first attempts over a sliding window, whatever
//! `retries` allows per call. Without it, every layer's retries multiply: a
//! callee in trouble sees `(1 + retries)^depth` times its load.

use std::time::Duration;

use topolab_model::RetryBudget;
use tower::retry::budget::{Budget as _, TpsBudget};

/// The window over which first attempts earn retries.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Retries allowed per second on top of the share, so a caller that has only
/// just started (or calls rarely) can still retry a little.
pub const MIN_PER_SEC: u32 = 1;

/// One caller's budget towards one callee endpoint.
#[derive(Debug)]
pub struct Budget(TpsBudget);

impl Budget {
    /// A budget of `b.ratio` retries per first attempt.
    pub fn new(b: RetryBudget) -> Self {
        Budget(TpsBudget::new(WINDOW, MIN_PER_SEC, b.ratio as f32))
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
        let floor = (MIN_PER_SEC as u64 * WINDOW.as_secs()) as usize;
        assert_eq!(granted, 20 + floor);
    }
}
