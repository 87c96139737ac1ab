//! Tracing for one run: the run's [`collector`], the span exporter of the
//! load generators (whose requests are the root CLIENT spans), where the
//! replicas send their spans, the [`writer`] that streams them into
//! `traces.jsonl` ([`file`]) under its budget ([`keep`]), and the counts
//! that go into `summary.json`.

pub mod collector;
pub mod file;
pub mod keep;
pub mod writer;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use topolab_model::Settings;
use topolab_services::trace::Exporter;

use collector::Collector;
use keep::Keeping;
use writer::Writer;

/// How long the generators' exporter may take to send its last spans.
const FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// `run`'s tracing flags.
#[derive(Debug, Clone, Default)]
pub struct TraceOptions {
    /// `--otlp-endpoint`: an outside OTLP/gRPC collector that gets every span too.
    pub otlp_endpoint: Option<String>,
    /// `--otlp-only`: send spans only there (no built-in collector, no traces.jsonl).
    pub otlp_only: bool,
}

/// The `traces` figures of `summary.json`.
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// Whether `traces.jsonl` was written.
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

/// One run's tracing, from before the replicas start until after they stop.
pub struct RunTraces {
    rate: f64,
    budget: u64,
    opts: TraceOptions,
    collector: Option<(Collector, Writer)>,
    generators: Option<Exporter>,
}

impl RunTraces {
    /// Starts the collector and the writer of `dir/traces.jsonl` (unless
    /// `--otlp-only`), and the generators' exporter.
    pub async fn start(
        settings: &Settings,
        dir: &Path,
        opts: TraceOptions,
    ) -> anyhow::Result<Self> {
        let budget = settings.trace_budget;
        let collector = match opts.otlp_only {
            true => None,
            false => {
                let writer = Writer::start(dir, budget)?;
                Some((Collector::start(writer.sink()).await?, writer))
            }
        };
        let mut traces = RunTraces {
            rate: settings.trace,
            budget,
            opts,
            collector,
            generators: None,
        };
        let endpoints = traces.replica_endpoints();
        if !endpoints.is_empty() {
            traces.generators = Some(Exporter::start(
                &endpoints,
                vec![
                    ("service.name", "load".to_string()),
                    ("service.instance.id", "load".to_string()),
                    ("process.pid", std::process::id().to_string()),
                ],
            )?);
        }
        Ok(traces)
    }

    /// Where the built-in collector listens, for the user's own exporters.
    pub fn collector_addr(&self) -> Option<SocketAddr> {
        self.collector.as_ref().map(|(c, _)| c.addr)
    }

    /// Where replicas send spans; empty when nothing is traced (`trace: 0%`),
    /// so an untraced run pays nothing for tracing.
    pub fn replica_endpoints(&self) -> Vec<String> {
        if self.rate <= 0.0 {
            return Vec::new();
        }
        let local = self.collector_addr().map(|a| format!("http://{a}"));
        local
            .into_iter()
            .chain(self.opts.otlp_endpoint.clone())
            .collect()
    }

    /// The exporter the load generators record root spans into.
    pub fn generator_exporter(&self) -> Option<Exporter> {
        self.generators.clone()
    }

    /// Sends the generators' last spans (call once the load has drained).
    pub async fn flush_generators(&self) {
        if let Some(g) = &self.generators
            && !g.flush(FLUSH_LIMIT).await
        {
            tracing::warn!("the load generators' spans were not all sent in {FLUSH_LIMIT:?}");
        }
    }

    /// Once every replica has stopped (and flushed): stops the collector,
    /// lets the writer finish `traces.jsonl`, and returns the figures.
    /// `replicas` is the spans the replicas recorded and dropped.
    pub async fn finish(self, replicas: (u64, u64)) -> TraceSummary {
        let own = self
            .generators
            .as_ref()
            .map(Exporter::counts)
            .unwrap_or_default();
        let mut summary = TraceSummary {
            rate: self.rate,
            sampled_requests: own.recorded,
            spans_recorded: own.recorded + replicas.0,
            spans_dropped: own.dropped + replicas.1,
            otlp_endpoint: self.opts.otlp_endpoint.clone(),
            ..Default::default()
        };
        summary.budget_bytes = self.budget;
        if let Some((c, writer)) = self.collector {
            let received = c.stop().await;
            summary.spans_received = received.spans;
            summary.spans_dropped += received.rejected;
            let written = tokio::task::spawn_blocking(move || writer.finish())
                .await
                .unwrap_or_default();
            summary.file = true;
            summary.spans_written = written.spans;
            summary.file_bytes = written.bytes;
            summary.spans_dropped += written.spans_lost;
            summary.keeping = Some(written.keeping);
            summary.file_error = written.error;
        }
        summary
    }
}
