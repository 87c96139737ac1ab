//! The gRPC face of a replica: `topolab.v1.Replica` (the data plane),
//! `topolab.v1.Control` (the launcher's side door), the standard health
//! service and server reflection (so `grpcurl -plaintext ADDR list` works),
//! and [`serve`], which runs them until the process's shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_stream::StreamExt;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;
use topolab_proto::v1 as pb;
use topolab_proto::v1::control_server::{Control, ControlServer};
use topolab_proto::v1::replica_server::{Replica as ReplicaRpc, ReplicaServer};

use crate::client::ClientError;
use crate::deadline;
use crate::metrics;
use crate::replica::Replica;
use crate::shutdown::Shutdown;
use crate::spec::ReplicaSpec;
use crate::trace::{self, Exporter};
use crate::updates::LongPoll;
use crate::updates::stream::{self, Updates};

/// How long requests still in flight at shutdown may take to finish before
/// the server stops anyway (their callers will see the connection close).
pub const GRACE: Duration = Duration::from_secs(2);

/// How long the span exporter may take to send what it holds at shutdown;
/// short, as the launcher kills replicas that outstay its own grace.
pub const FLUSH_LIMIT: Duration = Duration::from_millis(1000);

/// Why a replica could not serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{replica} does not exist in topology {topology:?}")]
    UnknownService { replica: String, topology: String },
    #[error(transparent)]
    Clients(#[from] ClientError),
    #[error(transparent)]
    Exporter(#[from] trace::exporter::BadEndpoint),
    #[error("building server reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("binding the metrics address {addr}: {source}")]
    MetricsBind {
        addr: String,
        source: std::io::Error,
    },
    #[error("serving gRPC: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves the replica `spec` describes on `listener` until `shutdown` is
/// triggered (by the caller, or by a `Control/Shutdown` call), then stops
/// accepting and lets in-flight requests finish for up to [`GRACE`].
///
/// This is the whole replica without the process around it: tests and an
/// in-process launcher can run many replicas in one runtime.
pub async fn serve(
    spec: ReplicaSpec,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    if spec.topology.service(&spec.service).is_none() {
        return Err(ServeError::UnknownService {
            replica: spec.replica_name(),
            topology: spec.topology.name.clone(),
        });
    }
    let tracer = match spec.otlp_endpoints.as_slice() {
        [] => None,
        endpoints => Some(Exporter::start(
            endpoints,
            vec![
                ("service.name", spec.service.clone()),
                ("service.instance.id", spec.replica_name()),
                ("process.pid", std::process::id().to_string()),
            ],
        )?),
    };
    let replica = Arc::new(Replica::new(&spec)?.with_tracer(tracer.clone()));
    if let Some(discovery) = &spec.discovery {
        replica.clients().discover(discovery, &shutdown).await;
    }
    let metrics_addr = match &spec.metrics {
        None => String::new(),
        Some(addr) => {
            let bind_error = |source| ServeError::MetricsBind {
                addr: addr.clone(),
                source,
            };
            let listener = tokio::net::TcpListener::bind(addr.as_str())
                .await
                .map_err(bind_error)?;
            let bound = listener.local_addr().map_err(bind_error)?;
            let (replica, shutdown) = (replica.clone(), shutdown.clone());
            tokio::spawn(async move {
                if let Err(e) = metrics::serve(replica, listener, shutdown).await {
                    tracing::warn!("serving /metrics stopped: {e}");
                }
            });
            bound.to_string()
        }
    };

    let (health, health_svc) = tonic_health::server::health_reporter();
    // Each version's builder adds its own descriptor; add the other's so that
    // `list` shows both, whichever version a client speaks.
    let reflection = |other: &'static [u8]| {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(topolab_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(other)
    };
    let reflection_v1 =
        reflection(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET).build_v1()?;
    let reflection_v1alpha =
        reflection(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET).build_v1alpha()?;

    if let Some(start) = spec.load_start_unix_us {
        replica.versions().begin(start, shutdown.clone());
    }
    // The limit the simulator applies too (one rule: topolab_rules::message).
    let replica_svc = ReplicaServer::new(ReplicaService {
        replica: replica.clone(),
        shutdown: shutdown.clone(),
    })
    .max_decoding_message_size(topolab_rules::message::MAX_REQUEST as usize);
    health.set_serving::<ReplicaServer<ReplicaService>>().await;
    health.set_service_status("", ServingStatus::Serving).await;
    {
        let (health, shutdown) = (health.clone(), shutdown.clone());
        tokio::spawn(async move {
            shutdown.wait().await;
            health
                .set_not_serving::<ReplicaServer<ReplicaService>>()
                .await;
            health
                .set_service_status("", ServingStatus::NotServing)
                .await;
        });
    }

    {
        let (replica, shutdown) = (replica.clone(), shutdown.clone());
        tokio::spawn(async move { replica.sample_until(shutdown).await });
    }

    // A replica shaping its own links refuses callers it is partitioned from.
    let links = replica.clients().links().cloned();
    if let (Some(l), Some(d)) = (&links, &spec.discovery) {
        let services = spec
            .topology
            .services
            .iter()
            .map(|s| s.name.clone())
            .collect();
        l.learn_replicas(services, d.clone(), shutdown.clone());
    }
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .filter(move |conn| match (conn, &links) {
            (Ok(tcp), Some(l)) => !tcp.peer_addr().is_ok_and(|p| l.refuses(p.ip())),
            _ => true,
        });
    let stop = shutdown.clone();
    let server = Server::builder()
        .add_service(replica_svc)
        .add_service(ControlServer::new(ControlService {
            replica,
            shutdown: shutdown.clone(),
            metrics_addr,
        }))
        .add_service(health_svc)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(incoming, async move { stop.wait().await });
    tokio::select! {
        r = server => r?,
        () = async { shutdown.wait().await; tokio::time::sleep(GRACE).await } => {
            tracing::warn!(replica = %spec.replica_name(), "requests still in flight after {GRACE:?}; stopping anyway");
        }
    }
    // Spans of the last requests are still queued: send them before exiting.
    if let Some(t) = tracer
        && !t.flush(FLUSH_LIMIT).await
    {
        tracing::warn!(replica = %spec.replica_name(), "spans not all sent within {FLUSH_LIMIT:?}");
    }
    Ok(())
}

/// `topolab.v1.Replica`: every call is one request to one endpoint.
#[derive(Debug, Clone)]
pub struct ReplicaService {
    replica: Arc<Replica>,
    /// Ends open subscriptions when the replica stops.
    shutdown: Shutdown,
}

#[tonic::async_trait]
impl ReplicaRpc for ReplicaService {
    async fn call(&self, req: Request<pb::CallRequest>) -> Result<Response<pb::CallReply>, Status> {
        let arrival = Instant::now();
        let policy = self.replica.service().deadlines;
        let deadline = deadline::from_metadata(req.metadata(), arrival, policy);
        let caller = trace::context::from_metadata(req.metadata());
        let msg = req.into_inner();
        let long_poll = LongPoll::from_request(&msg);
        if self.replica.ignores_deadlines() {
            // `deadlines: ignore`: the request runs on a task of its own, so
            // it goes on to the end even when its caller gives up (and tonic
            // drops this handler).
            let replica = self.replica.clone();
            let task = tokio::spawn(async move {
                replica
                    .handle(
                        &msg.endpoint,
                        &msg.session,
                        deadline,
                        arrival,
                        caller,
                        long_poll,
                    )
                    .await
            });
            return match task.await {
                Ok(r) => r.map(Response::new),
                Err(e) => Err(Status::internal(format!("request task failed: {e}"))),
            };
        }
        self.replica
            .handle(
                &msg.endpoint,
                &msg.session,
                deadline,
                arrival,
                caller,
                long_poll,
            )
            .await
            .map(Response::new)
    }

    type SubscribeStream = Updates;

    async fn subscribe(
        &self,
        req: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Updates>, Status> {
        stream::subscribe(self.replica.clone(), req, self.shutdown.clone())
            .await
            .map(Response::new)
    }
}

/// `topolab.v1.Control`: figures and telemetry for the launcher, and a clean stop.
#[derive(Debug, Clone)]
struct ControlService {
    replica: Arc<Replica>,
    shutdown: Shutdown,
    /// Where `/metrics` is served (empty: nowhere), told in every Stats reply.
    metrics_addr: String,
}

#[tonic::async_trait]
impl Control for ControlService {
    async fn stats(
        &self,
        _: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsReply>, Status> {
        let mut reply = self.replica.stats_reply();
        reply.metrics_addr.clone_from(&self.metrics_addr);
        Ok(Response::new(reply))
    }

    async fn telemetry(
        &self,
        req: Request<pb::TelemetryRequest>,
    ) -> Result<Response<pb::TelemetryReply>, Status> {
        let req = req.into_inner();
        if req.flush || req.wait_ms == 0 {
            return Ok(Response::new(self.replica.telemetry_reply(req.flush)));
        }
        let wait = std::time::Duration::from_millis(u64::from(req.wait_ms));
        Ok(Response::new(
            self.replica.telemetry_waiting(wait, &self.shutdown).await,
        ))
    }

    async fn shutdown(
        &self,
        _: Request<pb::ShutdownRequest>,
    ) -> Result<Response<pb::ShutdownReply>, Status> {
        tracing::info!(replica = %self.replica.name(), "shutdown requested");
        // Graceful: this answer is in flight, so it is still sent.
        self.shutdown.trigger();
        Ok(Response::new(pb::ShutdownReply {}))
    }

    async fn set_fault(
        &self,
        req: Request<pb::SetFaultRequest>,
    ) -> Result<Response<pb::SetFaultReply>, Status> {
        let fault = req.into_inner();
        tracing::info!(replica = %self.replica.name(), ?fault, "fault set");
        self.replica.faults().set(&fault);
        Ok(Response::new(pb::SetFaultReply {}))
    }

    async fn set_capacity(
        &self,
        req: Request<pb::SetCapacityRequest>,
    ) -> Result<Response<pb::SetCapacityReply>, Status> {
        let r = req.into_inner();
        if r.workers == 0 {
            return Err(Status::invalid_argument("workers must be at least 1"));
        }
        tracing::info!(replica = %self.replica.name(), workers = r.workers, queue = ?r.queue, "capacity set");
        self.replica.admission().resize(r.workers, r.queue);
        Ok(Response::new(pb::SetCapacityReply {}))
    }

    async fn set_peers(
        &self,
        req: Request<pb::SetPeersRequest>,
    ) -> Result<Response<pb::SetPeersReply>, Status> {
        let r = req.into_inner();
        let addrs = r
            .addrs
            .iter()
            .map(|a| a.parse())
            .collect::<Result<Vec<std::net::SocketAddr>, _>>()
            .map_err(|e| Status::invalid_argument(format!("an address: {e}")))?;
        if addrs.is_empty() {
            return Err(Status::invalid_argument(
                "a callee keeps at least one replica",
            ));
        }
        let taken = self
            .replica
            .clients()
            .set_peers(&r.callee, &addrs)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        tracing::info!(replica = %self.replica.name(), callee = %r.callee, ?addrs, taken, "peers set");
        Ok(Response::new(pb::SetPeersReply { taken }))
    }

    async fn set_updates(
        &self,
        req: Request<pb::SetUpdatesRequest>,
    ) -> Result<Response<pb::SetUpdatesReply>, Status> {
        let r = req.into_inner();
        let gaps = topolab_model::values::dist(&r.gaps).map_err(|e| {
            Status::invalid_argument(format!(
                "updates `{}`: {}; expected {}",
                r.gaps, e.problem, e.expected
            ))
        })?;
        let versions = self.replica.versions();
        if !versions.changes() {
            return Err(Status::failed_precondition(
                "this service has no `updates`: its data never changes",
            ));
        }
        tracing::info!(replica = %self.replica.name(), gaps = %r.gaps, "updates retimed");
        versions.retime(Duration::from_micros(r.from_us), gaps, r.change);
        Ok(Response::new(pb::SetUpdatesReply {}))
    }

    async fn set_links(
        &self,
        req: Request<pb::SetLinksRequest>,
    ) -> Result<Response<pb::SetLinksReply>, Status> {
        let active = req.into_inner().active;
        tracing::info!(replica = %self.replica.name(), ?active, "link faults set");
        if let Some(links) = self.replica.clients().links() {
            links.set_active(active.into_iter().map(|i| i as usize).collect());
        }
        Ok(Response::new(pb::SetLinksReply {}))
    }

    async fn begin(
        &self,
        req: Request<pb::BeginRequest>,
    ) -> Result<Response<pb::BeginReply>, Status> {
        let start = req.into_inner().load_start_unix_us;
        self.replica.versions().begin(start, self.shutdown.clone());
        Ok(Response::new(pb::BeginReply {}))
    }
}
