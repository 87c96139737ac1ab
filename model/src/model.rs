//! The checked topology: what `validate` hands to the launcher and the replicas.
//! Every value here has passed validation, so consumers never re-check it.
//! It is serializable because the launcher gives each replica its copy as JSON.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dist::Dist;
use crate::fleet::{BackoffShape, Breaker, Deadlines, Fault, Kind, Restart, RetryBudget, State};
use crate::status::StatusCode;

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
    /// The faults timeline, in file order.
    pub faults: Vec<Fault>,
}

impl Topology {
    /// The service called `name`, if any.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
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
    pub target: Target,
    pub pattern: Pattern,
    pub duration: Duration,
    /// Delay before this generator starts.
    pub start: Duration,
    /// The client's deadline per request, propagated down the chain.
    pub timeout: Duration,
    pub retries: u32,
    /// Request payload size in bytes.
    pub request: u64,
    /// Client identities (session keys) the requests are spread over; 0: none.
    pub sessions: u32,
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

/// Open or closed loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// Arrivals at `rate` per second that never wait for responses.
    Open { rate: f64, arrivals: Arrivals },
    /// `clients` that each send, wait for the response, think, repeat.
    Closed { clients: u32, think: Option<Dist> },
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
}
