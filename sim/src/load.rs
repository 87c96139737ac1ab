//! The askers: open loops whose arrivals come from the same schedule the
//! real generator paces ([`topolab_model::shape::offsets`], same seed, same
//! due times) and closed loops of clients that send, wait, think and repeat
//! while their stage has them. Each request goes round-robin to its target's
//! replicas, with the generator's deadline and retries, as the launcher's
//! generator sends it.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use topolab_model::shape::{next_active, offsets};
use topolab_model::{ClientStage, Dist, Pattern, StatusCode};

use topolab_rules::retry::retryable;

use crate::engine::{Caller, Event, Nanos};
use crate::world::{Root, World};

const NS: f64 = 1e9;

/// One generator while the simulation runs.
pub struct GenState {
    arrivals: Option<Box<dyn Iterator<Item = f64>>>,
    pub(crate) clients: Vec<ClientStage>,
    think: Option<Dist>,
    pub(crate) start: Nanos,
    pub(crate) end: Nanos,
    /// Clients (closed loop) still going, or 1 while an open loop issues.
    active: u32,
    pub(crate) rng: SmallRng,
    /// Cumulative shares and (service, endpoint) of the mix's targets.
    cumulative: Vec<f64>,
    pub(crate) targets: Vec<(u32, u32)>,
    next: Vec<u32>,
    pub(crate) timeout: Nanos,
    pub(crate) retries: u32,
    sessions: u32,
    /// Its `request` is larger than a replica decodes.
    oversize: bool,
    /// How its clients follow a service's changing data (`poll`,
    /// `long_poll`, `subscribe`), `None` for other generators.
    pub(crate) follow: Option<Box<crate::follow::Followers>>,
}

impl World<'_> {
    /// Schedules every generator's first request.
    pub(crate) fn start_load(&mut self, seed: u64) {
        let topo = self.topo;
        let by_name: std::collections::HashMap<&str, usize> = topo
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        for (i, g) in topo.load.iter().enumerate() {
            let gseed = seed ^ 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i as u64 + 1);
            let start = g.start.as_nanos() as Nanos;
            let end = start + g.duration.as_nanos() as Nanos;
            let mut acc = 0.0;
            let mut cumulative = Vec::new();
            let mut targets = Vec::new();
            for w in &g.mix {
                acc += w.share;
                cumulative.push(acc);
                let s = by_name.get(w.target.service.as_str()).copied().unwrap_or(0);
                let e = topo.services[s]
                    .endpoints
                    .iter()
                    .position(|e| e.name == w.target.endpoint)
                    .unwrap_or(0);
                targets.push((s as u32, e as u32));
            }
            let mut state = GenState {
                arrivals: None,
                clients: Vec::new(),
                think: None,
                start,
                end,
                active: 1,
                rng: SmallRng::seed_from_u64(gseed.rotate_left(17) ^ 0x5e55_1045),
                next: vec![0; targets.len()],
                cumulative,
                targets,
                timeout: g.timeout.as_nanos() as Nanos,
                retries: g.retries,
                sessions: g.sessions,
                oversize: !topolab_rules::message::fits(g.request),
                follow: crate::follow::Followers::new(topo, g, seed),
            };
            match &g.pattern {
                Pattern::Open { arrivals, stages } => {
                    let mut it = offsets(stages.clone(), *arrivals, gseed);
                    match it.next() {
                        Some(t) => self.queue.push(
                            start + (t * NS) as Nanos,
                            Event::Arrival {
                                generator: i as u32,
                            },
                        ),
                        None => state.active = 0,
                    }
                    state.arrivals = Some(Box::new(it));
                }
                Pattern::Closed { think, stages } => {
                    let most = stages.iter().map(|s| s.clients).max().unwrap_or(0);
                    state.clients = stages.clone();
                    state.think = *think;
                    state.active = most;
                    for c in 0..most {
                        self.queue.push(
                            start,
                            Event::ClientWake {
                                generator: i as u32,
                                client: c,
                            },
                        );
                    }
                }
            }
            if state.active == 0 {
                self.figures.load[i].issue_end = Some(start);
            } else {
                self.issuing += 1;
            }
            self.gens.push(state);
        }
    }

    /// True once every generator stopped issuing and every request ended.
    pub(crate) fn load_done(&self) -> bool {
        self.roots.live == 0 && self.issuing == 0
    }

    pub(crate) fn arrival(&mut self, generator: u32) {
        self.send_root(generator, u32::MAX);
        let g = &mut self.gens[generator as usize];
        let next = g.arrivals.as_mut().and_then(|it| it.next());
        match next {
            Some(t) => {
                let at = g.start + (t * NS) as Nanos;
                self.queue
                    .push(at.max(self.now), Event::Arrival { generator });
            }
            None => {
                g.active = 0;
                self.issuing -= 1;
                self.figures.load[generator as usize].issue_end = Some(self.now.min(g.end));
            }
        }
    }

    pub(crate) fn client_wake(&mut self, generator: u32, client: u32) {
        if self.gens[generator as usize].follow.is_some() {
            self.follow_wake(generator, client);
            return;
        }
        let g = &mut self.gens[generator as usize];
        let t = self.now.saturating_sub(g.start) as f64 / NS;
        let turn = next_active(&g.clients, client, t);
        match turn {
            Some(turn) if turn > t => {
                let at = g.start + (turn * NS).ceil() as Nanos;
                self.queue.push(at, Event::ClientWake { generator, client });
            }
            Some(_) if self.now < g.end => self.send_root(generator, client),
            _ => {
                self.client_done(generator);
            }
        }
    }

    /// A closed-loop client of `generator` is done for good.
    pub(crate) fn client_done(&mut self, generator: u32) {
        let g = &mut self.gens[generator as usize];
        g.active -= 1;
        if g.active == 0 {
            self.issuing -= 1;
            self.figures.load[generator as usize].issue_end = Some(g.end);
        }
    }

    fn send_root(&mut self, generator: u32, client: u32) {
        let (root, k) = self.new_root(generator, client, 0);
        self.root_attempt(root, k);
    }

    /// A new request of `generator` (from `client`, or `u32::MAX` for an
    /// open loop), its deadline the generator's timeout plus `hold` (a long
    /// poll's); returns it and its target in the mix.
    #[inline]
    pub(crate) fn new_root(&mut self, generator: u32, client: u32, hold: Nanos) -> (u32, usize) {
        let g = &mut self.gens[generator as usize];
        let u: f64 = g.rng.random();
        let k = g
            .cumulative
            .iter()
            .position(|&c| u < c)
            .unwrap_or(g.targets.len() - 1);
        let (service, endpoint) = g.targets[k];
        let session = match (g.sessions, client) {
            (0, _) => u64::MAX,
            (n, u32::MAX) => u64::from(generator) << 32 | u64::from(g.rng.random_range(0..n)),
            (n, c) => u64::from(generator) << 32 | u64::from(c % n),
        };
        let deadline = self.now + g.timeout + hold;
        self.figures.load[generator as usize].sent(self.now, self.load_every);
        let root = self.roots.alloc(Root {
            token: 0,
            generator,
            service,
            endpoint,
            due: self.now,
            deadline,
            attempts: 0,
            session,
            client,
            timer: crate::timers::TimerId::NONE,
        });
        (root, k)
    }

    /// Sends root `root`'s next attempt to `target` of its mix; returns
    /// the job it became at its replica.
    pub(crate) fn root_attempt(&mut self, root: u32, target: usize) -> u32 {
        let token = self.token();
        let r = &mut self.roots.items[root as usize];
        r.attempts += 1;
        r.token = token;
        let g = &mut self.gens[r.generator as usize];
        let svc = &self.plan.hot[r.service as usize];
        let i = g.next[target] % svc.replicas;
        g.next[target] = g.next[target].wrapping_add(1);
        let caller = Caller::Root { root, token };
        let (service, endpoint, deadline, session) = (r.service, r.endpoint, r.deadline, r.session);
        // The generator sends what is left of its timeout (`grpc-timeout`).
        let left = deadline.saturating_sub(self.now);
        let oversize = g.oversize;
        let job = self.send(svc.first + i, service, endpoint, left, session, caller);
        self.jobs.items[job as usize].oversize = oversize;
        let at = deadline.max(self.now);
        self.roots.items[root as usize].timer = self.queue.arm(at, Event::Timeout { caller });
        job
    }

    /// Root `root` ended with `code`: counted for its generator and freed;
    /// returns its generator and client.
    #[inline]
    pub(crate) fn end_root(&mut self, root: u32, code: StatusCode) -> (u32, u32) {
        let r = &self.roots.items[root as usize];
        let (generator, client, due, attempts) = (r.generator, r.client, r.due, r.attempts);
        self.roots.items[root as usize].token = 0;
        self.roots.release(root);
        let every = self.load_every;
        self.figures.load[generator as usize].finish(due, self.now, code, attempts, every);
        (generator, client)
    }

    pub(crate) fn root_reply(&mut self, root: u32, token: u64, code: StatusCode) {
        let r = &self.roots.items[root as usize];
        if r.token != token {
            return;
        }
        if self.gens[r.generator as usize].follow.is_some() {
            self.follow_reply(root, code);
            return;
        }
        self.queue.cancel(r.timer);
        let g = &self.gens[r.generator as usize];
        let again = r.attempts <= g.retries && retryable(code) && r.deadline > self.now + 1_000_000;
        if again {
            let target = g
                .targets
                .iter()
                .position(|&t| t == (r.service, r.endpoint))
                .unwrap_or(0);
            self.root_attempt(root, target);
            return;
        }
        let (generator, client) = self.end_root(root, code);
        if client != u32::MAX {
            let g = &mut self.gens[generator as usize];
            let pause = match g.think {
                Some(d) => {
                    (d.sample(&mut g.rng).as_nanos() as Nanos).min(g.end.saturating_sub(self.now))
                }
                None => 0,
            };
            self.queue
                .push(self.now + pause, Event::ClientWake { generator, client });
        }
    }
}

impl GenState {
    /// The first target of its mix (a following generator has one).
    pub(crate) fn target(&self) -> Option<(u32, u32)> {
        self.targets.first().copied()
    }
}
