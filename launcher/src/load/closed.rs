//! Closed-loop clients: each sends one request, waits for its answer, thinks,
//! and repeats, so the number in flight never exceeds the number of clients
//! and a slow server slows its own arrivals (as real users who wait do).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::watch;
use tokio::task::JoinSet;
use topolab_model::Dist;

use super::open::lock;
use super::recorder::Recorder;
use super::target::Target;

/// Starts `clients` loops from `begin` until `begin + duration` or `stop`.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    target: Arc<Target>,
    clients: u32,
    think: Option<Dist>,
    begin: Instant,
    duration: Duration,
    seed: u64,
    recorder: Arc<Mutex<Recorder>>,
    stop: watch::Receiver<bool>,
    in_flight: &mut JoinSet<()>,
) {
    let end = begin + duration;
    tokio::time::sleep_until(begin.into()).await;
    for c in 0..clients {
        let (target, recorder, mut stop) = (target.clone(), recorder.clone(), stop.clone());
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(u64::from(c)));
        in_flight.spawn(async move {
            while Instant::now() < end && !*stop.borrow() {
                let due = Instant::now();
                lock(&recorder).sent(due);
                let (outcome, attempts) = target.send().await;
                lock(&recorder).finish(due, outcome, attempts);
                if let Some(think) = think {
                    let left = end.saturating_duration_since(Instant::now());
                    let pause = think.sample(&mut rng).min(left);
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = stop.changed() => break,
                    }
                }
            }
        });
    }
    let mut stop = stop;
    tokio::select! {
        _ = tokio::time::sleep_until(end.into()) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
    lock(&recorder).issue_end = Some(Instant::now().min(end));
}
