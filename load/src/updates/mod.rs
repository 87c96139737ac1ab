//! Clients that follow a service's changing data, one task per client:
//! `poll` (ask, take the version, wait the interval), `long_poll` (a request
//! the replica holds until something new; ask again at once) and `subscribe`
//! (one server-streaming call, opened once, reopened when it breaks). Each
//! client knows the version it holds; a failed one tries again after its
//! interval (polls) or a growing backoff (long polls, streams), and the time
//! it spends without a working connection counts in its staleness.

mod file;
mod freshness;

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tonic::Code;
use topolab_model::shape::active_until;
use topolab_model::{ClientStage, Follow, Generator, Pattern, Timeline, Topology};
use topolab_proto::v1::SubscribeRequest;
use topolab_services::trace::context;

pub use file::StalenessFile;
pub use freshness::Freshness;

use super::issuing::Issuing;
use super::recorder::{Outcome, Recorder};
use super::shape;
use super::target::{Ask, Sent, Target};

/// First wait after a failed long poll or stream, doubled per failure up to
/// [`MAX_BACKOFF`], with jitter so that clients cut off together do not come
/// back together.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The freshness recorder of a following generator (`None` for others).
pub fn freshness(
    topology: &Topology,
    g: &Generator,
    seed: u64,
    begin: Instant,
) -> Option<Freshness> {
    let way = g.follow?;
    // Through a balancer, the versions are its backend's.
    let data = topology.data_of(&g.target.service)?;
    let gaps = data.updates?;
    let Pattern::Closed { stages, .. } = &g.pattern else {
        return None;
    };
    let clients = stages.iter().map(|s| s.clients).max().unwrap_or(0);
    let timeline = Timeline::new(seed, &data.name, gaps);
    Some(Freshness::new(
        way,
        timeline,
        begin,
        clients,
        topology.settings.sample_every,
    ))
}

/// Runs the clients of a following generator until its stages end or the
/// first stop.
pub(crate) async fn run(l: Issuing<'_>, way: Follow, stages: &[ClientStage]) {
    let end = l.end(stages.iter().map(|s| s.duration));
    let (begin, seed) = (l.begin, l.seed);
    let most = stages.iter().map(|s| s.clients).max().unwrap_or(0);
    let stages: Arc<[ClientStage]> = stages.into();
    tokio::time::sleep_until(begin.into()).await;
    for c in 0..most {
        let client = Client {
            c,
            way,
            target: l.mix.first(),
            session: l.mix.client_session(c),
            recorder: l.recorder.clone(),
            stages: stages.clone(),
            begin,
            end,
            stop: l.stop.clone(),
            rng: StdRng::seed_from_u64(seed.wrapping_add(u64::from(c))),
            known: 0,
            backoff: FIRST_BACKOFF,
        };
        l.in_flight.spawn(client.run());
    }
    l.until(end).await;
}

/// One following client.
struct Client {
    c: u32,
    way: Follow,
    target: Arc<Target>,
    session: String,
    recorder: Arc<Mutex<Recorder>>,
    stages: Arc<[ClientStage]>,
    begin: Instant,
    end: Instant,
    stop: watch::Receiver<bool>,
    rng: StdRng,
    /// The newest version this client holds (0: none yet).
    known: u64,
    backoff: Duration,
}

impl Client {
    async fn run(mut self) {
        let mut active = false;
        loop {
            let t = self.begin.elapsed().as_secs_f64();
            let Some(turn) = shape::next_active(&self.stages, self.c, t) else {
                break;
            };
            if turn > t {
                active = false;
                let at = self.begin + Duration::from_secs_f64(turn);
                if !self.pause_until(at).await {
                    break;
                }
            }
            if Instant::now() >= self.end || *self.stop.borrow() {
                break;
            }
            if !active {
                active = true;
                self.freshness(|f, c, now| f.start(c, now));
                // Pollers do not start in lockstep: each first asks at a
                // random point of its interval (its staleness counts meanwhile).
                if let Follow::Poll { interval } = self.way {
                    let offset = interval.mul_f64(self.rng.random::<f64>());
                    if !self.pause_until(Instant::now() + offset).await {
                        break;
                    }
                    if Instant::now() >= self.end {
                        break;
                    }
                }
            }
            let ok = match self.way {
                Follow::Poll { .. } => self.ask(None).await,
                Follow::LongPoll { timeout } => self.ask(Some(timeout)).await,
                Follow::Subscribe => self.stream().await,
            };
            let pause = match (self.way, ok) {
                (Follow::Poll { interval }, _) => interval,
                (_, true) => Duration::ZERO,
                (_, false) => self.next_backoff(),
            };
            if !ok {
                self.freshness(|f, _, _| f.reconnect());
            }
            if !pause.is_zero() && !self.pause_until(Instant::now() + pause).await {
                break;
            }
        }
    }

    /// Sleeps until `at` (at most until the generator ends); false when
    /// the user stopped the run.
    async fn pause_until(&mut self, at: Instant) -> bool {
        let at = at.min(self.end);
        tokio::select! {
            _ = tokio::time::sleep_until(at.into()) => true,
            _ = self.stop.changed() => false,
        }
    }

    fn next_backoff(&mut self) -> Duration {
        let b = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        b.mul_f64(self.rng.random_range(0.5..1.0))
    }

    fn freshness(&self, f: impl FnOnce(&mut Freshness, u32, Instant)) {
        if let Some(fresh) = &mut self.recorder.lock().freshness {
            f(fresh, self.c, Instant::now());
        }
    }

    /// Received `version` now.
    fn holds(&mut self, version: u64) {
        self.known = self.known.max(version);
        self.freshness(|f, c, now| f.held(c, version, now));
    }

    /// When this client's turn ends (its stretch of stages, or the end).
    fn turn_ends(&self) -> Instant {
        let t = self.begin.elapsed().as_secs_f64();
        let until = self.begin + Duration::from_secs_f64(active_until(&self.stages, self.c, t));
        until.min(self.end)
    }

    /// One poll or long poll; true when it was answered. A long poll is
    /// held no longer than the client's turn, so a generator's end is not
    /// drawn out by requests waiting for news nobody will read.
    async fn ask(&mut self, long_poll: Option<Duration>) -> bool {
        let long_poll = long_poll.map(|hold| {
            hold.min(self.turn_ends().saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1))
        });
        let due = Instant::now();
        self.recorder.lock().sent(due);
        let ask = Ask {
            known: self.known,
            long_poll,
        };
        let sent = self.target.send_versioned(&self.session, ask).await;
        self.recorder.lock().finish(due, &sent);
        if sent.outcome == Outcome::Ok {
            self.backoff = FIRST_BACKOFF;
            self.holds(sent.version);
        }
        sent.outcome == Outcome::Ok
    }

    /// Opens a stream and follows it until it breaks, the client's turn
    /// ends or the run stops; true when it ended by the client's choice.
    async fn stream(&mut self) -> bool {
        let due = Instant::now();
        self.recorder.lock().sent(due);
        let root = self.target.new_root();
        let mut req = tonic::Request::new(SubscribeRequest {
            endpoint: self.target.endpoint().to_string(),
            known_version: self.known,
            session: self.session.clone(),
        });
        if let Some(ctx) = &root {
            context::inject(req.metadata_mut(), ctx);
        }
        let opened = |outcome, message: &str| Sent {
            outcome,
            attempts: 1,
            message: message.to_string(),
            trace_id: root.filter(|c| c.sampled).map(|c| c.trace_id),
            version: 0,
        };
        let mut client = self.target.next_client();
        let open = tokio::time::timeout(self.target.timeout(), client.subscribe(req)).await;
        let mut updates = match open {
            Ok(Ok(r)) => r.into_inner(),
            Ok(Err(status)) => {
                let code = status.code();
                self.recorder
                    .lock()
                    .finish(due, &opened(Outcome::from_code(code), status.message()));
                self.target
                    .record_root(root, due, code, status.message(), 1);
                return false;
            }
            Err(_) => {
                let why = "the stream did not open within the generator's timeout";
                self.recorder
                    .lock()
                    .finish(due, &opened(Outcome::Timeout, why));
                self.target
                    .record_root(root, due, Code::DeadlineExceeded, why, 1);
                return false;
            }
        };
        self.recorder.lock().finish(due, &opened(Outcome::Ok, ""));
        self.backoff = FIRST_BACKOFF;
        let turn_ends = self.turn_ends();
        let code = loop {
            tokio::select! {
                msg = updates.message() => match msg {
                    Ok(Some(u)) => self.holds(u.version),
                    Ok(None) => break Code::Unavailable,
                    Err(status) => break status.code(),
                },
                _ = tokio::time::sleep_until(turn_ends.into()) => break Code::Ok,
                _ = self.stop.changed() => break Code::Ok,
            }
        };
        self.target.record_root(root, due, code, "", 1);
        code == Code::Ok
    }
}
