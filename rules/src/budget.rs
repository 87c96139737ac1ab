//! The retry budget of one caller towards one callee endpoint: retries may
//! add at most `ratio` of its first attempts over a sliding [`WINDOW`], plus
//! [`MIN_PER_SEC`] so a caller that has just started can retry a little.
//! Without it, every layer's retries multiply: a callee in trouble sees
//! `(1 + retries)^depth` times its load.
//!
//! The replicas use tower's `TpsBudget` (Finagle's design), which reads the
//! clock itself, so this is its arithmetic with the time passed in: ten
//! slots of a tenth of the window each, a slot's tokens committed when the
//! slot ends, integer tokens (a deposit is worth 1, a withdrawal
//! `1 / ratio` rounded down). The simulator uses it; a conformance test in
//! `services` (`budget_conformance`) holds tower and this to the same
//! decisions for the same events.

use crate::{Nanos, SEC};

/// The window over which first attempts earn retries.
pub const WINDOW: Nanos = 10 * SEC;

/// Retries allowed per second on top of the share.
pub const MIN_PER_SEC: u32 = 1;

/// tower's slots per window.
const SLOTS: usize = 10;

/// One slot's span.
const SLOT: Nanos = WINDOW / SLOTS as Nanos;

/// One budget.
#[derive(Debug, Clone)]
pub struct Budget {
    /// The slot being filled, and since when (tower's "generation").
    index: usize,
    since: Nanos,
    slots: [i64; SLOTS],
    /// The current slot's tokens, committed to `slots[index]` when it ends.
    writer: i64,
    /// Tokens always there: `MIN_PER_SEC` over the window.
    reserve: i64,
    deposit: i64,
    withdraw: i64,
}

impl Budget {
    /// A budget of `ratio` retries per first attempt, made at `now`.
    pub fn new(ratio: f64, now: Nanos) -> Self {
        // tower takes the share as an f32 and rounds the price of a retry down.
        let percent = ratio as f32;
        let (deposit, withdraw) = if percent <= 0.0 {
            (0, 1)
        } else if percent <= 1.0 {
            (1, (1.0 / percent) as i64)
        } else {
            (1000, (1000.0 / percent) as i64)
        };
        let reserve = i64::from(MIN_PER_SEC)
            .saturating_mul((WINDOW / SEC) as i64)
            .saturating_mul(withdraw);
        Budget {
            index: 0,
            since: now,
            slots: [0; SLOTS],
            writer: 0,
            reserve,
            deposit,
            withdraw,
        }
    }

    /// A first attempt was made at `now`: it earns its share of a retry.
    #[inline]
    pub fn deposit(&mut self, now: Nanos) {
        self.expire(now);
        self.writer += self.deposit;
    }

    /// Takes one retry at `now` if the budget holds one.
    pub fn withdraw(&mut self, now: Nanos) -> bool {
        self.expire(now);
        let sum = self
            .slots
            .iter()
            .fold(self.writer, |s, &x| s.saturating_add(x))
            .saturating_add(self.reserve);
        if sum >= self.withdraw {
            self.writer -= self.withdraw;
            true
        } else {
            false
        }
    }

    /// tower's expiry: once a slot's span has passed since the last expiry,
    /// the writer is committed to the current slot, and for every further
    /// span begun the next slot is emptied; the slot after those is current.
    /// (The new current slot keeps its old tokens until it is committed, as
    /// tower's does.)
    fn expire(&mut self, now: Nanos) {
        let diff = now.saturating_sub(self.since);
        if diff < SLOT {
            return;
        }
        self.slots[self.index] = std::mem::take(&mut self.writer);
        // tower empties one slot per `while diff > window { diff -= window }`.
        let emptied = (diff.div_ceil(SLOT) - 1) as usize;
        for k in 0..emptied.min(SLOTS) {
            self.slots[(self.index + 1 + k) % SLOTS] = 0;
        }
        self.index = (self.index + 1 + emptied % SLOTS) % SLOTS;
        self.since = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(b: &mut Budget, now: Nanos, asks: usize) -> usize {
        (0..asks).filter(|_| b.withdraw(now)).count()
    }

    #[test]
    fn retries_are_capped_at_the_share_plus_the_floor() {
        let mut b = Budget::new(0.2, 0);
        for _ in 0..100 {
            b.deposit(5);
        }
        assert_eq!(granted(&mut b, 6, 1000), 20 + 10);
    }

    #[test]
    fn a_share_that_is_no_reciprocal_rounds_the_price_of_a_retry_down() {
        // 1 / 0.3 = 3.33: a retry costs 3 deposits, as in tower.
        let mut b = Budget::new(0.3, 0);
        for _ in 0..30 {
            b.deposit(0);
        }
        assert_eq!(granted(&mut b, 0, 1000), 10 + 10);
    }

    #[test]
    fn no_share_leaves_the_floor_alone() {
        let mut b = Budget::new(0.0, 0);
        for _ in 0..100 {
            b.deposit(0);
        }
        assert_eq!(granted(&mut b, 0, 100), 10);
    }

    #[test]
    fn deposits_expire_after_the_window_and_the_floor_stays() {
        // A retry costs 2 deposits; the floor is 10 retries' worth (20).
        let mut b = Budget::new(0.5, 0);
        for _ in 0..10 {
            b.deposit(0);
        }
        // 1 s: the 10 deposits are committed to slot 0; one retry taken.
        assert!(b.withdraw(SEC));
        // 10 s: slot 0 is current again and keeps its tokens until it is
        // committed: 10 + 20 - 2 = 28 tokens, 14 retries.
        let mut c = b.clone();
        assert_eq!(granted(&mut c, 10 * SEC, 100), 14);
        // 11 s: slot 0 is emptied; slot 1 (current, the retry taken at
        // 1 s) is not yet: 20 - 2 = 18 tokens, 9 retries.
        assert_eq!(granted(&mut b, 11 * SEC, 100), 9);
    }

    #[test]
    fn a_long_silence_empties_every_slot() {
        let mut b = Budget::new(1.0, 0);
        for _ in 0..50 {
            b.deposit(0);
        }
        assert_eq!(granted(&mut b, 3600 * SEC, 1000), 10);
    }

    #[test]
    fn slots_are_measured_from_the_last_expiry_as_in_tower() {
        let mut b = Budget::new(1.0, 0);
        b.deposit(0);
        // 1.5 s: slot 0 committed, slot 1 emptied, slot 2 current.
        b.deposit(SEC + SEC / 2);
        assert_eq!(b.index, 2);
        assert_eq!(b.since, SEC + SEC / 2);
        // 2.4 s is only 0.9 s after the last expiry: nothing moves.
        b.deposit(2 * SEC + 4 * SEC / 10);
        assert_eq!((b.index, b.writer, b.slots[0]), (2, 2, 1));
    }
}
