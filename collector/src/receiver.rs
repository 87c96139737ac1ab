//! The run's own OTLP collector: a standard `TraceService` (on loopback, or
//! where the load driver is told inside a container network) that any
//! OTLP/gRPC exporter can send to (the replicas, the load generators, an
//! OpenTelemetry SDK), handing what it receives to the traces writer at once.
//! Requests are read only down to each span's bytes ([`raw`](super::raw));
//! the service is written out by hand for that, as tonic's generated one
//! decodes every span into prost structs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Context as TaskContext, Poll, Service as TowerService, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use tokio_stream::wrappers::UnixListenerStream;
use topolab_services::trace::local;

use super::raw::RawRequest;
use super::writer::Sink;

/// Largest `Export` message taken (SDKs batch up to a few MB).
const MAX_MESSAGE: usize = 64 << 20;
/// The largest HTTP/2 frame exporters may send (HTTP/2's default is
/// 16 KiB): a replica's batch of 512 spans, ~230 KB, then comes in one
/// DATA frame and a few reads rather than fifteen frames.
const FRAME: u32 = 1 << 20;

struct Store {
    sink: Sink,
    spans: AtomicU64,
    rejected: AtomicU64,
}

/// What the collector received over the run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Received {
    /// Spans taken (handed to the writer).
    pub spans: u64,
    /// Spans turned away because the writer's queue was full (answered with
    /// `rejected_spans`, so the exporters count them as dropped too).
    pub rejected: u64,
}

/// A running collector; [`Collector::stop`] ends it.
pub struct Collector {
    /// Where exporters send (`http://` + this).
    pub addr: SocketAddr,
    /// The same service on an abstract Unix socket, for exporters on this
    /// machine (see [`local`]); `None` where it could not be bound.
    pub local: Option<String>,
    store: Arc<Store>,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl Collector {
    /// Listens on `listen` (127.0.0.1 on a free port for a local run),
    /// handing spans to `sink`.
    pub async fn start(sink: Sink, listen: SocketAddr) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding the span collector to {listen}"))?;
        let addr = listener.local_addr()?;
        let store = Arc::new(Store {
            sink,
            spans: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        });
        let service = TraceServer {
            store: store.clone(),
        };
        let mut stops = Vec::new();
        let mut tasks = Vec::new();
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tasks.push(serve(service.clone(), incoming, &mut stops));
        // Named by process and port: unique on this machine while it runs.
        let name = format!("topolab-otlp-{}-{}", std::process::id(), addr.port());
        let local = match local::bind(&name) {
            Ok(listener) => {
                tasks.push(serve(
                    service,
                    UnixListenerStream::new(listener),
                    &mut stops,
                ));
                Some(local::endpoint(&name))
            }
            Err(e) => {
                tracing::warn!("span collector: no Unix socket ({e}); replicas send over TCP");
                None
            }
        };
        Ok(Collector {
            addr,
            local,
            store,
            stops,
            tasks,
        })
    }

    /// Spans received so far.
    pub fn spans(&self) -> u64 {
        self.store.spans.load(Ordering::Relaxed)
    }

    /// Stops listening (dropping its sink) and returns the counts.
    pub async fn stop(mut self) -> Received {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("span collector ended badly: {e}"),
                Err(e) => tracing::warn!("span collector ended badly: {e}"),
            }
        }
        Received {
            spans: self.store.spans.load(Ordering::Relaxed),
            rejected: self.store.rejected.load(Ordering::Relaxed),
        }
    }
}

/// Serves `service` on the connections `incoming` yields until the sender
/// it adds to `stops` is used.
fn serve<I, IO, IE>(
    service: TraceServer,
    incoming: I,
    stops: &mut Vec<oneshot::Sender<()>>,
) -> JoinHandle<Result<(), tonic::transport::Error>>
where
    I: tokio_stream::Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
    IO::ConnectInfo: Clone + Send + Sync + 'static,
    IE: Into<tonic::codegen::StdError> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel::<()>();
    stops.push(stop);
    tokio::spawn(
        tonic::transport::Server::builder()
            .max_frame_size(FRAME)
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            }),
    )
}

/// `opentelemetry.proto.collector.trace.v1.TraceService` with one method,
/// `Export`, whose request is read as a [`RawRequest`].
#[derive(Clone)]
struct TraceServer {
    store: Arc<Store>,
}

impl NamedService for TraceServer {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl<B> TowerService<http::Request<B>> for TraceServer
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != "/opentelemetry.proto.collector.trace.v1.TraceService/Export" {
            return Box::pin(async { Ok(Status::unimplemented("").into_http()) });
        }
        let export = Export {
            store: self.store.clone(),
        };
        Box::pin(async move {
            let mut grpc =
                Grpc::new(ExportCodec).apply_max_message_size_config(Some(MAX_MESSAGE), None);
            Ok(grpc.unary(export, req).await)
        })
    }
}

struct Export {
    store: Arc<Store>,
}

impl UnaryService<RawRequest> for Export {
    type Response = ExportTraceServiceResponse;
    type Future = BoxFuture<Response<Self::Response>, Status>;

    fn call(&mut self, request: Request<RawRequest>) -> Self::Future {
        let store = self.store.clone();
        Box::pin(async move { Ok(Response::new(store.take(request.into_inner()))) })
    }
}

impl Store {
    /// Hands a request's spans to the writer, or refuses them all (and says
    /// so in the reply) when its queue is full.
    fn take(&self, req: RawRequest) -> ExportTraceServiceResponse {
        let n = req.spans();
        if n == 0 {
            return ExportTraceServiceResponse::default();
        }
        if !self.sink.offer(req.resource_spans, n) {
            self.rejected.fetch_add(n as u64, Ordering::Relaxed);
            return ExportTraceServiceResponse {
                partial_success: Some(ExportTracePartialSuccess {
                    rejected_spans: n as i64,
                    error_message: "the run's traces writer is behind; these spans are dropped"
                        .into(),
                }),
            };
        }
        self.spans.fetch_add(n as u64, Ordering::Relaxed);
        ExportTraceServiceResponse::default()
    }
}

/// Reads requests as [`RawRequest`] and writes replies with prost.
#[derive(Debug, Clone, Copy, Default)]
struct ExportCodec;

impl Codec for ExportCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = RawRequest;
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
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding the Export reply: {e}")))
    }
}

impl Decoder for ExportCodec {
    type Item = RawRequest;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<RawRequest>, Status> {
        RawRequest::decode(src)
            .map(Some)
            .map_err(|e| Status::invalid_argument(format!("not an ExportTraceServiceRequest: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::Writer;
    use std::time::{Duration, Instant};
    use topolab_services::trace::span::{Kind, SpanBuilder};
    use topolab_services::trace::{Exporter, SpanContext};

    /// Spans sent to either address arrive: TCP for exporters anywhere, the
    /// abstract Unix socket for the run's own processes.
    #[tokio::test]
    async fn spans_arrive_over_tcp_and_over_the_unix_socket() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::start(dir.path(), 1 << 30).unwrap();
        let collector = Collector::start(writer.sink(), ([127, 0, 0, 1], 0).into())
            .await
            .unwrap();
        let local = collector.local.clone().expect("no Unix socket bound");
        assert!(local.starts_with(local::SCHEME), "{local}");
        let tcp = format!("http://{}", collector.addr);
        for (sent, endpoint) in [(1, local), (2, tcp)] {
            let exporter = Exporter::start(std::slice::from_ref(&endpoint), vec![]).unwrap();
            let now = Instant::now();
            let span = SpanContext::new_root(true);
            exporter.record(SpanBuilder::new(
                span,
                None,
                Kind::Server,
                "a/B".into(),
                now,
                now,
            ));
            assert!(exporter.flush(Duration::from_secs(5)).await, "{endpoint}");
            assert_eq!(exporter.counts().dropped, 0, "{endpoint}");
            assert_eq!(collector.spans(), sent, "{endpoint}");
        }
        assert_eq!(collector.stop().await.spans, 2);
    }
}
