//! A discrete-event simulator of topolab's topology model: the same
//! checked [`Topology`] a run starts as processes, played in simulated time
//! with the same distribution sampling ([`topolab_model::Dist`]), the same
//! arrival schedule ([`topolab_model::shape`]) and the replicas' own decision
//! rules ([`topolab_rules`]: balancing, affinity, breaker, retries and their
//! budget and backoff, admission, deadlines), so `predict` can say what a
//! run will measure before it runs, and for topologies far beyond what one
//! machine can start.
//!
//! [`engine`] is the event heap; [`plan`] compiles the topology; the world
//! (`world`, `serve`, `call`, `load`, `faults`) plays it, keeping the rules'
//! state in its tables and their time simulated; [`figures`] is what it
//! measured; [`analysis`] is the arithmetic of utilisation and capacity.
//!
//! It is pure computation in simulated time: no process, socket, clock or
//! file (`topolab-predict` writes what it predicts).

pub mod analysis;
mod call;
pub mod engine;
mod faults;
pub mod figures;
mod follow;
pub mod generate;
mod links;
mod load;
pub mod plan;
mod serve;
mod state;
mod stream;
mod thread;
pub mod timers;
mod timings;
mod versions;
mod world;

use std::time::Duration;

use topolab_model::{StatusCode, Topology};

pub use figures::Figures;

use engine::Nanos;
use plan::Plan;

pub(crate) const OK: StatusCode = StatusCode(0);
pub(crate) const DEADLINE_EXCEEDED: StatusCode = StatusCode(4);
pub(crate) const RESOURCE_EXHAUSTED: StatusCode = StatusCode(8);
pub(crate) const UNAVAILABLE: StatusCode = StatusCode(14);
/// A request larger than a replica decodes ([`topolab_rules::message`]).
pub(crate) const OUT_OF_RANGE: StatusCode = StatusCode(11);

/// Most telemetry rows one simulation keeps (replicas × samples); past it the
/// sampling interval is stretched to a multiple of `sample_every`.
pub const MAX_SAMPLE_ROWS: u64 = 2_000_000;

/// Most requests one simulation may expect to send (rate × duration summed
/// over open loops): beyond it, a prediction would take minutes.
pub const MAX_REQUESTS: f64 = 500_000_000.0;

/// How to simulate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seeds every draw: the same seed gives the same figures.
    pub seed: u64,
    /// What one gRPC hop costs on the machine being predicted (round trip:
    /// half on the way there, half on the way back).
    pub hop_cost: Nanos,
    /// Added to every `work` step: what a busy machine adds to a real
    /// process's timed work (waiting for a core to resume on), calibrated
    /// by `predict`'s probe; 0 models an idle machine.
    pub work_overhead: Nanos,
    /// What one message costs a replica's one thread when a new version
    /// sends many at once (a held long poll's answer, a push, the next long
    /// poll taken in): they go one after another. Calibrated by `predict`'s
    /// probe; 0 sends them all at the instant. Only services with
    /// `updates` pay it.
    pub message_cost: Nanos,
    /// What one push down an open stream costs that thread (less than an
    /// answer: no request ends, none comes next).
    pub push_cost: Nanos,
    /// How much later than a timed `work` step a replica takes up a new
    /// version (its timeline's timer is a coarser one), calibrated by the
    /// same probe.
    pub version_late: Nanos,
    /// Keep per-replica telemetry samples (`timeseries.csv`).
    pub telemetry: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            hop_cost: 0,
            work_overhead: 0,
            message_cost: 0,
            push_cost: 0,
            version_late: 0,
            telemetry: true,
        }
    }
}

/// Why a topology cannot be simulated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// Nothing to predict without askers.
    #[error(
        "the topology has no `load`: there is nothing to predict (add a generator under `load:`)"
    )]
    NoLoad,
    /// A feature the simulator does not model yet, named by its key.
    #[error(
        "`{key}` is not simulated yet: `predict` cannot say what it would do (run it instead, or remove it)"
    )]
    NotSimulated { key: String },
    /// The load asks for more requests than a prediction handles.
    #[error(
        "the load asks for about {expected:.0} requests in all, more than the simulator's limit of {MAX_REQUESTS:.0}: shorten `duration` or lower `rate`"
    )]
    TooManyRequests { expected: f64 },
}

/// Simulates `topology` from the start of load until every request has
/// ended, and returns what it measured.
pub fn simulate(topology: &Topology, opts: &Options) -> Result<Figures, SimError> {
    if topology.load.is_empty() {
        return Err(SimError::NoLoad);
    }
    let through_balancer = |g: &&topolab_model::Generator| {
        g.follow.is_some()
            && topology
                .service(&g.target.service)
                .is_some_and(|s| !matches!(s.kind, topolab_model::service_kind::Kind::Service))
    };
    if let Some(g) = topology.load.iter().find(through_balancer) {
        return Err(SimError::NotSimulated {
            key: format!("load.{} (following through a balancer)", g.name),
        });
    }
    let expected: f64 = topology
        .load
        .iter()
        .filter_map(|g| g.pattern.mean_rate().map(|r| r * g.duration.as_secs_f64()))
        .sum();
    if expected > MAX_REQUESTS {
        return Err(SimError::TooManyRequests { expected });
    }
    let plan = Plan::new(topology);
    let mut world = world::World::new(&plan, topology, opts);
    world.run(opts);
    Ok(world.figures)
}

/// The telemetry interval: `sample_every`, stretched by a whole factor when
/// replicas × samples would pass [`MAX_SAMPLE_ROWS`].
pub(crate) fn stretched_interval(t: &Topology, plan: &Plan, every: Nanos) -> Nanos {
    let span = t
        .load
        .iter()
        .map(|g| g.start + g.duration + g.timeout)
        .max()
        .unwrap_or(Duration::ZERO)
        .as_nanos() as u64;
    let rows = plan.replica_count() as u64 * (span / every + 1);
    every * rows.div_ceil(MAX_SAMPLE_ROWS).max(1)
}
