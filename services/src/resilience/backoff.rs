//! The wait before a retry: the step's `backoff` sample, grown by
//! `backoff_multiplier` for each retry after the first, then jittered, so
//! callers that failed together do not all come back at the same instant.

use std::time::Duration;

use topolab_model::BackoffShape;

/// The wait before retry number `retry` (1 for the first), given a `sample`
/// of the `backoff` distribution and a uniform draw `u` in `[0, 1)`.
/// The arithmetic lives in the model ([`BackoffShape::wait`]), so the
/// simulator waits exactly as long.
pub fn wait(sample: Duration, shape: BackoffShape, retry: u32, u: f64) -> Duration {
    shape.wait(sample, retry, u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_jitters_down() {
        let s = Duration::from_millis(10);
        let shape = BackoffShape {
            multiplier: 2.0,
            jitter: 0.5,
        };
        let ms = |r, u| (wait(s, shape, r, u).as_secs_f64() * 1e3).round();
        assert_eq!([ms(1, 0.0), ms(2, 0.0), ms(3, 0.0)], [10.0, 20.0, 40.0]);
        assert_eq!(ms(3, 0.999_999), 20.0);
        assert_eq!(ms(1, 0.5), 8.0);
        let flat = wait(s, BackoffShape::default(), 5, 0.7);
        assert_eq!(flat, s);
    }
}
