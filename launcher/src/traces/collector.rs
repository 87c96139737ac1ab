//! The run's own OTLP collector: a standard `TraceService` on loopback that
//! any OTLP/gRPC exporter can send to (the replicas, the load generators, an
//! OpenTelemetry SDK), keeping what it receives until the run ends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::{Request, Response, Status};

/// Spans kept per run; past this, exports are answered with `rejected_spans`
/// (the exporters count them as dropped) so memory stays bounded.
pub const MAX_SPANS: u64 = 1_000_000;
/// Largest `Export` message taken (SDKs batch up to a few MB).
const MAX_MESSAGE: usize = 64 << 20;

#[derive(Debug, Default)]
struct Store {
    batches: Mutex<Vec<ResourceSpans>>,
    spans: AtomicU64,
    rejected: AtomicU64,
}

/// What the collector received over the run.
#[derive(Debug, Default)]
pub struct Received {
    /// Every span received, in the `ResourceSpans` its exporters sent.
    pub resource_spans: Vec<ResourceSpans>,
    pub spans: u64,
    /// Spans turned away because [`MAX_SPANS`] was reached.
    pub rejected: u64,
}

/// A running collector; [`Collector::stop`] ends it and hands over the spans.
pub struct Collector {
    /// Where exporters send (`http://` + this).
    pub addr: SocketAddr,
    store: Arc<Store>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Collector {
    /// Listens on 127.0.0.1 on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the span collector")?;
        let addr = listener.local_addr()?;
        let store = Arc::new(Store::default());
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

    /// Stops listening and returns everything received.
    pub async fn stop(mut self) -> Received {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Err(e) = (&mut self.task).await {
            tracing::warn!("span collector ended badly: {e}");
        }
        let batches = std::mem::take(&mut *lock(&self.store.batches));
        Received {
            resource_spans: batches,
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
        let n: u64 = req
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len() as u64)
            .sum();
        let taken = self.store.spans.fetch_add(n, Ordering::Relaxed);
        if taken + n > MAX_SPANS {
            self.store.spans.fetch_sub(n, Ordering::Relaxed);
            self.store.rejected.fetch_add(n, Ordering::Relaxed);
            return Ok(Response::new(ExportTraceServiceResponse {
                partial_success: Some(ExportTracePartialSuccess {
                    rejected_spans: n as i64,
                    error_message: format!("this run's collector keeps at most {MAX_SPANS} spans"),
                }),
            }));
        }
        lock(&self.store.batches).extend(req.resource_spans);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

/// A poisoned lock only means an export handler panicked; the spans kept are intact.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
