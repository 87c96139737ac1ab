//! The retry budget cannot be shared: a replica uses tower's `TpsBudget`,
//! which reads tokio's clock, and the simulator `topolab_rules::budget`,
//! which is told the time. So this feeds both the same events (first
//! attempts and retries asked for, at the same instants of a paused clock)
//! and requires the same decision for every retry, over shares that are and
//! are not reciprocals of whole numbers and gaps from nothing to a minute,
//! landing on, just before and just after the edges of tower's slots.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;
use topolab_model::RetryBudget;
use topolab_rules::budget;
use topolab_rules::{Nanos, SEC};
use topolab_services::resilience::Budget;

/// A gap before the next event: mostly none or short, sometimes a slot
/// edge to the nanosecond, sometimes long enough to empty every slot.
fn gap(rng: &mut impl Rng) -> Nanos {
    match rng.random_range(0..100) {
        0..40 => 0,
        40..70 => rng.random_range(0..100_000_000),
        70..76 => SEC,
        76..80 => SEC - 1,
        80..84 => SEC + 1,
        84..96 => rng.random_range(0..3 * SEC),
        _ => rng.random_range(5 * SEC..60 * SEC),
    }
}

/// Feeds `events` to both budgets of `ratio`; returns the retries granted
/// and refused (the same for both, or it panics at the first difference).
async fn replay(ratio: f64, seed: u64, events: usize) -> (usize, usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let origin = Instant::now();
    let tower = Budget::new(RetryBudget { ratio });
    let mut rule = budget::Budget::new(ratio, 0);
    let (mut granted, mut refused) = (0, 0);
    // Bursts of first attempts, then of retries, so the budget both fills
    // and runs dry.
    let mut retrying = false;
    for i in 0..events {
        tokio::time::advance(Duration::from_nanos(gap(&mut rng))).await;
        let now = Instant::now().duration_since(origin).as_nanos() as Nanos;
        if rng.random_bool(0.05) {
            retrying = !retrying;
        }
        if rng.random_bool(if retrying { 0.8 } else { 0.2 }) {
            let (t, r) = (tower.withdraw(), rule.withdraw(now));
            assert_eq!(
                t, r,
                "ratio {ratio}, seed {seed}, event {i} at {now} ns: tower {t}, rule {r}"
            );
            if t {
                granted += 1;
            } else {
                refused += 1;
            }
        } else {
            tower.deposit();
            rule.deposit(now);
        }
    }
    (granted, refused)
}

#[tokio::test(start_paused = true)]
async fn budget_conformance() {
    for ratio in [0.0, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 0.7, 1.0] {
        for seed in 0..4 {
            let (granted, refused) = replay(ratio, seed, 5_000).await;
            // Both decisions were tested, or the case proves nothing.
            assert!(
                granted > 50 && refused > 50,
                "ratio {ratio}, seed {seed}: {granted} granted, {refused} refused"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn budget_conformance_at_the_slot_edges() {
    // Every gap a whole slot or a nanosecond either side of one.
    let origin = Instant::now();
    let tower = Budget::new(RetryBudget { ratio: 0.5 });
    let mut rule = budget::Budget::new(0.5, 0);
    let mut rng = StdRng::seed_from_u64(9);
    for i in 0..3_000 {
        let step = [SEC - 1, SEC, SEC + 1, 0, 2 * SEC][rng.random_range(0..5)];
        tokio::time::advance(Duration::from_nanos(step)).await;
        let now = Instant::now().duration_since(origin).as_nanos() as Nanos;
        for _ in 0..rng.random_range(0..4) {
            tower.deposit();
            rule.deposit(now);
        }
        for _ in 0..rng.random_range(0..4) {
            assert_eq!(
                tower.withdraw(),
                rule.withdraw(now),
                "event {i} at {now} ns"
            );
        }
    }
}
