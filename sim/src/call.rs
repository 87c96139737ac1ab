//! The client role inside a job: a `call` step's attempts, each with its
//! timeout cut to the caller's remaining deadline, through the breaker, to a
//! replica picked by the policy; then retries (budgeted, after a backoff) or
//! the next repetition, in the order of `services/src/executor.rs`. Every
//! decision is the replicas' own rule, from `topolab_rules`; this file keeps
//! their state in the world's tables and their time simulated.

use topolab_model::StatusCode;
use topolab_rules::breaker::{Admit, Breaker};
use topolab_rules::budget::Budget;
use topolab_rules::{backoff, deadline, retry};

use crate::engine::{Caller, Event};
use crate::serve::session_key;
use crate::world::World;
use crate::{DEADLINE_EXCEEDED, OK, UNAVAILABLE};

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
        let (caller_rep, session, job_deadline) = (job.rep, job.session, job.deadline);
        let key = (caller_rep, call.edge);
        // Every repetition's first attempt earns its share, as a replica's
        // does, before it even finds whether time is left.
        if first && let Some(ratio) = call.budget {
            self.budgets
                .entry(key)
                .or_insert_with(|| Budget::new(ratio, now))
                .deposit(now);
        }
        let Some(timeout) = deadline::attempt_timeout(call.timeout, job_deadline, now) else {
            self.call_failed(fiber, c, DEADLINE_EXCEEDED);
            return;
        };
        let mut probe = None;
        if let Some(&cfg) = call.breaker.as_deref() {
            let breaker = self
                .breakers
                .entry(key)
                .or_insert_with(|| Breaker::new(cfg));
            match breaker.admit(now) {
                Admit::Refused => {
                    self.edge_figures[call.edge as usize].breaker_rejected += 1;
                    self.call_failed(fiber, c, UNAVAILABLE);
                    return;
                }
                Admit::Through { probe: p } => probe = Some(p),
            }
        }
        let callee = &plan.hot[call.service as usize];
        // One replica: no choice to make, no picker state to keep; its
        // per-replica count is `attempts`, filled in at the end.
        let picked = callee.replicas > 1;
        let i = if picked {
            let slot = (plan.pick_base[caller_rep as usize] + call.slot) as usize;
            let picker = &mut self.picks[slot];
            let key = session_key(&session).copied();
            // Cannot be None: the callee has more than one replica.
            let i = picker
                .pick(call.pick, callee.replicas, key, now, &mut self.rng)
                .unwrap_or(0);
            picker.started(i);
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
        // On a modelled network a partitioned request never arrives: the
        // timeout armed below ends it.
        if let Some(link) = self.link_delay(caller_rep, rep, call.request, call.response) {
            let job = self.send_over(
                (rep, call.service),
                call.endpoint,
                timeout,
                session,
                caller,
                link,
            );
            self.jobs.items[job as usize].oversize = call.oversize;
        }
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
            let picker = &mut self.picks[slot];
            picker.ended(i);
            if refused {
                picker.eject(i, now);
            } else if code == OK {
                picker.answered(i);
            }
        }
        if code == OK {
            self.edge_hot[call.edge as usize].ok += 1;
        } else {
            self.edge_codes[call.edge as usize][crate::figures::code_slot(code)] += 1;
        }
        let key = (caller_rep, call.edge);
        if call.breaker.is_some()
            && let Some(b) = self.breakers.get_mut(&key)
            && b.outcome(now, probe, code != OK)
        {
            self.edge_figures[call.edge as usize].breaker_opened += 1;
        }
        if code == OK {
            self.repetition_done(fiber, c);
            return;
        }
        let f = &mut self.fibers.items[fiber as usize];
        if retry::another(code, f.retry, call.retries) {
            let allowed = match call.budget {
                Some(ratio) => self
                    .budgets
                    .entry(key)
                    .or_insert_with(|| Budget::new(ratio, now))
                    .withdraw(now),
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
                    let wait =
                        backoff::draw(&b, call.shape, retry, &mut self.rng).as_nanos() as u64;
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
