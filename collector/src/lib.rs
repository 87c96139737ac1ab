//! Tracing for one run: the run's OTLP collector ([`receiver`]), the span exporter of the
//! load generators (whose requests are the root CLIENT spans), where the
//! replicas send their spans, the [`writer`] that streams them into
//! `traces.jsonl` ([`file`]) under its budget ([`keep`]), and the counts
//! that go into `summary.json`. Spans stay protobuf bytes from the
//! collector to the file ([`raw`], [`json`]).
//!
//! It receives, decides and writes spans; it starts no replica and sends no
//! load, and the launcher only starts it, points the replicas at it and reads
//! its counts.

mod decisions;
mod direct;
pub mod file;
mod ids;
pub mod json;
pub mod keep;
mod quiet;
pub mod raw;
pub mod receiver;
pub mod writer;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use topolab_model::Settings;
use topolab_services::trace::Exporter;

use receiver::Collector;
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
    /// Where the built-in collector listens: default loopback on a free
    /// port; a load driver in a container network gives a fixed port on all
    /// interfaces so that replicas in other containers reach it by name.
    pub listen: Option<SocketAddr>,
}

/// The `traces` figures of `summary.json` (the type belongs to its owner).
pub use topolab_results::summary::TraceSummary;

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
                let listen = opts
                    .listen
                    .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
                Some((Collector::start(writer.sink(), listen).await?, writer))
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

    /// Where replicas on this machine and the generators send spans; empty
    /// when nothing is traced (`trace: 0%`), so an untraced run pays nothing
    /// for tracing. The built-in collector is reached over its Unix socket
    /// where it has one (cheaper than loopback TCP), else over TCP.
    pub fn replica_endpoints(&self) -> Vec<String> {
        if self.rate <= 0.0 {
            return Vec::new();
        }
        // A collector on a run network's bridge serves replicas in network
        // namespaces of their own, which its abstract socket cannot reach.
        let bridged = |c: &Collector| !(c.addr.ip().is_loopback() || c.addr.ip().is_unspecified());
        let local = self.collector.as_ref().map(|(c, _)| match &c.local {
            Some(socket) if !bridged(c) => socket.clone(),
            _ => {
                // A collector on all interfaces is reached here through loopback.
                let mut a = c.addr;
                if a.ip().is_unspecified() {
                    a.set_ip(Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{a}")
            }
        });
        local
            .into_iter()
            .chain(self.opts.otlp_endpoint.clone())
            .collect()
    }

    /// Waits until the built-in collector has received every span the
    /// generators and the replicas recorded and did not drop (`replicas`:
    /// recorded, dropped), at most `limit`: replicas that keep running after
    /// the load (in containers) send their last batch on their own time.
    /// False if some did not arrive in time (they are counted as lost).
    pub async fn await_spans(&self, replicas: (u64, u64), limit: Duration) -> bool {
        let Some((c, _)) = &self.collector else {
            return true;
        };
        let own = self
            .generators
            .as_ref()
            .map(Exporter::counts)
            .unwrap_or_default();
        let expected = (own.recorded + replicas.0).saturating_sub(own.dropped + replicas.1);
        let started = std::time::Instant::now();
        while c.spans() < expected {
            if started.elapsed() > limit {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
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
