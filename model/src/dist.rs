//! Distributions of durations (`exp(200ms)`, `uniform(1ms, 3ms)`, ...) and how
//! to sample them. Every service and generator samples from here, so the same
//! seed gives the same durations everywhere.

use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal, Normal};
use serde::{Deserialize, Serialize};

/// A distribution of non-negative durations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dist {
    /// Always the same duration.
    Const(Duration),
    /// Exponential with this mean (memoryless service times).
    Exp { mean: Duration },
    /// Uniform between `low` and `high`.
    Uniform { low: Duration, high: Duration },
    /// Normal, truncated at zero.
    Normal { mean: Duration, sd: Duration },
    /// Log-normal with this mean and standard deviation of the durations
    /// themselves (not of their logarithm), so `lognormal(10ms, 20ms)` means
    /// what a user reads.
    LogNormal { mean: Duration, sd: Duration },
}

impl Dist {
    /// Draws one duration.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let secs = match *self {
            Dist::Const(d) => return d,
            Dist::Exp { mean } => {
                if mean.is_zero() {
                    return Duration::ZERO;
                }
                // Cannot fail: lambda = 1/mean is positive and finite here.
                Exp::new(1.0 / mean.as_secs_f64())
                    .expect("positive rate")
                    .sample(rng)
            }
            Dist::Uniform { low, high } => {
                if high <= low {
                    return low;
                }
                rng.random_range(low.as_secs_f64()..high.as_secs_f64())
            }
            Dist::Normal { mean, sd } => {
                // Cannot fail: sd is finite and non-negative.
                let n = Normal::new(mean.as_secs_f64(), sd.as_secs_f64()).expect("finite sd");
                n.sample(rng)
            }
            Dist::LogNormal { mean, sd } => {
                let m = mean.as_secs_f64();
                if m <= 0.0 {
                    return Duration::ZERO;
                }
                let s = sd.as_secs_f64();
                let sigma2 = (1.0 + (s * s) / (m * m)).ln();
                let mu = m.ln() - sigma2 / 2.0;
                // Cannot fail: sigma is finite and non-negative.
                LogNormal::new(mu, sigma2.sqrt())
                    .expect("finite sigma")
                    .sample(rng)
            }
        };
        Duration::from_secs_f64(secs.max(0.0))
    }

    /// The mean of the distribution (before truncation for `normal`).
    pub fn mean(&self) -> Duration {
        match *self {
            Dist::Const(d) => d,
            Dist::Exp { mean } | Dist::Normal { mean, .. } | Dist::LogNormal { mean, .. } => mean,
            Dist::Uniform { low, high } => (low + high) / 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn mean_of(d: Dist, n: usize) -> f64 {
        let mut rng = StdRng::seed_from_u64(7);
        (0..n)
            .map(|_| d.sample(&mut rng).as_secs_f64())
            .sum::<f64>()
            / n as f64
    }

    #[test]
    fn sample_means_match_declared_means() {
        let ms = Duration::from_millis;
        for d in [
            Dist::Const(ms(5)),
            Dist::Exp { mean: ms(10) },
            Dist::Uniform {
                low: ms(1),
                high: ms(3),
            },
            Dist::Normal {
                mean: ms(10),
                sd: ms(1),
            },
            Dist::LogNormal {
                mean: ms(10),
                sd: ms(20),
            },
        ] {
            let got = mean_of(d, 200_000);
            let want = d.mean().as_secs_f64();
            assert!((got - want).abs() / want < 0.03, "{d:?}: {got} vs {want}");
        }
    }

    #[test]
    fn normal_is_truncated_at_zero() {
        let d = Dist::Normal {
            mean: Duration::from_millis(1),
            sd: Duration::from_millis(5),
        };
        let mut rng = StdRng::seed_from_u64(1);
        assert!((0..10_000).all(|_| d.sample(&mut rng) >= Duration::ZERO));
    }
}
