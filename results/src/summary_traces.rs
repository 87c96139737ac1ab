//! `summary.json`'s `traces` figures: what was traced, what was lost on
//! the way, and what the keeping policy kept (part of [`super`], the file's
//! one owner).

use serde::{Deserialize, Serialize};

/// The `traces` figures: what was traced, what was lost on the way, and what
/// the keeping policy kept in `traces.jsonl`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TraceSummary {
    /// `settings.trace`: share of load requests traced, 0..1.
    pub rate: f64,
    /// Root spans: load requests that were traced.
    pub sampled_requests: u64,
    /// Spans made by the replicas and the generators (counted when the load
    /// had drained; spans of requests still running after that come later).
    pub spans_recorded: u64,
    /// Spans the built-in collector took in (any exporter's).
    pub spans_received: u64,
    /// Spans lost on the way: exporters' full queues, failed exports, spans
    /// the collector turned away because the writer was behind, and spans
    /// not written because writing the file failed.
    pub spans_dropped: u64,
    /// The outside collector spans were sent to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// Whether `traces.jsonl` was written.
    #[serde(default)]
    pub file: bool,
    /// Spans in `traces.jsonl` and its size in bytes.
    #[serde(default)]
    pub spans_written: u64,
    #[serde(default)]
    pub file_bytes: u64,
    /// `settings.trace_budget`, in bytes.
    #[serde(default)]
    pub budget_bytes: u64,
    /// What the keeping policy kept and left out, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keeping: Option<Keeping>,
    /// Why `traces.jsonl` is incomplete (writing failed), if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_error: Option<String>,
}

impl TraceSummary {
    /// A line for the end of the run when traces were left out (by the
    /// keeping policy, or lost), `None` when the file holds every span.
    pub fn note(&self) -> Option<String> {
        let k = self.keeping.as_ref()?;
        let mut parts = Vec::new();
        if k.left_out > 0 {
            parts.push(format!(
                "{} of {} traces left out of traces.jsonl to keep it near its budget of {:.0} MiB (kept: every trace with an error, {}; the slowest 1%, {}; sampled, {})",
                k.left_out,
                k.traces_seen,
                self.budget_bytes as f64 / f64::from(1 << 20),
                k.kept_error,
                k.kept_slow,
                k.kept_sampled
            ));
        }
        if self.spans_dropped > 0 {
            parts.push(format!("{} spans dropped on the way", self.spans_dropped));
        }
        if let Some(e) = &self.file_error {
            parts.push(format!("traces.jsonl is incomplete: {e}"));
        }
        (!parts.is_empty())
            .then(|| format!("traces: {}; see summary.json `traces`", parts.join("; ")))
    }
}

/// What the keeping policy of `traces.jsonl` did (the launcher's
/// `traces::keep`), for `summary.json`'s `traces.keeping`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Keeping {
    /// The policy in words.
    pub policy: String,
    /// Traces decided (each once, when its spans were in).
    pub traces_seen: u64,
    /// Traces written to `traces.jsonl`, by reason.
    pub kept_under_budget: u64,
    pub kept_error: u64,
    pub kept_slow: u64,
    pub kept_sampled: u64,
    /// Traces (and their spans) the policy left out of the file.
    pub left_out: u64,
    pub spans_left_out: u64,
    /// Error traces left out because the file reached twice its budget.
    pub errors_left_out: u64,
    /// Seconds from the start of the run when thinning began, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinning_from_s: Option<f64>,
    /// A trace counted as among the slowest 1% from this duration on (at the end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow_from_ms: Option<f64>,
    /// The share of the rest kept at the end (1 = all).
    pub rest_kept_share: f64,
}
