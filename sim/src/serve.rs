//! The server role: a request arrives at a replica, is turned away, queues or
//! takes a worker; its steps run (`work` holds a worker for a sampled time,
//! `call` turns the replica client, `parallel` forks and joins); it answers,
//! and its worker goes to the next waiter by the queue's discipline. The
//! order of decisions is the replicas' (`services/src/replica.rs`); the
//! decisions themselves are the replicas' own rules: admission and queue
//! discipline, deadlines and session affinity from `topolab_rules`.

use topolab_figures::Ending;
use topolab_model::StatusCode;
use topolab_rules::admission::Entry;
use topolab_rules::deadline;

use crate::engine::{Caller, Event, Nanos};
use crate::plan::PStep;
use crate::timers::TimerId;
use crate::world::{Fiber, Job, JobState, Ready, Waiter, World};
use crate::{DEADLINE_EXCEEDED, OK, OUT_OF_RANGE, RESOURCE_EXHAUSTED, UNAVAILABLE};

const NONE: u32 = u32::MAX;

impl World<'_> {
    /// Sends a request to replica `rep` of `service` with the caller's
    /// `timeout`: it arrives after the hop; returns its job. Inlined: it is on every call's
    /// path, and its callers pass most arguments straight through.
    #[inline]
    pub(crate) fn send(
        &mut self,
        rep: u32,
        service: u32,
        endpoint: u32,
        timeout: Nanos,
        session: u64,
        reply: Caller,
    ) -> u32 {
        self.send_over((rep, service), endpoint, timeout, session, reply, 0)
    }

    /// [`World::send`] over a link that adds `link` ns to the hop (the
    /// caller passes the replica's service, which it has read already: at
    /// ten thousand services looking it up again is a cache miss).
    #[inline]
    pub(crate) fn send_over(
        &mut self,
        (rep, service): (u32, u32),
        endpoint: u32,
        timeout: Nanos,
        session: u64,
        reply: Caller,
        link: Nanos,
    ) -> u32 {
        debug_assert_eq!(self.plan.replica_service[rep as usize], service);
        let token = self.token();
        // Counted from when the request reaches the replica, not from when a
        // paused or restarting replica gets round to it: by then its
        // caller's cancellation has reached the replica too.
        let policy = self.plan.hot[service as usize].deadlines;
        let deadline = deadline::on_arrival(self.now + self.hop + link, Some(timeout), policy);
        let job = self.jobs.alloc(Job {
            token,
            state: JobState::Transit,
            rep,
            service,
            endpoint,
            arrival: 0,
            deadline,
            session,
            reply,
            queue_wait: 0,
            work: 0,
            holds: false,
            miss: false,
            oversize: false,
            timer: TimerId::NONE,
        });
        self.queue
            .push_after(self.now, self.hop + link, Event::Deliver { job, token });
        job
    }

    /// The request reaches its replica: refused if the process is dead,
    /// held if it is down awaiting a restart, else admitted or rejected.
    pub(crate) fn deliver(&mut self, job: u32, token: u64) {
        let j = &self.jobs.items[job as usize];
        if j.token != token || j.state != JobState::Transit {
            return;
        }
        let r = j.rep as usize;
        if !self.reps[r].alive {
            if self.plan.hot[j.service as usize].restart {
                self.cold[r].backlog.push((job, token));
            } else {
                let reply = j.reply;
                self.free_job(job);
                self.respond(reply, UNAVAILABLE, true);
            }
            return;
        }
        if j.oversize {
            // Refused by the server's decoder: no handler, no count.
            let reply = j.reply;
            self.free_job(job);
            self.respond(reply, OUT_OF_RANGE, false);
            return;
        }
        let (service, endpoint) = (j.service as usize, j.endpoint as usize);
        let now = self.now;
        let svc = &self.plan.hot[service];
        self.jobs.items[job as usize].arrival = now;
        self.reps[r].arrived += 1;
        let flat = svc.ep_first as usize + endpoint;
        self.ep_hot[flat].requests += 1;
        if svc.replicas > 1 {
            // One replica: its count is `requests`, filled in at the end.
            self.figures.endpoints[service][endpoint].per_replica[r - svc.first as usize] += 1;
        }
        self.account(r as u32);
        match self.reps[r].admission.arrive(|| Waiter::Job(job, token)) {
            Entry::Work => self.start_job(job),
            Entry::Full { .. } => {
                self.reps[r].rejected += 1;
                self.figures.endpoints[service][endpoint].ended(Ending::Rejected);
                let reply = self.jobs.items[job as usize].reply;
                self.free_job(job);
                self.respond(reply, RESOURCE_EXHAUSTED, false);
            }
            Entry::Wait { depth } => {
                let ep = &mut self.figures.endpoints[service][endpoint];
                ep.max_queue = ep.max_queue.max(u64::from(depth));
                let j = &mut self.jobs.items[job as usize];
                j.state = JobState::Queued;
                if j.deadline != deadline::NONE {
                    let at = j.deadline.max(now);
                    j.timer = self.queue.arm(at, Event::QueueDeadline { job, token });
                }
            }
        }
    }

    /// A queued request's caller gave up: it leaves the queue, unserved.
    pub(crate) fn queue_deadline(&mut self, job: u32, token: u64) {
        let j = &self.jobs.items[job as usize];
        if j.token != token || j.state != JobState::Queued {
            return;
        }
        let r = j.rep as usize;
        self.reps[r].failed += 1;
        let wait = self.now - j.arrival;
        let (s, e, reply) = (j.service as usize, j.endpoint as usize, j.reply);
        self.figures.endpoints[s][e].ended(Ending::DeadlineDropped);
        self.timings
            .push(&mut self.figures.endpoints, (s, e), wait, wait, None);
        self.free_job(job);
        let (jobs, fibers) = (&self.jobs, &self.fibers);
        self.reps[r].admission.leave(|w| waiting(jobs, fibers, *w));
        self.respond(reply, DEADLINE_EXCEEDED, false);
    }

    /// A worker is this job's (already counted busy): drop it if its caller's
    /// deadline passed, fail it if an error is injected, else run its steps.
    pub(crate) fn start_job(&mut self, job: u32) {
        let now = self.now;
        let j = &mut self.jobs.items[job as usize];
        j.state = JobState::Running;
        j.queue_wait = now - j.arrival;
        self.queue.cancel(j.timer);
        if self.updates.is_some() && self.stream_opens(job) {
            return;
        }
        let j = &mut self.jobs.items[job as usize];
        let (r, s, e) = (j.rep, j.service as usize, j.endpoint as usize);
        if deadline::passed(j.deadline, now) {
            let wait = j.queue_wait;
            let reply = j.reply;
            self.figures.endpoints[s][e].ended(Ending::DeadlineDropped);
            self.timings
                .push(&mut self.figures.endpoints, (s, e), wait, wait, None);
            self.reps[r as usize].failed += 1;
            self.free_job(job);
            self.release_worker(r);
            self.respond(reply, DEADLINE_EXCEEDED, false);
            return;
        }
        // Whatever the model, the request holds its worker until its steps start.
        j.holds = true;
        let svc = &self.plan.hot[s];
        let flat = svc.ep_first as usize + e;
        let ep = self.ep_hot[flat];
        let errors = match ep.errors {
            true => self.plan.eps[flat].errors,
            false => None,
        };
        let fault = match self.reps[r as usize].erring {
            true => self.cold[r as usize].errors,
            false => None,
        };
        let injected = [errors, fault];
        for (rate, code) in injected.into_iter().flatten() {
            if self.chance(rate) {
                self.end_job(job, code);
                return;
            }
        }
        let j = &mut self.jobs.items[job as usize];
        let mut list = ep.list;
        if svc.sessions
            && self.cold[r as usize]
                .sessions
                .misses(session_key(&j.session))
        {
            j.miss = true;
            self.figures.endpoints[s][e].session_misses += 1;
            if ep.miss_list != u32::MAX {
                list = ep.miss_list;
            }
        }
        j.holds = svc.blocking;
        let held = !svc.blocking;
        let fiber = self.new_fiber(job, list, NONE, held);
        self.advance(fiber);
    }

    pub(crate) fn new_fiber(&mut self, job: u32, list: u32, parent: u32, held: bool) -> u32 {
        let token = self.token();
        self.fibers.alloc(Fiber {
            token,
            job,
            list,
            pc: 0,
            parent,
            pending: 0,
            failed: None,
            held,
            times_left: 0,
            retry: 0,
            attempt_rep: 0,
            attempt_outstanding: false,
            breaker_ticket: false,
            timer: TimerId::NONE,
            call: 0,
            picked: false,
        })
    }

    /// Runs a fiber's steps from its `pc` until it must wait.
    pub(crate) fn advance(&mut self, fiber: u32) {
        let plan = self.plan;
        loop {
            let f = &self.fibers.items[fiber as usize];
            let (job, list, pc, held) = (f.job, f.list, f.pc, f.held);
            let j = &self.jobs.items[job as usize];
            if deadline::passed(j.deadline, self.now) {
                self.fiber_done(fiber, Some(DEADLINE_EXCEEDED));
                return;
            }
            let Some(step) = plan.list(list).get(pc as usize) else {
                self.fiber_done(fiber, None);
                return;
            };
            match step {
                PStep::Work(d) => {
                    if !held && !j.holds {
                        self.reenter(fiber);
                        return;
                    }
                    let slow = self.reps[j.rep as usize].slow;
                    let dur = d.sample(&mut self.rng).mul_f64(slow).as_nanos() as u64
                        + self.work_overhead;
                    self.jobs.items[job as usize].work += dur;
                    let token = self.token();
                    self.fibers.items[fiber as usize].token = token;
                    self.queue
                        .push(self.now + dur, Event::WorkDone { fiber, token });
                    return;
                }
                PStep::Call(c) => {
                    let c = *c;
                    self.let_go(fiber);
                    let call = &plan.calls[c as usize];
                    if !self.chance(call.probability) {
                        self.fibers.items[fiber as usize].pc += 1;
                        continue;
                    }
                    let f = &mut self.fibers.items[fiber as usize];
                    f.times_left = call.times;
                    f.retry = 0;
                    if call.times == 0 {
                        f.pc += 1;
                        continue;
                    }
                    self.attempt(fiber, c, true);
                    return;
                }
                PStep::Parallel(branches) => {
                    let n = branches.len() as u32;
                    self.let_go(fiber);
                    if n == 0 {
                        self.fibers.items[fiber as usize].pc += 1;
                        continue;
                    }
                    self.fibers.items[fiber as usize].pending = n;
                    for &b in branches {
                        let child = self.new_fiber(job, b, fiber, false);
                        self.advance(child);
                    }
                    return;
                }
            }
        }
    }

    /// Async model: a fiber about to wait on others lets its worker go.
    fn let_go(&mut self, fiber: u32) {
        let f = &mut self.fibers.items[fiber as usize];
        if f.held {
            f.held = false;
            let r = self.jobs.items[f.job as usize].rep;
            self.release_worker(r);
        }
    }

    /// Async model: a later `work` step queues for a worker (never refused).
    fn reenter(&mut self, fiber: u32) {
        let token = self.token();
        let f = &mut self.fibers.items[fiber as usize];
        f.token = token;
        let r = self.jobs.items[f.job as usize].rep;
        self.account(r);
        let entry = self.reps[r as usize]
            .admission
            .reenter(|| Waiter::Fiber(fiber, token));
        if entry == Entry::Work {
            self.fibers.items[fiber as usize].held = true;
            self.ready.push(Ready::Resume(fiber, token));
        }
    }

    /// A re-entering fiber got its worker (already counted busy).
    pub(crate) fn resume_for_work(&mut self, fiber: u32, token: u64) {
        let f = &mut self.fibers.items[fiber as usize];
        if f.token != token {
            return;
        }
        f.held = true;
        self.advance(fiber);
    }

    pub(crate) fn work_done(&mut self, fiber: u32, token: u64) {
        let f = &mut self.fibers.items[fiber as usize];
        if f.token != token {
            return;
        }
        f.pc += 1;
        self.advance(fiber);
    }

    /// A fiber ran out of steps (`failed: None`) or failed.
    pub(crate) fn fiber_done(&mut self, fiber: u32, failed: Option<StatusCode>) {
        self.let_go(fiber);
        let f = &mut self.fibers.items[fiber as usize];
        let (parent, job) = (f.parent, f.job);
        f.token = 0;
        self.fibers.release(fiber);
        if parent == NONE {
            self.end_job(job, failed.unwrap_or(OK));
            return;
        }
        if parent == crate::stream::PUSH {
            self.push_done(job);
            return;
        }
        let p = &mut self.fibers.items[parent as usize];
        if p.failed.is_none() {
            p.failed = failed;
        }
        p.pending -= 1;
        if p.pending > 0 {
            return;
        }
        match p.failed.take() {
            Some(code) => self.fiber_done(parent, Some(code)),
            None => {
                p.pc += 1;
                self.advance(parent);
            }
        }
    }

    /// The job answers `code`: counted, its worker freed, the reply sent.
    pub(crate) fn end_job(&mut self, job: u32, code: StatusCode) {
        if self.updates.is_some() && code == OK && self.hold(job) {
            return;
        }
        let now = self.now;
        let j = &self.jobs.items[job as usize];
        let (r, s, e) = (j.rep, j.service as usize, j.endpoint as usize);
        let latency = now - j.arrival;
        let wait = j.queue_wait;
        if code == OK {
            self.ep_hot[self.ep_first[s] as usize + e].ok += 1;
        } else {
            self.figures.endpoints[s][e].ended(match code {
                crate::OK => Ending::Ok,
                c => Ending::Error(c),
            });
        }
        let work = Some(j.work);
        self.timings
            .push(&mut self.figures.endpoints, (s, e), latency, wait, work);
        let rep = &mut self.reps[r as usize];
        if code == OK {
            rep.completed += 1;
        } else {
            rep.failed += 1;
        }
        if j.miss {
            let key = session_key(&j.session);
            self.cold[r as usize].sessions.ended(key, true, code == OK);
        }
        let (reply, holds) = (j.reply, j.holds);
        self.free_job(job);
        if holds {
            self.release_worker(r);
        }
        self.respond(reply, code, false);
    }

    /// Sends a response back to its caller, arriving after the hop.
    pub(crate) fn respond(&mut self, caller: Caller, code: StatusCode, refused: bool) {
        self.queue.push_after(
            self.now,
            self.hop,
            Event::Reply {
                caller,
                code: code.0,
                refused,
            },
        );
    }

    pub(crate) fn free_job(&mut self, job: u32) {
        let j = &mut self.jobs.items[job as usize];
        j.state = JobState::Dead;
        j.token = 0;
        self.jobs.release(job);
    }

    /// A worker of replica `r` is free: it goes to the next waiter still
    /// waiting, by the discipline, or becomes idle.
    pub(crate) fn release_worker(&mut self, r: u32) {
        self.account(r);
        let (jobs, fibers, ready) = (&self.jobs, &self.fibers, &mut self.ready);
        self.reps[r as usize].admission.release(|w| {
            let here = waiting(jobs, fibers, w);
            if here {
                ready.push(match w {
                    Waiter::Job(job, _) => Ready::Start(job),
                    Waiter::Fiber(fiber, token) => Ready::Resume(fiber, token),
                });
            }
            here
        });
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        use rand::Rng;
        p >= 1.0 || (p > 0.0 && self.rng.random_bool(p))
    }
}

/// Whether waiter `w` still waits (it has not left the queue since).
#[inline]
fn waiting(jobs: &crate::state::Slab<Job>, fibers: &crate::state::Slab<Fiber>, w: Waiter) -> bool {
    match w {
        Waiter::Job(job, token) => {
            let j = &jobs.items[job as usize];
            j.token == token && j.state == JobState::Queued
        }
        Waiter::Fiber(fiber, token) => fibers.items[fiber as usize].token == token,
    }
}

/// A request's session key as the affinity rule reads it (`u64::MAX`: none).
#[inline]
pub(crate) fn session_key(session: &u64) -> Option<&u64> {
    (*session != u64::MAX).then_some(session)
}
