//! Span export over OTLP/gRPC (`TraceService/Export`), off the request path:
//! `record` only pushes the span into a bounded buffer (a full buffer drops
//! and counts it) and wakes the export task twice a batch at most (its first
//! span starts the linger, the span that fills it sends it), not once per
//! span; the task converts and sends to every endpoint, and `flush` empties
//! the buffer before the process exits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use tokio::sync::{Notify, mpsc, oneshot};
use tonic::transport::{Channel, Endpoint};

use super::clock;
use super::span::{SpanBuilder, Value, kv};

/// Spans waiting for export; past this, new spans are dropped (and counted)
/// rather than slowing requests down or growing without bound.
pub const QUEUE: usize = 16_384;
/// Spans per `Export` call, and how many wait before the task is woken.
const BATCH: usize = 512;
/// How long a span may wait for its batch to fill.
const LINGER: Duration = Duration::from_millis(200);
/// How long one `Export` call may take before its spans count as dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// Flush requests waiting (one per caller of [`Exporter::flush`]).
const FLUSHES: usize = 16;

/// What the request path and the export task share: the spans waiting, the
/// bell rung when a batch is full, and the counts.
#[derive(Debug, Default)]
struct Shared {
    /// Spans recorded, not yet taken by the export task (at most [`QUEUE`]).
    /// A plain mutex: held for one push, never across an await.
    waiting: Mutex<Vec<SpanBuilder>>,
    /// Rung by the first span of a batch (to start its linger) and by the
    /// span that fills it (to send it now).
    bell: Notify,
    recorded: AtomicU64,
    dropped: AtomicU64,
}

impl Shared {
    fn waiting(&self) -> usize {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn take(&self) -> Vec<SpanBuilder> {
        let mut w = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *w, Vec::with_capacity(BATCH))
    }
}

/// Spans recorded and dropped so far by one exporter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportCounts {
    /// Spans handed to `record`.
    pub recorded: u64,
    /// Spans lost: queue full, or an endpoint that did not take them.
    pub dropped: u64,
}

/// A handle on one process's span exporter; clones share the buffer. The
/// export task ends (after sending what is left) when the last clone goes.
#[derive(Debug, Clone)]
pub struct Exporter {
    shared: Arc<Shared>,
    flushes: mpsc::Sender<oneshot::Sender<()>>,
}

/// Why an exporter could not start.
#[derive(Debug, thiserror::Error)]
#[error("invalid OTLP endpoint {endpoint:?}: {source}")]
pub struct BadEndpoint {
    endpoint: String,
    source: tonic::transport::Error,
}

impl Exporter {
    /// Starts exporting to `endpoints` (`http://host:port`; a bare `host:port`
    /// gets `http://`), describing this process by `resource` attributes
    /// (`service.name`, ...), on the current tokio runtime.
    pub fn start(
        endpoints: &[String],
        resource: Vec<(&'static str, String)>,
    ) -> Result<Self, BadEndpoint> {
        clock::init();
        let targets = endpoints
            .iter()
            .map(|e| {
                let url = if e.contains("://") {
                    e.clone()
                } else {
                    format!("http://{e}")
                };
                let endpoint = Endpoint::from_shared(url)
                    .map_err(|source| BadEndpoint {
                        endpoint: e.clone(),
                        source,
                    })?
                    .tcp_nodelay(true);
                Ok((e.clone(), endpoint))
            })
            .collect::<Result<Vec<_>, BadEndpoint>>()?;
        let resource = Resource {
            attributes: resource
                .into_iter()
                .map(|(k, v)| kv(k, Value::Str(v.into())))
                .collect(),
            ..Default::default()
        };
        let shared = Arc::new(Shared::default());
        let (flushes, rx) = mpsc::channel(FLUSHES);
        let job = ExportJob {
            rx,
            shared: shared.clone(),
            targets,
            resource,
        };
        tokio::spawn(job.run());
        Ok(Exporter { shared, flushes })
    }

    /// Buffers a finished span; never waits. A full buffer drops it.
    pub fn record(&self, span: SpanBuilder) {
        let sh = &self.shared;
        sh.recorded.fetch_add(1, Ordering::Relaxed);
        let mut waiting = sh.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if waiting.len() >= QUEUE {
            drop(waiting);
            sh.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        waiting.push(span);
        let n = waiting.len();
        drop(waiting);
        // Two wake-ups per batch at most, none in between and none when idle.
        if n == 1 || n == BATCH {
            sh.bell.notify_one();
        }
    }

    /// Sends every span buffered so far; false if that took longer than `limit`.
    pub async fn flush(&self, limit: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        let done = async {
            self.flushes.send(tx).await.ok()?;
            rx.await.ok()
        };
        matches!(tokio::time::timeout(limit, done).await, Ok(Some(())))
    }

    /// Spans recorded and dropped so far.
    pub fn counts(&self) -> ExportCounts {
        ExportCounts {
            recorded: self.shared.recorded.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
        }
    }
}

/// What the export task needs: the flush requests, the shared buffer,
/// where to send and what process the spans come from.
struct ExportJob {
    rx: mpsc::Receiver<oneshot::Sender<()>>,
    shared: Arc<Shared>,
    targets: Vec<(String, Endpoint)>,
    resource: Resource,
}

impl ExportJob {
    /// Opens the channels and exports until every handle is gone.
    async fn run(self) {
        let clients = self
            .targets
            .into_iter()
            .map(|(name, e)| (name, TraceServiceClient::new(e.connect_lazy())))
            .collect();
        export_loop(self.rx, self.shared, clients, self.resource).await;
    }
}

async fn export_loop(
    mut flushes: mpsc::Receiver<oneshot::Sender<()>>,
    shared: Arc<Shared>,
    mut clients: Vec<(String, TraceServiceClient<Channel>)>,
    resource: Resource,
) {
    // A batch is sent LINGER after its first span at the latest; with no
    // span waiting there is no timer, so an idle replica does not wake.
    let mut due: Option<tokio::time::Instant> = None;
    loop {
        let linger = async move {
            match due {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let ack = tokio::select! {
            () = shared.bell.notified() => None,
            () = linger => None,
            ack = flushes.recv() => match ack {
                Some(ack) => Some(ack),
                // Every handle is gone: send what is left and stop.
                None => {
                    export(&mut clients, &resource, &shared).await;
                    return;
                }
            },
        };
        let now = tokio::time::Instant::now();
        let waiting = shared.waiting();
        if ack.is_some() || waiting >= BATCH || due.is_some_and(|at| now >= at) {
            export(&mut clients, &resource, &shared).await;
            due = None;
        } else if waiting > 0 && due.is_none() {
            due = Some(now + LINGER);
        }
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
    }
}

/// Takes every buffered span, converts it to OTLP and sends it in batches.
async fn export(
    clients: &mut [(String, TraceServiceClient<Channel>)],
    resource: &Resource,
    shared: &Shared,
) {
    let mut spans = shared.take();
    while !spans.is_empty() {
        let rest = spans.split_off(spans.len().min(BATCH));
        let mut batch: Vec<Span> = spans.into_iter().map(SpanBuilder::into_otlp).collect();
        send(clients, resource, &mut batch, shared).await;
        spans = rest;
    }
}

async fn send(
    clients: &mut [(String, TraceServiceClient<Channel>)],
    resource: &Resource,
    batch: &mut Vec<Span>,
    counters: &Shared,
) {
    if batch.is_empty() {
        return;
    }
    let n = batch.len() as u64;
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "topolab".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                spans: std::mem::take(batch),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    for (endpoint, client) in clients.iter_mut() {
        let call = tokio::time::timeout(EXPORT_TIMEOUT, client.export(request.clone()));
        let rejected = match call.await {
            Ok(Ok(reply)) => reply
                .into_inner()
                .partial_success
                .map_or(0, |p| p.rejected_spans.max(0) as u64),
            Ok(Err(status)) => {
                tracing::warn!(%endpoint, %status, spans = n, "span export failed");
                n
            }
            Err(_) => {
                tracing::warn!(%endpoint, spans = n, "span export timed out");
                n
            }
        };
        counters.dropped.fetch_add(rejected, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::trace::SpanContext;
    use crate::trace::span::Kind;

    fn span() -> SpanBuilder {
        let now = Instant::now();
        let ctx = SpanContext::new_root(true);
        SpanBuilder::new(ctx, None, Kind::Server, "s/E".into(), now, now)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_buffer_is_bounded_drops_are_counted_and_flush_empties_it() {
        let exporter = Exporter::start(&[], vec![]).unwrap();
        // The export task cannot run until this task yields: all pile up.
        for _ in 0..QUEUE + 5 {
            exporter.record(span());
        }
        let counts = exporter.counts();
        assert_eq!(counts.recorded, (QUEUE + 5) as u64);
        assert_eq!(counts.dropped, 5);
        assert!(exporter.flush(Duration::from_secs(5)).await);
        assert_eq!(exporter.shared.waiting(), 0);
    }
}
