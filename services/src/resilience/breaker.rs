//! A circuit breaker for one callee endpoint. Closed, it counts the outcomes
//! of attempts over a sliding `window`; when at least `min_calls` are in it
//! and the failed share reaches `failures`, it opens: attempts fail at once,
//! without reaching the callee, for `open_for`. Then it is half-open: up to
//! `probes` trial attempts go through; if all succeed it closes, if any
//! fails it opens again. tower has no breaker layer; this one is small.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;
use topolab_model::Breaker as Config;

/// The breaker refused an attempt: it is open (or its probes are out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker open")]
pub struct Refused;

/// One callee endpoint's breaker.
#[derive(Debug)]
pub struct Breaker {
    cfg: Config,
    state: Mutex<State>,
    rejected: AtomicU64,
    opened: AtomicU64,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// Closed only: recent outcomes (when, failed).
    window: VecDeque<(Instant, bool)>,
    failed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { sent: u32, ok: u32 },
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
            cfg,
            state: Mutex::new(State {
                phase: Phase::Closed,
                window: VecDeque::new(),
                failed: 0,
            }),
            rejected: AtomicU64::new(0),
            opened: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Lets an attempt through, or refuses it.
    pub fn admit(&self) -> Result<Ticket<'_>, Refused> {
        let mut st = self.lock();
        let now = Instant::now();
        if let Phase::Open { until } = st.phase
            && now >= until
        {
            st.phase = Phase::HalfOpen { sent: 0, ok: 0 };
        }
        let probe = match &mut st.phase {
            Phase::Closed => false,
            Phase::HalfOpen { sent, .. } if *sent < self.cfg.probes => {
                *sent += 1;
                true
            }
            Phase::Open { .. } | Phase::HalfOpen { .. } => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                return Err(Refused);
            }
        };
        Ok(Ticket {
            breaker: self,
            probe,
            done: false,
        })
    }

    fn open(&self, st: &mut State, now: Instant) {
        st.phase = Phase::Open {
            until: now + self.cfg.open_for,
        };
        st.window.clear();
        st.failed = 0;
        self.opened.fetch_add(1, Ordering::Relaxed);
    }

    fn outcome(&self, probe: bool, failed: bool) {
        let mut st = self.lock();
        let now = Instant::now();
        match (st.phase, probe) {
            (Phase::HalfOpen { .. }, true) if failed => self.open(&mut st, now),
            (Phase::HalfOpen { sent, ok }, true) => {
                if ok + 1 >= self.cfg.probes {
                    st.phase = Phase::Closed;
                } else {
                    st.phase = Phase::HalfOpen { sent, ok: ok + 1 };
                }
            }
            (Phase::Closed, false) => {
                st.window.push_back((now, failed));
                st.failed += usize::from(failed);
                while let Some(&(t, f)) = st.window.front() {
                    if now.duration_since(t) <= self.cfg.window {
                        break;
                    }
                    st.window.pop_front();
                    st.failed -= usize::from(f);
                }
                let n = st.window.len();
                if n >= self.cfg.min_calls as usize
                    && st.failed as f64 >= self.cfg.failures * n as f64
                {
                    self.open(&mut st, now);
                }
            }
            // Outcomes of attempts let through before the breaker changed phase.
            _ => {}
        }
    }

    fn release_probe(&self) {
        let mut st = self.lock();
        if let Phase::HalfOpen { sent, .. } = &mut st.phase {
            *sent = sent.saturating_sub(1);
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
        match self.lock().phase {
            Phase::Closed => 0,
            Phase::Open { until } if Instant::now() < until => 1,
            Phase::Open { .. } | Phase::HalfOpen { .. } => 2,
        }
    }

    /// Whether the breaker refuses attempts right now (for tests and views).
    pub fn is_open(&self) -> bool {
        matches!(self.lock().phase, Phase::Open { until } if Instant::now() < until)
    }
}

impl Ticket<'_> {
    /// The attempt ended: failed or not.
    pub fn record(mut self, failed: bool) {
        self.done = true;
        self.breaker.outcome(self.probe, failed);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done && self.probe {
            self.breaker.release_probe();
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

    #[tokio::test]
    async fn opens_on_failures_then_half_opens_and_closes_after_good_probes() {
        let b = Breaker::new(cfg());
        for failed in [false, true, false] {
            attempt(&b, failed).unwrap();
        }
        assert!(!b.is_open(), "below min_calls");
        attempt(&b, true).unwrap(); // 2 of 4 failed: 50%
        assert!(b.is_open());
        assert_eq!(attempt(&b, false), Err(Refused));
        tokio::time::sleep(Duration::from_millis(60)).await;
        let p1 = b.admit().unwrap();
        let p2 = b.admit().unwrap();
        assert_eq!(b.admit().err(), Some(Refused), "only `probes` trials");
        p1.record(false);
        p2.record(false);
        assert!(!b.is_open());
        attempt(&b, false).unwrap();
        assert_eq!(b.counts(), (2, 1));
    }

    #[tokio::test]
    async fn a_failed_probe_opens_it_again_and_an_abandoned_one_frees_its_slot() {
        let b = Breaker::new(cfg());
        for _ in 0..4 {
            attempt(&b, true).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
        drop(b.admit().unwrap()); // the caller gave up
        let p = b.admit().unwrap();
        let _q = b.admit().unwrap();
        p.record(true);
        assert!(b.is_open());
        assert_eq!(b.counts().1, 2);
    }
}
