//! `summary.json`: the run's figures in the shape the contract names (times in
//! milliseconds, rates per second), built from the generators' recorders and
//! the replicas' merged figures.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use topolab_model::{Generator, Topology};

use crate::collect::{EndpointFigures, ServiceFigures};
use crate::faults::FaultRecord;
use crate::load::Recorder;
use crate::load::reasons::Reasons;

/// The whole `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub topology: String,
    pub seed: u64,
    /// Wall time from the start of load to the end of the drain.
    pub duration_s: f64,
    /// True when the user stopped the run early (Ctrl-C).
    pub interrupted: bool,
    /// Replica processes started, and how long until all were healthy.
    pub processes: u32,
    pub healthy_after_ms: f64,
    /// Generators and services in the topology file's order, so every table
    /// and `summary.json` read as the file does (`before, during, after`).
    pub load: IndexMap<String, LoadSummary>,
    pub services: IndexMap<String, ServiceSummary>,
    /// Spans recorded, received and dropped (absent when nothing was traced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traces: Option<crate::traces::TraceSummary>,
    /// Queues building up behind each other, from the telemetry.
    #[serde(default)]
    pub cascade: topolab_results::cascade::Cascade,
    /// The faults timeline as it ran: when each fault was applied and cleared.
    #[serde(default)]
    pub faults: Vec<FaultRecord>,
}

/// One load generator's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    pub attempts: u64,
    /// The rate the file asked for (open loop), or what the clients sent.
    pub offered_rate: f64,
    /// OK responses per second over the generator's active window.
    pub throughput: f64,
    /// Latency of OK requests, from when each was due.
    pub latency_ms: Percentiles,
    /// Open loop: requests that left more than 1 ms after they were due,
    /// and how late requests left. Non-zero means the generator itself could
    /// not keep up (latency still counts from the due time).
    pub late_over_1ms: u64,
    pub late_ms: Percentiles,
}

/// Latency figures in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Percentiles {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    /// From a histogram of microseconds; all zero when it is empty.
    pub fn from_us(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |us: u64| round3(us as f64 / 1000.0);
        Percentiles {
            mean: round3(h.mean() / 1000.0),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

/// One service's figures, its replicas merged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub replicas: u32,
    /// In the file's order.
    pub endpoints: IndexMap<String, EndpointSummary>,
    /// Calls this service made, by callee `service/Endpoint`.
    pub calls: BTreeMap<String, CallSummary>,
    /// Fresh processes started after a replica died (`restart: always`).
    #[serde(default)]
    pub restarts: u32,
    /// Replicas that were dead at the end, so their own figures are missing
    /// (their callers' `calls.*.per_replica` still count what they were sent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<u32>,
}

/// One endpoint of a service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointSummary {
    pub requests: u64,
    pub ok: u64,
    pub rejected: u64,
    pub errors: BTreeMap<String, u64>,
    /// Requests dropped because their caller had already given up.
    pub deadline_dropped: u64,
    /// The deepest any replica's queue got.
    pub max_queue: u64,
    /// Requests with a session key the replica did not hold (`state: sessions`).
    #[serde(default)]
    pub session_misses: u64,
    /// Requests that arrived at each replica, by index (a restarted replica
    /// counts from its last start: its memory is fresh).
    pub per_replica: Vec<u64>,
    pub latency_ms: Percentiles,
    pub queue_wait_ms: Percentiles,
    pub work_ms: Percentiles,
}

/// Calls to one callee.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// Assembles the summary.
pub fn build(
    topology: &Topology,
    seed: u64,
    duration_s: f64,
    interrupted: bool,
    healthy_after_ms: f64,
    recorders: &BTreeMap<String, Recorder>,
    services: &BTreeMap<String, ServiceFigures>,
) -> Summary {
    let load = topology
        .load
        .iter()
        .filter_map(|g| {
            let r = recorders.get(&g.name)?;
            let window = r.issuing_window().as_secs_f64();
            let active = match (r.first_due, r.last_done) {
                (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
                _ => 0.0,
            };
            let offered = match g.pattern.mean_rate() {
                Some(rate) if !interrupted => rate,
                _ => per_second(r.sent, window),
            };
            Some((
                g.name.clone(),
                LoadSummary {
                    target: target_label(g),
                    sent: r.sent,
                    ok: r.ok,
                    rejected: r.rejected,
                    timeouts: r.timeouts,
                    errors: r.errors.clone(),
                    messages: r.reasons.sorted(),
                    attempts: r.attempts,
                    offered_rate: round3(offered),
                    throughput: round3(per_second(r.ok, active.max(window))),
                    latency_ms: Percentiles::from_us(&r.latency_us),
                    late_over_1ms: r.late_us.len() - r.late_us.count_between(0, 1000),
                    late_ms: Percentiles::from_us(&r.late_us),
                },
            ))
        })
        .collect();
    let services = topology
        .services
        .iter()
        .filter_map(|svc| {
            let f = services.get(&svc.name)?;
            Some((svc.name.clone(), service_summary(svc, f)))
        })
        .collect();
    Summary {
        topology: topology.name.clone(),
        seed,
        duration_s: round3(duration_s),
        interrupted,
        processes: topology.process_count(),
        healthy_after_ms: round3(healthy_after_ms),
        load,
        services,
        traces: None,
        cascade: Default::default(),
        faults: Vec::new(),
    }
}

fn service_summary(svc: &topolab_model::Service, f: &ServiceFigures) -> ServiceSummary {
    // The file's endpoints first, in its order; then any the replicas
    // reported beyond them (none today), so no figure is ever dropped.
    let mut endpoints: IndexMap<String, EndpointSummary> = svc
        .endpoints
        .iter()
        .filter_map(|e| Some((e.name.clone(), endpoint_summary(f.endpoints.get(&e.name)?))))
        .collect();
    for (n, e) in &f.endpoints {
        if !endpoints.contains_key(n) {
            endpoints.insert(n.clone(), endpoint_summary(e));
        }
    }
    ServiceSummary {
        replicas: f.replicas,
        endpoints,
        calls: f
            .callees
            .iter()
            .map(|(n, c)| {
                (
                    n.clone(),
                    CallSummary {
                        attempts: c.attempts,
                        outcomes: c.outcomes.clone(),
                        per_replica: c.per_replica.clone(),
                        retries: c.retries,
                        retries_denied: c.retries_denied,
                        breaker_rejected: c.breaker_rejected,
                        breaker_opened: c.breaker_opened,
                    },
                )
            })
            .collect(),
        restarts: 0,
        unreachable: f.unreachable.clone(),
    }
}

fn endpoint_summary(e: &EndpointFigures) -> EndpointSummary {
    EndpointSummary {
        requests: e.requests,
        ok: e.ok,
        rejected: e.rejected,
        errors: e.errors.clone(),
        deadline_dropped: e.deadline_dropped,
        max_queue: e.max_queue,
        session_misses: e.session_misses,
        per_replica: e.per_replica.clone(),
        latency_ms: Percentiles::from_us(&e.latency_us),
        queue_wait_ms: Percentiles::from_us(&e.queue_wait_us),
        work_ms: Percentiles::from_us(&e.work_us),
    }
}

/// `a/X`, or for a mix `a/X 80%, a/Y 20%`.
fn target_label(g: &Generator) -> String {
    match g.mix.as_slice() {
        [] => g.target.to_string(),
        [one] => one.target.to_string(),
        many => many
            .iter()
            .map(|w| format!("{} {}%", w.target, round3(w.share * 100.0)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn per_second(n: u64, secs: f64) -> f64 {
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
