//! A circuit breaker for one callee endpoint. Closed, it counts the outcomes
//! of attempts over a sliding `window`; when at least `min_calls` are in it
//! and the failed share reaches `failures`, it opens: attempts fail at once,
//! without reaching the callee, for `open_for`. Then it is half-open: up to
//! `probes` trial attempts go through; if all succeed it closes, if any
//! fails it opens again. The phases are `topolab_rules::breaker` (the
//! simulator's too); this keeps them behind a lock, times them by the
//! replica's clock, counts refusals and openings, and hands out a ticket per
//! attempt let through. tower has no breaker layer.

use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;
use topolab_model::Breaker as Config;
use topolab_rules::Nanos;
use topolab_rules::breaker::{self, Admit, Phase};

/// The breaker refused an attempt: it is open (or its probes are out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker open")]
pub struct Refused;

/// One callee endpoint's breaker.
#[derive(Debug)]
pub struct Breaker {
    rule: Mutex<breaker::Breaker>,
    /// The origin of the rule's time.
    epoch: Instant,
    rejected: AtomicU64,
    opened: AtomicU64,
}

/// An attempt let through; say how it went with [`Ticket::record`]. Dropped
/// unrecorded (the caller gave up), it frees its probe slot and counts nothing.
#[derive(Debug)]
pub struct Ticket<'a> {
    breaker: &'a Breaker,
    probe: bool,
    done: bool,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(cfg: Config) -> Self {
        Breaker {
            rule: Mutex::new(breaker::Breaker::new(cfg)),
            epoch: Instant::now(),
            rejected: AtomicU64::new(0),
            opened: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, breaker::Breaker> {
        self.rule.lock()
    }

    fn now(&self) -> Nanos {
        self.epoch.elapsed().as_nanos() as Nanos
    }

    /// Lets an attempt through, or refuses it.
    pub fn admit(&self) -> Result<Ticket<'_>, Refused> {
        let now = self.now();
        match self.lock().admit(now) {
            Admit::Through { probe } => Ok(Ticket {
                breaker: self,
                probe,
                done: false,
            }),
            Admit::Refused => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                Err(Refused)
            }
        }
    }

    /// (attempts refused, times opened).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.rejected.load(Ordering::Relaxed),
            self.opened.load(Ordering::Relaxed),
        )
    }

    /// The breaker's state for `/metrics`: 0 closed, 1 open, 2 half-open
    /// (an open breaker whose `open_for` has passed counts as half-open: the
    /// next attempt is a probe).
    pub fn state_code(&self) -> u8 {
        match self.lock().phase(self.now()) {
            Phase::Closed => 0,
            Phase::Open => 1,
            Phase::HalfOpen => 2,
        }
    }

    /// Whether the breaker refuses attempts right now (for tests and views).
    pub fn is_open(&self) -> bool {
        self.lock().phase(self.now()) == Phase::Open
    }
}

impl Ticket<'_> {
    /// The attempt ended: failed or not.
    pub fn record(mut self, failed: bool) {
        self.done = true;
        let b = self.breaker;
        let now = b.now();
        if b.lock().outcome(now, self.probe, failed) {
            b.opened.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.lock().abandoned(self.probe);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cfg() -> Config {
        Config {
            failures: 0.5,
            window: Duration::from_secs(10),
            min_calls: 4,
            open_for: Duration::from_millis(50),
            probes: 2,
        }
    }

    fn attempt(b: &Breaker, failed: bool) -> Result<(), Refused> {
        b.admit()?.record(failed);
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn opens_on_failures_then_half_opens_and_closes_after_good_probes() {
        let b = Breaker::new(cfg());
        for failed in [false, true, false] {
            attempt(&b, failed).unwrap();
        }
        assert!(!b.is_open(), "below min_calls");
        attempt(&b, true).unwrap(); // 2 of 4 failed: 50%
        assert!(b.is_open());
        assert_eq!(b.state_code(), 1);
        assert_eq!(attempt(&b, false), Err(Refused));
        tokio::time::advance(Duration::from_millis(50)).await;
        assert_eq!(b.state_code(), 2);
        let p1 = b.admit().unwrap();
        let p2 = b.admit().unwrap();
        assert_eq!(b.admit().err(), Some(Refused), "only `probes` trials");
        p1.record(false);
        p2.record(false);
        assert!(!b.is_open());
        assert_eq!(b.state_code(), 0);
        attempt(&b, false).unwrap();
        assert_eq!(b.counts(), (2, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_opens_it_again_and_an_abandoned_one_frees_its_slot() {
        let b = Breaker::new(cfg());
        for _ in 0..4 {
            attempt(&b, true).unwrap();
        }
        tokio::time::advance(Duration::from_millis(50)).await;
        drop(b.admit().unwrap()); // the caller gave up
        let p = b.admit().unwrap();
        let _q = b.admit().unwrap();
        p.record(true);
        assert!(b.is_open());
        assert_eq!(b.counts().1, 2);
    }
}
