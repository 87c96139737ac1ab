//! The generator's side of the wire: channels to every replica of the target
//! service, kept open for the run, and one request with its deadline and
//! retries, the way an outside client would send it. A traced request is the
//! root CLIENT span of its trace; its `traceparent` goes with every attempt.

use parking_lot::RwLock;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use topolab_model::{Generator, Target as EndpointRef};
use topolab_proto::v1::CallRequest;
use topolab_proto::v1::replica_client::ReplicaClient;
use topolab_services::reason;
use topolab_services::trace::span::{Kind, SpanBuilder, keys, nanos};
use topolab_services::trace::{Exporter, SpanContext, context};

use topolab_model::StatusCode;
use topolab_rules::retry;

use super::http2::Wire;
use super::knob::Book;
use super::recorder::Outcome;

/// How a request asks about versions: the newest its client holds, and
/// whether it is a long poll held at most this long.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ask {
    pub known: u64,
    pub long_poll: Option<Duration>,
}

/// How one request ended: its final outcome, the attempts it took, and its
/// trace id when it was traced (the report finds its hops by it).
#[derive(Debug, Clone)]
pub struct Sent {
    pub outcome: Outcome,
    pub attempts: u32,
    /// The final status's message: why it failed (empty for OK).
    pub message: String,
    pub trace_id: Option<[u8; 16]>,
    /// The version of the data the answer carried (0 on failure, or for a
    /// service without `updates`).
    pub version: u64,
}

/// Open channels to the target's replicas; requests go round-robin.
pub struct Target {
    /// The replicas called now: replaced whole when the lab changes them
    /// (see [`Book`]), so a request keeps the set it picked from.
    members: RwLock<Arc<Members>>,
    /// Where the lab's changes of replicas appear (`None`: never).
    book: OnceLock<Arc<Book>>,
    /// The book's generation `members` answers.
    seen: AtomicU64,
    next: AtomicUsize,
    endpoint: String,
    /// The target service's name, for root spans.
    service: String,
    /// The request payload (zeros of the generator's `request` size).
    payload: Vec<u8>,
    timeout: Duration,
    retries: u32,
    /// Root spans go here; `None`: this run traces nothing.
    tracer: Option<Exporter>,
    /// `settings.trace`: the share of requests traced.
    trace_rate: f64,
    generator: String,
}

/// One set of replicas, with a unary and a streaming client each.
struct Members {
    /// Unary calls, one per replica (see [`Wire`]).
    calls: Vec<ReplicaClient<Wire>>,
    /// Streams (subscriptions), one per replica, opened on first use.
    clients: Vec<ReplicaClient<Channel>>,
    /// The replicas' addresses, named in a lost connection's reason.
    addrs: Vec<SocketAddr>,
}

impl Members {
    /// Clients for `addrs`, keeping `old`'s connections to those still listed.
    fn build(addrs: &[SocketAddr], old: Option<&Members>) -> anyhow::Result<Self> {
        let (mut calls, mut clients) = (Vec::new(), Vec::new());
        for a in addrs {
            if let Some(i) = old.and_then(|o| o.addrs.iter().position(|x| x == a)) {
                // Cannot fail: `old` has one client of each kind per address.
                let o = old.expect("found in old");
                calls.push(o.calls[i].clone());
                clients.push(o.clients[i].clone());
                continue;
            }
            let channel = Endpoint::from_shared(format!("http://{a}"))?
                .tcp_nodelay(true)
                .connect_timeout(super::http2::CONNECT_LIMIT)
                .connect_lazy();
            clients.push(ReplicaClient::new(channel));
            calls.push(ReplicaClient::new(Wire::new(*a)?));
        }
        Ok(Members {
            calls,
            clients,
            addrs: addrs.to_vec(),
        })
    }
}

impl Target {
    /// Connects (lazily) to every address of `target`'s service, to send
    /// with `generator`'s deadline, retries and payload.
    pub fn new(
        target: &EndpointRef,
        generator: &Generator,
        addrs: &[SocketAddr],
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(!addrs.is_empty(), "{target} has no replicas");
        Ok(Target {
            members: RwLock::new(Arc::new(Members::build(addrs, None)?)),
            book: OnceLock::new(),
            seen: AtomicU64::new(0),
            next: AtomicUsize::new(0),
            endpoint: target.endpoint.clone(),
            service: target.service.clone(),
            payload: vec![0u8; generator.request as usize],
            timeout: generator.timeout,
            retries: generator.retries,
            tracer: None,
            trace_rate: 0.0,
            generator: generator.name.clone(),
        })
    }

    /// From now, calls the replicas `book` lists for this service once the
    /// lab changes them.
    pub(crate) fn follow(&self, book: Arc<Book>) {
        self.seen.store(book.generation(), Ordering::Release);
        let _ = self.book.set(book);
    }

    /// The replicas to call now, rebuilt when the lab changed them.
    fn members(&self) -> Arc<Members> {
        if let Some(book) = self.book.get() {
            let g = book.generation();
            if self.seen.swap(g, Ordering::AcqRel) != g
                && let Some(addrs) = book.get(&self.service).filter(|a| !a.is_empty())
            {
                let old = self.members.read().clone();
                if old.addrs != addrs
                    && let Ok(m) = Members::build(&addrs, Some(&old))
                {
                    *self.members.write() = Arc::new(m);
                }
            }
        }
        self.members.read().clone()
    }

    /// The same target, tracing a `rate` share of its requests into `tracer`.
    /// A tracer at rate 0 marks every request unsampled (the warmup), so
    /// replicas, which sample headerless requests themselves, write nothing.
    pub fn traced(mut self, tracer: Option<Exporter>, rate: f64) -> Self {
        self.tracer = tracer;
        self.trace_rate = rate;
        self
    }

    /// Sends one request within the generator's deadline, retrying retryable
    /// failures while time is left; returns how it ended, with the last
    /// status's message (why it failed; empty for OK).
    /// `session` is the client identity's key ("" for none).
    pub async fn send(&self, session: &str) -> Sent {
        self.send_versioned(session, Ask::default()).await
    }

    /// As [`Target::send`], asking as `ask` says (a long poll is held by the
    /// replica, so its deadline is the hold plus the generator's `timeout`).
    pub async fn send_versioned(&self, session: &str, ask: Ask) -> Sent {
        let start = Instant::now();
        let deadline = start + self.timeout + ask.long_poll.unwrap_or_default();
        // Decided here, for the whole chain: every hop follows this flag.
        let root = self.new_root();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (code, message, version) =
                self.attempt(deadline, session, root.as_ref(), ask).await;
            // The replicas' and the simulator's rule for which codes are retried.
            let again = retry::another(StatusCode(code as i32), attempts - 1, self.retries)
                && deadline > Instant::now() + Duration::from_millis(1);
            if !again {
                self.record_root(root, start, code, &message, attempts);
                return Sent {
                    outcome: Outcome::from_code(code),
                    attempts,
                    message,
                    trace_id: root.filter(|c| c.sampled).map(|c| c.trace_id),
                    version,
                };
            }
        }
    }

    /// A root context for one request or stream, sampled at the run's rate;
    /// `None` when the run traces nothing.
    pub fn new_root(&self) -> Option<SpanContext> {
        self.tracer
            .as_ref()
            .map(|_| SpanContext::new_root(rand::random::<f64>() < self.trace_rate))
    }

    /// Records the root CLIENT span of a request or stream that began at `start`.
    pub fn record_root(
        &self,
        root: Option<SpanContext>,
        start: Instant,
        code: Code,
        message: &str,
        attempts: u32,
    ) {
        if let (Some(tracer), Some(ctx)) = (&self.tracer, root)
            && ctx.sampled
        {
            tracer.record(self.root_span(ctx, start, code, message, attempts));
        }
    }

    /// The next replica in turn (subscriptions open their streams on it).
    pub fn next_client(&self) -> ReplicaClient<Channel> {
        let m = self.members();
        let i = self.next.fetch_add(1, Ordering::Relaxed) % m.clients.len();
        m.clients[i].clone()
    }

    /// The generator's deadline per request (a stream's, to open).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The endpoint requests name.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn root_span(
        &self,
        ctx: SpanContext,
        start: Instant,
        code: Code,
        message: &str,
        attempts: u32,
    ) -> SpanBuilder {
        let callee = format!("{}/{}", self.service, self.endpoint);
        let span = SpanBuilder::new(
            ctx,
            None,
            Kind::Client,
            callee.clone(),
            start,
            Instant::now(),
        )
        .str(keys::REPLICA, format!("load/{}", self.generator))
        .str(keys::GENERATOR, self.generator.clone())
        .str(keys::CALLEE, callee)
        .str("peer.service", self.service.clone())
        .int(keys::ATTEMPT, i64::from(attempts))
        .int(keys::TIMEOUT_NS, nanos(self.timeout));
        // One attempt answered OK: exactly one replica served it and
        // recorded its SERVER span under this one.
        let span = match (attempts, code) {
            (1, Code::Ok) => span.int(keys::CHILDREN, 1),
            _ => span,
        };
        span.status(code, message)
    }

    /// One attempt: its code, and for a failure the status's message (see
    /// `topolab_services::reason`: transport failures are classified).
    async fn attempt(
        &self,
        deadline: Instant,
        session: &str,
        trace: Option<&SpanContext>,
        ask: Ask,
    ) -> (Code, String, u64) {
        let m = self.members();
        let i = self.next.fetch_add(1, Ordering::Relaxed) % m.calls.len();
        let mut client = m.calls[i].clone();
        // Built only for a failure: the request path of an OK call stays as it was.
        let callee = || format!("{}#{i}/{}", self.service, self.endpoint);
        let timed_out = || {
            (
                Code::DeadlineExceeded,
                format!(
                    "{}: no answer within the generator's timeout of {:?}",
                    callee(),
                    self.timeout + ask.long_poll.unwrap_or_default()
                ),
                0,
            )
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return timed_out();
        }
        let mut request = tonic::Request::new(CallRequest {
            endpoint: self.endpoint.clone(),
            payload: self.payload.clone(),
            session: session.to_string(),
            known_version: ask.known,
            long_poll_us: ask.long_poll.map_or(0, |d| d.as_micros() as u64),
        });
        request.set_timeout(left);
        if let Some(ctx) = trace {
            context::inject(request.metadata_mut(), ctx);
        }
        // The server enforces grpc-timeout too; this bounds a server that
        // hangs, and the connection's opening.
        match tokio::time::timeout(left, client.call(request)).await {
            Ok(Ok(reply)) => (Code::Ok, String::new(), reply.into_inner().version),
            // The replica's tonic enforces the grpc-timeout with a timer of
            // its own and answers CANCELLED ("Timeout expired"); when that
            // answer comes after our deadline, it may beat our own timer
            // (both tick in milliseconds): it is a timeout.
            Ok(Err(status)) if status.code() == Code::Cancelled && Instant::now() >= deadline => {
                timed_out()
            }
            Ok(Err(status)) => {
                let s = reason::explain(status, &callee(), Some(m.addrs[i]));
                (s.code(), s.message().to_string(), 0)
            }
            Err(_) => timed_out(),
        }
    }
}
