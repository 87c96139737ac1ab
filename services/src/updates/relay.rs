//! A balancer's `Subscribe`: it holds no version, so it opens the stream on
//! one backend replica picked by its policy and relays every message. When
//! that stream breaks (the backend replica died or stopped) the balancer
//! ends its client's stream with UNAVAILABLE, so the client subscribes again
//! and may land on another replica; it never switches replicas silently, as
//! the client must learn that versions may have passed it by.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Status, Streaming};
use topolab_model::Kind;
use topolab_proto::v1 as pb;

use super::stream::Updates;
use crate::admission::Permit;
use crate::balance::Outstanding;
use crate::replica::Replica;
use crate::shutdown::Shutdown;
use crate::stats::EndpointId;
use crate::trace::{SpanContext, context};

/// Messages that may wait for a slow subscriber before the relay waits too.
const BUFFER: usize = 4;

/// Opens the backend stream for `msg` on `replica` (a balancer) and relays
/// it; `permit` is the worker a `blocking` balancer keeps while it is open.
pub(super) async fn open(
    replica: Arc<Replica>,
    id: EndpointId,
    msg: pb::SubscribeRequest,
    caller: Option<SpanContext>,
    permit: Option<Permit>,
    shutdown: Shutdown,
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
    let mut req = Request::new(msg);
    if let Some(ctx) = &caller {
        context::inject(req.metadata_mut(), ctx);
    }
    let upstream = match client.subscribe(req).await {
        Ok(r) => r.into_inner(),
        Err(s) => {
            if crate::client::unreachable(&s) {
                replica.clients().eject(&backend, i);
            }
            return Err(crate::reason::explain(
                s,
                &format!("{backend}#{i} (through {})", replica.name()),
                Some(addr),
            ));
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
}

impl Relay {
    async fn run(
        self,
        mut upstream: Streaming<pb::Update>,
        tx: mpsc::Sender<Result<pb::Update, Status>>,
        shutdown: Shutdown,
    ) {
        loop {
            tokio::select! {
                m = upstream.message() => match m {
                    Ok(Some(update)) => {
                        if tx.send(Ok(update)).await.is_err() {
                            break; // the client went away
                        }
                        self.replica.stats().pushed(self.id);
                    }
                    Ok(None) => {
                        self.broke(&tx, "ended its stream").await;
                        break;
                    }
                    Err(s) => {
                        self.broke(&tx, &format!("broke its stream ({})", s.message())).await;
                        break;
                    }
                },
                () = tx.closed() => break,
                () = shutdown.wait() => break,
            }
        }
        self.replica.stats().stream(self.id, false);
    }

    /// The backend's stream ended: end the client's with UNAVAILABLE (so it
    /// subscribes again), and let the policies that skip skip that replica.
    async fn broke(&self, tx: &mpsc::Sender<Result<pb::Update, Status>>, what: &str) {
        self.replica.clients().eject(&self.backend, self.index);
        let status = Status::unavailable(format!(
            "{}: {}#{} {what}; subscribe again",
            self.replica.name(),
            self.backend,
            self.index
        ));
        let _ = tx.send(Err(status)).await;
    }
}
