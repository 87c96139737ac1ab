//! Open-loop arrivals: requests are scheduled at their due times, Poisson or
//! evenly spaced, and sent whether or not earlier ones have answered, the way
//! independent users arrive. Latency counts from the due time, so a generator
//! that falls behind cannot hide queueing (no coordinated omission); how late
//! each request left is recorded too, so a generator that cannot keep up says so.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Exp};
use tokio::sync::watch;
use tokio::task::JoinSet;
use topolab_model::Arrivals;

use super::pacer;
use super::recorder::Recorder;
use super::target::Target;

/// The due times of arrivals at `rate` per second in `[begin, end)`.
pub fn schedule(
    rate: f64,
    arrivals: Arrivals,
    begin: Instant,
    end: Instant,
    seed: u64,
) -> impl Iterator<Item = Instant> + Send + 'static {
    let mut rng = StdRng::seed_from_u64(seed);
    // Cannot fail: validation guarantees a positive, finite rate.
    let exp = Exp::new(rate).expect("positive rate");
    let gap = Duration::from_secs_f64(1.0 / rate);
    let mut n: u32 = 0;
    let mut t = begin;
    std::iter::from_fn(move || {
        let due = match arrivals {
            // Computed from the start, so rounding never accumulates.
            Arrivals::Constant => begin + gap.mul_f64(f64::from(n)),
            Arrivals::Poisson => {
                t += Duration::from_secs_f64(exp.sample(&mut rng));
                t
            }
        };
        n += 1;
        (due < end).then_some(due)
    })
}

/// Sends at `rate` per second from `begin` until `begin + duration` or until
/// `stop` turns true; in-flight requests are left in `in_flight`.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    target: Arc<Target>,
    rate: f64,
    arrivals: Arrivals,
    begin: Instant,
    duration: Duration,
    seed: u64,
    recorder: Arc<Mutex<Recorder>>,
    stop: watch::Receiver<bool>,
    in_flight: &mut JoinSet<()>,
) {
    let end = begin + duration;
    let mut dues = pacer::spawn(schedule(rate, arrivals, begin, end, seed), stop);
    while let Some(due) = dues.recv().await {
        lock(&recorder).sent(due);
        let (target, recorder) = (target.clone(), recorder.clone());
        in_flight.spawn(async move {
            let late = Instant::now().saturating_duration_since(due);
            let (outcome, attempts) = target.send().await;
            let mut r = lock(&recorder);
            r.left_late(late);
            r.finish(due, outcome, attempts);
        });
    }
    lock(&recorder).issue_end = Some(Instant::now().min(end));
}

/// Locks a recorder; a poisoned lock only means another task panicked while
/// counting, and the counts are still the best we have.
pub(super) fn lock(r: &Mutex<Recorder>) -> std::sync::MutexGuard<'_, Recorder> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_schedule_has_exact_count_and_gaps() {
        let begin = Instant::now();
        let end = begin + Duration::from_secs(2);
        let dues: Vec<_> = schedule(200.0, Arrivals::Constant, begin, end, 1).collect();
        assert_eq!(dues.len(), 400);
        assert_eq!(dues[1] - dues[0], Duration::from_millis(5));
    }

    #[test]
    fn poisson_gaps_have_cv_near_one() {
        let begin = Instant::now();
        let end = begin + Duration::from_secs(100);
        let dues: Vec<_> = schedule(100.0, Arrivals::Poisson, begin, end, 9).collect();
        let gaps: Vec<f64> = dues
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        assert!(
            (dues.len() as f64 - 10_000.0).abs() < 400.0,
            "{}",
            dues.len()
        );
        assert!((cv - 1.0).abs() < 0.05, "cv {cv}");
    }
}
