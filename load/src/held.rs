//! The loops of a generator that follows a [`Knob`] (the lab): open and
//! closed loops that play their stages, then hold the last rate or clients
//! until the run is stopped, and take every change of the knob at once. An
//! open loop keeps its arrival law (Poisson or constant): each gap is one
//! unit of integrated rate, spent at the rate in force, so a change re-times
//! the next arrival from the moment of the change.

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Exp1};
use tokio::sync::watch;
use topolab_model::{Arrivals, ClientStage, Dist, RateStage};

use super::issuing::Issuing;
use super::knob::{Knob, Setting, held_clients, held_rate};

/// How long a loop with nothing to send sleeps before it looks again (a
/// knob change wakes it sooner).
const IDLE: Duration = Duration::from_secs(1);

/// Sends at the knob's rate (or the stages', held) until the first stop.
pub(crate) async fn open(l: Issuing<'_>, stages: &[RateStage], arrivals: Arrivals, knob: &Knob) {
    let mut knob = knob.watch();
    let mut stop = l.stop.clone();
    let mut rng = StdRng::seed_from_u64(l.seed);
    let mut picks = StdRng::seed_from_u64(l.seed.rotate_left(17) ^ 0x5e55_1045);
    tokio::select! {
        () = tokio::time::sleep_until(l.begin.into()) => {}
        _ = stop.wait_for(|s| *s) => return l.ended(Instant::now()),
    }
    let mut last = l.begin;
    let mut first = true;
    loop {
        let step: f64 = match arrivals {
            Arrivals::Constant if first => 0.0,
            Arrivals::Constant => 1.0,
            Arrivals::Poisson => Exp1.sample(&mut rng),
        };
        first = false;
        let due = loop {
            let setting = *knob.borrow_and_update();
            let t = last.saturating_duration_since(l.begin).as_secs_f64();
            let (rate, next) = rate_now(&setting, stages, t);
            let wake = if rate > 0.0 {
                last + Duration::from_secs_f64(step / rate)
            } else {
                let jump = next.map(|n| l.begin + Duration::from_secs_f64(n));
                jump.unwrap_or_else(|| Instant::now() + IDLE)
            };
            tokio::select! {
                // Precise to microseconds, as the pacer of a plain open loop.
                () = topolab_services::timer::sleep_until(wake.into()) => {
                    if rate > 0.0 { break wake }
                    last = last.max(Instant::now().min(wake));
                }
                changed = knob.changed() => {
                    if changed.is_err() { return l.ended(Instant::now()) }
                    // Re-timed from the change: a raised rate is not a burst
                    // of the arrivals a lower one had not yet sent.
                    last = last.max(Instant::now());
                }
                _ = stop.wait_for(|s| *s) => return l.ended(Instant::now()),
            }
        };
        last = due;
        l.recorder.lock().sent(due);
        let target = l.mix.pick(&mut picks);
        let session = l.mix.random_session(&mut picks);
        let recorder = l.recorder.clone();
        l.in_flight.spawn(async move {
            let late = Instant::now().saturating_duration_since(due);
            let sent = target.send(&session).await;
            let mut r = recorder.lock();
            r.left_late(late);
            r.finish(due, &sent);
        });
        while l.in_flight.try_join_next().is_some() {}
    }
}

/// The rate in force: 0 paused, else the knob's, else the stages' (held);
/// and when the stages' rate next jumps.
fn rate_now(setting: &Setting, stages: &[RateStage], t: f64) -> (f64, Option<f64>) {
    match setting {
        Setting { paused: true, .. } => (0.0, None),
        Setting {
            rate: Some(rate), ..
        } => (*rate, None),
        _ => held_rate(stages, t),
    }
}

/// How many clients should be active now.
fn clients_now(knob: &watch::Receiver<Setting>, stages: &[ClientStage], begin: Instant) -> u32 {
    let setting = *knob.borrow();
    if setting.paused {
        return 0;
    }
    let t = Instant::now()
        .saturating_duration_since(begin)
        .as_secs_f64();
    setting.clients.unwrap_or_else(|| held_clients(stages, t))
}

/// Runs clients as the knob (or the stages, held) says until the first
/// stop: client `c` sends while fewer than `c + 1` are wanted no longer.
pub(crate) async fn closed(
    l: Issuing<'_>,
    stages: &[ClientStage],
    think: Option<Dist>,
    knob: &Knob,
) {
    let mut watch = knob.watch();
    let mut stop = l.stop.clone();
    tokio::select! {
        () = tokio::time::sleep_until(l.begin.into()) => {}
        _ = stop.wait_for(|s| *s) => return l.ended(Instant::now()),
    }
    let stages: std::sync::Arc<[ClientStage]> = stages.into();
    let mut started = 0u32;
    loop {
        let want = clients_now(&watch, &stages, l.begin);
        for c in started..want {
            let (mix, recorder) = (l.mix.clone(), l.recorder.clone());
            let (mut stop, mut knob, stages) = (l.stop.clone(), knob.watch(), stages.clone());
            let (begin, seed) = (l.begin, l.seed.wrapping_add(u64::from(c)));
            l.in_flight.spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed);
                let session = mix.client_session(c);
                while !*stop.borrow() {
                    if c >= clients_now(&knob, &stages, begin) {
                        tokio::select! {
                            _ = knob.changed() => {}
                            () = tokio::time::sleep(IDLE) => {}
                            _ = stop.wait_for(|s| *s) => break,
                        }
                        continue;
                    }
                    let due = Instant::now();
                    recorder.lock().sent(due);
                    let target = mix.pick(&mut rng);
                    let sent = target.send(&session).await;
                    recorder.lock().finish(due, &sent);
                    if let Some(think) = think {
                        tokio::select! {
                            () = tokio::time::sleep(think.sample(&mut rng)) => {}
                            _ = stop.wait_for(|s| *s) => break,
                        }
                    }
                }
            });
        }
        started = started.max(want);
        tokio::select! {
            _ = watch.changed() => {}
            () = tokio::time::sleep(IDLE) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    l.ended(Instant::now());
}
