//! The run's own OTLP collector: a standard `TraceService` (on loopback, or
//! where the load driver is told inside a container network) that any
//! OTLP/gRPC exporter can send to (the replicas, the load generators, an
//! OpenTelemetry SDK), handing what it receives to the traces writer at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::{Request, Response, Status};

use super::writer::Sink;

/// Largest `Export` message taken (SDKs batch up to a few MB).
const MAX_MESSAGE: usize = 64 << 20;

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
    store: Arc<Store>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
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
        let service = TraceServiceServer::new(Service {
            store: store.clone(),
        })
        .max_decoding_message_size(MAX_MESSAGE);
        let (stop, stopped) = oneshot::channel::<()>();
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let task = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                }),
        );
        Ok(Collector {
            addr,
            store,
            stop: Some(stop),
            task,
        })
    }

    /// Spans received so far.
    pub fn spans(&self) -> u64 {
        self.store.spans.load(Ordering::Relaxed)
    }

    /// Stops listening (dropping its sink) and returns the counts.
    pub async fn stop(mut self) -> Received {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Err(e) = (&mut self.task).await {
            tracing::warn!("span collector ended badly: {e}");
        }
        Received {
            spans: self.store.spans.load(Ordering::Relaxed),
            rejected: self.store.rejected.load(Ordering::Relaxed),
        }
    }
}

struct Service {
    store: Arc<Store>,
}

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let req = request.into_inner();
        let n: usize = req
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        if n == 0 {
            return Ok(Response::new(ExportTraceServiceResponse::default()));
        }
        if !self.store.sink.offer(req.resource_spans, n) {
            self.store.rejected.fetch_add(n as u64, Ordering::Relaxed);
            return Ok(Response::new(ExportTraceServiceResponse {
                partial_success: Some(ExportTracePartialSuccess {
                    rejected_spans: n as i64,
                    error_message: "the run's traces writer is behind; these spans are dropped"
                        .into(),
                }),
            }));
        }
        self.store.spans.fetch_add(n as u64, Ordering::Relaxed);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}
