//! The faults timeline in simulated time: `slow` stretches work, `errors`
//! fails requests once they have a worker, `kill` loses a replica's requests
//! (and its sessions) and refuses connections until a `restart: always`
//! replica comes back 20 ms later, `pause` freezes a replica: events for it
//! wait until it resumes, as a stopped process's timers do.

use crate::UNAVAILABLE;
use crate::engine::{Event, Nanos};
use crate::world::{JobState, World};
use topolab_model::FaultAction;

/// How long a killed `restart: always` replica is down.
pub const RESTART_AFTER: Nanos = 20_000_000;

impl World<'_> {
    pub(crate) fn schedule_faults(&mut self) {
        for (i, f) in self.topo.faults.iter().enumerate() {
            let at = f.at.as_nanos() as Nanos;
            let index = i as u32;
            self.queue.push(at, Event::Fault { index, start: true });
            if let Some(d) = f.duration
                && !matches!(f.action, FaultAction::Kill)
            {
                let end = at + d.as_nanos() as Nanos;
                self.queue.push(
                    end,
                    Event::Fault {
                        index,
                        start: false,
                    },
                );
            }
        }
    }

    /// The replicas a fault acts on.
    fn fault_targets(&self, index: usize) -> Vec<u32> {
        let f = &self.topo.faults[index];
        let Some(s) = self
            .plan
            .services
            .iter()
            .find(|s| s.name == f.target.service)
        else {
            return Vec::new();
        };
        match f.target.replica {
            Some(i) if i < s.replicas => vec![s.first + i],
            Some(_) => Vec::new(),
            None => (s.first..s.first + s.replicas).collect(),
        }
    }

    pub(crate) fn fault(&mut self, index: usize, start: bool) {
        let topo = self.topo;
        let f = &topo.faults[index];
        if start {
            self.figures.faults.push((index, self.now, None));
        } else if let Some(entry) = self.figures.faults.iter_mut().find(|e| e.0 == index) {
            entry.2 = Some(self.now);
        }
        for r in self.fault_targets(index) {
            let rep = &mut self.reps[r as usize];
            match (&f.action, start) {
                (FaultAction::Slow(x), true) => rep.slow = *x,
                (FaultAction::Slow(_), false) => rep.slow = 1.0,
                (FaultAction::Errors(e), true) => {
                    rep.erring = true;
                    self.cold[r as usize].errors = Some((e.rate, e.status));
                }
                (FaultAction::Errors(_), false) => {
                    rep.erring = false;
                    self.cold[r as usize].errors = None;
                }
                (FaultAction::Kill, true) => self.kill(r),
                (FaultAction::Kill, false) => {}
                (FaultAction::Pause, true) => {
                    if !rep.paused {
                        rep.paused = true;
                        self.paused += 1;
                    }
                }
                (FaultAction::Pause, false) => {
                    if rep.paused {
                        rep.paused = false;
                        self.paused -= 1;
                    }
                    for ev in std::mem::take(&mut self.cold[r as usize].frozen) {
                        self.queue.push(self.now, ev);
                    }
                }
            }
        }
    }

    /// SIGKILL: every request at the replica fails UNAVAILABLE for its
    /// caller (the connection broke); nothing it measured survives.
    fn kill(&mut self, r: u32) {
        if !self.reps[r as usize].alive {
            return;
        }
        self.account(r);
        let rep = &mut self.reps[r as usize];
        rep.alive = false;
        if rep.paused {
            rep.paused = false;
            self.paused -= 1;
        }
        self.reps[r as usize].admission.clear();
        self.cold[r as usize].sessions.forget_all();
        self.cold[r as usize].frozen.clear();
        let mut lost = vec![false; self.jobs.items.len()];
        let mut replies = Vec::new();
        for (i, j) in self.jobs.items.iter().enumerate() {
            if j.rep == r && matches!(j.state, JobState::Queued | JobState::Running) {
                lost[i] = true;
                replies.push(j.reply);
            }
        }
        for i in 0..self.fibers.items.len() {
            let f = &mut self.fibers.items[i];
            if f.token != 0 && lost[f.job as usize] {
                f.token = 0;
                self.fibers.release(i as u32);
            }
        }
        for (i, gone) in lost.into_iter().enumerate() {
            if gone {
                self.free_job(i as u32);
            }
        }
        for reply in replies {
            self.respond(reply, UNAVAILABLE, false);
        }
        if self.updates.is_some() {
            self.versions_killed(r);
        }
        let s = self.plan.replica_service[r as usize] as usize;
        if self.plan.services[s].restart {
            self.queue
                .push(self.now + RESTART_AFTER, Event::Restart { replica: r });
        }
    }

    /// A fresh process on the same address: empty memory, the backlog served.
    pub(crate) fn restart(&mut self, r: u32) {
        self.reps[r as usize].alive = true;
        let backlog = std::mem::take(&mut self.cold[r as usize].backlog);
        let s = self.plan.replica_service[r as usize] as usize;
        self.figures.restarts[s] += 1;
        for (job, token) in backlog {
            self.queue.push(self.now, Event::Deliver { job, token });
        }
    }
}
