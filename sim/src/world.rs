//! The simulated world: every replica's worker pool and queue, the requests
//! in flight (jobs at replicas, fibers running their steps, the generators'
//! requests), and the loop that hands each event to the part that owns it.
//! Time only moves when an event is taken from the queue.

use std::collections::HashMap;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use topolab_model::{StatusCode, Topology};
use topolab_rules::admission::Admission;
use topolab_rules::balance::Picker;
use topolab_rules::breaker::Breaker;
use topolab_rules::budget::Budget;

use crate::engine::{Caller, Event, Nanos, Queue};
use crate::figures::{EndpointFigures, Figures, LoadFigures};
use crate::load::GenState;
use crate::plan::Plan;
pub use crate::state::{EdgeHot, EpHot, Fiber, Job, JobState, Rep, RepCold, Root, Slab, Waiter};

/// Work to continue once the current event is handled (a freed worker's
/// next request), kept off the call stack so long queues cannot overflow it.
#[derive(Debug, Clone, Copy)]
pub enum Ready {
    Start(u32),
    Resume(u32, u64),
}

/// The world.
pub struct World<'a> {
    pub plan: &'a Plan,
    pub topo: &'a Topology,
    pub now: Nanos,
    pub queue: Queue,
    pub rng: SmallRng,
    /// One-way cost of a hop, half the round trip.
    pub hop: Nanos,
    /// Added to every `work` step ([`crate::Options::work_overhead`]).
    pub work_overhead: Nanos,
    pub reps: Vec<Rep>,
    pub cold: Vec<RepCold>,
    /// Replicas paused now: while none is, events skip the check.
    pub paused: u32,
    pub jobs: Slab<Job>,
    pub fibers: Slab<Fiber>,
    pub roots: Slab<Root>,
    /// Per caller replica and callee service (its pick slot), the caller's
    /// view of the callee's replicas.
    pub picks: Vec<Picker>,
    pub gens: Vec<GenState>,
    /// Generators still issuing requests.
    pub issuing: usize,
    /// Per caller replica and callee endpoint (plan edge), made on first
    /// use: the retry budget and the circuit breaker.
    pub budgets: HashMap<(u32, u32), Budget>,
    pub breakers: HashMap<(u32, u32), Breaker>,
    pub ready: Vec<Ready>,
    tokens: u64,
    pub figures: Figures,
    /// The telemetry interval in force.
    pub every: Nanos,
    /// The generators' own interval (`settings.sample_every`).
    pub load_every: Nanos,
    pub telemetry: bool,
    /// Edge figures are kept by plan edge and named at the end.
    pub edge_figures: Vec<crate::figures::CallFigures>,
    /// Per plan edge, attempts' outcomes by status code (named at the end:
    /// no string is built per response).
    pub edge_codes: Vec<[u64; crate::figures::CODES]>,
    pub edge_hot: Vec<EdgeHot>,
    /// Per service, the flat index of its first endpoint in `ep_hot`.
    pub ep_first: Vec<u32>,
    pub ep_hot: Vec<EpHot>,
    pub(crate) timings: crate::timings::Timings,
    /// Versions, held long polls and streams: only when a generator
    /// follows a service's changing data (`poll`, `long_poll`, `subscribe`).
    pub(crate) updates: Option<Box<crate::versions::Updates>>,
}

impl<'a> World<'a> {
    /// A world at time zero, nothing scheduled yet.
    pub fn new(plan: &'a Plan, topo: &'a Topology, opts: &crate::Options) -> Self {
        let reps = (0..plan.replica_count())
            .map(|r| {
                let s = &plan.services[plan.replica_service[r] as usize];
                (s.workers, s.queue, s.discipline)
            })
            .map(|(workers, queue, discipline)| Rep {
                admission: Admission::new(workers, queue, discipline),
                alive: true,
                paused: false,
                erring: false,
                slow: 1.0,
                arrived: 0,
                completed: 0,
                rejected: 0,
                failed: 0,
                busy_ns: 0.0,
                busy_at: 0,
            })
            .collect();
        let picks = (0..plan.pick_slots)
            .map(|_| Picker::default())
            .collect::<Vec<_>>();
        let load_every = (topo.settings.sample_every.as_nanos() as Nanos).max(1_000_000);
        let every = crate::stretched_interval(topo, plan, load_every);
        let figures = Figures {
            duration: 0,
            load: topo.load.iter().map(|_| LoadFigures::new()).collect(),
            endpoints: plan
                .services
                .iter()
                .map(|s| {
                    s.endpoints
                        .iter()
                        .map(|_| EndpointFigures::new(s.replicas as usize, 2))
                        .collect()
                })
                .collect(),
            calls: vec![Default::default(); plan.services.len()],
            busy_ns: vec![0.0; plan.services.len()],
            restarts: vec![0; plan.services.len()],
            unreachable: vec![Vec::new(); plan.services.len()],
            samples: Vec::new(),
            sample_every: every,
            faults: Vec::new(),
            events: 0,
            freshness: vec![None; topo.load.len()],
            follow_samples: Vec::new(),
        };
        let edge_figures = plan
            .edges
            .iter()
            .map(|&(_, callee, _)| crate::figures::CallFigures {
                per_replica: vec![0; plan.services[callee as usize].replicas as usize],
                ..Default::default()
            })
            .collect();
        World {
            plan,
            topo,
            now: 0,
            queue: Queue::default(),
            rng: SmallRng::seed_from_u64(opts.seed ^ 0x51_3d_5e_ed),
            hop: opts.hop_cost / 2,
            work_overhead: opts.work_overhead,
            reps,
            cold: (0..plan.replica_count())
                .map(|_| RepCold::default())
                .collect(),
            paused: 0,
            jobs: Slab::new(),
            fibers: Slab::new(),
            roots: Slab::new(),
            picks,
            gens: Vec::new(),
            issuing: 0,
            budgets: HashMap::new(),
            breakers: HashMap::new(),
            ready: Vec::new(),
            tokens: 0,
            figures,
            every,
            load_every,
            telemetry: opts.telemetry,
            timings: crate::timings::Timings::new(plan),
            edge_hot: vec![EdgeHot::default(); plan.edges.len()],
            ep_first: plan
                .services
                .iter()
                .scan(0u32, |n, s| {
                    let first = *n;
                    *n += s.endpoints.len() as u32;
                    Some(first)
                })
                .collect(),
            ep_hot: plan
                .eps
                .iter()
                .map(|e| EpHot {
                    list: e.list,
                    miss_list: e.miss_list,
                    errors: e.errors.is_some(),
                    ..EpHot::default()
                })
                .collect(),
            edge_codes: vec![[0; crate::figures::CODES]; plan.edges.len()],
            edge_figures,
            updates: topo
                .load
                .iter()
                .any(|g| g.follow.is_some())
                .then(|| Box::new(crate::versions::Updates::new(topo, opts))),
        }
    }

    /// A fresh token, never 0 (0 marks a free slot).
    pub fn token(&mut self) -> u64 {
        self.tokens += 1;
        self.tokens
    }

    /// Runs until every generator has finished and its requests have ended.
    pub fn run(&mut self, opts: &crate::Options) {
        self.start_load(opts.seed);
        if self.updates.is_some() {
            self.start_versions();
        }
        self.schedule_faults();
        if self.telemetry {
            self.queue.push(self.every, Event::Sample);
        }
        while let Some((t, ev)) = self.queue.pop() {
            if self.load_done() {
                break;
            }
            self.now = t;
            if self.paused > 0
                && let Some(r) = self.replica_of(&ev)
                && self.reps[r as usize].paused
            {
                self.cold[r as usize].frozen.push(ev);
                continue;
            }
            self.handle(ev);
            self.drain_ready();
        }
        self.finish();
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Arrival { generator } => self.arrival(generator),
            Event::ClientWake { generator, client } => self.client_wake(generator, client),
            Event::Deliver { job, token } => self.deliver(job, token),
            Event::WorkDone { fiber, token } => self.work_done(fiber, token),
            Event::Reply {
                caller,
                code,
                refused,
            } => self.reply(caller, StatusCode(code), refused),
            Event::Timeout { caller } => self.reply(caller, crate::DEADLINE_EXCEEDED, false),
            Event::Backoff { fiber, token } => self.backoff_done(fiber, token),
            Event::QueueDeadline { job, token } => self.queue_deadline(job, token),
            Event::Sample => self.sample(),
            Event::Fault { index, start } => self.fault(index as usize, start),
            Event::Restart { replica } => self.restart(replica),
            Event::Version { service } => self.new_version(service),
            Event::HoldEnd { job, token } => self.end_hold(job, Some(token)),
            Event::Pushed { stream, version } => self.stream_message(stream, version),
            Event::StreamClosed { stream } => self.stream_closed(stream),
            Event::StreamBroken { stream } => self.stream_broken(stream),
            Event::ThreadDone { replica } => self.thread_done(replica),
        }
    }

    /// The replica an event acts on, if it acts on one (a paused replica
    /// holds it until it resumes, as a stopped process would).
    fn replica_of(&self, ev: &Event) -> Option<u32> {
        let job_rep = |j: u32| self.jobs.items.get(j as usize).map(|x| x.rep);
        let fiber_rep = |f: u32| {
            let fb = self.fibers.items.get(f as usize)?;
            job_rep(fb.job)
        };
        match *ev {
            Event::Deliver { job, .. }
            | Event::QueueDeadline { job, .. }
            | Event::HoldEnd { job, .. } => job_rep(job),
            Event::WorkDone { fiber, .. } | Event::Backoff { fiber, .. } => fiber_rep(fiber),
            Event::Reply {
                caller: Caller::Fiber { fiber, .. },
                ..
            }
            | Event::Timeout {
                caller: Caller::Fiber { fiber, .. },
            } => fiber_rep(fiber),
            Event::ThreadDone { replica } => Some(replica),
            _ => None,
        }
    }

    fn drain_ready(&mut self) {
        while let Some(r) = self.ready.pop() {
            match r {
                Ready::Start(job) => self.start_job(job),
                Ready::Resume(fiber, token) => self.resume_for_work(fiber, token),
            }
        }
    }

    /// Adds up worker time so far on replica `r` (called before its
    /// admission may change `busy`).
    pub fn account(&mut self, r: u32) {
        let rep = &mut self.reps[r as usize];
        rep.busy_ns += f64::from(rep.admission.busy()) * (self.now - rep.busy_at) as f64;
        rep.busy_at = self.now;
    }

    fn sample(&mut self) {
        let tick = (self.now / self.every).saturating_sub(1) as u32;
        for (i, rep) in self.reps.iter_mut().enumerate() {
            let service = self.plan.replica_service[i];
            let first = self.plan.services[service as usize].first;
            self.figures.samples.push(crate::figures::Sample {
                tick,
                service,
                replica: i as u32 - first,
                queue: rep.admission.waiting(),
                in_flight: rep.admission.busy(),
                arrived: rep.arrived,
                completed: rep.completed,
                rejected: rep.rejected,
                failed: rep.failed,
            });
            rep.arrived = 0;
            rep.completed = 0;
            rep.rejected = 0;
            rep.failed = 0;
        }
        if self.updates.is_some() {
            self.sample_followers(tick);
        }
        let next = self.now + self.every;
        self.queue.push(next, Event::Sample);
    }

    fn finish(&mut self) {
        self.timings.flush(&mut self.figures.endpoints);
        self.close_followers();
        self.figures.duration = self.now;
        if self.telemetry {
            // The interval in progress, as the launcher's last flush.
            let end = self.now.div_ceil(self.every).max(1) * self.every;
            self.now = end;
            self.sample();
            self.now = self.figures.duration;
        }
        for r in 0..self.reps.len() {
            self.account(r as u32);
            let s = self.plan.replica_service[r] as usize;
            self.figures.busy_ns[s] += self.reps[r].busy_ns;
            if !self.reps[r].alive {
                let first = self.plan.services[s].first;
                self.figures.unreachable[s].push(r as u32 - first);
            }
        }
        for (ep, hot) in self
            .figures
            .endpoints
            .iter_mut()
            .flatten()
            .zip(&self.ep_hot)
        {
            ep.requests += hot.requests;
            ep.ok += hot.ok;
            if let [only] = ep.per_replica.as_mut_slice() {
                *only = ep.requests;
            }
        }
        let every = self.load_every;
        let end = self.figures.duration;
        for l in &mut self.figures.load {
            l.close(end, every);
        }
        for (i, mut f) in std::mem::take(&mut self.edge_figures)
            .into_iter()
            .enumerate()
        {
            let hot = self.edge_hot[i];
            f.attempts += hot.attempts;
            self.edge_codes[i][crate::figures::code_slot(crate::OK)] += hot.ok;
            crate::figures::name_codes(&self.edge_codes[i], &mut f.outcomes);
            let (caller, callee, ep) = self.plan.edges[i];
            if let [only] = f.per_replica.as_mut_slice() {
                *only = f.attempts;
            }
            let label = self.plan.endpoint_label(callee, ep);
            self.figures.calls[caller as usize].insert(label, f);
        }
        self.figures.events = self.queue.popped;
    }
}
