//! Span export over OTLP/gRPC (`TraceService/Export`), off the request path:
//! `record` appends the span's protobuf bytes to its thread's batch in the
//! [`Queue`] (past [`QUEUE`] spans waiting it drops and counts them); a
//! background task sends each full batch ([`IN_FLIGHT`] at once at most),
//! and what waits [`LINGER`] at the latest, as the same encoded request to
//! every endpoint, and `flush`
//! empties what waits before the process exits.
//!
//! The task is woken once a batch, not once a span: when a batch fills,
//! and when the first span of a batch arms its linger. A channel to the
//! task woke it for every span, which at saturation cost a traced replica
//! about as much as writing the span.

use parking_lot::{Mutex, MutexGuard};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use prost::bytes::{BufMut, Bytes};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tonic::Status;
use tonic::client::Grpc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint};

use super::batch::{Frame, Spans};
use super::clock;
use super::encode::EncodedSpan;
use super::local;
pub use super::queue::QUEUE;
use super::queue::{Pushed, Queue};
use super::span::{SpanBuilder, Value, kv};

/// How long a span may wait for its batch to fill.
const LINGER: Duration = Duration::from_millis(200);
/// `Export` calls in flight at once. On a saturated replica, whose one
/// thread takes its hundreds of ready tasks in turn, a call's round trip
/// takes milliseconds: one call at a time carried 40-80k spans/s, and a
/// replica serving 160k/s lost half of its spans at its full queue.
const IN_FLIGHT: usize = 8;
/// How long one `Export` call may take before its spans count as dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The method every OTLP/gRPC trace receiver serves.
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// What the request path and the export task share.
#[derive(Debug)]
struct Shared {
    queue: Queue,
    control: Mutex<Control>,
    /// Wakes the export task (a permit is kept if it is not waiting yet).
    wake: Notify,
    /// Spans an endpoint did not take.
    unsent: AtomicU64,
}

/// What the export task is asked besides sending batches.
#[derive(Debug, Default)]
struct Control {
    /// Callers of `flush`, answered once what waited when they asked is sent.
    flushes: Vec<oneshot::Sender<()>>,
    /// Every handle is gone: send what waits and stop.
    closed: bool,
}

impl Shared {
    fn control(&self) -> MutexGuard<'_, Control> {
        self.control.lock()
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

/// A handle on one process's span exporter; clones share the queue.
#[derive(Debug, Clone)]
pub struct Exporter {
    handle: Arc<Handle>,
}

/// Dropped with the last [`Exporter`] clone: tells the task to send what
/// waits and stop.
#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.control().closed = true;
        self.shared.wake.notify_one();
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
    /// gets `http://`; `unix-abstract:NAME` is a Unix socket, see
    /// [`local`](super::local)) on the current tokio runtime, describing this
    /// process by `resource` attributes (`service.name`, ...).
    pub fn start(
        endpoints: &[String],
        resource: Vec<(&'static str, String)>,
    ) -> Result<Self, BadEndpoint> {
        clock::init();
        let clients = endpoints
            .iter()
            .map(|e| {
                if let Some(name) = e.strip_prefix(local::SCHEME) {
                    return Ok((e.clone(), Grpc::new(local::channel(name))));
                }
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
        let scope = InstrumentationScope {
            name: "topolab".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        };
        let frame = Frame::new(&resource, &scope);
        let shared = Arc::new(Shared {
            queue: Queue::new(frame.head_room()),
            control: Mutex::default(),
            wake: Notify::new(),
            unsent: AtomicU64::new(0),
        });
        tokio::spawn(export_loop(shared.clone(), clients, frame));
        Ok(Exporter {
            handle: Arc::new(Handle { shared }),
        })
    }

    /// Queues a finished span; never waits. A full queue drops it.
    pub fn record(&self, span: SpanBuilder) {
        self.record_encoded(span.encode());
    }

    /// Queues a span already written as bytes; never waits. A full queue
    /// drops it.
    pub fn record_encoded(&self, span: EncodedSpan) {
        let shared = &self.handle.shared;
        let pushed = shared.queue.push(span.as_bytes());
        span.recycle();
        if pushed == Pushed::Wake {
            shared.wake.notify_one();
        }
    }

    /// Sends every span queued so far; false if that took longer than `limit`.
    pub async fn flush(&self, limit: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        let shared = &self.handle.shared;
        shared.control().flushes.push(tx);
        shared.wake.notify_one();
        matches!(tokio::time::timeout(limit, rx).await, Ok(Ok(())))
    }

    /// Spans recorded and dropped so far.
    pub fn counts(&self) -> ExportCounts {
        let shared = &self.handle.shared;
        let (recorded, dropped) = shared.queue.counts();
        ExportCounts {
            recorded,
            dropped: dropped + shared.unsent.load(Ordering::Relaxed),
        }
    }
}

/// One endpoint: its name (for warnings) and a gRPC client on its channel.
type Client = (String, Grpc<Channel>);

async fn export_loop(shared: Arc<Shared>, clients: Vec<Client>, frame: Frame) {
    let frame = Arc::new(frame);
    let mut sending = JoinSet::new();
    // Since when spans have waited (as first seen here): what waits is all
    // sent LINGER later at the latest.
    let mut waiting_since: Option<Instant> = None;
    loop {
        let (flushes, closed) = {
            let mut c = shared.control();
            (std::mem::take(&mut c.flushes), c.closed)
        };
        let lingered = waiting_since.is_some_and(|t| t.elapsed() >= LINGER);
        let everything = closed || !flushes.is_empty() || lingered;
        let batches = if everything {
            shared.queue.take_all()
        } else {
            shared.queue.take_full().into_iter().collect()
        };
        if batches.is_empty() && flushes.is_empty() && !closed {
            if shared.queue.is_empty() {
                waiting_since = None;
                shared.wake.notified().await;
            } else {
                let t = *waiting_since.get_or_insert_with(Instant::now);
                tokio::select! {
                    () = shared.wake.notified() => {}
                    () = tokio::time::sleep_until(t + LINGER) => {}
                }
            }
            continue;
        }
        if everything {
            waiting_since = None;
        }
        for spans in batches {
            while sending.len() >= IN_FLIGHT {
                sending.join_next().await;
            }
            let (clients, frame, shared) = (clients.clone(), frame.clone(), shared.clone());
            sending.spawn(async move { send(clients, &frame, spans, &shared.unsent).await });
        }
        if everything {
            // What waited when a flush asked is sent before it is answered.
            while sending.join_next().await.is_some() {}
        }
        for ack in flushes {
            let _ = ack.send(());
        }
        if closed {
            return;
        }
    }
}

async fn send(mut clients: Vec<Client>, frame: &Frame, spans: Spans, dropped: &AtomicU64) {
    if spans.is_empty() {
        return;
    }
    let n = spans.len() as u64;
    let request = frame.request(spans);
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
        dropped.fetch_add(rejected, Ordering::Relaxed);
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
