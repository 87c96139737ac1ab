//! Open-loop arrivals: requests are scheduled at their due times (see
//! [`super::shape`]) and sent whether or not earlier ones have answered, the
//! way independent users arrive. Latency counts from the due time, so a
//! generator that falls behind cannot hide queueing (no coordinated
//! omission); how late each request left is recorded too, so a generator that
//! cannot keep up says so.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use topolab_model::{Arrivals, RateStage};

use super::mix::Mix;
use super::pacer::{self, Wait};
use super::recorder::Recorder;
use super::{StopSignals, drain, shape};

/// Runs the open loop on a thread of its own, with a single-threaded
/// runtime and its own channels to the targets: the thread that is awake at
/// a due time is the one that writes the request, with no hand-off to
/// another thread in between. Returns once issuing has ended and in-flight
/// requests have drained (or been abandoned on `signals.abort`).
pub async fn run_on_own_thread(
    mix: Arc<Mix>,
    stages: Vec<RateStage>,
    arrivals: Arrivals,
    begin: Instant,
    seed: u64,
    recorder: Arc<Mutex<Recorder>>,
    signals: StopSignals,
) {
    let (done_tx, done) = oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("topolab-sender".into())
        .spawn(move || {
            pacer::fine_timer_slack();
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    crate::notice::say(format!("warning: no runtime for a load sender: {e}"));
                    return;
                }
            };
            rt.block_on(async move {
                let mix = match mix.reopen() {
                    Ok(m) => Arc::new(m),
                    Err(e) => {
                        crate::notice::say(format!("warning: a load sender stopped: {e:#}"));
                        return;
                    }
                };
                let mut in_flight = JoinSet::new();
                let stop = signals.stop.clone();
                run(
                    mix,
                    &stages,
                    arrivals,
                    begin,
                    seed,
                    recorder,
                    stop,
                    &mut in_flight,
                )
                .await;
                drain(&mut in_flight, signals.abort).await;
            });
            // Dropping the runtime ends anything still running on it.
            drop(rt);
            let _ = done_tx.send(());
        });
    match spawned {
        // Err only if the thread died without a word: nothing more to wait for.
        Ok(_) => {
            let _ = done.await;
        }
        // Without a sender there is no load; the empty recorder says so.
        Err(e) => crate::notice::say(format!("warning: could not start a load sender: {e}")),
    }
}

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
    mut stop: watch::Receiver<bool>,
    in_flight: &mut JoinSet<()>,
) {
    let end = begin + stages.iter().map(|s| s.duration).sum();
    // Who each request goes to and as whom: drawn apart from the arrival times.
    let mut rng = StdRng::seed_from_u64(seed.rotate_left(17) ^ 0x5e55_1045);
    'schedule: for due in shape::schedule(stages, arrivals, begin, seed) {
        loop {
            if *stop.borrow() {
                break 'schedule;
            }
            // A finished task stays in the set (with its whole future's
            // memory) until joined: reap them as we go, or memory grows with
            // every request sent (~3 KB each) for the whole run.
            while in_flight.try_join_next().is_some() {}
            match pacer::next_wait(due, Instant::now(), in_flight.is_empty()) {
                Wait::Due => break,
                Wait::Coarse(until) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(until.into()) => {}
                        changed = stop.changed() => if changed.is_err() {
                            // Nobody can stop us any more: just wait.
                            tokio::time::sleep_until(until.into()).await;
                        },
                    }
                }
                // Nothing in flight, so no answer waits on this thread.
                Wait::Block(d) => std::thread::sleep(d),
                Wait::Spin => tokio::task::yield_now().await,
            }
        }
        lock(&recorder).sent(due);
        let target = mix.pick(&mut rng);
        let session = mix.random_session(&mut rng);
        let recorder = recorder.clone();
        in_flight.spawn(async move {
            let late = Instant::now().saturating_duration_since(due);
            let sent = target.send(&session).await;
            let mut r = lock(&recorder);
            r.left_late(late);
            r.finish(due, &sent);
        });
    }
    lock(&recorder).issue_end = Some(Instant::now().min(end));
}

/// Locks a recorder; a poisoned lock only means another task panicked while
/// counting, and the counts are still the best we have.
pub(super) fn lock(r: &Mutex<Recorder>) -> std::sync::MutexGuard<'_, Recorder> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}
