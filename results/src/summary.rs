//! `summary.json`: the run's figures in the shape the contract names (times
//! in milliseconds, rates per second). This module owns the file: the
//! launcher fills these types and writes them through [`write`]; the report,
//! the tables and any other reader read them back through [`read`], so the
//! writer and its readers cannot drift apart.

use std::collections::BTreeMap;
use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::cascade::Cascade;
use crate::reasons::Reasons;

#[path = "summary_traces.rs"]
mod traces;
pub use traces::{Keeping, TraceSummary};

/// The file's name in a run folder.
pub const FILE: &str = "summary.json";

/// The whole `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub topology: String,
    pub seed: u64,
    /// Wall time from the start of load to the end of the drain.
    pub duration_s: f64,
    /// The load window: as planned (the longest generator's start plus
    /// duration), or until the generators stopped when interrupted; absent
    /// without load. `duration_s` less this is the drain, waiting for the
    /// last answers (negative when nothing was due at the window's end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_s: Option<f64>,
    /// True when the user stopped the run early (Ctrl-C).
    #[serde(default)]
    pub interrupted: bool,
    /// Replica processes started, and how long until all were healthy.
    #[serde(default)]
    pub processes: u32,
    #[serde(default)]
    pub healthy_after_ms: f64,
    /// Per load generator, by name, in the topology file's order (so every
    /// table and this file read as the file does: `before, during, after`).
    pub load: IndexMap<String, LoadSummary>,
    /// Per service, by name, in the topology file's order.
    pub services: IndexMap<String, ServiceSummary>,
    /// Spans recorded, received and dropped (absent when nothing was traced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traces: Option<TraceSummary>,
    /// Queues building up behind each other, from the telemetry.
    #[serde(default)]
    pub cascade: Cascade,
    /// The faults timeline as it ran: when each fault was applied and cleared.
    #[serde(default)]
    pub faults: Vec<FaultRecord>,
    /// Every replica process started again by `restart: always`, in order,
    /// so the report can mark the moment on its time charts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restart_log: Vec<RestartRecord>,
    /// What a lab changed while it ran (a rate set, a pause, workers...),
    /// in order; its kills and faults are in `faults`, restarts above.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionRecord>,
    /// What `settings.warmup` sent and the figures leave out (absent
    /// without a warmup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Warmup>,
    /// How late the replicas' `work` ended, and whether the machine, not
    /// the topology, set the pace (absent when no work ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_timing: Option<crate::machine::WorkTiming>,
    /// Present when the folder holds a prediction (`topolab predict`): no
    /// process ran, the figures come from the simulator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<Prediction>,
    /// Per link between services (`"api -> db"`), on a modelled network.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: BTreeMap<String, crate::links::LinkSummary>,
}

/// The load sent before measuring started: none of it is in the figures,
/// the time series or the traces.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Warmup {
    pub duration_s: f64,
    /// Requests the generators sent during the warmup, all discarded.
    pub requests_sent: u64,
    /// False when some replica still had warmup requests in hand at the
    /// boundary (their answers then count in the measured figures).
    pub settled: bool,
}

/// How a prediction was made, and what it says before anything runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The cost of one gRPC hop (round trip) the simulator charged per call.
    pub hop_cost_ms: f64,
    /// Where that cost came from: `probe` (measured on this machine just
    /// now), `cache FILE` (an earlier probe), `--hop-cost` (set by the user).
    pub hop_cost_source: String,
    /// What the probe found a busy machine adds to every `work` step
    /// (waiting for a core), charged by the simulator on top of each
    /// sampled work time (0 with `--hop-cost`: no probe).
    #[serde(default)]
    pub work_overhead_ms: f64,
    /// What the probe found one message costs a replica's one thread when
    /// a new version sends many at once (answers of held long polls,
    /// pushes), charged one after another (0 with `--hop-cost`).
    #[serde(default)]
    pub message_cost_ms: f64,
    /// The same for one push down an open stream.
    #[serde(default)]
    pub push_cost_ms: f64,
    /// How much later than a `work` step a replica takes up a new version,
    /// found by the same probe.
    #[serde(default)]
    pub version_late_ms: f64,
    /// Events simulated, and the wall time the simulation took.
    pub events: u64,
    pub wall_s: f64,
    /// Offered load in all, requests per second.
    pub offered_per_s: f64,
    /// Per service: ρ, the share of its workers the offered load keeps busy
    /// (unloaded hold times), and the busy share the simulation measured.
    pub utilisation: BTreeMap<String, Utilisation>,
    /// The service that saturates first, and the offered load (same mix)
    /// at which it does: the topology's capacity.
    pub bottleneck: Option<String>,
    pub capacity_per_s: Option<f64>,
    /// The telemetry interval of `timeseries.csv` (`sample_every`, stretched
    /// for topologies too large for one row per replica per interval).
    pub sample_every_ms: f64,
    /// Fields the topology sets that the simulator reads but does not model
    /// (payload sizes), each named by its YAML path, so a user knows what
    /// the prediction leaves out instead of finding it silently ignored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_modelled: Vec<String>,
    /// `run --predict`: the spread of several simulations with different
    /// seeds, so a measured figure can be told apart from the prediction's
    /// own noise (see [`crate::versus`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<crate::versus::Noise>,
}

/// One service's load in a prediction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Utilisation {
    pub rho: f64,
    pub simulated: f64,
}

/// One load generator's figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoadSummary {
    pub target: String,
    pub sent: u64,
    pub ok: u64,
    pub rejected: u64,
    pub timeouts: u64,
    pub errors: BTreeMap<String, u64>,
    /// Why requests failed: per code (rejections and timeouts included), the
    /// final statuses' messages with counts, most frequent first; a few per
    /// code, the rest counted as `(other messages)`.
    #[serde(default, skip_serializing_if = "Reasons::is_empty")]
    pub messages: Reasons,
    /// Attempts including retries.
    #[serde(default)]
    pub attempts: u64,
    /// The rate the file asked for (open loop), or what the clients sent.
    pub offered_rate: f64,
    /// The mean rate the file asked for: open loops only (closed loops and
    /// followers ask for none). Poisson arrivals send more or fewer than it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_rate: Option<f64>,
    /// Requests sent per second, over the same window as `throughput`: what
    /// was offered, so `throughput` (part of it) never exceeds it.
    #[serde(default)]
    pub sent_rate: f64,
    /// OK responses per second over the generator's active window.
    pub throughput: f64,
    /// Latency of OK requests, from when each was due.
    pub latency_ms: Percentiles,
    /// Open loop: requests that left more than 1 ms after they were due,
    /// and how late requests left. Non-zero means the generator itself could
    /// not keep up (latency still counts from the due time).
    #[serde(default)]
    pub late_over_1ms: u64,
    #[serde(default)]
    pub late_ms: Percentiles,
    /// `poll`, `long_poll`, `subscribe`: how fresh the clients stayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<crate::updates::FollowFigures>,
}

impl Summary {
    /// What the run's time was spent on, in words: the load window and the
    /// drain after it (waiting for the last answers), or how long the
    /// services were up with no load. A window whose last stretch was due
    /// nothing (a ramp down to zero) ends before its time: said so.
    pub fn time_in_words(&self) -> String {
        match self.load_s {
            Some(load) if self.duration_s < load => format!(
                "{load:.1} s of load, the last answer at {:.1} s",
                self.duration_s
            ),
            Some(load) => format!(
                "{load:.1} s of load + {:.1} s draining",
                self.duration_s - load
            ),
            None if self.load.is_empty() => format!("up {:.1} s, no load", self.duration_s),
            None => format!(
                "{:.1} s from the start of load to the last answer",
                self.duration_s
            ),
        }
    }
}

impl LoadSummary {
    /// Requests that failed one way or another (everything but OK).
    pub fn failed(&self) -> u64 {
        self.rejected + self.timeouts + self.errors.values().sum::<u64>()
    }
}

/// Latency figures in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    #[serde(default)]
    pub p999: f64,
    pub max: f64,
}

/// One service's figures, its replicas merged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub replicas: u32,
    /// In the file's order.
    pub endpoints: IndexMap<String, EndpointSummary>,
    /// Calls this service made, by callee `service/Endpoint`.
    #[serde(default)]
    pub calls: BTreeMap<String, CallSummary>,
    /// Fresh processes started after a replica died (`restart: always`).
    #[serde(default)]
    pub restarts: u32,
    /// Replicas that were dead at the end, so their own figures are missing
    /// (their callers' `calls.*.per_replica` still count what they were sent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<u32>,
    /// Each of those replicas: what it had served by its last telemetry
    /// sample, and how it ended, so a dead replica keeps its place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<LostReplica>,
}

/// A replica dead at the end, whose own figures died with it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LostReplica {
    pub replica: u32,
    /// How it ended, in words: `killed by a fault at 3.00 s`, or `stopped
    /// answering` when no fault of the run explains it.
    pub ended: String,
    /// The service's one endpoint, which the counts are then all of (absent
    /// for a service of several: the counts are of them all together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Its counts up to its last sample (`timeseries.csv`), every endpoint
    /// together; what it counted after that sample is lost.
    pub requests: u64,
    pub ok: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Requests it held at that sample (`requests` less the three endings):
    /// how they ended is not known.
    #[serde(default)]
    pub unended: u64,
}

/// One endpoint of a service.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndpointSummary {
    pub requests: u64,
    pub ok: u64,
    pub rejected: u64,
    pub errors: BTreeMap<String, u64>,
    /// Requests dropped because their caller had already given up.
    #[serde(default)]
    pub deadline_dropped: u64,
    /// The deepest any replica's queue got.
    #[serde(default)]
    pub max_queue: u64,
    /// Requests with a session key the replica did not hold (`state: sessions`).
    #[serde(default)]
    pub session_misses: u64,
    /// Requests that arrived at each replica, by index (a restarted replica
    /// counts from its last start: its memory is fresh).
    #[serde(default)]
    pub per_replica: Vec<u64>,
    pub latency_ms: Percentiles,
    pub queue_wait_ms: Percentiles,
    pub work_ms: Percentiles,
    /// A service with `updates`: requests/s, long polls held, streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<crate::updates::EndpointUpdates>,
}

/// Calls to one callee.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CallSummary {
    pub attempts: u64,
    /// By gRPC code name, `OK` included.
    pub outcomes: BTreeMap<String, u64>,
    /// Attempts sent to each replica of the callee, by index.
    #[serde(default)]
    pub per_replica: Vec<u64>,
    /// Attempts that were retries, and retries the retry budget refused.
    #[serde(default)]
    pub retries: u64,
    #[serde(default)]
    pub retries_denied: u64,
    /// Calls failed at once by an open circuit breaker, and times it opened.
    #[serde(default)]
    pub breaker_rejected: u64,
    #[serde(default)]
    pub breaker_opened: u64,
}

/// One fault as it ran. Times are seconds from the start of load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// What was done: `slow 10x`, `errors 50% UNAVAILABLE`, `kill`, `pause`.
    pub fault: String,
    /// The service or replica, as written (`db`, `db#1`).
    pub target: String,
    /// When the file asked for it, and for how long (`None`: to the end).
    pub at_s: f64,
    pub for_s: Option<f64>,
    /// When it took effect, and when it was lifted (`None`: never, as for
    /// `kill`, or the run stopped first).
    pub applied_s: Option<f64>,
    pub cleared_s: Option<f64>,
    /// The replicas it reached.
    #[serde(default)]
    pub replicas: Vec<String>,
    /// Anything that went wrong applying it (a replica that did not answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl FaultRecord {
    /// The service the fault is on (`db` for `db#1`).
    pub fn service(&self) -> &str {
        self.target.split('#').next().unwrap_or(&self.target)
    }

    /// The window it was in force, from the start of load: applied to
    /// cleared, or to `end` when it never cleared (a kill lasts as long as
    /// its replica stays dead; a restart ends it, see [`RestartRecord`]).
    pub fn window(&self, end: f64) -> Option<(f64, f64)> {
        let from = self.applied_s?;
        Some((from, self.cleared_s.unwrap_or(end).max(from)))
    }
}

/// One replica process started again after it died (`restart: always`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestartRecord {
    /// `service#index`.
    pub replica: String,
    /// Seconds from the start of load.
    pub t_s: f64,
}

/// One change a lab made to the running experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// Seconds from the start of load.
    pub t_s: f64,
    /// `set load.regulars.rate=9/s`, `pause lunch-rush`.
    pub what: String,
}

/// Why `summary.json` could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a topolab summary: {source}")]
    Malformed {
        path: String,
        source: serde_json::Error,
    },
}

/// Writes `summary` as pretty JSON to `path`.
pub fn write(path: &Path, summary: &Summary) -> Result<(), SummaryError> {
    let p = path.display().to_string();
    let mut json =
        serde_json::to_vec_pretty(summary).map_err(|source| SummaryError::Malformed {
            path: p.clone(),
            source,
        })?;
    json.push(b'\n');
    std::fs::write(path, json).map_err(|source| SummaryError::Io { path: p, source })
}

/// Reads `summary.json` back.
pub fn read(path: &Path) -> Result<Summary, SummaryError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SummaryError::Io {
        path: p.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| SummaryError::Malformed { path: p, source })
}

/// Rounds to three decimals, as every figure in the file is written.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
