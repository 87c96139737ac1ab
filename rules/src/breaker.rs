//! A circuit breaker's phases for one caller and callee endpoint. Closed,
//! it counts the outcomes of attempts over a sliding `window`; when at
//! least `min_calls` are in it and the failed share reaches `failures`, it
//! opens: attempts fail at once, without reaching the callee, for
//! `open_for`. Then it is half-open: up to `probes` trial attempts go
//! through; if all succeed it closes, if any fails it opens again. Shared
//! because when a breaker opens decides how much load a failing callee
//! keeps seeing. (tower has no breaker layer.)

use std::collections::VecDeque;

use topolab_model::Breaker as Config;

use crate::Nanos;

/// Whether the breaker let an attempt through, and as a probe or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Open, or its probes are all out: the attempt fails at once.
    Refused,
    /// Let through; tell [`Breaker::outcome`] how it went (or
    /// [`Breaker::abandoned`] if nobody will).
    Through {
        /// A half-open breaker's trial attempt.
        probe: bool,
    },
}

/// The phase as a view reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Closed,
    Open,
    /// Including an open breaker whose `open_for` has passed: its next
    /// attempt is a probe.
    HalfOpen,
}

/// One breaker.
#[derive(Debug, Clone)]
pub struct Breaker {
    cfg: Config,
    state: State,
    /// Closed only: recent outcomes (when, failed).
    window: VecDeque<(Nanos, bool)>,
    failed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Closed,
    Open { until: Nanos },
    HalfOpen { sent: u32, ok: u32 },
}

impl Breaker {
    /// A closed breaker.
    pub fn new(cfg: Config) -> Self {
        Breaker {
            cfg,
            state: State::Closed,
            window: VecDeque::new(),
            failed: 0,
        }
    }

    /// Lets an attempt through at `now`, or refuses it.
    #[inline]
    pub fn admit(&mut self, now: Nanos) -> Admit {
        if let State::Open { until } = self.state
            && now >= until
        {
            self.state = State::HalfOpen { sent: 0, ok: 0 };
        }
        match &mut self.state {
            State::Closed => Admit::Through { probe: false },
            State::HalfOpen { sent, .. } if *sent < self.cfg.probes => {
                *sent += 1;
                Admit::Through { probe: true }
            }
            State::Open { .. } | State::HalfOpen { .. } => Admit::Refused,
        }
    }

    /// How an attempt let through ended at `now`; true when this opened
    /// the breaker. Outcomes of attempts let through before the breaker
    /// changed phase count for nothing.
    pub fn outcome(&mut self, now: Nanos, probe: bool, failed: bool) -> bool {
        match (self.state, probe) {
            (State::HalfOpen { .. }, true) if failed => self.open(now),
            (State::HalfOpen { sent, ok }, true) => {
                self.state = if ok + 1 >= self.cfg.probes {
                    State::Closed
                } else {
                    State::HalfOpen { sent, ok: ok + 1 }
                };
                false
            }
            (State::Closed, false) => {
                self.window.push_back((now, failed));
                self.failed += usize::from(failed);
                let span = self.cfg.window.as_nanos() as Nanos;
                while let Some(&(t, f)) = self.window.front() {
                    if now.saturating_sub(t) <= span {
                        break;
                    }
                    self.window.pop_front();
                    self.failed -= usize::from(f);
                }
                let n = self.window.len();
                if n >= self.cfg.min_calls as usize
                    && self.failed as f64 >= self.cfg.failures * n as f64
                {
                    self.open(now)
                } else {
                    false
                }
            }
            _ => false,
        }
    }

    /// An attempt let through will never be told about (its caller gave
    /// up): a probe's slot is freed, and nothing is counted.
    pub fn abandoned(&mut self, probe: bool) {
        if let (true, State::HalfOpen { sent, .. }) = (probe, &mut self.state) {
            *sent = sent.saturating_sub(1);
        }
    }

    /// The phase at `now`, for views and `/metrics`.
    pub fn phase(&self, now: Nanos) -> Phase {
        match self.state {
            State::Closed => Phase::Closed,
            State::Open { until } if now < until => Phase::Open,
            State::Open { .. } | State::HalfOpen { .. } => Phase::HalfOpen,
        }
    }

    fn open(&mut self, now: Nanos) -> bool {
        self.state = State::Open {
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

    const MS: Nanos = 1_000_000;

    fn cfg() -> Config {
        Config {
            failures: 0.5,
            window: Duration::from_secs(10),
            min_calls: 4,
            open_for: Duration::from_millis(50),
            probes: 2,
        }
    }

    /// One attempt at `now` that ends at once; whether it opened the breaker.
    fn attempt(b: &mut Breaker, now: Nanos, failed: bool) -> Result<bool, Admit> {
        match b.admit(now) {
            Admit::Through { probe } => Ok(b.outcome(now, probe, failed)),
            refused => Err(refused),
        }
    }

    #[test]
    fn opens_on_the_failed_share_once_min_calls_are_in_the_window() {
        let mut b = Breaker::new(cfg());
        for failed in [false, true, false] {
            assert_eq!(attempt(&mut b, 0, failed), Ok(false));
        }
        assert_eq!(b.phase(0), Phase::Closed, "below min_calls");
        assert_eq!(attempt(&mut b, 1, true), Ok(true), "2 of 4 failed: 50%");
        assert_eq!(b.phase(1), Phase::Open);
        assert_eq!(attempt(&mut b, 2, false), Err(Admit::Refused));
        assert_eq!(b.phase(1 + 50 * MS), Phase::HalfOpen);
    }

    #[test]
    fn outcomes_older_than_the_window_fall_out() {
        let mut b = Breaker::new(cfg());
        for t in 0..3 {
            assert_eq!(attempt(&mut b, t, true), Ok(false));
        }
        // 10 s later the three failures have left; one more fails alone.
        let later = 10_000 * MS + 3;
        assert_eq!(attempt(&mut b, later, true), Ok(false));
        assert_eq!(b.phase(later), Phase::Closed);
    }

    #[test]
    fn probes_close_it_when_all_succeed() {
        let mut b = Breaker::new(cfg());
        for t in 0..4 {
            attempt(&mut b, t, true).unwrap();
        }
        let t = 3 + 50 * MS;
        assert_eq!(b.admit(t), Admit::Through { probe: true });
        assert_eq!(b.admit(t), Admit::Through { probe: true });
        assert_eq!(b.admit(t), Admit::Refused, "only `probes` trials");
        assert!(!b.outcome(t, true, false));
        assert_eq!(b.phase(t), Phase::HalfOpen);
        assert!(!b.outcome(t, true, false));
        assert_eq!(b.phase(t), Phase::Closed);
        assert_eq!(b.admit(t), Admit::Through { probe: false });
    }

    #[test]
    fn a_failed_probe_opens_it_again_and_an_abandoned_one_frees_its_slot() {
        let mut b = Breaker::new(cfg());
        for t in 0..4 {
            attempt(&mut b, t, true).unwrap();
        }
        let t = 3 + 50 * MS;
        assert_eq!(b.admit(t), Admit::Through { probe: true });
        b.abandoned(true);
        assert_eq!(b.admit(t), Admit::Through { probe: true });
        assert_eq!(b.admit(t), Admit::Through { probe: true });
        assert!(b.outcome(t, true, true));
        assert_eq!(b.phase(t), Phase::Open);
        assert_eq!(b.phase(t + 50 * MS), Phase::HalfOpen);
    }

    #[test]
    fn late_outcomes_from_before_a_phase_change_count_for_nothing() {
        let mut b = Breaker::new(cfg());
        let late = b.admit(0);
        for t in 0..4 {
            attempt(&mut b, t, true).unwrap();
        }
        assert_eq!(late, Admit::Through { probe: false });
        assert!(!b.outcome(5, false, true), "an open breaker ignores it");
        assert_eq!(b.phase(5), Phase::Open);
    }
}
