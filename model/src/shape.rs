//! The shape of a generator over time, as pure functions: the due times of
//! open-loop arrivals through stages whose rate may ramp, and how many
//! closed-loop clients are active at a moment.
//!
//! Arrivals invert the integrated rate Λ(t) = ∫ λ: the k-th arrival is due at
//! Λ⁻¹(u_k), with u_k = k for constant arrivals and a sum of k exponential(1)
//! draws for Poisson ones. A constant stage is then evenly spaced, a Poisson
//! one is a Poisson process, and a ramp changes the rate continuously, with
//! no rounding of due times to any timer tick. The load generator and the
//! simulator both draw from here, so one seed gives both the same arrivals.

use crate::model::{Arrivals, ClientStage, RateStage};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Exp1};

/// Seconds from the start of the first stage to each arrival.
pub fn offsets(
    stages: Vec<RateStage>,
    arrivals: Arrivals,
    seed: u64,
) -> impl Iterator<Item = f64> + Send + 'static {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut u = 0.0_f64; // the integrated rate of the next arrival
    let mut first = true;
    let mut stage = 0;
    let mut stage_t0 = 0.0_f64; // seconds at which `stage` starts
    let mut stage_u0 = 0.0_f64; // Λ at that moment
    std::iter::from_fn(move || {
        let step: f64 = match arrivals {
            // The first constant arrival is due at once, then one per 1/λ.
            Arrivals::Constant if first => 0.0,
            Arrivals::Constant => 1.0,
            Arrivals::Poisson => Exp1.sample(&mut rng),
        };
        first = false;
        u += step;
        loop {
            let s = stages.get(stage)?;
            let len = s.duration.as_secs_f64();
            let v = u - stage_u0;
            // The end of a stage belongs to the next one: `[t0, t0 + len)`.
            if v < s.expected() {
                return Some(stage_t0 + invert(s.from, s.to, len, v).min(len));
            }
            stage_u0 += s.expected();
            stage_t0 += len;
            stage += 1;
        }
    })
}

/// The time t in a stage at which a + (b - a)·t / T integrated from 0 reaches
/// `v`: the root of k·t² + a·t − v = 0 with k = (b − a) / 2T, written in the
/// form that stays exact when k is tiny or zero.
fn invert(a: f64, b: f64, len: f64, v: f64) -> f64 {
    if v <= 0.0 {
        return 0.0;
    }
    let k = (b - a) / (2.0 * len);
    let disc = (a * a + 4.0 * k * v).max(0.0);
    2.0 * v / (a + disc.sqrt())
}

/// How many clients a closed loop has at `t` seconds after its start (0
/// once every stage is over).
pub fn clients_at(stages: &[ClientStage], t: f64) -> u32 {
    let mut t0 = 0.0;
    for s in stages {
        let end = t0 + s.duration.as_secs_f64();
        if t < end {
            return s.clients;
        }
        t0 = end;
    }
    0
}

/// When client `c` (counted from 0) next becomes active at or after `t`
/// seconds: `None` if it never does again.
pub fn next_active(stages: &[ClientStage], c: u32, t: f64) -> Option<f64> {
    let mut t0 = 0.0;
    for s in stages {
        let end = t0 + s.duration.as_secs_f64();
        if end > t && c < s.clients {
            return Some(t0.max(t));
        }
        t0 = end;
    }
    None
}

/// The end, in seconds from the generator's start, of client `c`'s active
/// stretch that contains `t` (consecutive stages with more than `c`
/// clients): when a following client's turn ends, for the launcher's
/// clients and the simulator's alike.
pub fn active_until(stages: &[ClientStage], c: u32, t: f64) -> f64 {
    let mut t0 = 0.0;
    let mut end = t;
    for s in stages {
        let t1 = t0 + s.duration.as_secs_f64();
        if t1 > t {
            if c < s.clients {
                end = t1;
            } else if t0 >= t {
                break;
            }
        }
        t0 = t1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_client_stays_active_across_stages_that_include_it() {
        let st = |clients, secs| ClientStage {
            clients,
            duration: Duration::from_secs(secs),
        };
        let stages = [st(2, 10), st(3, 10), st(1, 10), st(3, 10)];
        assert_eq!(active_until(&stages, 1, 0.0), 20.0);
        assert_eq!(active_until(&stages, 0, 5.0), 40.0);
        assert_eq!(active_until(&stages, 2, 12.0), 20.0);
        assert_eq!(active_until(&stages, 2, 31.0), 40.0);
    }

    fn stage(from: f64, to: f64, secs: f64) -> RateStage {
        RateStage {
            from,
            to,
            duration: Duration::from_secs_f64(secs),
        }
    }

    fn count_in(xs: &[f64], a: f64, b: f64) -> usize {
        xs.iter().filter(|&&x| x >= a && x < b).count()
    }

    fn cv(xs: &[f64]) -> f64 {
        let gaps: Vec<f64> = xs.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        var.sqrt() / mean
    }

    #[test]
    fn constant_200_per_second_for_2s_is_400_evenly_spaced() {
        let xs: Vec<f64> = offsets(vec![stage(200.0, 200.0, 2.0)], Arrivals::Constant, 1).collect();
        assert_eq!(xs.len(), 400);
        assert_eq!(xs[0], 0.0);
        assert!((xs[1] - 0.005).abs() < 1e-12);
        assert!(cv(&xs) < 1e-6, "cv {}", cv(&xs));
    }

    #[test]
    fn poisson_gaps_have_cv_near_one() {
        let xs: Vec<f64> =
            offsets(vec![stage(100.0, 100.0, 100.0)], Arrivals::Poisson, 9).collect();
        assert!((xs.len() as f64 - 10_000.0).abs() < 400.0, "{}", xs.len());
        assert!((cv(&xs) - 1.0).abs() < 0.05, "cv {}", cv(&xs));
    }

    #[test]
    fn stages_change_the_rate_at_their_boundaries() {
        let st = vec![
            stage(10.0, 10.0, 2.0),
            stage(100.0, 100.0, 1.0),
            stage(0.0, 0.0, 1.0),
            stage(1.0, 1.0, 2.0),
        ];
        let xs: Vec<f64> = offsets(st, Arrivals::Constant, 1).collect();
        assert_eq!(count_in(&xs, 0.0, 2.0), 20);
        assert_eq!(count_in(&xs, 2.0, 3.0), 100);
        assert_eq!(count_in(&xs, 3.0, 4.0), 0);
        assert_eq!(count_in(&xs, 4.0, 6.0), 2);
        assert_eq!(xs.len(), 122);
    }

    #[test]
    fn a_ramp_rises_linearly() {
        // 0 -> 100/s over 10 s: Λ(t) = 5 t², 500 arrivals in all, and the
        // count up to t grows with t².
        let xs: Vec<f64> = offsets(vec![stage(0.0, 100.0, 10.0)], Arrivals::Constant, 1).collect();
        assert_eq!(xs.len(), 500);
        for t in [1.0, 2.5, 5.0, 7.5] {
            let want = 5.0 * t * t;
            let got = count_in(&xs, 0.0, t) as f64;
            assert!((got - want).abs() <= 1.0, "by {t}s: {got} vs {want}");
        }
        // Falling ramps too.
        let xs: Vec<f64> = offsets(vec![stage(100.0, 0.0, 10.0)], Arrivals::Poisson, 3).collect();
        let early = count_in(&xs, 0.0, 2.0) as f64; // expected 180
        let late = count_in(&xs, 8.0, 10.0) as f64; // expected 20
        assert!(
            (early - 180.0).abs() < 50.0 && late < 45.0,
            "{early} {late}"
        );
    }

    #[test]
    fn slow_and_fast_rates() {
        let xs: Vec<f64> = offsets(vec![stage(0.1, 0.1, 30.0)], Arrivals::Constant, 1).collect();
        assert_eq!(xs, [0.0, 10.0, 20.0]);
        let n = offsets(vec![stage(40_000.0, 40_000.0, 1.0)], Arrivals::Constant, 1).count();
        assert_eq!(n, 40_000);
    }

    #[test]
    fn clients_follow_their_stages() {
        let st = [
            ClientStage {
                clients: 2,
                duration: Duration::from_secs(1),
            },
            ClientStage {
                clients: 5,
                duration: Duration::from_secs(1),
            },
        ];
        assert_eq!(clients_at(&st, 0.5), 2);
        assert_eq!(clients_at(&st, 1.5), 5);
        assert_eq!(clients_at(&st, 2.5), 0);
        assert_eq!(next_active(&st, 0, 0.3), Some(0.3));
        assert_eq!(next_active(&st, 4, 0.3), Some(1.0));
        assert_eq!(next_active(&st, 5, 0.3), None);
    }
}
