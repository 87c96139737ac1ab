//! The server side of data that changes (`updates:`), as the replicas do it
//! (`services/src/updates/`): each service's version timeline (the run's,
//! drawn from the same seed), long polls held until a newer version or
//! their time is up (keeping their worker in `blocking`, none in `async`),
//! and subscriptions: a stream opened like a request, that keeps its worker
//! in `blocking`, and pushes each new version by running the endpoint's
//! steps. Kept off the path of topologies without followers: the world
//! reaches it only when [`World::updates`] is set.

use std::collections::HashMap;

use topolab_model::{Timeline, Topology};
use topolab_rules::deadline;

use crate::engine::{Event, Nanos};
use crate::state::JobState;
use crate::thread::Message;
use crate::timers::TimerId;
use crate::world::World;

/// How long before the caller's deadline a held request answers "nothing
/// new", so the answer reaches the caller in time (the replicas' margin).
const ANSWER_MARGIN: Nanos = 20_000_000;

/// What the server side keeps.
#[derive(Debug, Default)]
pub struct Updates {
    /// Per service with `updates`: its timeline, the version held now, the
    /// long polls held and the streams open on its replicas.
    data: Vec<Option<Data>>,
    /// Long polls on their way or running their steps, by job slot.
    pub(crate) asks: HashMap<u32, Ask>,
    /// Long polls held, by job slot: the job's token and its hold's end.
    held: HashMap<u32, (u64, TimerId)>,
    /// Streams, never reused: an event names one for good.
    pub(crate) streams: Vec<Stream>,
    /// The stream a job opens or is, by job slot.
    pub(crate) stream_of: HashMap<u32, u32>,
    /// Per (replica, endpoint): long polls held and streams open now.
    level: HashMap<(u32, u32), (u64, u64)>,
    /// Per replica: versions pushed since the last sample.
    pub(crate) pushed: HashMap<u32, u32>,
    /// What one message costs a replica's one thread
    /// ([`crate::Options::message_cost`]).
    pub(crate) message_cost: Nanos,
    /// What a push costs it ([`crate::Options::push_cost`]).
    pub(crate) push_cost: Nanos,
    /// Added to each version's time ([`crate::Options::version_late`]).
    version_late: Nanos,
    /// Per replica with messages in a burst: its one thread.
    pub(crate) threads: HashMap<u32, crate::thread::Thread>,
}

#[derive(Debug)]
struct Data {
    timeline: Timeline,
    current: u64,
    held: Vec<u32>,
    streams: Vec<u32>,
}

/// A long poll as its request carries it: the version its client holds,
/// and how long it may be held.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    pub token: u64,
    pub known: u64,
    pub hold: Nanos,
}

/// Where a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    /// Its opening request is on its way or queued.
    Opening,
    /// Its client gave up opening it: the replica drops it unserved.
    Abandoned,
    Open,
    /// Its client closed it while a push ran: closed once the push ends.
    Closing,
    Closed,
}

/// One subscription, from its opening request to its close.
#[derive(Debug, Clone)]
pub struct Stream {
    pub generator: u32,
    pub client: u32,
    pub job: u32,
    pub job_token: u64,
    pub state: StreamState,
    /// The newest version pushed (the client's at opening).
    pub known: u64,
    /// A push is running its steps, for this version.
    pub pushing: Option<u64>,
}

impl Updates {
    /// Every service's timeline, drawn as the replicas draw theirs.
    pub fn new(t: &Topology, opts: &crate::Options) -> Updates {
        let seed = opts.seed;
        let data = t
            .services
            .iter()
            .map(|s| {
                s.updates.map(|gaps| Data {
                    timeline: Timeline::new(seed, &s.name, gaps),
                    current: 0,
                    held: Vec::new(),
                    streams: Vec::new(),
                })
            })
            .collect();
        Updates {
            data,
            message_cost: opts.message_cost,
            push_cost: opts.push_cost,
            version_late: opts.version_late,
            ..Updates::default()
        }
    }

    /// Whether service `s` has `updates`.
    pub fn changes(&self, s: u32) -> bool {
        matches!(self.data.get(s as usize), Some(Some(_)))
    }

    /// Long polls held and streams open now on endpoint `ep` of replica `rep`.
    pub(crate) fn level_of(&mut self, rep: u32, ep: u32) -> &mut (u64, u64) {
        self.level.entry((rep, ep)).or_default()
    }

    /// The streams open on service `s`'s replicas.
    pub(crate) fn streams_of(&mut self, s: u32) -> Option<&mut Vec<u32>> {
        self.data
            .get_mut(s as usize)?
            .as_mut()
            .map(|d| &mut d.streams)
    }
}

impl World<'_> {
    fn up(&mut self) -> &mut Updates {
        // Cannot fail: only called once `updates` was found set.
        self.updates.as_deref_mut().expect("updates simulated")
    }

    /// Schedules every service's first new version. A replica takes a
    /// version up on a timer's wake, as it ends a `work` step: a busy
    /// machine's lateness ([`crate::Options::work_overhead`]) is added, and
    /// what its coarser timer adds ([`crate::Options::version_late`]).
    pub(crate) fn start_versions(&mut self) {
        let late = self.work_overhead + self.up().version_late;
        let up = self.up();
        let mut first = Vec::new();
        for (s, d) in up.data.iter_mut().enumerate() {
            if let Some(d) = d {
                first.push((d.timeline.created(1).as_nanos() as Nanos + late, s as u32));
            }
        }
        for (at, service) in first {
            self.queue.push(at, Event::Version { service });
        }
    }

    /// Service `service`'s next version appears: held long polls answer,
    /// open streams push it, through their replica's thread (`thread.rs`).
    pub(crate) fn new_version(&mut self, service: u32) {
        let late = self.work_overhead + self.up().version_late;
        let up = self.up();
        let Some(d) = up.data[service as usize].as_mut() else {
            return;
        };
        d.current += 1;
        let next = d.timeline.created(d.current + 1).as_nanos() as Nanos + late;
        let held = std::mem::take(&mut d.held);
        let streams = d.streams.clone();
        self.queue
            .push(next.max(self.now), Event::Version { service });
        for job in held {
            let j = &self.jobs.items[job as usize];
            let (rep, token) = (j.rep, j.token);
            self.give_thread(rep, Message::Answer { job, token });
        }
        for s in streams {
            self.push_if_new(s);
        }
    }

    /// The version service `s` holds now.
    pub(crate) fn current(&mut self, s: u32) -> u64 {
        self.up().data[s as usize].as_ref().map_or(0, |d| d.current)
    }

    /// A request `job` ended its steps OK: if it is a long poll with nothing
    /// newer than its client's version, it is held (true) until a newer
    /// version or its time is up, keeping its worker if it holds one.
    pub(crate) fn hold(&mut self, job: u32) -> bool {
        let Some(ask) = self.up().asks.remove(&job) else {
            return false;
        };
        let j = &self.jobs.items[job as usize];
        if j.token != ask.token {
            return false;
        }
        let (rep, s, e, token, dl) = (j.rep, j.service, j.endpoint, j.token, j.deadline);
        // Its thread took the request in (timed here, where it is known
        // for a long poll, a millisecond or so after it came).
        self.give_thread(rep, Message::Take);
        let now = self.now;
        let up_to = match dl {
            deadline::NONE => ask.hold,
            d => ask.hold.min(d.saturating_sub(now + ANSWER_MARGIN)),
        };
        let current = self.current(s);
        let level = self.up().level_of(rep, e);
        level.0 += 1;
        let at_once = current > ask.known || up_to == 0;
        let depth = level.0;
        if at_once {
            level.0 -= 1;
        }
        let follow = &mut self.figures.endpoints[s as usize][e as usize].follow;
        follow.long_polls += 1;
        follow.max_held = follow.max_held.max(depth);
        if at_once {
            return false;
        }
        let timer = self.queue.arm(now + up_to, Event::HoldEnd { job, token });
        let up = self.up();
        up.held.insert(job, (token, timer));
        if let Some(d) = up.data[s as usize].as_mut() {
            d.held.push(job);
        }
        true
    }

    /// A held long poll answers: a new version came (`token: None`) or its
    /// hold timed out (`Some`, the job's token).
    pub(crate) fn end_hold(&mut self, job: u32, token: Option<u64>) {
        let up = self.up();
        let Some(&(t, timer)) = up.held.get(&job) else {
            return;
        };
        if token.is_some_and(|x| x != t) {
            return;
        }
        up.held.remove(&job);
        let j = &self.jobs.items[job as usize];
        if j.token != t || j.state != JobState::Running {
            return;
        }
        let (rep, s, e) = (j.rep, j.service, j.endpoint);
        self.queue.cancel(timer);
        let up = self.up();
        up.level_of(rep, e).0 -= 1;
        if token.is_some()
            && let Some(d) = up.data[s as usize].as_mut()
        {
            d.held.retain(|&x| x != job);
        }
        self.end_job(job, crate::OK);
    }

    /// Telemetry of the replicas of services with `updates`: held, open,
    /// pushed since the last sample.
    pub(crate) fn sample_followers(&mut self, tick: u32) {
        let plan = self.plan;
        // Cannot fail: only called once `updates` was found set.
        let up = self.updates.as_deref_mut().expect("updates simulated");
        for (s, svc) in plan.services.iter().enumerate() {
            if !up.changes(s as u32) {
                continue;
            }
            for i in 0..svc.replicas {
                let r = svc.first + i;
                let (mut held, mut streams) = (0, 0);
                for e in 0..svc.endpoints.len() as u32 {
                    if let Some(&(h, o)) = up.level.get(&(r, e)) {
                        held += h;
                        streams += o;
                    }
                }
                let pushed = up.pushed.remove(&r).unwrap_or(0);
                self.figures
                    .follow_samples
                    .push(crate::figures::FollowSample {
                        tick,
                        service: s as u32,
                        replica: i,
                        held: held as u32,
                        streams: streams as u32,
                        pushed,
                    });
            }
        }
    }

    /// Replica `r` was killed: its held long polls and open streams are gone
    /// (the kill answered their requests), their clients told of broken
    /// streams.
    pub(crate) fn versions_killed(&mut self, r: u32) {
        self.thread_killed(r);
        let hop = self.hop;
        let now = self.now;
        // Cannot fail: only called once `updates` was found set.
        let up = self.updates.as_deref_mut().expect("updates simulated");
        up.level.retain(|&(rep, _), _| rep != r);
        let jobs = &self.jobs;
        up.held
            .retain(|&job, &mut (t, _)| jobs.items[job as usize].token == t);
        let mut broken = Vec::new();
        for (i, st) in up.streams.iter_mut().enumerate() {
            let job = &jobs.items[st.job as usize];
            let gone = job.token != st.job_token;
            if gone && matches!(st.state, StreamState::Open | StreamState::Closing) {
                if st.state == StreamState::Open {
                    broken.push(i as u32);
                }
                st.state = StreamState::Closed;
            }
        }
        for d in up.data.iter_mut().flatten() {
            d.streams.retain(|s| !broken.contains(s));
        }
        for stream in broken {
            self.queue.push(now + hop, Event::StreamBroken { stream });
        }
    }
}
