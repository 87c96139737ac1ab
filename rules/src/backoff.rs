//! The wait before a retry: a sample of the step's `backoff`, grown by
//! `backoff_multiplier` for each retry after the first, then jittered down
//! by up to `backoff_jitter` of itself, so callers that failed together do
//! not all come back at the same instant. Shared so that a simulated retry
//! comes back exactly when a replica's would, for the same draws.

use std::time::Duration;

use rand::Rng;
use topolab_model::{BackoffShape, Dist};

/// The longest wait: a long chain of doublings cannot overflow a `Duration`.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// The wait before retry number `retry` (1 for the first), given a `sample`
/// of the step's `backoff` and a uniform draw `u` in `[0, 1)`: the wait is
/// uniform in `[(1 - jitter) * w, w]` for the grown sample `w`.
pub fn wait(shape: BackoffShape, sample: Duration, retry: u32, u: f64) -> Duration {
    let grown = sample.as_secs_f64() * shape.multiplier.powi(retry.saturating_sub(1) as i32);
    let jittered = grown * (1.0 - shape.jitter * u);
    Duration::from_secs_f64(jittered.clamp(0.0, MAX_WAIT.as_secs_f64()))
}

/// The wait before retry number `retry`, drawn from `rng`: first the
/// `backoff` sample, then the jitter (in that order, so one stream of draws
/// gives the same waits wherever it is drawn).
pub fn draw(backoff: &Dist, shape: BackoffShape, retry: u32, rng: &mut impl Rng) -> Duration {
    let sample = backoff.sample(rng);
    let u: f64 = rng.random();
    wait(shape, sample, retry, u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn ms(d: Duration) -> f64 {
        (d.as_secs_f64() * 1e3).round()
    }

    #[test]
    fn grows_then_jitters_down() {
        let s = Duration::from_millis(10);
        let shape = BackoffShape {
            multiplier: 2.0,
            jitter: 0.5,
        };
        let w = |r, u| ms(wait(shape, s, r, u));
        assert_eq!([w(1, 0.0), w(2, 0.0), w(3, 0.0)], [10.0, 20.0, 40.0]);
        assert_eq!(w(3, 0.999_999), 20.0);
        assert_eq!(w(1, 0.5), 8.0);
    }

    #[test]
    fn the_default_shape_waits_the_sample() {
        let s = Duration::from_millis(10);
        assert_eq!(wait(BackoffShape::default(), s, 5, 0.7), s);
    }

    #[test]
    fn doublings_stop_at_an_hour() {
        let shape = BackoffShape {
            multiplier: 2.0,
            jitter: 0.0,
        };
        assert_eq!(wait(shape, Duration::from_secs(1), 64, 0.0), MAX_WAIT);
    }

    #[test]
    fn draw_takes_the_sample_then_the_jitter() {
        let shape = BackoffShape {
            multiplier: 3.0,
            jitter: 1.0,
        };
        let d = Dist::Uniform {
            low: Duration::from_millis(10),
            high: Duration::from_millis(20),
        };
        let mut a = SmallRng::seed_from_u64(3);
        let mut b = a.clone();
        let sample = d.sample(&mut b);
        let u: f64 = b.random();
        assert_eq!(draw(&d, shape, 2, &mut a), wait(shape, sample, 2, u));
    }
}
