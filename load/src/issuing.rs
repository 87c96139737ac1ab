//! What each of a generator's loops (open, closed, following) runs with, and
//! the start and end they share: whom it asks, from when, with which seed,
//! where it counts, when to stop issuing, and the set its requests in flight
//! join. One struct in place of the same seven arguments to three loops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::mix::Mix;
use crate::recorder::Recorder;

/// One generator's loop, about to issue.
pub(crate) struct Issuing<'a> {
    /// Whom each request goes to, and as whom.
    pub mix: Arc<Mix>,
    /// When the generator starts (the load's start plus its own `start`).
    pub begin: Instant,
    /// Its seed: arrival times, picks, think times.
    pub seed: u64,
    /// Where its requests are counted.
    pub recorder: Arc<Mutex<Recorder>>,
    /// Turns true at the first stop: issue no more.
    pub stop: watch::Receiver<bool>,
    /// Requests (or clients) in flight, awaited or abandoned by the caller.
    pub in_flight: &'a mut JoinSet<()>,
}

impl Issuing<'_> {
    /// When stages lasting `durations` end, counted from `begin`.
    pub fn end(&self, durations: impl Iterator<Item = Duration>) -> Instant {
        self.begin + durations.sum()
    }

    /// For loops of clients: waits until `end` or the first stop while the
    /// clients run, then records when issuing ended.
    pub async fn until(&self, end: Instant) {
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep_until(end.into()) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
        self.ended(end);
    }

    /// Records when issuing ended: now, or `end` if that came first.
    pub fn ended(&self, end: Instant) {
        self.recorder.lock().issue_end = Some(Instant::now().min(end));
    }
}
