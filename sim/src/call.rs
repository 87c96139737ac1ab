//! The client role inside a job: a `call` step's attempts, each with its
//! timeout cut to the caller's remaining deadline, through the breaker, to a
//! replica picked by the policy; then retries (budgeted, after a backoff) or
//! the next repetition, in the order of `services/src/executor.rs`.

use rand::Rng;
use topolab_model::StatusCode;

use crate::engine::{Caller, Event};
use crate::guard::Admit;
use crate::world::World;
use crate::{DEADLINE_EXCEEDED, OK, RESOURCE_EXHAUSTED, UNAVAILABLE};

/// The codes worth another attempt.
pub fn retryable(code: StatusCode) -> bool {
    matches!(code, UNAVAILABLE | DEADLINE_EXCEEDED | RESOURCE_EXHAUSTED)
}

impl World<'_> {
    /// The call step fiber `fiber` is on (kept in the fiber, so a response
    /// does not read the step list again).
    fn call_of(&self, fiber: u32) -> u32 {
        self.fibers.items[fiber as usize].call
    }

    /// Sends one attempt of call `c` (`first`: not a retry).
    pub(crate) fn attempt(&mut self, fiber: u32, c: u32, first: bool) {
        let plan = self.plan;
        let call = &plan.calls[c as usize];
        let now = self.now;
        let f = &self.fibers.items[fiber as usize];
        let job = &self.jobs.items[f.job as usize];
        let (caller_rep, session) = (job.rep, job.session);
        let timeout = call.timeout.min(job.deadline.saturating_sub(now));
        if timeout == 0 {
            self.call_failed(fiber, c, DEADLINE_EXCEEDED);
            return;
        }
        let key = (caller_rep, call.edge);
        if first && call.retries > 0 && call.budget.is_some() {
            self.guards.entry(key).or_default().deposit(now);
        }
        let mut probe = None;
        if let Some(cfg) = call.breaker {
            match self.guards.entry(key).or_default().admit(now, cfg) {
                Admit::Refused => {
                    self.edge_figures[call.edge as usize].breaker_rejected += 1;
                    self.call_failed(fiber, c, UNAVAILABLE);
                    return;
                }
                Admit::Through { probe: p } => probe = Some(p),
            }
        }
        let callee = &plan.services[call.service as usize];
        // One replica: no choice to make, no picker state to keep; its
        // per-replica count is `attempts`, filled in at the end.
        let picked = callee.replicas > 1;
        let i = if picked {
            let slot = (plan.pick_base[caller_rep as usize] + call.slot) as usize;
            let i = self.picks[slot].pick(call.pick, callee.replicas, session, now, &mut self.rng);
            self.picks[slot].started(i);
            self.edge_figures[call.edge as usize].per_replica[i as usize] += 1;
            i
        } else {
            0
        };
        let token = self.token();
        self.edge_hot[call.edge as usize].attempts += 1;
        let f = &mut self.fibers.items[fiber as usize];
        if f.retry > 0 {
            self.edge_figures[call.edge as usize].retries += 1;
        }
        f.call = c;
        f.picked = picked;
        f.token = token;
        f.attempt_rep = i;
        f.attempt_outstanding = true;
        f.breaker_ticket = probe.unwrap_or(false);
        let caller = Caller::Fiber { fiber, token };
        let rep = callee.first + i;
        self.send(
            rep,
            call.service,
            call.endpoint,
            now + timeout,
            session,
            caller,
        );
        let timer = self.queue.arm(now + timeout, Event::Timeout { caller });
        self.fibers.items[fiber as usize].timer = timer;
        if probe.is_none() {
            // No breaker: nothing to tell it later.
            self.fibers.items[fiber as usize].breaker_ticket = false;
        }
    }

    /// A response (or the timeout) for a caller.
    pub(crate) fn reply(&mut self, caller: Caller, code: StatusCode, refused: bool) {
        match caller {
            Caller::Root { root, token } => self.root_reply(root, token, code),
            Caller::Fiber { fiber, token } => self.fiber_reply(fiber, token, code, refused),
        }
    }

    fn fiber_reply(&mut self, fiber: u32, token: u64, code: StatusCode, refused: bool) {
        if self.fibers.items[fiber as usize].token != token {
            return;
        }
        let plan = self.plan;
        let c = self.call_of(fiber);
        let call = &plan.calls[c as usize];
        let fresh = self.token();
        let now = self.now;
        let f = &mut self.fibers.items[fiber as usize];
        f.token = fresh;
        f.attempt_outstanding = false;
        self.queue.cancel(f.timer);
        let (i, probe, picked) = (f.attempt_rep, f.breaker_ticket, f.picked);
        let caller_rep = self.jobs.items[f.job as usize].rep;
        if picked {
            let slot = (plan.pick_base[caller_rep as usize] + call.slot) as usize;
            self.picks[slot].ended(i);
            if refused {
                self.picks[slot].eject(call.pick, i, now);
            }
        }
        if code == OK {
            self.edge_hot[call.edge as usize].ok += 1;
        } else {
            self.edge_codes[call.edge as usize][crate::figures::code_slot(code)] += 1;
        }
        let key = (caller_rep, call.edge);
        if call.breaker.is_some()
            && let Some(g) = self.guards.get_mut(&key)
            && g.outcome(now, probe, code != OK)
        {
            self.edge_figures[call.edge as usize].breaker_opened += 1;
        }
        if code == OK {
            self.repetition_done(fiber, c);
            return;
        }
        let f = &mut self.fibers.items[fiber as usize];
        if f.retry < call.retries && retryable(code) {
            let allowed = match call.budget {
                Some(ratio) => self.guards.entry(key).or_default().withdraw(now, ratio),
                None => true,
            };
            if !allowed {
                self.edge_figures[call.edge as usize].retries_denied += 1;
                self.call_failed(fiber, c, code);
                return;
            }
            let f = &mut self.fibers.items[fiber as usize];
            f.retry += 1;
            let retry = f.retry;
            match call.backoff {
                Some(b) => {
                    let sample = b.sample(&mut self.rng);
                    let u: f64 = self.rng.random();
                    let wait = call.shape.wait(sample, retry, u).as_nanos() as u64;
                    let token = self.token();
                    self.fibers.items[fiber as usize].token = token;
                    self.queue.push(now + wait, Event::Backoff { fiber, token });
                }
                None => self.attempt(fiber, c, false),
            }
            return;
        }
        self.call_failed(fiber, c, code);
    }

    pub(crate) fn backoff_done(&mut self, fiber: u32, token: u64) {
        if self.fibers.items[fiber as usize].token != token {
            return;
        }
        let c = self.call_of(fiber);
        self.attempt(fiber, c, false);
    }

    /// One repetition of the call ended well: the next one, or the next step.
    fn repetition_done(&mut self, fiber: u32, c: u32) {
        let f = &mut self.fibers.items[fiber as usize];
        f.times_left = f.times_left.saturating_sub(1);
        if f.times_left > 0 {
            f.retry = 0;
            self.attempt(fiber, c, true);
        } else {
            f.pc += 1;
            self.advance(fiber);
        }
    }

    /// One repetition failed: `on_error: continue` carries on, `fail` fails
    /// the fiber with the callee's status.
    fn call_failed(&mut self, fiber: u32, c: u32, code: StatusCode) {
        if self.plan.calls[c as usize].continue_on_error {
            self.repetition_done(fiber, c);
        } else {
            self.fiber_done(fiber, Some(code));
        }
    }
}
