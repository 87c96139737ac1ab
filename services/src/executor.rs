//! Runs an endpoint's steps for one request: `work` holds a worker for a
//! sampled, precisely timed duration; `call` turns the replica into a client
//! (probability, repetitions, per-attempt timeout cut to the caller's deadline,
//! retries with backoff under a budget, a circuit breaker: the layers and
//! their order are in [`crate::resilience`]); `parallel` runs branches at
//! once. The serving model decides when a worker is held (see [`Hold`]).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, join_all};
use tokio::time::Instant;
use tonic::Status;
use topolab_model::{Call, OnError, StatusCode, Step};
use topolab_rules::{backoff, retry};

use crate::admission::Permit;
use crate::client::Attempt;
use crate::deadline;
use crate::replica::Replica;
use crate::timer;
use crate::trace::{SpanContext, Split};
use crate::updates::LongPoll;

/// One request being served: what its steps need to know, and where they add
/// up the time spent waiting for workers and working.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub replica: &'a Replica,
    /// The caller's deadline, if it gave one.
    pub deadline: Option<Instant>,
    /// Session key, passed on to every call.
    pub session: &'a str,
    queue_wait_ns: AtomicU64,
    work_ns: AtomicU64,
    /// The request's trace context: its SERVER span (parent of its calls'
    /// CLIENT spans) when sampled, or the caller's unsampled one to pass on.
    pub trace: Option<SpanContext>,
    /// The span's split: only top-level steps (a `parallel` step is waiting
    /// on callees as a whole, whatever its branches do inside).
    span_queue_ns: AtomicU64,
    span_work_ns: AtomicU64,
    downstream_ns: AtomicU64,
    /// A balancer's forwarded long poll: passed on to the backend, which
    /// holds it (a balancer holds no version of its own).
    pub long_poll: Option<LongPoll>,
    /// The newest version a forwarded answer carried (a balancer relays it).
    forwarded_version: AtomicU64,
    /// CLIENT spans started under `trace`: the SERVER span's children.
    client_spans: AtomicU32,
}

impl<'a> Ctx<'a> {
    /// A request with nothing spent yet.
    pub fn new(replica: &'a Replica, deadline: Option<Instant>, session: &'a str) -> Self {
        Self {
            replica,
            deadline,
            session,
            queue_wait_ns: AtomicU64::new(0),
            work_ns: AtomicU64::new(0),
            trace: None,
            span_queue_ns: AtomicU64::new(0),
            span_work_ns: AtomicU64::new(0),
            downstream_ns: AtomicU64::new(0),
            long_poll: None,
            forwarded_version: AtomicU64::new(0),
            client_spans: AtomicU32::new(0),
        }
    }

    /// The same request, forwarding `long_poll` to the callee (balancers).
    pub fn forwarding(mut self, long_poll: Option<LongPoll>) -> Self {
        self.long_poll = long_poll;
        self
    }

    /// How many CLIENT spans the request's calls started (every one is
    /// recorded, finished or abandoned): its SERVER span's children.
    pub fn client_spans(&self) -> u32 {
        self.client_spans.load(Ordering::Relaxed)
    }

    /// The newest version the callees' answers carried.
    pub fn forwarded_version(&self) -> u64 {
        self.forwarded_version.load(Ordering::Relaxed)
    }

    /// The same request, traced under the SERVER span `trace`.
    pub fn traced(mut self, trace: Option<SpanContext>) -> Self {
        self.trace = trace;
        self
    }

    /// The steps' share of the SERVER span: top-level queue waits, work and
    /// time in `call`/`parallel` steps (the request's first wait is not in it).
    pub fn split(&self) -> Split {
        let d = |a: &AtomicU64| Duration::from_nanos(a.load(Ordering::Relaxed));
        Split {
            queue: d(&self.span_queue_ns),
            work: d(&self.span_work_ns),
            downstream: d(&self.downstream_ns),
            held: Duration::ZERO,
        }
    }

    /// Adds a wait for a worker (branches of `parallel` add concurrently).
    pub fn add_queue_wait(&self, d: Duration) {
        self.queue_wait_ns
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Time spent waiting for workers so far.
    pub fn queue_wait(&self) -> Duration {
        Duration::from_nanos(self.queue_wait_ns.load(Ordering::Relaxed))
    }

    /// Time spent in `work` steps so far.
    pub fn work(&self) -> Duration {
        Duration::from_nanos(self.work_ns.load(Ordering::Relaxed))
    }
}

/// Whether (and how) the running steps hold a worker.
#[derive(Debug)]
pub enum Hold {
    /// `blocking`: the request holds its worker from start to response,
    /// downstream calls included; the permit lives outside the steps.
    Whole,
    /// `async`, during `work`: this worker is held until the next step that is
    /// not `work` (consecutive `work` steps keep it).
    Held(Permit),
    /// `async`, between `work` steps: no worker; the next `work` queues for one.
    Free,
}

impl Hold {
    /// Lets go of a worker held only for `work` (async), before waiting on others.
    fn release(&mut self) {
        if let Hold::Held(_) = self {
            *self = Hold::Free;
        }
    }

    /// The hold a branch of `parallel` starts with.
    fn for_branch(&self) -> Hold {
        match self {
            Hold::Whole => Hold::Whole,
            Hold::Held(_) | Hold::Free => Hold::Free,
        }
    }
}

/// Runs `steps` in order; the first failing `call` with `on_error: fail`
/// fails them with the callee's status.
pub fn run<'a>(
    ctx: &'a Ctx<'a>,
    steps: &'a [Step],
    hold: Hold,
) -> BoxFuture<'a, Result<(), Status>> {
    run_steps(ctx, steps, hold, true)
}

/// `top`: these are the endpoint's own steps, not a `parallel` branch's.
fn run_steps<'a>(
    ctx: &'a Ctx<'a>,
    steps: &'a [Step],
    mut hold: Hold,
    top: bool,
) -> BoxFuture<'a, Result<(), Status>> {
    let add = move |a: &AtomicU64, t: Instant| {
        if top {
            a.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
    };
    async move {
        for step in steps {
            match step {
                Step::Work(dist) => {
                    // A `slow` fault stretches the work, not the wait for a worker.
                    let d = ctx
                        .replica
                        .sample(dist)
                        .mul_f64(ctx.replica.faults().slow());
                    if let Hold::Free = hold {
                        let t = Instant::now();
                        let permit = ctx.replica.admission().reenter().await;
                        ctx.add_queue_wait(t.elapsed());
                        add(&ctx.span_queue_ns, t);
                        hold = Hold::Held(permit);
                    }
                    let t = Instant::now();
                    timer::sleep(d).await;
                    ctx.work_ns
                        .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    add(&ctx.span_work_ns, t);
                }
                Step::Call(call) => {
                    hold.release();
                    let t = Instant::now();
                    let r = run_call(ctx, call).await;
                    add(&ctx.downstream_ns, t);
                    r?;
                }
                Step::Parallel(branches) => {
                    hold.release();
                    let t = Instant::now();
                    let branch = |b: &'a Vec<Step>| run_steps(ctx, b, hold.for_branch(), false);
                    let results = join_all(branches.iter().map(branch)).await;
                    add(&ctx.downstream_ns, t);
                    results.into_iter().collect::<Result<Vec<()>, Status>>()?;
                }
            }
        }
        Ok(())
    }
    .boxed()
}

/// One `call` step: maybe skipped, repeated `times`, each with retries.
async fn run_call(ctx: &Ctx<'_>, call: &Call) -> Result<(), Status> {
    if !ctx.replica.chance(call.probability) {
        return Ok(());
    }
    for _ in 0..call.times {
        if let Err(status) = call_with_retries(ctx, call).await
            && call.on_error == OnError::Fail
        {
            return Err(status);
        }
    }
    Ok(())
}

/// One repetition of a call: retries (budgeted, after a backoff) around
/// attempts that each pass the breaker, in the order [`crate::resilience`] gives.
async fn call_with_retries(ctx: &Ctx<'_>, call: &Call) -> Result<(), Status> {
    let guard = ctx.replica.clients().guard(call);
    guard.first_attempt();
    let mut retries = 0;
    loop {
        let Some(timeout) = deadline::attempt_timeout(call.timeout, ctx.deadline) else {
            return Err(Status::deadline_exceeded(format!(
                "{} had no time left to call {}/{}",
                ctx.replica.name(),
                call.service,
                call.endpoint
            )));
        };
        let Ok(ticket) = guard.admit() else {
            return Err(Status::unavailable(format!(
                "{}: circuit breaker to {}/{} is open",
                ctx.replica.name(),
                call.service,
                call.endpoint
            )));
        };
        let attempt = Attempt {
            service: &call.service,
            endpoint: &call.endpoint,
            request: call.request,
            session: ctx.session,
            timeout,
            attempt: retries + 1,
            parent: ctx.trace.as_ref(),
            tracer: ctx.replica.tracer(),
            long_poll: ctx.long_poll,
            client_spans: &ctx.client_spans,
        };
        let result = ctx.replica.clients().call(attempt).await;
        if let Some(t) = ticket {
            t.record(result.is_err());
        }
        match result {
            Ok(reply) => {
                ctx.forwarded_version
                    .fetch_max(reply.version, Ordering::Relaxed);
                return Ok(());
            }
            Err(s) if retry::another(StatusCode(s.code() as i32), retries, call.retries) => {
                if !guard.allow_retry() {
                    return Err(s);
                }
                retries += 1;
                if let Some(b) = &call.backoff {
                    let wait = ctx
                        .replica
                        .with_rng(|rng| backoff::draw(b, call.backoff_shape, retries, rng));
                    timer::sleep(wait).await;
                }
            }
            Err(s) => return Err(s),
        }
    }
}
