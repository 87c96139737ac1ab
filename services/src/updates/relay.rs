//! A balancer's `Subscribe`: it holds no version, so it opens the stream on
//! one backend replica picked by its policy and relays every message. When
//! that stream breaks (the backend replica died or stopped) the balancer
//! ends its client's stream with UNAVAILABLE, so the client subscribes again
//! and may land on another replica; it never switches replicas silently, as
//! the client must learn that versions may have passed it by.
//!
//! A traced relay is two spans at the balancer, as a forwarded call is: the
//! SERVER span of its client's stream (an event per relayed version) and
//! under it the CLIENT span of the backend stream, whose SERVER span is the
//! backend replica's.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Status, Streaming};
use topolab_model::Kind;
use topolab_proto::v1 as pb;

use super::stream::Updates;
use crate::admission::Permit;
use crate::balance::Outstanding;
use crate::replica::Replica;
use crate::shutdown::Shutdown;
use crate::stats::EndpointId;
use crate::trace::span::{Kind as SpanKind, keys};
use crate::trace::{ServerHop, SpanBuilder, SpanContext, context};

/// Messages that may wait for a slow subscriber before the relay waits too.
const BUFFER: usize = 4;

/// Most events one relayed stream's span keeps (the count is in
/// `topolab.pushed`), as for a stream served here.
const MAX_EVENTS: usize = 1000;

/// Opens the backend stream for `msg` on `replica` (a balancer) and relays
/// it; `permit` is the worker a `blocking` balancer keeps while it is open;
/// `opened`: when the subscription arrived.
pub(super) async fn open(
    replica: Arc<Replica>,
    id: EndpointId,
    msg: pb::SubscribeRequest,
    caller: Option<SpanContext>,
    permit: Option<Permit>,
    shutdown: Shutdown,
    opened: Instant,
) -> Result<Updates, Status> {
    let Kind::Balancer { backend, .. } = &replica.service().kind else {
        return Err(Status::internal(format!(
            "{} is not a balancer, it has nothing to relay",
            replica.name()
        )));
    };
    let backend = backend.clone();
    let Some((mut client, i, addr, outstanding)) =
        replica.clients().pick_for_stream(&backend, &msg.session)
    else {
        return Err(Status::unavailable(format!(
            "{}: no replica of {backend} to subscribe to",
            replica.name()
        )));
    };
    let mut spans = replica
        .tracer()
        .and_then(|_| ServerHop::start(caller, replica.trace_rate()))
        .map(|hop| Spans::start(&replica, id, hop, opened, &backend, i));
    let mut req = Request::new(msg);
    // The backend's span goes under this relay's CLIENT span when traced;
    // an unsampled caller's decision is passed on as it came.
    if let Some(ctx) = spans.as_ref().map(|s| s.client.ctx).or(caller) {
        context::inject(req.metadata_mut(), &ctx);
    }
    let upstream = match client.subscribe(req).await {
        Ok(r) => r.into_inner(),
        Err(s) => {
            if crate::client::unreachable(&s) {
                replica.clients().eject(&backend, i);
            }
            let s = crate::reason::explain(
                s,
                &format!("{backend}#{i} (through {})", replica.name()),
                Some(addr),
            );
            if let Some(spans) = spans.take() {
                spans.finish(&replica, s.code(), s.message(), false);
            }
            return Err(s);
        }
    };
    replica.stats().stream(id, true);
    let (tx, rx) = mpsc::channel(BUFFER);
    let relay = Relay {
        replica,
        id,
        backend,
        index: i,
        _permit: permit,
        _outstanding: outstanding,
        spans,
    };
    tokio::spawn(relay.run(upstream, tx, shutdown));
    Ok(ReceiverStream::new(rx))
}

/// One relayed stream: backend replica `index` of `backend` to one client.
struct Relay {
    replica: Arc<Replica>,
    id: EndpointId,
    backend: String,
    index: usize,
    _permit: Option<Permit>,
    /// Counts the stream as outstanding on its backend replica while open.
    _outstanding: Outstanding,
    /// The relay's two spans, when traced.
    spans: Option<Spans>,
}

impl Relay {
    async fn run(
        mut self,
        mut upstream: Streaming<pb::Update>,
        tx: mpsc::Sender<Result<pb::Update, Status>>,
        shutdown: Shutdown,
    ) {
        let broken = loop {
            tokio::select! {
                m = upstream.message() => match m {
                    Ok(Some(update)) => {
                        let version = update.version;
                        if tx.send(Ok(update)).await.is_err() {
                            break None; // the client went away
                        }
                        self.replica.stats().pushed(self.id);
                        if let Some(s) = &mut self.spans {
                            s.relayed(version);
                        }
                    }
                    Ok(None) => break Some(self.broke(&tx, "ended its stream").await),
                    Err(s) => {
                        let what = format!("broke its stream ({})", s.message());
                        break Some(self.broke(&tx, &what).await);
                    }
                },
                () = tx.closed() => break None,
                () = shutdown.wait() => break None,
            }
        };
        // Dropped first, so the backend sees its stream end before the spans
        // say it was let go.
        drop(upstream);
        self.replica.stats().stream(self.id, false);
        if let Some(spans) = self.spans.take() {
            match &broken {
                Some(s) => spans.finish(&self.replica, s.code(), s.message(), false),
                None => spans.finish(&self.replica, Code::Ok, "", true),
            }
        }
    }

    /// The backend's stream ended: end the client's with UNAVAILABLE (so it
    /// subscribes again), and let the policies that skip skip that replica;
    /// returns the status sent.
    async fn broke(&self, tx: &mpsc::Sender<Result<pb::Update, Status>>, what: &str) -> Status {
        self.replica.clients().eject(&self.backend, self.index);
        let status = Status::unavailable(format!(
            "{}: {}#{} {what}; subscribe again",
            self.replica.name(),
            self.backend,
            self.index
        ));
        let _ = tx.send(Err(status.clone())).await;
        status
    }
}

/// A traced relay's spans, recorded when it ends.
struct Spans {
    /// The SERVER span of the client's stream at the balancer.
    server: SpanBuilder,
    /// The CLIENT span of the backend stream, under `server`.
    client: SpanBuilder,
    relayed: u64,
    /// (instant, version) of the relayed messages (at most [`MAX_EVENTS`]).
    events: Vec<(Instant, u64)>,
}

impl Spans {
    fn start(
        replica: &Replica,
        id: EndpointId,
        hop: ServerHop,
        opened: Instant,
        backend: &str,
        index: usize,
    ) -> Self {
        let service = &replica.service().name;
        let ep = replica.service().endpoints[id].name.clone();
        let now = Instant::now();
        let server = SpanBuilder::new(
            hop.ctx,
            hop.parent,
            SpanKind::Server,
            format!("{service}/{ep}"),
            opened,
            now,
        )
        .str(keys::ENDPOINT, ep.clone())
        .str("rpc.service", "topolab.v1.Replica")
        .str("rpc.method", "Subscribe")
        .int(keys::CHILDREN, 1);
        let client = SpanBuilder::new(
            hop.ctx.child(),
            Some(hop.ctx.span_id),
            SpanKind::Client,
            format!("{backend}/{ep}"),
            now,
            now,
        )
        .str(keys::CALLEE, format!("{backend}/{ep}"))
        .str(keys::CALLEE_REPLICA, format!("{backend}#{index}"))
        .str("peer.service", backend.to_owned())
        .str("rpc.method", "Subscribe")
        .int(keys::ATTEMPT, 1);
        Spans {
            server,
            client,
            relayed: 0,
            events: Vec::new(),
        }
    }

    fn relayed(&mut self, version: u64) {
        self.relayed += 1;
        if self.events.len() < MAX_EVENTS {
            self.events.push((Instant::now(), version));
        }
    }

    /// Records both spans; `served`: the backend stream ended by this side
    /// letting go, so the backend records its own span (the CLIENT span's
    /// one child).
    fn finish(mut self, replica: &Replica, code: Code, message: &str, served: bool) {
        let Some(tracer) = replica.tracer() else {
            return;
        };
        let now = Instant::now();
        self.client.end = now;
        if served {
            self.client = self.client.int(keys::CHILDREN, 1);
        }
        tracer.record(self.client.status(code, message));
        let mut server = self.server;
        server.end = now;
        for (at, v) in self.events {
            let v = i64::try_from(v).unwrap_or(i64::MAX);
            server = server.event(at, "version relayed", vec![(keys::VERSION, v)]);
        }
        let pushed = i64::try_from(self.relayed).unwrap_or(i64::MAX);
        tracer.record(server.int("topolab.pushed", pushed).status(code, message));
    }
}
