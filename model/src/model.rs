//! The checked topology: what `validate` hands to the launcher and the replicas.
//! Every value here has passed validation, so consumers never re-check it.
//! It is serializable because the launcher gives each replica its copy as JSON.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dist::Dist;
use crate::fault::Fault;
use crate::network::Network;
use crate::policy::{BackoffShape, Breaker, RetryBudget};
use crate::service_kind::{Deadlines, Kind, Restart, State};
use crate::status::StatusCode;
use crate::updates::Follow;

/// A whole topology, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    pub name: String,
    pub description: Option<String>,
    /// Services in file order.
    pub services: Vec<Service>,
    /// Load generators in file order; empty means `run` only starts services.
    pub load: Vec<Generator>,
    pub settings: Settings,
    /// The faults timeline, in file order (link faults are in `network`).
    pub faults: Vec<Fault>,
    /// Zones, standing links and link faults; empty: loopback.
    #[serde(default)]
    pub network: Network,
}

impl Topology {
    /// The service called `name`, if any.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The service whose versions (`updates`) a call to `name` answers
    /// with: a balancer's backend (it holds no data of its own), or `name`.
    pub fn data_of(&self, name: &str) -> Option<&Service> {
        let s = self.service(name)?;
        match &s.kind {
            crate::service_kind::Kind::Balancer { backend, .. } => self.service(backend),
            crate::service_kind::Kind::Service => Some(s),
        }
    }

    /// How many OS processes a run of this topology starts.
    pub fn process_count(&self) -> u32 {
        self.services.iter().map(|s| s.replicas).sum()
    }
}

/// One named service: a pool of identical replicas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub replicas: u32,
    /// Requests one replica handles at once.
    pub workers: u32,
    /// Requests that may wait per replica; `None` is `unbounded`.
    pub queue: Option<u32>,
    pub discipline: Discipline,
    pub model: ServeModel,
    pub balance: Balance,
    /// Endpoints in file order (a balancer's mirror its backend's).
    pub endpoints: Vec<Endpoint>,
    pub kind: Kind,
    pub state: State,
    /// Steps run first when a `state: sessions` replica meets an unseen key.
    pub session_miss: Vec<Step>,
    pub restart: Restart,
    pub deadlines: Deadlines,
    /// `updates`: the time between new versions of the service's data;
    /// `None`: its data never changes.
    #[serde(default)]
    pub updates: Option<Dist>,
}

impl Service {
    /// The endpoint called `name`, if any.
    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }
}

/// Which waiting request a freed worker takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Discipline {
    Fifo,
    Lifo,
}

/// When a request holds a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServeModel {
    /// From start to response, downstream calls included (thread per request).
    Blocking,
    /// Only during `work` steps (event loop).
    Async,
}

/// How callers pick one replica of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    RoundRobin,
    Random,
    LeastRequests,
    P2c,
    Sticky,
}

/// One endpoint of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub name: String,
    pub steps: Vec<Step>,
    /// Response payload size in bytes.
    pub response: u64,
    pub errors: Option<ErrorInjection>,
}

/// `errors: 1% UNAVAILABLE`: answer with `status` for a `rate` share of requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorInjection {
    /// Share of requests, 0.0..=1.0.
    pub rate: f64,
    pub status: StatusCode,
}

/// What serving one request does, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Hold the worker for a sampled duration.
    Work(Dist),
    /// Act as a client of another endpoint.
    Call(Call),
    /// Branches that run at once; each branch is a list of steps.
    Parallel(Vec<Vec<Step>>),
}

/// A `call` step: the service turns client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub service: String,
    pub endpoint: String,
    /// Per attempt; already defaulted from `settings.timeout`.
    pub timeout: Duration,
    /// Extra attempts on UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED.
    pub retries: u32,
    /// Wait before each retry.
    pub backoff: Option<Dist>,
    /// Chance the call happens at all, 0.0..=1.0.
    pub probability: f64,
    /// Sequential repetitions.
    pub times: u32,
    /// Request payload size in bytes.
    pub request: u64,
    pub on_error: OnError,
    /// Cap on retries as a share of first attempts; `None`: unlimited.
    pub retry_budget: Option<RetryBudget>,
    /// Growth and jitter of the `backoff` wait.
    pub backoff_shape: BackoffShape,
    /// Circuit breaker for this callee endpoint; `None`: none.
    pub breaker: Option<Breaker>,
}

/// What a failed call does to the request that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// The request fails with the callee's status.
    Fail,
    /// Carry on with the next step.
    Continue,
}

/// A load generator: the askers from outside.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generator {
    pub name: String,
    /// The target, or the first target of a `mix` (kept so code that shows
    /// one target has one to show).
    pub target: Target,
    /// Every target with its share of the requests (0.0..=1.0, summing to 1):
    /// one entry at 1.0 for a plain `target`.
    pub mix: Vec<Weighted>,
    pub pattern: Pattern,
    /// How long the generator issues requests: the sum of its stages.
    pub duration: Duration,
    /// Delay before this generator starts.
    pub start: Duration,
    /// The client's deadline per request, propagated down the chain.
    pub timeout: Duration,
    pub retries: u32,
    /// Request payload size in bytes.
    pub request: u64,
    /// Client identities (`NAME-0` .. `NAME-{N-1}`) whose key each request carries
    /// down the chain; 0 sends no session key.
    pub sessions: u32,
    /// `poll`, `long_poll` or `subscribe`: clients that follow the target's
    /// versions (a closed loop of `clients`); `None`: plain requests.
    #[serde(default)]
    pub follow: Option<Follow>,
}

/// One target of a generator's `mix`, with its share of the requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weighted {
    pub target: Target,
    /// Share of requests, 0.0..=1.0.
    pub share: f64,
}

/// `service/Endpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub service: String,
    pub endpoint: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.service, self.endpoint)
    }
}

/// Open or closed loop, each as a list of stages played one after another (a
/// plain `rate` or `clients` with `duration` is a single stage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// Arrivals that never wait for responses, at a rate that may ramp.
    Open {
        arrivals: Arrivals,
        stages: Vec<RateStage>,
    },
    /// `clients` that each send, wait for the response, think, repeat.
    Closed {
        think: Option<Dist>,
        stages: Vec<ClientStage>,
    },
}

impl Pattern {
    /// The highest rate any open-loop stage asks for (0 for a closed loop):
    /// what limits on the machine's load generator are checked against.
    pub fn peak_rate(&self) -> f64 {
        match self {
            Pattern::Open { stages, .. } => {
                stages.iter().map(|s| s.from.max(s.to)).fold(0.0, f64::max)
            }
            Pattern::Closed { .. } => 0.0,
        }
    }

    /// The mean rate an open loop asks for over all its stages (requests it
    /// is expected to send / time); `None` for a closed loop, whose rate is
    /// whatever its clients manage.
    pub fn mean_rate(&self) -> Option<f64> {
        let Pattern::Open { stages, .. } = self else {
            return None;
        };
        let secs: f64 = stages.iter().map(|s| s.duration.as_secs_f64()).sum();
        let expected: f64 = stages.iter().map(RateStage::expected).sum();
        Some(if secs > 0.0 { expected / secs } else { 0.0 })
    }
}

/// One open-loop stage: the rate goes linearly from `from` to `to` (equal for
/// a constant stage) over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateStage {
    /// Requests per second at the start of the stage.
    pub from: f64,
    /// Requests per second at its end.
    pub to: f64,
    pub duration: Duration,
}

impl RateStage {
    /// Requests the stage is expected to send (the integral of its rate).
    pub fn expected(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.duration.as_secs_f64()
    }
}

/// One closed-loop stage: this many clients for `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientStage {
    pub clients: u32,
    pub duration: Duration,
}

/// How open-loop arrivals are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Exponential gaps (a Poisson process).
    Poisson,
    /// Equal gaps.
    Constant,
}

/// Run-wide settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// `None`: the launcher draws one and records it.
    pub seed: Option<u64>,
    /// Default per-attempt timeout of calls.
    pub timeout: Duration,
    /// Telemetry sampling interval.
    pub sample_every: Duration,
    /// Share of load requests whose whole chain is traced, 0.0..=1.0
    /// (`trace: 10%`); absent in older specs means all of them.
    #[serde(default = "all_traced")]
    pub trace: f64,
    /// Most bytes `traces.jsonl` should take (`trace_budget: 256MiB`): past
    /// half of it the launcher's tail-based keeping policy thins the traces,
    /// so a long run cannot fill the disk.
    #[serde(default = "default_trace_budget")]
    pub trace_budget: u64,
    /// `warmup: 5s`: load sent before measuring starts, so caches, pools and
    /// queues are in their steady state when the figures begin; zero: none.
    #[serde(default)]
    pub warmup: Duration,
}

fn default_trace_budget() -> u64 {
    crate::defaults::DEFAULT_TRACE_BUDGET
}

fn all_traced() -> f64 {
    1.0
}
