//! Time on the wire, per link between services: for every call a service
//! made, its CLIENT span less the callee's SERVER span that answered it
//! (the request's way there and the answer's way back, plus the gRPC
//! layers on both ends), read from the run's traces. `summary.json`'s
//! `links`, keyed `"caller -> callee"`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::trace::{self, Kind, Trace, TraceError};

/// One link's calls as its caller saw them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkSummary {
    /// Attempts the caller made over this link.
    pub calls: u64,
    /// Time on the wire of the attempts the callee answered.
    pub wire_ms: WireMs,
    /// Attempts that failed, by gRPC code name.
    #[serde(default)]
    pub failed: BTreeMap<String, u64>,
}

/// The median, 99th percentile and largest time on the wire, in ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireMs {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// The links accumulated trace by trace: memory grows with the links, not
/// the calls (a histogram each).
#[derive(Default)]
pub struct LinkSums(BTreeMap<String, Sums>);

/// One link's calls, wire times (µs) and failures by code.
type Sums = (u64, Histogram<u64>, BTreeMap<String, u64>);

impl LinkSums {
    /// Takes one trace: each CLIENT span of a service (the load generators
    /// are not services), matched to the SERVER span it started.
    pub fn add(&mut self, t: &Trace) {
        let servers: HashMap<&str, u64> = t
            .spans
            .iter()
            .filter(|s| s.kind == Kind::Server)
            .filter_map(|s| Some((s.parent_id.as_deref()?, s.duration_ns())))
            .collect();
        for c in t.spans.iter().filter(|s| s.kind == Kind::Client) {
            let Some(callee) = c.callee.as_deref() else {
                continue;
            };
            if c.service == "load" {
                continue;
            }
            let to = callee.split('/').next().unwrap_or(callee);
            let key = format!("{} -> {to}", c.service);
            let e = self
                .0
                .entry(key)
                .or_insert_with(|| (0, topolab_figures::histogram(3), BTreeMap::new()));
            e.0 += 1;
            if c.is_error() {
                *e.2.entry(c.code_name().to_string()).or_default() += 1;
            }
            if let Some(server_ns) = servers.get(c.span_id.as_str()) {
                let wire_us = c.duration_ns().saturating_sub(*server_ns) / 1000;
                topolab_figures::record(&mut e.1, wire_us);
            }
        }
    }

    /// Every link's figures.
    pub fn finish(self) -> BTreeMap<String, LinkSummary> {
        let ms = |us: u64| (us as f64 / 1e3 * 1000.0).round() / 1000.0;
        self.0
            .into_iter()
            .map(|(k, (calls, h, failed))| {
                let wire_ms = if h.is_empty() {
                    WireMs::default()
                } else {
                    WireMs {
                        p50: ms(h.value_at_quantile(0.5)),
                        p99: ms(h.value_at_quantile(0.99)),
                        max: ms(h.max()),
                    }
                };
                (
                    k,
                    LinkSummary {
                        calls,
                        wire_ms,
                        failed,
                    },
                )
            })
            .collect()
    }
}

/// The links of the run in `run_dir`, from its `traces.jsonl`.
pub fn read(run_dir: &Path) -> Result<BTreeMap<String, LinkSummary>, TraceError> {
    let mut sums = LinkSums::default();
    trace::for_each_trace(run_dir, |t| sums.add(&t))?;
    Ok(sums.finish())
}

/// Time on the wire per link over time, per whole second of the clock the
/// spans were recorded on: bounded by links × seconds, whatever the calls.
#[derive(Default)]
pub struct WireSeries(BTreeMap<String, BTreeMap<u64, Histogram<u64>>>);

/// One link's wire time per second: (seconds from the start of load at
/// the second's end, p50 ms, p99 ms).
pub type WirePoints = Vec<(f64, f64, f64)>;

impl WireSeries {
    /// Takes one trace's answered calls between services.
    pub fn add(&mut self, t: &Trace) {
        for (key, start_ns, wire_us) in answered(t) {
            let h = self
                .0
                .entry(key)
                .or_default()
                .entry(start_ns / 1_000_000_000)
                .or_insert_with(|| topolab_figures::histogram(2));
            topolab_figures::record(h, wire_us);
        }
    }

    /// Every link's points, with `t0_ns` (when the load started, on the
    /// spans' clock) as time zero.
    pub fn finish(self, t0_ns: u64) -> BTreeMap<String, WirePoints> {
        let ms = |us: u64| us as f64 / 1e3;
        self.0
            .into_iter()
            .map(|(k, secs)| {
                let points = secs
                    .into_iter()
                    .map(|(s, h)| {
                        let end = ((s + 1) * 1_000_000_000) as f64 - t0_ns as f64;
                        (
                            end / 1e9,
                            ms(h.value_at_quantile(0.5)),
                            ms(h.value_at_quantile(0.99)),
                        )
                    })
                    .collect();
                (k, points)
            })
            .collect()
    }
}

/// Each call between services the callee answered: (`caller -> callee`,
/// the CLIENT span's start, its time on the wire in µs).
fn answered(t: &Trace) -> Vec<(String, u64, u64)> {
    let servers: HashMap<&str, u64> = t
        .spans
        .iter()
        .filter(|s| s.kind == Kind::Server)
        .filter_map(|s| Some((s.parent_id.as_deref()?, s.duration_ns())))
        .collect();
    t.spans
        .iter()
        .filter(|c| c.kind == Kind::Client && c.service != "load")
        .filter_map(|c| {
            let callee = c.callee.as_deref()?;
            let server_ns = servers.get(c.span_id.as_str())?;
            let to = callee.split('/').next().unwrap_or(callee);
            let wire_us = c.duration_ns().saturating_sub(*server_ns) / 1000;
            Some((format!("{} -> {to}", c.service), c.start_ns, wire_us))
        })
        .collect()
}
