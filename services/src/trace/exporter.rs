//! Span export over OTLP/gRPC (`TraceService/Export`), off the request path:
//! `record` only puts the span in a bounded queue (a full queue drops and
//! counts it); a background task converts, batches and sends to every
//! endpoint, and `flush` empties the queue before the process exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use tokio::sync::{mpsc, oneshot};
use tonic::transport::{Channel, Endpoint};

use super::clock;
use super::span::{SpanBuilder, Value, kv};

/// Spans waiting for export; past this, new spans are dropped (and counted)
/// rather than slowing requests down or growing without bound.
pub const QUEUE: usize = 16_384;
/// Spans per `Export` call.
const BATCH: usize = 512;
/// How long a span may wait for its batch to fill.
const LINGER: Duration = Duration::from_millis(200);
/// How long one `Export` call may take before its spans count as dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

enum Msg {
    Span(Box<SpanBuilder>),
    Flush(oneshot::Sender<()>),
}

#[derive(Debug, Default)]
struct Counters {
    recorded: AtomicU64,
    dropped: AtomicU64,
}

/// Spans recorded and dropped so far by one exporter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportCounts {
    /// Spans handed to `record`.
    pub recorded: u64,
    /// Spans lost: queue full, or an endpoint that did not take them.
    pub dropped: u64,
}

/// A handle on one process's span exporter; clones share the queue.
#[derive(Debug, Clone)]
pub struct Exporter {
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
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
    /// gets `http://`) on the current tokio runtime, describing this process
    /// by `resource` attributes (`service.name`, ...).
    pub fn start(
        endpoints: &[String],
        resource: Vec<(&'static str, String)>,
    ) -> Result<Self, BadEndpoint> {
        clock::init();
        let clients = endpoints
            .iter()
            .map(|e| {
                let url = if e.contains("://") {
                    e.clone()
                } else {
                    format!("http://{e}")
                };
                let channel = Endpoint::from_shared(url)
                    .map_err(|source| BadEndpoint {
                        endpoint: e.clone(),
                        source,
                    })?
                    .tcp_nodelay(true)
                    .connect_lazy();
                Ok((e.clone(), TraceServiceClient::new(channel)))
            })
            .collect::<Result<Vec<_>, BadEndpoint>>()?;
        let resource = Resource {
            attributes: resource
                .into_iter()
                .map(|(k, v)| kv(k, Value::Str(v)))
                .collect(),
            ..Default::default()
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        tokio::spawn(export_loop(rx, clients, resource, counters.clone()));
        Ok(Exporter { tx, counters })
    }

    /// Queues a finished span; never waits. A full queue drops it.
    pub fn record(&self, span: SpanBuilder) {
        self.counters.recorded.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(Msg::Span(Box::new(span))).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends every span queued so far; false if that took longer than `limit`.
    pub async fn flush(&self, limit: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        let done = async {
            self.tx.send(Msg::Flush(tx)).await.ok()?;
            rx.await.ok()
        };
        matches!(tokio::time::timeout(limit, done).await, Ok(Some(())))
    }

    /// Spans recorded and dropped so far.
    pub fn counts(&self) -> ExportCounts {
        ExportCounts {
            recorded: self.counters.recorded.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }
}

async fn export_loop(
    mut rx: mpsc::Receiver<Msg>,
    mut clients: Vec<(String, TraceServiceClient<Channel>)>,
    resource: Resource,
    counters: Arc<Counters>,
) {
    let mut batch: Vec<Span> = Vec::with_capacity(BATCH);
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
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Span(s)) => {
                    batch.push(s.into_otlp());
                    due.get_or_insert_with(|| tokio::time::Instant::now() + LINGER);
                    if batch.len() >= BATCH {
                        send(&mut clients, &resource, &mut batch, &counters).await;
                        due = None;
                    }
                }
                Some(Msg::Flush(ack)) => {
                    send(&mut clients, &resource, &mut batch, &counters).await;
                    due = None;
                    let _ = ack.send(());
                }
                None => {
                    send(&mut clients, &resource, &mut batch, &counters).await;
                    return;
                }
            },
            () = linger => {
                send(&mut clients, &resource, &mut batch, &counters).await;
                due = None;
            }
        }
    }
}

async fn send(
    clients: &mut [(String, TraceServiceClient<Channel>)],
    resource: &Resource,
    batch: &mut Vec<Span>,
    counters: &Counters,
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
