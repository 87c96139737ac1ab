//! Open-loop arrivals: requests are scheduled at their due times (see
//! [`super::shape`]) and sent whether or not earlier ones have answered, the
//! way independent users arrive. Latency counts from the due time, so a
//! generator that falls behind cannot hide queueing (no coordinated
//! omission); how late each request left is recorded too, so a generator that
//! cannot keep up says so.

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::watch;
use tokio::task::JoinSet;
use topolab_model::{Arrivals, RateStage};

use super::mix::Mix;
use super::pacer;
use super::recorder::Recorder;
use super::shape;

/// Sends through `stages` from `begin` until they end or `stop` turns true;
/// in-flight requests are left in `in_flight`.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    mix: Arc<Mix>,
    stages: &[RateStage],
    arrivals: Arrivals,
    begin: Instant,
    seed: u64,
    recorder: Arc<Mutex<Recorder>>,
    stop: watch::Receiver<bool>,
    in_flight: &mut JoinSet<()>,
) {
    let end = begin + stages.iter().map(|s| s.duration).sum();
    let mut dues = match pacer::Dues::new(shape::schedule(stages, arrivals, begin, seed), stop) {
        Ok(dues) => dues,
        Err(e) => {
            // Without a pacer there is no load: say so, and send nothing.
            topolab_notice::say(format!("warning: could not start a load pacer: {e}"));
            recorder.lock().issue_end = Some(begin);
            return;
        }
    };
    // Who each request goes to and as whom: drawn apart from the arrival times.
    let mut rng = StdRng::seed_from_u64(seed.rotate_left(17) ^ 0x5e55_1045);
    while let Some(due) = dues.recv().await {
        recorder.lock().sent(due);
        let target = mix.pick(&mut rng);
        let session = mix.random_session(&mut rng);
        let recorder = recorder.clone();
        in_flight.spawn(async move {
            let late = Instant::now().saturating_duration_since(due);
            let sent = target.send(&session).await;
            let mut r = recorder.lock();
            r.left_late(late);
            r.finish(due, &sent);
        });
        // A finished task stays in the set (with its whole future's memory)
        // until joined: reap them as we go, or memory grows with every
        // request sent (~3 KB each) for the whole run.
        while in_flight.try_join_next().is_some() {}
    }
    recorder.lock().issue_end = Some(Instant::now().min(end));
}
