//! Gathering telemetry while the run goes on: every replica samples itself
//! on a shared wall-clock grid (see `topolab_services::telemetry`); this side
//! keeps a long poll on each one's `Control/Telemetry`: a busy replica
//! answers at once and is asked again [`POLL`] later, an idle one answers
//! only when it has a sample (or after [`IDLE_WAIT`]), so a thousand idle
//! replicas are not asked five times a second. Every sample is kept, the
//! latest levels feed the live view, and at the end they become
//! `timeseries.csv` rows timed from the start of load, the intervals a
//! parked replica did not sample filled with zeros.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::join_all;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use topolab_proto::v1::control_client::ControlClient;
use topolab_proto::v1::{Sample, TelemetryReply, TelemetryRequest};
use topolab_results::timeseries::Row;
use topolab_services::telemetry::{next_tick, now_us};

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

/// One replica's samples and its levels at the last poll.
#[derive(Debug, Default, Clone)]
pub struct ReplicaTelemetry {
    pub samples: Vec<Sample>,
    pub queue: u64,
    pub in_flight: u64,
    /// When it last answered (wall-clock µs): a quiet replica is known to
    /// have stayed quiet until then.
    pub answered_us: u64,
}

/// Everything gathered so far, by `(service, replica index)`.
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

/// The polling tasks and what they gathered.
pub struct Gatherer {
    pub live: LiveTelemetry,
    clients: Arc<Polled>,
    every: Duration,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Gatherer {
    /// Starts a long poll on every replica in `peers`.
    pub fn start(
        peers: &BTreeMap<String, Vec<SocketAddr>>,
        every: Duration,
    ) -> anyhow::Result<Self> {
        let mut clients = Vec::new();
        for (service, addrs) in peers {
            for (i, addr) in addrs.iter().enumerate() {
                let channel = Endpoint::from_shared(format!("http://{addr}"))?
                    .connect_timeout(POLL_TIMEOUT)
                    .connect_lazy();
                clients.push(((service.clone(), i as u32), ControlClient::new(channel)));
            }
        }
        let clients = Arc::new(clients);
        let live: LiveTelemetry = Arc::default();
        let (stop, stopped) = watch::channel(false);
        let tasks = clients
            .iter()
            .map(|(id, c)| {
                let (id, c, live, stopped) = (id.clone(), c.clone(), live.clone(), stopped.clone());
                tokio::spawn(follow(id, c, live, stopped))
            })
            .collect();
        Ok(Gatherer {
            live,
            clients,
            every,
            stop,
            tasks,
        })
    }

    /// Stops polling, waits for the sampling interval in progress to end,
    /// and takes the last samples (flushing any count not yet sampled, so
    /// the intervals add up to the replicas' totals).
    pub async fn finish(self) -> Gathered {
        let _ = self.stop.send(true);
        join_all(self.tasks).await;
        let every_us = (self.every.as_micros() as u64).max(1000);
        let now = now_us();
        let wait = next_tick(now, every_us) - now + 20_000;
        tokio::time::sleep(Duration::from_micros(wait)).await;
        poll_all(&self.clients, &self.live).await;
        std::mem::take(&mut *lock(&self.live))
    }
}

/// One replica's long poll, until `stopped`.
async fn follow(
    id: (String, u32),
    mut client: ControlClient<Channel>,
    live: LiveTelemetry,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let ask = TelemetryRequest {
            flush: false,
            wait_ms: IDLE_WAIT.as_millis() as u32,
        };
        let call = tokio::time::timeout(IDLE_WAIT + POLL_TIMEOUT, client.telemetry(ask));
        let got = tokio::select! {
            r = call => r,
            _ = stopped.wait_for(|s| *s) => return,
        };
        let pause = match got {
            Ok(Ok(r)) => {
                let r = r.into_inner();
                let busy = !r.samples.is_empty();
                store(&live, &id, r);
                // Busy: let samples gather before asking again. Idle: the
                // question itself waits.
                if busy { POLL } else { Duration::ZERO }
            }
            Ok(Err(e)) => {
                tracing::debug!(replica = %format!("{}#{}", id.0, id.1), "telemetry poll failed: {e}");
                POLL
            }
            Err(_) => POLL,
        };
        if !pause.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
        }
    }
}

fn store(live: &LiveTelemetry, id: &(String, u32), r: TelemetryReply) {
    let mut g = lock(live);
    let slot = g.entry(id.clone()).or_default();
    slot.samples.extend(r.samples);
    slot.queue = r.queue;
    slot.in_flight = r.in_flight;
    slot.answered_us = now_us();
}

/// The last question to every replica, with a flush: a few dozen at a time
/// and with time to answer, since a replica that misses it loses its last
/// interval (and, parked, the quiet rows since it last answered).
async fn poll_all(clients: &Polled, live: &LiveTelemetry) {
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
            Ok(Ok(r)) => store(live, id, r.into_inner()),
            Ok(Err(e)) => {
                tracing::debug!(replica = %format!("{}#{}", id.0, id.1), "telemetry poll failed: {e}")
            }
            Err(_) => {
                tracing::debug!(replica = %format!("{}#{}", id.0, id.1), "telemetry poll timed out")
            }
        }
    }
}

/// Nothing counted and every level at zero: after such a sample a replica
/// parks until something happens, sampling nothing meanwhile.
fn quiet(s: &Sample) -> bool {
    s.arrived == 0
        && s.completed == 0
        && s.rejected == 0
        && s.failed == 0
        && s.pushed == 0
        && s.queue == 0
        && s.in_flight == 0
        && s.held == 0
        && s.streams == 0
}

/// A replica's samples with the grid points it skipped while parked filled
/// in as quiet samples: after a quiet sample, up to its next sample, or, after
/// the last, up to when it last answered.
fn filled(r: &ReplicaTelemetry, every_us: u64) -> Vec<Sample> {
    let mut out = Vec::with_capacity(r.samples.len());
    for (i, s) in r.samples.iter().enumerate() {
        out.push(*s);
        if !quiet(s) {
            continue;
        }
        let until = r
            .samples
            .get(i + 1)
            .map_or(r.answered_us + 1, |n| n.t_unix_us);
        let mut t = s.t_unix_us + every_us;
        while t < until {
            out.push(Sample { t_unix_us: t, ..*s });
            t += every_us;
        }
    }
    out
}

/// `timeseries.csv` rows: samples after `begin_us` (the start of load), timed
/// from it, sorted by time, service and replica; a parked replica's skipped
/// intervals of `every` are quiet rows.
pub fn rows(gathered: &Gathered, begin_us: u64, every: Duration) -> Vec<Row> {
    let every_us = (every.as_micros() as u64).max(1000);
    let mut rows: Vec<Row> = gathered
        .iter()
        .flat_map(|((service, replica), r)| {
            filled(r, every_us)
                .into_iter()
                .filter(|s| s.t_unix_us > begin_us)
                .map(move |s| Row {
                    t_s: (s.t_unix_us - begin_us) as f64 / 1e6,
                    service: service.clone(),
                    replica: *replica,
                    queue: s.queue,
                    in_flight: s.in_flight,
                    arrived: s.arrived,
                    completed: s.completed,
                    rejected: s.rejected,
                    failed: s.failed,
                    held: s.held,
                    streams: s.streams,
                    pushed: s.pushed,
                })
        })
        .collect();
    rows.sort_by(|a, b| {
        a.t_s
            .total_cmp(&b.t_s)
            .then_with(|| a.service.cmp(&b.service))
            .then(a.replica.cmp(&b.replica))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: u64, arrived: u64) -> Sample {
        Sample {
            t_unix_us: t,
            arrived,
            completed: arrived,
            ..Default::default()
        }
    }

    /// A parked replica's skipped grid points become quiet rows, up to its
    /// next sample or its last answer, and never after a busy sample.
    #[test]
    fn quiet_gaps_are_filled_on_the_grid() {
        let r = ReplicaTelemetry {
            samples: vec![sample(100, 2), sample(200, 0), sample(600, 1)],
            answered_us: 850,
            ..Default::default()
        };
        let t: Vec<(u64, u64)> = filled(&r, 100)
            .iter()
            .map(|s| (s.t_unix_us, s.arrived))
            .collect();
        assert_eq!(
            t,
            [(100, 2), (200, 0), (300, 0), (400, 0), (500, 0), (600, 1)],
            "nothing after a busy last sample"
        );
        let parked = ReplicaTelemetry {
            samples: vec![sample(100, 0)],
            answered_us: 400,
            ..Default::default()
        };
        let t: Vec<u64> = filled(&parked, 100).iter().map(|s| s.t_unix_us).collect();
        assert_eq!(t, [100, 200, 300, 400], "quiet until it last answered");
    }
}
