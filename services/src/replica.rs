//! One replica's shared state (its queue and workers, clients, figures and
//! random stream) and the life of one request through it: arrive, be admitted
//! or rejected, wait, be dropped if the caller gave up, fail by injection or
//! run the steps, and be counted exactly once however it ends.

use parking_lot::Mutex;
use std::borrow::Cow;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;
use tonic::{Code, Status};
use topolab_model::{Deadlines, Dist, Endpoint, Kind, ServeModel, Service, State, Step};
use topolab_proto::v1 as pb;

use crate::admission::Admission;
use crate::client::{ClientError, Clients};
use crate::executor::{self, Ctx, Hold};
use crate::fault::FaultState;
use crate::sessions::Sessions;
use crate::shutdown::Shutdown;
use crate::spec::ReplicaSpec;
use crate::stats::{EndpointId, Outcome, Stats, Timings};
use crate::telemetry::Telemetry;
use crate::trace::{Exporter, ServerHop, SpanContext, Split};
use crate::updates::{LongPoll, Versions};

/// Everything requests to this replica share.
#[derive(Debug)]
pub struct Replica {
    name: String,
    index: u32,
    service: Service,
    admission: Admission,
    clients: Clients,
    stats: Stats,
    telemetry: Telemetry,
    rng: Mutex<StdRng>,
    /// Span export, when the run traces (`None`: tracing off).
    tracer: Option<Exporter>,
    /// `settings.trace`: the share of requests arriving without a
    /// `traceparent` that start a trace here.
    trace_rate: f64,
    faults: FaultState,
    sessions: Sessions,
    /// The service's changing data (`updates`), version 0 if it never changes.
    versions: Versions,
}

impl Replica {
    /// The replica `spec` describes, with lazy channels to its callees.
    pub fn new(spec: &ReplicaSpec) -> Result<Self, ClientError> {
        let service = spec.service().clone();
        let seed = topolab_model::seed::replica_seed(spec.seed, &spec.service, spec.index);
        Ok(Self {
            name: spec.replica_name(),
            index: spec.index,
            admission: Admission::new(service.workers, service.queue, service.discipline),
            clients: Clients::new(
                &spec.topology,
                &spec.service,
                &spec.peers,
                seed ^ 0x5EED_C11E,
            )?
            .shaped(crate::shaped::Links::for_spec(spec)),
            stats: Stats::new(service.endpoints.iter().map(|e| e.name.as_str())),
            telemetry: Telemetry::new(spec.topology.settings.sample_every),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            faults: FaultState::default(),
            sessions: Sessions::default(),
            versions: Versions::new(spec),
            service,
            tracer: None,
            trace_rate: spec.topology.settings.trace,
        })
    }

    /// The same replica, exporting spans through `tracer`.
    pub fn with_tracer(mut self, tracer: Option<Exporter>) -> Self {
        self.tracer = tracer;
        self
    }

    /// Where this replica's spans go, if it traces.
    pub fn tracer(&self) -> Option<&Exporter> {
        self.tracer.as_ref()
    }

    /// `settings.trace`: the share of requests without a caller's decision
    /// that this replica traces.
    pub fn trace_rate(&self) -> f64 {
        self.trace_rate
    }

    /// `service#index`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The worker pool and its queue.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// This replica's index within its service.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// This replica acting as a client.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Draws a duration from this replica's own seeded stream.
    pub fn sample(&self, d: &Dist) -> std::time::Duration {
        d.sample(&mut *self.rng())
    }

    /// The versions of this replica's data.
    pub fn versions(&self) -> &Versions {
        &self.versions
    }

    /// The service this replica serves.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// The figures this replica keeps.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The fault the launcher has set on this replica (none by default).
    pub fn faults(&self) -> &FaultState {
        &self.faults
    }

    /// Whether this replica serves requests whose caller gave up (`deadlines: ignore`).
    pub fn ignores_deadlines(&self) -> bool {
        self.service.deadlines == Deadlines::Ignore
    }

    /// Draws from this replica's stream (a rule that takes its randomness
    /// as an `Rng`, such as a retry's backoff).
    pub fn with_rng<T>(&self, draw: impl FnOnce(&mut StdRng) -> T) -> T {
        draw(&mut self.rng())
    }

    /// True with probability `p` (0..=1), from this replica's stream.
    pub fn chance(&self, p: f64) -> bool {
        p >= 1.0 || (p > 0.0 && self.rng().random_bool(p))
    }

    fn rng(&self) -> parking_lot::MutexGuard<'_, StdRng> {
        self.rng.lock()
    }

    /// The figures `Control/Stats` returns.
    pub fn stats_reply(&self) -> pb::StatsReply {
        pb::StatsReply {
            service: self.service.name.clone(),
            replica: self.index,
            endpoints: self.stats.to_proto(true),
            callees: self.clients.to_proto(),
            queue: self.admission.depth() as u64,
            in_flight: u64::from(self.admission.in_flight()),
            spans_recorded: self.tracer.as_ref().map_or(0, |t| t.counts().recorded),
            spans_dropped: self.tracer.as_ref().map_or(0, |t| t.counts().dropped),
            metrics_addr: String::new(),
            work_asked_us: crate::timer::lateness().0.as_micros() as u64,
            work_late_us: crate::timer::lateness().1.as_micros() as u64,
        }
    }

    /// Samples telemetry every `settings.sample_every` until `shutdown`.
    pub async fn sample_until(&self, shutdown: Shutdown) {
        self.telemetry
            .run(&self.stats, &self.admission, shutdown)
            .await;
    }

    /// What `Control/Telemetry` returns: the samples not yet handed out.
    pub fn telemetry_reply(&self, flush: bool) -> pb::TelemetryReply {
        self.telemetry.take(&self.stats, &self.admission, flush)
    }

    /// `Control/Telemetry` as a long poll: waits up to `wait` for a sample.
    pub async fn telemetry_waiting(
        &self,
        wait: std::time::Duration,
        shutdown: &Shutdown,
    ) -> pb::TelemetryReply {
        self.telemetry
            .take_waiting(&self.stats, &self.admission, wait, shutdown)
            .await
    }

    /// Serves one request on `endpoint`, from arrival to response, by
    /// `deadline`: the one this replica holds it to
    /// ([`crate::deadline::from_metadata`]: none with `deadlines: ignore`).
    ///
    /// Order of decisions: unknown endpoint (NOT_FOUND, not counted); queue
    /// full (RESOURCE_EXHAUSTED at once); wait for a worker; deadline already
    /// passed (DEADLINE_EXCEEDED, "deadline dropped", no work done; skipped
    /// with `deadlines: ignore`); injected error, the endpoint's `errors` then
    /// an `errors` fault (decided once the request is being served, so it
    /// takes a worker but runs no steps); a session miss runs `session_miss`
    /// first; otherwise the steps. A long poll (on a service with `updates`)
    /// has then found nothing new, so it is held until a newer version or its
    /// time is up (holding its worker in `blocking`, none in `async`), and
    /// answered with the version held then.
    #[allow(clippy::too_many_arguments)]
    pub async fn handle(
        &self,
        endpoint: &str,
        session: &str,
        deadline: Option<Instant>,
        arrival: Instant,
        caller: Option<SpanContext>,
        long_poll: Option<LongPoll>,
    ) -> Result<pb::CallReply, Status> {
        let (id, ep) = self.endpoint(endpoint)?;
        self.stats.arrived(id);
        let mut rec = Record {
            replica: self,
            id,
            arrival,
            deadline,
            queued: true,
            done: false,
            wait: None,
            hop: self
                .tracer
                .as_ref()
                .and_then(|_| ServerHop::start(caller, self.trace_rate)),
            split: Split::default(),
            client_spans: Some(0),
            message: String::new(),
        };

        let acquire = match self.admission.enter() {
            Ok(a) => a,
            Err(full) => {
                let status = Status::resource_exhausted(format!("{} {full}", self.name));
                rec.message = status.message().to_string();
                rec.finish(Outcome::Rejected, Timings::default());
                return Err(status);
            }
        };
        if acquire.depth_at_entry() > 0 {
            self.stats.queued(id, acquire.depth_at_entry());
        }
        let permit = acquire.await;
        let queue_wait = arrival.elapsed();
        rec.queued = false;
        rec.wait = Some(queue_wait);
        rec.split.queue = queue_wait;

        if crate::deadline::passed(deadline) {
            rec.finish(
                Outcome::DeadlineDropped,
                rec.timings(queue_wait, Default::default()),
            );
            return Err(Status::deadline_exceeded(format!(
                "{}: the caller's deadline passed while the request waited in the queue",
                self.name
            )));
        }
        let injected = [
            ep.errors
                .as_ref()
                .map(|e| (e.rate, Code::from_i32(e.status.0))),
            self.faults.errors(),
        ];
        if let Some((_, code)) = injected
            .into_iter()
            .flatten()
            .find(|(rate, _)| self.chance(*rate))
        {
            rec.finish(
                Outcome::Error(code),
                rec.timings(queue_wait, Default::default()),
            );
            return Err(Status::new(
                code,
                format!("{}: injected {}", self.name, crate::stats::code_name(code)),
            ));
        }

        let steps = self.steps_for(id, ep, session);
        let trace = rec.hop.map(|h| h.ctx).or(caller.filter(|c| !c.sampled));
        // A balancer passes a long poll on: the backend holds it.
        let balancer = matches!(self.service.kind, Kind::Balancer { .. });
        let ctx = Ctx::new(self, deadline, session)
            .traced(trace)
            .forwarding(long_poll.filter(|_| balancer));
        // Unknown until the steps end (dropped midway, some may be in flight).
        rec.client_spans = None;
        let long_poll = long_poll.filter(|_| self.versions.changes());
        let result = match self.service.model {
            ServeModel::Blocking => {
                let r = executor::run(&ctx, &steps, Hold::Whole).await;
                if let (Ok(()), Some(lp)) = (&r, long_poll) {
                    // A thread-per-request server parks the thread: its worker.
                    rec.split.held = crate::updates::hold(self, id, lp, deadline).await;
                }
                drop(permit);
                r
            }
            ServeModel::Async => {
                let r = executor::run(&ctx, &steps, Hold::Held(permit)).await;
                if let (Ok(()), Some(lp)) = (&r, long_poll) {
                    // An event loop parks the request: no worker is held.
                    rec.split.held = crate::updates::hold(self, id, lp, deadline).await;
                }
                r
            }
        };
        // The freed worker's next request waits behind this task on the one
        // thread: let it start before this reply (`make bench BENCH=queueing`).
        tokio::task::yield_now().await;
        // Only a miss can change what is held: the lock is taken for those.
        if matches!(steps, Cow::Owned(_)) {
            self.sessions.ended(session, true, result.is_ok());
        }
        let t = rec.timings(queue_wait + ctx.queue_wait(), ctx.work());
        let steps = ctx.split();
        rec.split.queue += steps.queue;
        rec.split.work = steps.work;
        rec.split.downstream = steps.downstream;
        rec.client_spans = Some(ctx.client_spans());
        match result {
            Ok(()) => {
                rec.finish(Outcome::Ok, t);
                // A balancer answers with the version its backend held.
                let version = if balancer {
                    ctx.forwarded_version()
                } else {
                    self.versions.current()
                };
                Ok(reply(ep, &self.name, version))
            }
            Err(status) => {
                rec.message = status.message().to_string();
                rec.finish(Outcome::Error(status.code()), t);
                Err(status)
            }
        }
    }
}

impl Replica {
    /// The endpoint called `name` and its index, or NOT_FOUND naming those
    /// this replica has.
    pub fn endpoint(&self, name: &str) -> Result<(EndpointId, &Endpoint), Status> {
        self.service
            .endpoints
            .iter()
            .enumerate()
            .find(|(_, e)| e.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self
                    .service
                    .endpoints
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect();
                Status::not_found(format!(
                    "{} has no endpoint {name:?}; it has: {}",
                    self.name,
                    known.join(", ")
                ))
            })
    }

    /// The steps a request runs: the endpoint's, preceded by `session_miss`
    /// when this is a `state: sessions` replica that does not hold the key
    /// (a request without a key has no session to miss).
    pub(crate) fn steps_for<'e>(
        &'e self,
        id: EndpointId,
        ep: &'e Endpoint,
        session: &str,
    ) -> Cow<'e, [Step]> {
        let miss = self.service.state == State::Sessions && self.sessions.misses(session);
        if !miss {
            return Cow::Borrowed(&ep.steps);
        }
        self.stats.session_miss(id);
        let mut all = self.service.session_miss.clone();
        all.extend(ep.steps.iter().cloned());
        Cow::Owned(all)
    }
}

fn reply(ep: &Endpoint, replica: &str, version: u64) -> pb::CallReply {
    pb::CallReply {
        payload: vec![0; ep.response as usize],
        replica: replica.to_string(),
        version,
    }
}

/// How much earlier than this replica a caller may see its own deadline
/// expire; a cancel within this of the deadline counts as the deadline.
const CALLER_CLOCK_LEAD: std::time::Duration = std::time::Duration::from_millis(10);

/// Counts a request exactly once: explicitly when it ends, or on drop when
/// the caller went away (tonic drops the handler when the caller's
/// `grpc-timeout` expires or the stream is reset).
struct Record<'a> {
    replica: &'a Replica,
    id: EndpointId,
    arrival: Instant,
    deadline: Option<Instant>,
    /// Still waiting for a worker.
    queued: bool,
    done: bool,
    wait: Option<std::time::Duration>,
    /// The SERVER span, when this request is traced, and what it records.
    hop: Option<ServerHop>,
    split: Split,
    /// CLIENT spans started under the SERVER span, once known.
    client_spans: Option<u32>,
    message: String,
}

impl Record<'_> {
    fn timings(&self, queue_wait: std::time::Duration, work: std::time::Duration) -> Timings {
        Timings {
            latency: self.arrival.elapsed(),
            queue_wait,
            work,
        }
    }

    fn finish(&mut self, outcome: Outcome, t: Timings) {
        self.done = true;
        self.replica.stats.finished(self.id, outcome, t);
        if let (Some(hop), Some(tracer)) = (self.hop.take(), &self.replica.tracer) {
            let code = match outcome {
                Outcome::Ok => Code::Ok,
                Outcome::Rejected => Code::ResourceExhausted,
                Outcome::DeadlineDropped => Code::DeadlineExceeded,
                Outcome::Error(c) => c,
            };
            let ep = &self.replica.service.endpoints[self.id];
            if self.split.queue.is_zero() {
                self.split.queue = t.queue_wait;
            }
            hop.finish(
                tracer,
                &self.replica.service.name,
                &ep.name,
                self.arrival.into_std(),
                code,
                &self.message,
                self.split,
                self.client_spans,
            );
        }
    }
}

impl Drop for Record<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // The caller's clock started before this request arrived (the hop, its
        // own scheduling), so its deadline fires a little before ours: a cancel
        // that close to our deadline is the caller's deadline.
        let expired = self
            .deadline
            .is_some_and(|d| Instant::now() + CALLER_CLOCK_LEAD >= d);
        let (outcome, why) = match (self.queued, expired) {
            // Left the queue because the caller gave up: no work was done for it.
            (true, true) => (
                Outcome::DeadlineDropped,
                "the caller's deadline passed while it waited in the queue",
            ),
            (false, true) => (
                Outcome::Error(Code::DeadlineExceeded),
                "the caller's deadline passed while it was served",
            ),
            (_, false) => (
                Outcome::Error(Code::Cancelled),
                "the caller cancelled it (its connection or stream closed)",
            ),
        };
        if self.message.is_empty() {
            self.message = why.to_string();
        }
        let wait = self.wait.unwrap_or_else(|| self.arrival.elapsed());
        // Work done before the drop is unknown here; it is not recorded.
        self.finish(outcome, self.timings(wait, Default::default()));
    }
}
