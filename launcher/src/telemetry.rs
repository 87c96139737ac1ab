//! Gathering telemetry while the run goes on: every replica samples itself
//! on a shared wall-clock grid (see `topolab_services::telemetry`); this side
//! polls each one's `Control/Telemetry` a few times a second, keeps the last
//! few seconds for the live view, and hands every sample to the [`sink`],
//! which writes `timeseries.csv` (timed from the start of load) as it goes.

mod sink;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use topolab_proto::v1::control_client::ControlClient;
use topolab_proto::v1::{Sample, TelemetryRequest};
use topolab_services::telemetry::{next_tick, now_us};

use sink::Sink;
pub use sink::Written;

/// How often the launcher asks every replica for its samples: often enough
/// for a live view, rarely enough to cost the replicas nothing noticeable.
const POLL: Duration = Duration::from_millis(200);
/// How long one poll may take before that replica is skipped this time.
const POLL_TIMEOUT: Duration = Duration::from_secs(1);

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

/// Locks the shared telemetry (plain data: usable after a panic elsewhere).
pub fn lock(live: &LiveTelemetry) -> MutexGuard<'_, Gathered> {
    live.lock().unwrap_or_else(|e| e.into_inner())
}

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
    for ((service, _), r) in lock(live).iter() {
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

/// The polling task and what it gathered.
pub struct Gatherer {
    pub live: LiveTelemetry,
    sink: Arc<Mutex<Sink>>,
    clients: Arc<Polled>,
    every: Duration,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Gatherer {
    /// Starts polling every replica in `peers`, writing `timeseries.csv`
    /// in `folder` once [`Gatherer::begin`] says when the load started.
    pub fn start(
        peers: &BTreeMap<String, Vec<SocketAddr>>,
        every: Duration,
        folder: &Path,
    ) -> anyhow::Result<Self> {
        let sink = Arc::new(Mutex::new(Sink::create(folder)?));
        let mut clients = Vec::new();
        for (service, addrs) in peers {
            for (i, addr) in addrs.iter().enumerate() {
                let channel = Endpoint::from_shared(format!("http://{addr}"))?
                    .connect_timeout(POLL_TIMEOUT)
                    .timeout(POLL_TIMEOUT)
                    .connect_lazy();
                clients.push(((service.clone(), i as u32), ControlClient::new(channel)));
            }
        }
        let clients = Arc::new(clients);
        let live: LiveTelemetry = Arc::default();
        let (stop, mut stopped) = watch::channel(false);
        let task = {
            let (clients, live, sink) = (clients.clone(), live.clone(), sink.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(POLL) => poll_all(&clients, &live, &sink, false).await,
                        _ = stopped.changed() => return,
                    }
                }
            })
        };
        Ok(Gatherer {
            live,
            sink,
            clients,
            every,
            stop,
            task,
        })
    }

    /// The load started at `begin_us` (wall-clock µs): rows are timed from
    /// it and what was sampled before it is not written.
    pub fn begin(&self, begin_us: u64) {
        lock_sink(&self.sink).begin(begin_us);
    }

    /// Stops polling, waits for the sampling interval in progress to end,
    /// takes the last samples (flushing any count not yet sampled, so the
    /// intervals add up to the replicas' totals) and closes the file.
    pub async fn finish(self) -> Written {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let every_us = (self.every.as_micros() as u64).max(1000);
        let now = now_us();
        let wait = next_tick(now, every_us) - now + 20_000;
        tokio::time::sleep(Duration::from_micros(wait)).await;
        poll_all(&self.clients, &self.live, &self.sink, true).await;
        lock_sink(&self.sink).finish()
    }
}

fn lock_sink(sink: &Mutex<Sink>) -> MutexGuard<'_, Sink> {
    sink.lock().unwrap_or_else(|e| e.into_inner())
}

async fn poll_all(clients: &Polled, live: &LiveTelemetry, sink: &Mutex<Sink>, flush: bool) {
    let replies = join_all(clients.iter().map(|(id, c)| {
        let mut c = c.clone();
        async move { (id, c.telemetry(TelemetryRequest { flush }).await) }
    }))
    .await;
    let mut g = lock(live);
    let mut sink = lock_sink(sink);
    for (id, reply) in replies {
        match reply {
            Ok(r) => {
                let r = r.into_inner();
                sink.add(&id.0, id.1, &r.samples);
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
            Err(e) => {
                tracing::debug!(replica = %format!("{}#{}", id.0, id.1), "telemetry poll failed: {e}")
            }
        }
    }
}
