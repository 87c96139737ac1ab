//! A distribution fitted to a histogram of durations: each of the
//! format's distributions (exp, lognormal, normal, uniform) is fitted by
//! its moments and judged by the Kolmogorov-Smirnov distance to the
//! observed durations; the closest wins, a nearly constant sample is
//! `constant`, and the verdict (distance, p-value, what else was tried) is
//! kept for the file's comment.

use hdrhistogram::Histogram;

/// Below this coefficient of variation a duration is written as a constant.
pub const CONSTANT_CV: f64 = 0.05;
/// The p-value under which no fit is taken to fit.
pub const ALPHA: f64 = 0.01;

/// A fitted distribution, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fitted {
    Const(f64),
    Exp { mean: f64 },
    LogNormal { mean: f64, sd: f64 },
    Normal { mean: f64, sd: f64 },
    Uniform { low: f64, high: f64 },
}

impl Fitted {
    /// Its name in the format.
    pub fn name(&self) -> &'static str {
        match self {
            Fitted::Const(_) => "constant",
            Fitted::Exp { .. } => "exp",
            Fitted::LogNormal { .. } => "lognormal",
            Fitted::Normal { .. } => "normal",
            Fitted::Uniform { .. } => "uniform",
        }
    }

    /// The cumulative probability at `x` ns.
    pub fn cdf(&self, x: f64) -> f64 {
        match *self {
            Fitted::Const(c) => f64::from(u8::from(x >= c)),
            Fitted::Exp { mean } => {
                if x <= 0.0 {
                    0.0
                } else {
                    1.0 - (-x / mean).exp()
                }
            }
            Fitted::LogNormal { mean, sd } => {
                if x <= 0.0 {
                    return 0.0;
                }
                let (mu, sigma) = log_params(mean, sd);
                phi((x.ln() - mu) / sigma)
            }
            Fitted::Normal { mean, sd } => {
                // Truncated at zero, as the format samples it.
                let below = phi(-mean / sd);
                ((phi((x - mean) / sd) - below) / (1.0 - below)).max(0.0)
            }
            Fitted::Uniform { low, high } => ((x - low) / (high - low)).clamp(0.0, 1.0),
        }
    }

    /// As the format writes it, e.g. `lognormal(4.87ms, 2.1ms)`.
    pub fn to_yaml(&self) -> String {
        match *self {
            Fitted::Const(c) => duration(c),
            Fitted::Exp { mean } => format!("exp({})", duration(mean)),
            Fitted::LogNormal { mean, sd } => {
                format!("lognormal({}, {})", duration(mean), duration(sd))
            }
            Fitted::Normal { mean, sd } => format!("normal({}, {})", duration(mean), duration(sd)),
            Fitted::Uniform { low, high } => {
                format!("uniform({}, {})", duration(low), duration(high))
            }
        }
    }
}

/// μ and σ of the logarithm, from the mean and sd of the durations.
fn log_params(mean: f64, sd: f64) -> (f64, f64) {
    let s2 = (1.0 + (sd * sd) / (mean * mean)).ln();
    (mean.ln() - s2 / 2.0, s2.sqrt().max(1e-12))
}

/// The standard normal CDF.
pub fn phi(z: f64) -> f64 {
    0.5 * (1.0 + libm::erf(z / std::f64::consts::SQRT_2))
}

/// A duration in ns as the format writes it: µs below a millisecond, else
/// ms with up to three decimals.
pub fn duration(ns: f64) -> String {
    let us = (ns.max(0.0) / 1e3).round().max(1.0);
    if us < 1000.0 {
        format!("{us}us")
    } else {
        let ms = format!("{:.3}", us / 1e3);
        format!("{}ms", ms.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// The chosen fit and how well it holds.
#[derive(Debug, Clone)]
pub struct Fit {
    pub dist: Fitted,
    pub samples: u64,
    /// KS distance to the sample (0 for a constant).
    pub d: f64,
    pub p: f64,
    /// Every candidate tried, with its distance.
    pub tried: Vec<(Fitted, f64)>,
    pub mean: f64,
    pub sd: f64,
    pub p50: f64,
    pub p99: f64,
}

impl Fit {
    /// Whether the goodness-of-fit test accepts it.
    pub fn fits(&self) -> bool {
        matches!(self.dist, Fitted::Const(_)) || self.p >= ALPHA
    }

    /// The comment that goes beside it in the file.
    pub fn comment(&self) -> String {
        let what = format!(
            "self time of {} requests (mean {}, p50 {}, p99 {})",
            self.samples,
            duration(self.mean),
            duration(self.p50),
            duration(self.p99)
        );
        if let Fitted::Const(_) = self.dist {
            return format!("{what}: constant (sd/mean under {CONSTANT_CV})");
        }
        let others: Vec<String> = self
            .tried
            .iter()
            .filter(|(f, _)| f != &self.dist)
            .map(|(f, d)| match f.name() == self.dist.name() {
                true => format!("{} fitted otherwise D={d:.3}", f.name()),
                false => format!("{} D={d:.3}", f.name()),
            })
            .collect();
        let verdict = if self.fits() {
            "fits"
        } else {
            "closest, but rejected by the test: the format has no empirical distribution"
        };
        format!(
            "{what}: {} {verdict} (KS D={:.3}, p={:.2}; {})",
            self.dist.name(),
            self.d,
            self.p,
            others.join(", ")
        )
    }
}

/// Fits `h` (durations in ns); `None` when it is empty.
pub fn fit(h: &Histogram<u64>) -> Option<Fit> {
    let n = h.len();
    if n == 0 {
        return None;
    }
    let (mean, sd) = (h.mean(), h.stdev());
    let (min, max) = (h.min() as f64, h.max() as f64);
    let (p50, p99) = (
        h.value_at_quantile(0.5) as f64,
        h.value_at_quantile(0.99) as f64,
    );
    let base = |dist, d, p, tried| Fit {
        dist,
        samples: n,
        d,
        p,
        tried,
        mean,
        sd,
        p50,
        p99,
    };
    if mean <= 0.0 || sd / mean < CONSTANT_CV || n < 3 {
        return Some(base(Fitted::Const(mean), 0.0, 1.0, Vec::new()));
    }
    // The lognormal two ways: by the moments of the logarithms (its
    // maximum-likelihood fit, held by the bulk of the sample) and by the
    // moments of the durations (held by the tail as well).
    let (mut sl, mut sl2, mut nl) = (0.0, 0.0, 0.0);
    for v in h.iter_recorded() {
        let x = (h.median_equivalent(v.value_iterated_to()).max(1) as f64).ln();
        let c = v.count_at_value() as f64;
        sl += x * c;
        sl2 += x * x * c;
        nl += c;
    }
    let mu = sl / nl;
    let s2 = (sl2 / nl - mu * mu).max(0.0);
    let ml_mean = (mu + s2 / 2.0).exp();
    let ml_sd = ml_mean * (s2.exp() - 1.0).sqrt();
    let candidates = [
        Fitted::LogNormal {
            mean: ml_mean,
            sd: ml_sd,
        },
        Fitted::LogNormal { mean, sd },
        Fitted::Exp { mean },
        Fitted::Normal { mean, sd },
        Fitted::Uniform {
            low: min,
            high: max.max(min + 1.0),
        },
    ];
    let tried: Vec<(Fitted, f64)> = candidates.iter().map(|c| (*c, ks(h, c))).collect();
    let (best, d) = tried
        .iter()
        .copied()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("candidates are not empty");
    Some(base(best, d, ks_p(d, n as f64), tried))
}

/// The Kolmogorov-Smirnov distance between the histogram's durations and `f`.
pub fn ks(h: &Histogram<u64>, f: &Fitted) -> f64 {
    let n = h.len() as f64;
    let mut below = 0u64;
    let mut d = 0.0f64;
    for v in h.iter_recorded() {
        let x = h.median_equivalent(v.value_iterated_to()) as f64;
        let before = below as f64 / n;
        below += v.count_at_value();
        let after = below as f64 / n;
        let c = f.cdf(x);
        d = d.max((c - before).abs()).max((c - after).abs());
    }
    d
}

/// The two-sample KS distance between two histograms.
pub fn ks2(a: &Histogram<u64>, b: &Histogram<u64>) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let mut xs: Vec<u64> = a
        .iter_recorded()
        .chain(b.iter_recorded())
        .map(|v| v.value_iterated_to())
        .collect();
    xs.sort_unstable();
    xs.dedup();
    xs.iter()
        .map(|&x| (a.count_between(0, x) as f64 / na - b.count_between(0, x) as f64 / nb).abs())
        .fold(0.0, f64::max)
}

/// The p-value of a KS distance `d` for `n` samples (Kolmogorov's limit
/// with Stephens' correction for small samples).
pub fn ks_p(d: f64, n: f64) -> f64 {
    let sq = n.sqrt();
    let lambda = (sq + 0.12 + 0.11 / sq) * d;
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let k = f64::from(k);
        let term = 2.0 * (-1f64).powf(k - 1.0) * (-2.0 * k * k * lambda * lambda).exp();
        sum += term;
        if term.abs() < 1e-12 {
            break;
        }
    }
    sum.clamp(0.0, 1.0)
}

/// A histogram for durations in ns from 1 ns to an hour, three digits.
pub fn histogram() -> Histogram<u64> {
    // Cannot fail: the bounds and precision are valid constants.
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, LogNormal, Normal, Uniform};

    fn sample(d: impl Distribution<f64>) -> Histogram<u64> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut h = histogram();
        for _ in 0..4000 {
            h.record(d.sample(&mut rng).max(1.0) as u64).unwrap();
        }
        h
    }

    #[test]
    fn each_distribution_is_told_apart() {
        let ln = fit(&sample(LogNormal::new(15.0, 0.6).unwrap())).unwrap();
        assert_eq!(ln.dist.name(), "lognormal", "{}", ln.comment());
        assert!(ln.fits(), "{}", ln.comment());
        let n = fit(&sample(Normal::new(5e6, 5e5).unwrap())).unwrap();
        assert_eq!(n.dist.name(), "normal", "{}", n.comment());
        let u = fit(&sample(Uniform::new(1e6, 3e6).unwrap())).unwrap();
        assert_eq!(u.dist.name(), "uniform", "{}", u.comment());
        let e = fit(&sample(rand_distr::Exp::new(1.0 / 2e6).unwrap())).unwrap();
        assert_eq!(e.dist.name(), "exp", "{}", e.comment());
        let c = fit(&sample(Normal::new(1e6, 1e4).unwrap())).unwrap();
        assert_eq!(c.dist.name(), "constant");
        assert_eq!(c.dist.to_yaml(), "1ms");
    }

    #[test]
    fn the_p_value_falls_with_the_distance() {
        assert!(ks_p(0.01, 1000.0) > 0.9);
        assert!((ks_p(0.0515, 1000.0) - 0.01).abs() < 0.003);
        assert!(ks_p(0.2, 1000.0) < 1e-6);
    }
}
