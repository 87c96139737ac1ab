//! Open-loop arrivals: requests are scheduled at their due times, Poisson or
//! evenly spaced, and sent whether or not earlier ones have answered, the way
//! independent users arrive. Latency counts from the due time, so a generator
//! that falls behind cannot hide queueing (no coordinated omission).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Exp};
use tokio::sync::watch;
use tokio::task::JoinSet;
use topolab_model::Arrivals;

use super::recorder::Recorder;
use super::target::Target;

/// Sends at `rate` per second from `begin` until `begin + duration` or until
/// `stop` turns true, then waits for every request sent to end.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    target: Arc<Target>,
    rate: f64,
    arrivals: Arrivals,
    begin: Instant,
    duration: Duration,
    seed: u64,
    recorder: Arc<Mutex<Recorder>>,
    mut stop: watch::Receiver<bool>,
    in_flight: &mut JoinSet<()>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    // Cannot fail: validation guarantees a positive, finite rate.
    let exp = Exp::new(rate).expect("positive rate");
    let end = begin + duration;
    let mut due = begin;
    if arrivals == Arrivals::Poisson {
        due += Duration::from_secs_f64(exp.sample(&mut rng));
    }
    while due < end && !*stop.borrow() {
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = stop.changed() => break,
        }
        lock(&recorder).sent(due);
        let (target, recorder) = (target.clone(), recorder.clone());
        in_flight.spawn(async move {
            let (outcome, attempts) = target.send().await;
            lock(&recorder).finish(due, outcome, attempts);
        });
        due += match arrivals {
            Arrivals::Poisson => Duration::from_secs_f64(exp.sample(&mut rng)),
            Arrivals::Constant => Duration::from_secs_f64(1.0 / rate),
        };
    }
    lock(&recorder).issue_end = Some(Instant::now().min(end));
}

/// Locks a recorder; a poisoned lock only means another task panicked while
/// counting, and the counts are still the best we have.
pub(super) fn lock(r: &Mutex<Recorder>) -> std::sync::MutexGuard<'_, Recorder> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}
