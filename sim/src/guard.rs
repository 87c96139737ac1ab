//! A caller replica's resilience state towards one callee endpoint, in
//! simulated time: the retry budget (tower's `TpsBudget` rule: retries within
//! a 10 s window at most `ratio` × first attempts plus 1 per second) and the
//! circuit breaker (the replicas' `services/src/resilience/breaker.rs`
//! phases: closed with a sliding window, open, half-open with probes). The
//! replicas' versions read the wall clock; these take the simulated `now`.

use std::collections::VecDeque;

use topolab_model::Breaker;

use crate::engine::Nanos;

const SEC: Nanos = 1_000_000_000;
/// The budget's window in seconds, and retries per second it always allows.
const WINDOW_S: usize = 10;
const MIN_PER_SEC: f64 = 1.0;

/// Budget and breaker of one (caller replica, callee endpoint).
#[derive(Debug, Default)]
pub struct Guard {
    /// Per second of the window: (second, first attempts, retries).
    buckets: [(u64, u32, u32); WINDOW_S],
    breaker: Option<BreakerState>,
}

#[derive(Debug)]
struct BreakerState {
    cfg: Breaker,
    phase: Phase,
    window: VecDeque<(Nanos, bool)>,
    failed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Closed,
    Open { until: Nanos },
    HalfOpen { sent: u32, ok: u32 },
}

/// Whether the breaker let an attempt through, and as a probe or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Refused,
    Through { probe: bool },
}

impl Guard {
    fn bucket(&mut self, now: Nanos) -> &mut (u64, u32, u32) {
        let sec = now / SEC;
        let b = &mut self.buckets[(sec % WINDOW_S as u64) as usize];
        if b.0 != sec {
            *b = (sec, 0, 0);
        }
        b
    }

    /// A first attempt earns retries.
    pub fn deposit(&mut self, now: Nanos) {
        self.bucket(now).1 += 1;
    }

    /// Takes one retry if the budget holds one.
    pub fn withdraw(&mut self, now: Nanos, ratio: f64) -> bool {
        let sec = now / SEC;
        let (mut firsts, mut retries) = (0u64, 0u64);
        for &(s, f, r) in &self.buckets {
            if s + WINDOW_S as u64 > sec && s <= sec {
                firsts += u64::from(f);
                retries += u64::from(r);
            }
        }
        let allowed = (MIN_PER_SEC * WINDOW_S as f64 + ratio * firsts as f64).floor() as u64;
        if retries >= allowed {
            return false;
        }
        self.bucket(now).2 += 1;
        true
    }

    /// Lets an attempt through the breaker `cfg` (configured on first use).
    pub fn admit(&mut self, now: Nanos, cfg: Breaker) -> Admit {
        let b = self.breaker.get_or_insert_with(|| BreakerState {
            cfg,
            phase: Phase::Closed,
            window: VecDeque::new(),
            failed: 0,
        });
        if let Phase::Open { until } = b.phase
            && now >= until
        {
            b.phase = Phase::HalfOpen { sent: 0, ok: 0 };
        }
        match &mut b.phase {
            Phase::Closed => Admit::Through { probe: false },
            Phase::HalfOpen { sent, .. } if *sent < b.cfg.probes => {
                *sent += 1;
                Admit::Through { probe: true }
            }
            _ => Admit::Refused,
        }
    }

    /// How an attempt the breaker let through ended; true when it opened.
    pub fn outcome(&mut self, now: Nanos, probe: bool, failed: bool) -> bool {
        let Some(b) = &mut self.breaker else {
            return false;
        };
        match (b.phase, probe) {
            (Phase::HalfOpen { .. }, true) if failed => b.open(now),
            (Phase::HalfOpen { sent, ok }, true) => {
                b.phase = if ok + 1 >= b.cfg.probes {
                    Phase::Closed
                } else {
                    Phase::HalfOpen { sent, ok: ok + 1 }
                };
                false
            }
            (Phase::Closed, false) => {
                b.window.push_back((now, failed));
                b.failed += usize::from(failed);
                let span = b.cfg.window.as_nanos() as Nanos;
                while let Some(&(t, f)) = b.window.front() {
                    if now - t <= span {
                        break;
                    }
                    b.window.pop_front();
                    b.failed -= usize::from(f);
                }
                let n = b.window.len();
                if n >= b.cfg.min_calls as usize && b.failed as f64 >= b.cfg.failures * n as f64 {
                    b.open(now)
                } else {
                    false
                }
            }
            _ => false,
        }
    }
}

impl BreakerState {
    fn open(&mut self, now: Nanos) -> bool {
        self.phase = Phase::Open {
            until: now + self.cfg.open_for.as_nanos() as Nanos,
        };
        self.window.clear();
        self.failed = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn budget_allows_the_share_plus_the_floor() {
        let mut g = Guard::default();
        for _ in 0..100 {
            g.deposit(5);
        }
        let granted = (0..1000).filter(|_| g.withdraw(6, 0.2)).count();
        assert_eq!(granted, 20 + 10);
    }

    #[test]
    fn breaker_opens_then_probes_close_it() {
        let cfg = Breaker {
            failures: 0.5,
            window: Duration::from_secs(10),
            min_calls: 4,
            open_for: Duration::from_secs(1),
            probes: 2,
        };
        let mut g = Guard::default();
        let mut opened = false;
        for i in 0..4 {
            assert_eq!(g.admit(i, cfg), Admit::Through { probe: false });
            opened |= g.outcome(i, false, true);
        }
        assert!(opened);
        assert_eq!(g.admit(10, cfg), Admit::Refused);
        let later = 2 * SEC;
        assert_eq!(g.admit(later, cfg), Admit::Through { probe: true });
        assert_eq!(g.admit(later, cfg), Admit::Through { probe: true });
        assert_eq!(g.admit(later, cfg), Admit::Refused);
        g.outcome(later, true, false);
        g.outcome(later, true, false);
        assert_eq!(g.admit(later, cfg), Admit::Through { probe: false });
    }
}
