//! The records the world keeps: requests at replicas (jobs), threads of
//! their steps (fibers), the generators' requests (roots), replicas, and the
//! dense per-endpoint and per-edge counters, with the slab that reuses
//! their slots.

use topolab_model::StatusCode;
use topolab_rules::admission::Admission;
use topolab_rules::affinity::Sessions;

use crate::engine::{Caller, Event, Nanos};
use crate::timers::TimerId;

/// Slots reused through a free list; an index stays valid while occupied.
#[derive(Debug)]
pub struct Slab<T> {
    pub items: Vec<T>,
    free: Vec<u32>,
    pub live: usize,
}

impl<T> Slab<T> {
    pub(crate) fn new() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }

    /// Stores `v`, returning its slot.
    pub fn alloc(&mut self, v: T) -> u32 {
        self.live += 1;
        match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = v;
                i
            }
            None => {
                self.items.push(v);
                (self.items.len() - 1) as u32
            }
        }
    }

    /// Frees slot `i` (its occupant must already be marked dead).
    pub fn release(&mut self, i: u32) {
        self.live -= 1;
        self.free.push(i);
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// On its way to the replica (the hop).
    Transit,
    Queued,
    Running,
    /// Freed; the slot awaits reuse.
    Dead,
}

/// One request at one replica, from arrival to response.
#[derive(Debug, Clone)]
pub struct Job {
    pub token: u64,
    pub state: JobState,
    pub rep: u32,
    pub service: u32,
    pub endpoint: u32,
    pub arrival: Nanos,
    /// Its arrival after the hop plus the timeout its caller sent
    /// ([`topolab_rules::deadline::on_arrival`]; `NONE` when its service
    /// ignores deadlines).
    pub deadline: Nanos,
    /// Session key, `u64::MAX` for none.
    pub session: u64,
    pub reply: Caller,
    pub queue_wait: Nanos,
    pub work: Nanos,
    /// Blocking model: holds a worker from start to response.
    pub holds: bool,
    /// Ran `session_miss` (to remember the key on success).
    pub miss: bool,
    /// Larger than its replica decodes: refused `OUT_OF_RANGE` on arrival.
    pub oversize: bool,
    /// The caller giving up while it queues (`deadlines: honor`).
    pub timer: TimerId,
}

/// A thread of steps within a job: the endpoint's own, or a `parallel` branch.
#[derive(Debug, Clone)]
pub struct Fiber {
    /// 0: free. Changes whenever the fiber waits on something new, so late
    /// events for an earlier wait are recognised and dropped.
    pub token: u64,
    pub job: u32,
    pub list: u32,
    pub pc: u32,
    /// The fiber waiting on this branch, `u32::MAX` for the job's own.
    pub parent: u32,
    /// Branches still running (a `parallel` step).
    pub pending: u32,
    /// The first failure of a branch.
    pub failed: Option<StatusCode>,
    /// Async model: holds a worker during `work`.
    pub held: bool,
    /// The call in progress: repetitions left, retry number, replica tried,
    /// when the attempt left.
    pub times_left: u32,
    pub retry: u32,
    pub attempt_rep: u32,
    pub attempt_outstanding: bool,
    pub breaker_ticket: bool,
    /// The attempt's timeout, cancelled when its response comes first.
    pub timer: TimerId,
    /// The call step in progress (its index in the plan's calls).
    pub call: u32,
    /// The attempt's replica was picked by policy (the callee has several),
    /// so the picker's state must hear how it ended.
    pub picked: bool,
}

/// Per plan edge, what every attempt counts, kept dense (sixteen bytes an
/// edge) so counting costs no walk to the edge's full figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct EdgeHot {
    pub attempts: u64,
    pub ok: u64,
}

/// Per endpoint, what every request counts and what it reads to start,
/// dense like [`EdgeHot`] and in one cache line (thirty-two bytes, two to
/// a line), so a request at an endpoint misses once on it, not on its
/// counts and its plan apart.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(32))]
pub struct EpHot {
    pub requests: u64,
    pub ok: u64,
    /// Its step list and `session_miss` list (`u32::MAX`: none), as in
    /// [`crate::plan::EpRun`].
    pub list: u32,
    pub miss_list: u32,
    /// It injects errors (their rate and code are in the plan).
    pub errors: bool,
}

/// A request a generator sent, over all its attempts.
#[derive(Debug, Clone)]
pub struct Root {
    pub token: u64,
    pub generator: u32,
    pub service: u32,
    pub endpoint: u32,
    pub due: Nanos,
    pub deadline: Nanos,
    pub attempts: u32,
    pub session: u64,
    /// Closed loop: the client, `u32::MAX` for an open loop.
    pub client: u32,
    /// The attempt's timeout, cancelled when its response comes first.
    pub timer: TimerId,
}

/// Who waits in a replica's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiter {
    /// A new arrival.
    Job(u32, u64),
    /// An async request's later `work` step (never refused).
    Fiber(u32, u64),
}

/// One replica: what every request it serves reads and writes, in its
/// first cache line (ten thousand services do not fit in cache, so each
/// line a request touches is a miss), the admission's counts last in it and
/// its queue after it; the rest, touched only by faults and sessions, in
/// [`RepCold`].
#[derive(Debug)]
#[repr(C, align(64))]
pub struct Rep {
    /// Counts since the last sample.
    pub arrived: u32,
    pub completed: u32,
    pub rejected: u32,
    pub failed: u32,
    pub alive: bool,
    pub paused: bool,
    /// An `errors` fault is on (its rate and code are in [`RepCold`]).
    pub erring: bool,
    pub slow: f64,
    /// Worker-time integration.
    pub busy_ns: f64,
    pub busy_at: Nanos,
    /// Workers and queue, by the replicas' rule.
    pub admission: Admission<Waiter>,
}

/// The parts of a replica that faults and sessions use.
#[derive(Debug, Default)]
pub struct RepCold {
    /// Events that arrived while paused, replayed when it resumes.
    pub frozen: Vec<Event>,
    /// Requests held while down awaiting a restart (the socket's backlog).
    pub backlog: Vec<(u32, u64)>,
    pub errors: Option<(f64, StatusCode)>,
    pub sessions: Sessions<u64>,
}
