//! Gathering telemetry while the run goes on: every replica samples itself
//! on a shared wall-clock grid (see `topolab_services::telemetry`); this side
//! keeps a long poll on each one's `Control/Telemetry`: a busy replica
//! answers at once and is asked again [`POLL`] later, an idle one answers
//! only when it has a sample (or after [`IDLE_WAIT`]), so a thousand idle
//! replicas are not asked five times a second. The last few seconds are kept
//! for the live view, and every sample goes to the [`sink`], which writes
//! `timeseries.csv` (timed from the start of load) as it goes, filling the
//! intervals a parked replica did not sample with quiet rows.

use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::join_all;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use topolab_proto::v1::control_client::ControlClient;
use topolab_proto::v1::{Sample, TelemetryReply, TelemetryRequest};
use topolab_services::telemetry::{next_tick, now_us};

use crate::sink::Sink;
pub use crate::sink::Written;

/// How often the launcher asks a busy replica for its samples: often enough
/// for a live view, rarely enough to cost the replicas nothing noticeable.
const POLL: Duration = Duration::from_millis(200);
/// How long a replica with no sample may hold the launcher's question: an
/// idle replica is asked once per this long.
const IDLE_WAIT: Duration = Duration::from_secs(5);
/// How long one answer may take beyond its wait before that replica is
/// asked again.
const POLL_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the last, flushing question may take.
const LAST_POLL_TIMEOUT: Duration = Duration::from_secs(5);
/// Replicas asked the last question at once.
const ASK_AT_ONCE: usize = 64;

/// Samples kept per replica for live displays: the newest this long.
const RECENT_US: u64 = 10_000_000;
/// ... and at most this many (a short `sample_every`).
const RECENT_MAX: usize = 1_000;

/// One replica's recent samples and its levels at the last poll.
#[derive(Debug, Default, Clone)]
pub struct ReplicaTelemetry {
    /// The last [`RECENT_US`] of samples, oldest first (the whole run's go
    /// to `timeseries.csv`).
    pub samples: VecDeque<Sample>,
    pub queue: u64,
    pub in_flight: u64,
}

/// What is gathered now, by `(service, replica index)`.
pub type Gathered = BTreeMap<(String, u32), ReplicaTelemetry>;

/// Shared with the live view, which reads the latest levels.
pub type LiveTelemetry = Arc<Mutex<Gathered>>;

/// One service's levels now, its replicas added up, for live displays.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Levels {
    /// Workers busy.
    pub in_flight: u64,
    /// Requests waiting for a worker.
    pub queued: u64,
    /// Rejections over the window.
    pub rejected: u64,
    /// Long polls held and subscription streams open at each replica's
    /// latest sample within the window (a dead replica's are not counted).
    pub held: u64,
    pub streams: u64,
}

/// Per service now: [`Levels`], rejections over the last `window`.
pub fn service_levels(live: &LiveTelemetry, window: Duration) -> BTreeMap<String, Levels> {
    let since = now_us().saturating_sub(window.as_micros() as u64);
    let mut out: BTreeMap<String, Levels> = BTreeMap::new();
    for ((service, _), r) in live.lock().iter() {
        let e = out.entry(service.clone()).or_default();
        e.in_flight += r.in_flight;
        e.queued += r.queue;
        let recent = || r.samples.iter().rev().take_while(|s| s.t_unix_us >= since);
        e.rejected += recent().map(|s| s.rejected).sum::<u64>();
        if let Some(last) = recent().next() {
            e.held += last.held;
            e.streams += last.streams;
        }
    }
    out
}

/// Waits until the next grid point of `every` and returns it, as an
/// `Instant` and as wall-clock microseconds: starting the load on the grid
/// makes every sample's `t_s` a whole multiple of the interval.
pub async fn aligned_start(every: Duration) -> (Instant, u64) {
    let every_us = (every.as_micros() as u64).max(1000);
    let now = now_us();
    let at = next_tick(now, every_us);
    let begin = Instant::now() + Duration::from_micros(at - now);
    tokio::time::sleep_until(begin.into()).await;
    (begin, at)
}

/// A replica, by `(service, index)`, and its control client.
type Polled = Vec<((String, u32), ControlClient<Channel>)>;

/// The polling tasks and what they gathered.
pub struct Gatherer {
    pub live: LiveTelemetry,
    sink: Arc<Mutex<Sink>>,
    every: Duration,
    stop: watch::Sender<bool>,
    joiner: Joiner,
}

/// Adds replicas started while the run goes on (the lab's replicas up) to
/// a running [`Gatherer`]; cheap to clone.
#[derive(Clone)]
pub struct Joiner {
    live: LiveTelemetry,
    sink: Arc<Mutex<Sink>>,
    clients: Arc<Mutex<Polled>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    stopped: watch::Receiver<bool>,
}

impl Joiner {
    /// Polls replica `index` of `service` at `addr` from now until the
    /// gatherer finishes, as those of the start are; its samples go to the
    /// same file and live view.
    pub fn add(&self, service: &str, index: u32, addr: SocketAddr) -> anyhow::Result<()> {
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .connect_timeout(POLL_TIMEOUT)
            .connect_lazy();
        let id = (service.to_string(), index);
        let client = ControlClient::new(channel);
        let to = Outlet {
            live: self.live.clone(),
            sink: self.sink.clone(),
        };
        let task = tokio::spawn(follow(id.clone(), client.clone(), to, self.stopped.clone()));
        self.clients.lock().push((id, client));
        self.tasks.lock().push(task);
        Ok(())
    }
}

impl Gatherer {
    /// Starts a long poll on every replica in `peers`, writing
    /// `timeseries.csv` in `folder` once [`Gatherer::begin`] says when the
    /// load started.
    pub fn start(
        peers: &BTreeMap<String, Vec<SocketAddr>>,
        every: Duration,
        folder: &Path,
    ) -> anyhow::Result<Self> {
        let sink = Arc::new(Mutex::new(Sink::create(folder, every)?));
        let mut clients = Vec::new();
        for (service, addrs) in peers {
            for (i, addr) in addrs.iter().enumerate() {
                let channel = Endpoint::from_shared(format!("http://{addr}"))?
                    .connect_timeout(POLL_TIMEOUT)
                    .connect_lazy();
                clients.push(((service.clone(), i as u32), ControlClient::new(channel)));
            }
        }
        let live: LiveTelemetry = Arc::default();
        let (stop, stopped) = watch::channel(false);
        let tasks = clients
            .iter()
            .map(|(id, c)| {
                let to = Outlet {
                    live: live.clone(),
                    sink: sink.clone(),
                };
                tokio::spawn(follow(id.clone(), c.clone(), to, stopped.clone()))
            })
            .collect();
        let joiner = Joiner {
            live: live.clone(),
            sink: sink.clone(),
            clients: Arc::new(Mutex::new(clients)),
            tasks: Arc::new(Mutex::new(tasks)),
            stopped,
        };
        Ok(Gatherer {
            live,
            sink,
            every,
            stop,
            joiner,
        })
    }

    /// A handle that adds replicas started from now on.
    pub fn joiner(&self) -> Joiner {
        self.joiner.clone()
    }

    /// The load started at `begin_us` (wall-clock µs): rows are timed from
    /// it and what was sampled before it is not written.
    pub fn begin(&self, begin_us: u64) {
        self.sink.lock().begin(begin_us);
    }

    /// Stops polling, waits for the sampling interval in progress to end,
    /// takes the last samples (flushing any count not yet sampled, so the
    /// intervals add up to the replicas' totals) and closes the file.
    pub async fn finish(self) -> Written {
        let _ = self.stop.send(true);
        let every_us = (self.every.as_micros() as u64).max(1000);
        let now = now_us();
        let wait = next_tick(now, every_us) - now + 20_000;
        tokio::time::sleep(Duration::from_micros(wait)).await;
        let to = Outlet {
            live: self.live.clone(),
            sink: self.sink.clone(),
        };
        // The flush also ends every long poll still waiting, which the
        // polling tasks wait for before they end.
        let clients = self.joiner.clients.lock().clone();
        poll_all(&clients, &to).await;
        let tasks = std::mem::take(&mut *self.joiner.tasks.lock());
        join_all(tasks).await;
        self.sink.lock().finish()
    }
}

/// Where answers go: the live view's recent samples and the file.
struct Outlet {
    live: LiveTelemetry,
    sink: Arc<Mutex<Sink>>,
}

/// One replica's long poll, until `stopped`.
async fn follow(
    id: (String, u32),
    mut client: ControlClient<Channel>,
    to: Outlet,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let ask = TelemetryRequest {
            flush: false,
            wait_ms: IDLE_WAIT.as_millis() as u32,
        };
        let call = tokio::time::timeout(IDLE_WAIT + POLL_TIMEOUT, client.telemetry(ask));
        tokio::pin!(call);
        let answered = tokio::select! {
            r = &mut call => Some(r),
            _ = stopped.wait_for(|s| *s) => None,
        };
        let Some(got) = answered else {
            // Stopping: an answer on its way may carry samples the replica
            // no longer holds, so it is waited for; the last poll's flush
            // ends a long poll still waiting.
            if let Ok(Ok(Ok(r))) = tokio::time::timeout(LAST_POLL_TIMEOUT, call).await {
                store(&to, &id, r.into_inner());
            }
            return;
        };
        let pause = match got {
            Ok(Ok(r)) => {
                let r = r.into_inner();
                let busy = !r.samples.is_empty();
                store(&to, &id, r);
                // Busy: let samples gather before asking again. Idle: the
                // question itself waits.
                if busy { POLL } else { Duration::ZERO }
            }
            failed => {
                if let Ok(Err(e)) = failed {
                    tracing::debug!(replica = %format!("{}#{}", id.0, id.1), "telemetry poll failed: {e}");
                }
                to.sink.lock().silent(&id.0, id.1);
                POLL
            }
        };
        if !pause.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
        }
    }
}

/// One answer: its samples to the file and the recent window, its levels
/// to the live view.
fn store(to: &Outlet, id: &(String, u32), r: TelemetryReply) {
    to.sink.lock().add(&id.0, id.1, &r.samples);
    let mut g = to.live.lock();
    let slot = g.entry(id.clone()).or_default();
    slot.samples.extend(r.samples);
    let newest = slot.samples.back().map_or(0, |s| s.t_unix_us);
    while slot.samples.len() > RECENT_MAX
        || slot
            .samples
            .front()
            .is_some_and(|s| s.t_unix_us + RECENT_US < newest)
    {
        slot.samples.pop_front();
    }
    slot.queue = r.queue;
    slot.in_flight = r.in_flight;
}

/// The last question to every replica, with a flush: a few dozen at a time
/// and with time to answer, since a replica that misses it loses its last
/// interval.
async fn poll_all(clients: &Polled, to: &Outlet) {
    let replies: Vec<_> = futures::stream::iter(clients.iter().map(|(id, c)| {
        let mut c = c.clone();
        let ask = TelemetryRequest {
            flush: true,
            wait_ms: 0,
        };
        async move {
            (
                id,
                tokio::time::timeout(LAST_POLL_TIMEOUT, c.telemetry(ask)).await,
            )
        }
    }))
    .buffer_unordered(ASK_AT_ONCE)
    .collect()
    .await;
    for (id, reply) in replies {
        match reply {
            Ok(Ok(r)) => store(to, id, r.into_inner()),
            _ => {
                tracing::debug!(replica = %format!("{}#{}", id.0, id.1), "last telemetry poll failed");
                to.sink.lock().silent(&id.0, id.1);
            }
        }
    }
}
