//! Closed-loop clients: each sends one request, waits for its answer, thinks,
//! and repeats, so the number in flight never exceeds the number of clients
//! and a slow server slows its own arrivals (as real users who wait do).
//! With stages, client `c` is active while the stage has more than `c`
//! clients; it finishes its request in flight, then waits for its next turn.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use topolab_model::{ClientStage, Dist};

use super::issuing::Issuing;
use super::shape;

/// Runs the clients of `stages` until they end or the first stop.
pub(crate) async fn run(l: Issuing<'_>, stages: &[ClientStage], think: Option<Dist>) {
    let end = l.end(stages.iter().map(|s| s.duration));
    let (begin, seed) = (l.begin, l.seed);
    let most = stages.iter().map(|s| s.clients).max().unwrap_or(0);
    let stages: Arc<[ClientStage]> = stages.into();
    tokio::time::sleep_until(begin.into()).await;
    for c in 0..most {
        let (mix, recorder, mut stop) = (l.mix.clone(), l.recorder.clone(), l.stop.clone());
        let stages = stages.clone();
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(u64::from(c)));
        let session = mix.client_session(c);
        l.in_flight.spawn(async move {
            loop {
                let t = begin.elapsed().as_secs_f64();
                let Some(turn) = shape::next_active(&stages, c, t) else {
                    break;
                };
                if turn > t {
                    let at = begin + Duration::from_secs_f64(turn);
                    tokio::select! {
                        _ = tokio::time::sleep_until(at.into()) => {}
                        _ = stop.changed() => break,
                    }
                }
                if Instant::now() >= end || *stop.borrow() {
                    break;
                }
                let due = Instant::now();
                recorder.lock().sent(due);
                let target = mix.pick(&mut rng);
                let sent = target.send(&session).await;
                recorder.lock().finish(due, &sent);
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
    l.until(end).await;
}
