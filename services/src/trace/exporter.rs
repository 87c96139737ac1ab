//! Span export over OTLP/gRPC (`TraceService/Export`), off the request path:
//! `record` encodes the span to protobuf bytes and puts it in a bounded
//! queue (a full queue drops and counts it); a background task batches the
//! bytes and sends the same encoded request to every endpoint, and `flush`
//! empties the queue before the process exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use prost::bytes::{BufMut, Bytes};
use tokio::sync::{mpsc, oneshot};
use tonic::Status;
use tonic::client::Grpc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint};

use super::batch::Batch;
use super::clock;
use super::span::{SpanBuilder, Value, kv};
use super::wire::EncodedSpan;

/// Spans waiting for export; past this, new spans are dropped (and counted)
/// rather than slowing requests down or growing without bound.
pub const QUEUE: usize = 16_384;
/// Spans per `Export` call.
const BATCH: usize = 512;
/// How long a span may wait for its batch to fill.
const LINGER: Duration = Duration::from_millis(200);
/// How long one `Export` call may take before its spans count as dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The method every OTLP/gRPC trace receiver serves.
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Spans up to this size travel inside the queue's own slots (which the
/// channel reuses) rather than in a buffer of their own: an allocation per
/// span, freed on another thread, was a visible share of a traced replica's
/// CPU. Most SERVER and CLIENT spans are 300 to 450 bytes.
const INLINE: usize = 480;

// Large by design: the inline variant is the point (see INLINE).
#[allow(clippy::large_enum_variant)]
enum Msg {
    /// A span's length and bytes.
    Inline(u16, [u8; INLINE]),
    Span(EncodedSpan),
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
                Ok((e.clone(), Grpc::new(channel)))
            })
            .collect::<Result<Vec<_>, BadEndpoint>>()?;
        let resource = Resource {
            attributes: resource
                .into_iter()
                .map(|(k, v)| kv(k, Value::Str(v.into())))
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
        self.record_encoded(span.encode());
    }

    /// Queues a span already written as bytes; never waits. A full queue
    /// drops it.
    pub fn record_encoded(&self, span: EncodedSpan) {
        self.counters.recorded.fetch_add(1, Ordering::Relaxed);
        let bytes = span.as_bytes();
        let msg = if bytes.len() <= INLINE {
            let mut inline = [0u8; INLINE];
            inline[..bytes.len()].copy_from_slice(bytes);
            let len = bytes.len() as u16;
            span.recycle();
            Msg::Inline(len, inline)
        } else {
            Msg::Span(span)
        };
        if self.tx.try_send(msg).is_err() {
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

/// One endpoint: its name (for warnings) and a gRPC client on its channel.
type Client = (String, Grpc<Channel>);

async fn export_loop(
    mut rx: mpsc::Receiver<Msg>,
    mut clients: Vec<Client>,
    resource: Resource,
    counters: Arc<Counters>,
) {
    let scope = InstrumentationScope {
        name: "topolab".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    let mut batch = Batch::new(&resource, &scope);
    let mut msgs = Vec::with_capacity(BATCH);
    // A batch is sent LINGER after its first span at the latest; with no
    // span waiting the timer is disarmed, so an idle replica does not wake.
    // One timer, reset once a batch rather than made anew for every span.
    let linger = tokio::time::sleep(LINGER);
    tokio::pin!(linger);
    let mut armed = false;
    loop {
        tokio::select! {
            // Takes every message already queued in one go (the wake-ups
            // stay one per span; the task's turns get fewer when it is behind).
            got = rx.recv_many(&mut msgs, BATCH) => {
                if got == 0 {
                    send(&mut clients, &mut batch, &counters).await;
                    return;
                }
                for msg in msgs.drain(..) {
                    let span = match msg {
                        Msg::Inline(len, ref bytes) => &bytes[..usize::from(len)],
                        Msg::Span(ref s) => s.as_bytes(),
                        Msg::Flush(ack) => {
                            send(&mut clients, &mut batch, &counters).await;
                            armed = false;
                            let _ = ack.send(());
                            continue;
                        }
                    };
                    batch.push(span);
                    if !armed {
                        linger.as_mut().reset(tokio::time::Instant::now() + LINGER);
                        armed = true;
                    }
                    if batch.len() >= BATCH {
                        send(&mut clients, &mut batch, &counters).await;
                        armed = false;
                    }
                }
            }
            () = &mut linger, if armed => {
                send(&mut clients, &mut batch, &counters).await;
                armed = false;
            }
        }
    }
}

async fn send(clients: &mut [Client], batch: &mut Batch, counters: &Counters) {
    if batch.is_empty() {
        return;
    }
    let n = batch.len() as u64;
    let request = batch.take_request();
    for (endpoint, client) in clients.iter_mut() {
        let call = tokio::time::timeout(EXPORT_TIMEOUT, export(client, request.clone()));
        let rejected = match call.await {
            Ok(Ok(reply)) => reply
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

/// One `Export` call carrying an already encoded request.
async fn export(
    client: &mut Grpc<Channel>,
    request: Bytes,
) -> Result<ExportTraceServiceResponse, Status> {
    client
        .ready()
        .await
        .map_err(|e| Status::unavailable(format!("span collector not ready: {e}")))?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(EXPORT);
    let reply = client
        .unary(tonic::Request::new(request), path, ExportCodec)
        .await?;
    Ok(reply.into_inner())
}

/// Sends request bytes as they are and decodes the (small) reply with prost.
#[derive(Debug, Clone, Copy, Default)]
struct ExportCodec;

impl Codec for ExportCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = ExportCodec;
    type Decoder = ExportCodec;

    fn encoder(&mut self) -> Self::Encoder {
        ExportCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        ExportCodec
    }
}

impl Encoder for ExportCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for ExportCodec {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        ExportTraceServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(format!("decoding the Export reply: {e}")))
    }
}
