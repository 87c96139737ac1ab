//! `Replica/Subscribe`: one server-streaming call per subscriber, opened by
//! the client (even push starts with a pull). Opening passes the queue like
//! any request (a full queue refuses it); in the `blocking` model the stream
//! then keeps its worker for as long as it is open, in `async` it keeps none.
//! Every new version runs the endpoint's steps and is pushed as one message.
//! A traced stream is one SERVER span with an event per pushed version. A
//! balancer relays the stream of one backend replica instead (see
//! [`super::relay`], which makes the balancer's spans of it).

use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Status};
use topolab_model::{Kind as ServiceKind, ServeModel};
use topolab_proto::v1 as pb;

use crate::admission::Permit;
use crate::executor::{self, Ctx, Hold};
use crate::replica::Replica;
use crate::shutdown::Shutdown;
use crate::stats::{EndpointId, Outcome, Timings};
use crate::trace::span::{Kind, SpanBuilder, keys};
use crate::trace::{ServerHop, SpanContext, context};

/// What `Subscribe` answers with: the pushed versions.
pub type Updates = ReceiverStream<Result<pb::Update, Status>>;

/// Messages that may wait for a slow subscriber before the pusher waits too.
const BUFFER: usize = 4;

/// Opens one subscription on `replica`; the stream ends when the client
/// goes away, or the replica shuts down. The subscription is a request of
/// its endpoint, counted like any other: it arrives, and ends once, when
/// its stream opens (OK) or it is refused.
pub async fn subscribe(
    replica: Arc<Replica>,
    req: Request<pb::SubscribeRequest>,
    shutdown: Shutdown,
) -> Result<Updates, Status> {
    let arrived = StdInstant::now();
    let caller = context::from_metadata(req.metadata());
    let msg = req.into_inner();
    let (id, _) = replica.endpoint(&msg.endpoint)?;
    replica.stats().arrived(id);
    let mut queue_wait = Duration::ZERO;
    let opening = open(
        replica.clone(),
        id,
        msg,
        caller,
        shutdown,
        arrived,
        &mut queue_wait,
    )
    .await;
    let timings = Timings {
        latency: arrived.elapsed(),
        queue_wait,
        work: Duration::ZERO,
    };
    let (outcome, opening) = match opening {
        Ok(updates) => (Outcome::Ok, Ok(updates)),
        Err(Refused::QueueFull(s)) => (Outcome::Rejected, Err(s)),
        Err(Refused::Failed(s)) => (Outcome::Error(s.code()), Err(s)),
    };
    replica.stats().subscribed(id, outcome, timings);
    opening
}

/// Why a subscription did not open.
enum Refused {
    /// The queue was full: rejected at once.
    QueueFull(Status),
    Failed(Status),
}

/// Admits the subscription on endpoint `id` (`queue_wait`: how long it
/// waited for a worker) and opens its stream, or relays a backend's.
async fn open(
    replica: Arc<Replica>,
    id: EndpointId,
    msg: pb::SubscribeRequest,
    caller: Option<SpanContext>,
    shutdown: Shutdown,
    opened: StdInstant,
    queue_wait: &mut Duration,
) -> Result<Updates, Refused> {
    let balancer = matches!(replica.service().kind, ServiceKind::Balancer { .. });
    if !balancer && !replica.versions().changes() {
        return Err(Refused::Failed(Status::failed_precondition(format!(
            "{}: service `{}` has no `updates`: its data never changes, so there is nothing to subscribe to",
            replica.name(),
            replica.service().name
        ))));
    }
    let acquire = match replica.admission().enter() {
        Ok(a) => a,
        Err(full) => {
            return Err(Refused::QueueFull(Status::resource_exhausted(format!(
                "{} {full}",
                replica.name()
            ))));
        }
    };
    let waiting = StdInstant::now();
    let permit = acquire.await;
    *queue_wait = waiting.elapsed();
    // `blocking`: the stream is a thread parked on its socket.
    let permit = (replica.service().model == ServeModel::Blocking).then_some(permit);
    if balancer {
        return super::relay::open(replica, id, msg, caller, permit, shutdown, opened)
            .await
            .map_err(Refused::Failed);
    }
    let hop = replica
        .tracer()
        .and_then(|_| ServerHop::start(caller, replica.trace_rate()));
    replica.stats().stream(id, true);
    let (tx, rx) = mpsc::channel(BUFFER);
    let push = Pusher {
        replica,
        id,
        known: msg.known_version,
        session: msg.session,
        _permit: permit,
        hop,
        opened,
        events: Vec::new(),
        pushed: 0,
    };
    tokio::spawn(push.run(tx, shutdown));
    Ok(ReceiverStream::new(rx))
}

/// One open stream: pushes each version newer than the client's.
struct Pusher {
    replica: Arc<Replica>,
    id: EndpointId,
    known: u64,
    session: String,
    /// The worker a `blocking` stream keeps while open.
    _permit: Option<Permit>,
    hop: Option<ServerHop>,
    opened: StdInstant,
    /// (instant, version) of the pushes, for the span (at most [`MAX_EVENTS`]).
    events: Vec<(StdInstant, u64)>,
    pushed: u64,
}

impl Pusher {
    async fn run(mut self, tx: mpsc::Sender<Result<pb::Update, Status>>, shutdown: Shutdown) {
        let mut versions = self.replica.versions().watch();
        let code = loop {
            let now = *versions.borrow_and_update();
            if now > self.known
                && let Err(e) = self.push(now, &tx).await
            {
                break e;
            }
            tokio::select! {
                changed = versions.changed() => if changed.is_err() { break Code::Unavailable },
                () = tx.closed() => break Code::Cancelled,
                () = shutdown.wait() => break Code::Unavailable,
            }
        };
        self.replica.stats().stream(self.id, false);
        self.finish_span(code);
    }

    /// Runs the endpoint's steps for `version` and sends it.
    async fn push(
        &mut self,
        version: u64,
        tx: &mpsc::Sender<Result<pb::Update, Status>>,
    ) -> Result<(), Code> {
        let replica = &self.replica;
        let ep = &replica.service().endpoints[self.id];
        let ctx = Ctx::new(replica, None, &self.session);
        let hold = if self._permit.is_some() {
            Hold::Whole
        } else {
            Hold::Free
        };
        if let Err(status) = executor::run(&ctx, &ep.steps, hold).await {
            tracing::debug!(replica = %replica.name(), "a push's steps failed: {status}");
        }
        let update = pb::Update {
            version,
            created_unix_us: replica.versions().created_unix_us(version),
            replica: replica.name().to_string(),
            payload: vec![0; ep.response as usize],
        };
        tx.send(Ok(update)).await.map_err(|_| Code::Cancelled)?;
        replica.stats().pushed(self.id);
        self.pushed += 1;
        self.known = version;
        if self.hop.is_some() && self.events.len() < MAX_EVENTS {
            self.events.push((StdInstant::now(), version));
        }
        Ok(())
    }

    fn finish_span(&mut self, code: Code) {
        let (Some(hop), Some(tracer)) = (self.hop.take(), self.replica.tracer()) else {
            return;
        };
        let service = &self.replica.service().name;
        let ep = &self.replica.service().endpoints[self.id].name;
        let mut span = SpanBuilder::new(
            hop.ctx,
            hop.parent,
            Kind::Server,
            format!("{service}/{ep}"),
            self.opened,
            StdInstant::now(),
        )
        .str(keys::ENDPOINT, ep.clone())
        .str("rpc.service", "topolab.v1.Replica")
        .str("rpc.method", "Subscribe")
        .int("topolab.pushed", self.pushed as i64);
        for (at, v) in self.events.drain(..) {
            span = span.event(at, "version pushed", vec![(keys::VERSION, v as i64)]);
        }
        // A client that went away ended its stream: that is the normal end.
        let code = if code == Code::Cancelled {
            Code::Ok
        } else {
            code
        };
        tracer.record(span.status(code, ""));
    }
}

/// Most events one stream's span keeps (a long run at a fast version rate
/// would otherwise grow it without bound); the count is in `topolab.pushed`.
const MAX_EVENTS: usize = 1000;
