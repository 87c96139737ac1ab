//! The two spans of one hop as a replica sees it: the SERVER span of a
//! request it serves (with the split of its time into queue wait, work and
//! waiting on callees), and the CLIENT span of one attempt to call another
//! replica, recorded even when the attempt is abandoned midway.

use std::time::{Duration, Instant};

use tonic::Code;

use super::context::SpanContext;
use super::encode::SpanWriter;
use super::exporter::Exporter;
use super::span::{Kind, SpanBuilder, keys, nanos};

/// A request being served under a sampled trace.
#[derive(Debug, Clone, Copy)]
pub struct ServerHop {
    /// This SERVER span (its id is the parent of the hop's CLIENT spans).
    pub ctx: SpanContext,
    /// The caller's CLIENT span, if the request came with a `traceparent`.
    pub parent: Option<[u8; 8]>,
}

/// Where a SERVER span's time went.
#[derive(Debug, Clone, Copy, Default)]
pub struct Split {
    pub queue: Duration,
    pub work: Duration,
    pub downstream: Duration,
    /// A long poll's wait for a new version (its own part of the span: in
    /// the `blocking` model a worker is held meanwhile, in `async` none).
    pub held: Duration,
}

impl ServerHop {
    /// The hop for a request whose caller sent `parent` (`None`: no header).
    /// A caller's decision is followed; a request without one is sampled
    /// at `rate` (outside clients of `topolab up`, grpcurl).
    pub fn start(parent: Option<SpanContext>, rate: f64) -> Option<Self> {
        match parent {
            Some(p) if p.sampled => Some(ServerHop {
                ctx: p.child(),
                parent: Some(p.span_id),
            }),
            Some(_) => None,
            None if rate >= 1.0 || (rate > 0.0 && rand::random::<f64>() < rate) => {
                Some(ServerHop {
                    ctx: SpanContext::new_root(true),
                    parent: None,
                })
            }
            None => None,
        }
    }

    /// Records the finished SERVER span; `children` is how many CLIENT
    /// spans its calls started, when known (`None` for a request dropped
    /// midway).
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        self,
        exporter: &Exporter,
        service: &str,
        endpoint: &str,
        arrival: Instant,
        code: Code,
        message: &str,
        split: Split,
        children: Option<u32>,
    ) {
        // Written straight to bytes: the replica's hottest span, whose
        // strings are borrowed here rather than copied into a SpanBuilder.
        let mut span = SpanWriter::new(
            &self.ctx,
            self.parent,
            true,
            &[service, "/", endpoint],
            arrival,
            Instant::now(),
        );
        // The service and the replica are the process's resource
        // (`service.name`, `service.instance.id`), sent once a batch rather
        // than on every span.
        span.str(keys::ENDPOINT, endpoint)
            .str("rpc.service", "topolab.v1.Replica")
            .str("rpc.method", "Call")
            .int(keys::QUEUE_NS, nanos(split.queue))
            .int(keys::WORK_NS, nanos(split.work))
            .int(keys::DOWNSTREAM_NS, nanos(split.downstream));
        if !split.held.is_zero() {
            span.int(keys::HELD_NS, nanos(split.held));
        }
        if let Some(n) = children {
            span.int(keys::CHILDREN, i64::from(n));
        }
        exporter.record_encoded(span.finish(code, message));
    }
}

/// One attempt to call another replica, timed from before the request is
/// sent until its answer; recorded as CANCELLED if dropped unfinished.
pub struct ClientHop<'a> {
    exporter: &'a Exporter,
    span: Option<SpanBuilder>,
}

impl<'a> ClientHop<'a> {
    /// Starts the CLIENT span of attempt number `attempt` (1-based) from
    /// this replica (the exporter's resource) to `callee_replica` of
    /// `service/endpoint`.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        exporter: &'a Exporter,
        parent: &SpanContext,
        service: &str,
        endpoint: &str,
        callee_replica: &str,
        attempt: u32,
        timeout: Duration,
    ) -> Self {
        let now = Instant::now();
        let span = SpanBuilder::new(
            parent.child(),
            Some(parent.span_id),
            Kind::Client,
            format!("{service}/{endpoint}"),
            now,
            now,
        )
        .str(keys::CALLEE, format!("{service}/{endpoint}"))
        .str(keys::CALLEE_REPLICA, callee_replica.to_owned())
        .str("peer.service", service.to_owned())
        .int(keys::ATTEMPT, i64::from(attempt))
        .int(keys::TIMEOUT_NS, nanos(timeout));
        ClientHop {
            exporter,
            span: Some(span),
        }
    }

    /// The context the callee's SERVER span should name as its parent.
    pub fn context(&self) -> Option<SpanContext> {
        self.span.as_ref().map(|s| s.ctx)
    }

    /// Records the span with the attempt's outcome.
    pub fn finish(mut self, code: Code, message: &str) {
        self.record(code, message);
    }

    fn record(&mut self, code: Code, message: &str) {
        if let Some(mut span) = self.span.take() {
            span.end = Instant::now();
            // Answered OK: the callee served it, so recorded its SERVER
            // span. Any other end leaves that unknown (a timeout here may
            // still be served there, a refused connection never is).
            if code == Code::Ok {
                span = span.int(keys::CHILDREN, 1);
            }
            self.exporter.record(span.status(code, message));
        }
    }
}

impl Drop for ClientHop<'_> {
    fn drop(&mut self) {
        self.record(Code::Cancelled, "the caller abandoned this attempt");
    }
}
