//! Tolerances from statistics, not comfort: the range a binomial count (a
//! share of requests traced, failed, sent one way) falls in, at [`SIGMAS`]
//! standard deviations of its expected value.

use std::ops::RangeInclusive;

/// Standard deviations allowed either side of the expected count. Why 4σ:
/// beyond it lies 6.3e-5 of a normal distribution (both sides), so a suite
/// with ten such checks fails by chance about once in 1,600 runs, where 3σ
/// (2.7e-3) would fail one run in 37 and teach everyone to re-run red
/// builds. Yet 4σ stays tight enough to catch a wrong rate: over 400 trials
/// at 30% it is ±9 points, so 30% is told from 20% or 40%; where it is not
/// that tight, the test needs more trials, not a wider bound.
pub const SIGMAS: f64 = 4.0;

/// Least variance n·p·(1−p) (σ of 3 counts) for which the normal
/// approximation behind [`SIGMAS`] is honest; below it the distribution is
/// too skewed and too coarse for a σ bound, and the sample must grow.
const LEAST_VARIANCE: f64 = 9.0;

/// The counts that `n` independent trials succeeding with probability `p`
/// give but for a chance of 6.3e-5: n·p ± 4σ, σ = √(n·p·(1−p)). Panics when
/// `n` is too small for that bound to mean anything (see [`LEAST_VARIANCE`]).
/// For a sample drawn without replacement (a reservoir) the true spread is
/// smaller, so the bound is conservative.
pub fn binomial_range(n: u64, p: f64) -> RangeInclusive<u64> {
    assert!((0.0..=1.0).contains(&p), "a probability, not {p}");
    let mean = n as f64 * p;
    let variance = mean * (1.0 - p);
    assert!(
        variance >= LEAST_VARIANCE,
        "{n} trials at {p}: variance {variance:.1} is too small for a {SIGMAS}σ bound; raise the sample size"
    );
    let half = SIGMAS * variance.sqrt();
    let low = (mean - half).floor().max(0.0) as u64;
    let high = ((mean + half).ceil() as u64).min(n);
    low..=high
}

/// Asserts that `count` of `n` trials is where a probability of `p` puts it
/// (see [`binomial_range`]), naming `what` and the bounds when it is not.
pub fn assert_binomial(what: &str, count: u64, n: u64, p: f64) {
    let range = binomial_range(n, p);
    assert!(
        range.contains(&count),
        "{what}: {count} of {n} ({:.1}%), where {:.0}% gives {}..={} ({SIGMAS}σ)",
        100.0 * count as f64 / n.max(1) as f64,
        100.0 * p,
        range.start(),
        range.end()
    );
}
