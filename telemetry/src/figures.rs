//! Gathering figures from every replica after the load has drained: each one's
//! per-endpoint counters and histograms over its `Control/Stats` call, merged
//! per service so replicas add up to one view of the service. A replica that
//! does not answer (killed by a fault, never restarted) is listed, not fatal:
//! its callers' per-replica counts still show what it served.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use tonic::transport::Endpoint;
use topolab_proto::v1::StatsRequest;
use topolab_proto::v1::control_client::ControlClient;
use topolab_proto::v1::{EndpointStats, StatsReply};

/// One endpoint's figures, summed over the replicas of its service.
#[derive(Debug, Clone)]
pub struct EndpointFigures {
    pub requests: u64,
    pub ok: u64,
    pub rejected: u64,
    pub errors: BTreeMap<String, u64>,
    pub deadline_dropped: u64,
    pub max_queue: u64,
    pub session_misses: u64,
    /// Requests that arrived at each replica, by replica index.
    pub per_replica: Vec<u64>,
    pub latency_us: Histogram<u64>,
    pub queue_wait_us: Histogram<u64>,
    pub work_us: Histogram<u64>,
    /// Long polls held and streams, for a service with `updates`.
    pub updates: topolab_results::updates::EndpointUpdates,
}

impl EndpointFigures {
    /// No requests yet, with a per-replica count for each of `replicas`.
    pub fn new(replicas: usize) -> Self {
        EndpointFigures {
            requests: 0,
            ok: 0,
            rejected: 0,
            errors: BTreeMap::new(),
            deadline_dropped: 0,
            max_queue: 0,
            session_misses: 0,
            per_replica: vec![0; replicas],
            latency_us: empty_histogram(),
            queue_wait_us: empty_histogram(),
            work_us: empty_histogram(),
            updates: Default::default(),
        }
    }

    fn add(&mut self, replica: usize, s: &EndpointStats) -> anyhow::Result<()> {
        self.requests += s.requests;
        self.ok += s.ok;
        self.rejected += s.rejected;
        for (code, n) in &s.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
        self.deadline_dropped += s.deadline_dropped;
        self.max_queue = self.max_queue.max(s.max_queue);
        self.session_misses += s.session_misses;
        if let Some(slot) = self.per_replica.get_mut(replica) {
            *slot += s.requests;
        }
        let u = &mut self.updates;
        u.long_polls += s.long_polls;
        u.max_held = u.max_held.max(s.max_held);
        u.streams_opened += s.streams_opened;
        u.streams_rejected += s.streams_rejected;
        u.max_streams = u.max_streams.max(s.max_streams);
        u.pushed += s.pushed;
        merge(&mut self.latency_us, &s.latency_us)?;
        merge(&mut self.queue_wait_us, &s.queue_wait_us)?;
        merge(&mut self.work_us, &s.work_us)?;
        Ok(())
    }
}

/// Calls made by a service's replicas, by callee `service/Endpoint`.
#[derive(Debug, Clone, Default)]
pub struct CalleeFigures {
    pub attempts: u64,
    pub outcomes: BTreeMap<String, u64>,
    /// Attempts sent to each replica of the callee, by index.
    pub per_replica: Vec<u64>,
    pub retries: u64,
    pub retries_denied: u64,
    pub breaker_rejected: u64,
    pub breaker_opened: u64,
}

/// A service's figures: its endpoints and the calls it made.
#[derive(Debug, Clone, Default)]
pub struct ServiceFigures {
    pub replicas: u32,
    pub endpoints: BTreeMap<String, EndpointFigures>,
    pub callees: BTreeMap<String, CalleeFigures>,
    /// Spans the replicas recorded and dropped.
    pub spans_recorded: u64,
    pub spans_dropped: u64,
    /// Time the replicas' `work` steps asked for and how late they ended
    /// (µs): how far the machine stretched the work.
    pub work_asked_us: u64,
    pub work_late_us: u64,
    /// Replicas that did not answer for their figures (dead at the end).
    pub unreachable: Vec<u32>,
}

/// Asks every replica for its figures and merges them per service.
pub async fn collect(
    peers: &BTreeMap<String, Vec<SocketAddr>>,
) -> anyhow::Result<BTreeMap<String, ServiceFigures>> {
    let mut out = BTreeMap::new();
    // Asked a few dozen at a time: a thousand one after another take seconds.
    let asks = peers
        .values()
        .flat_map(|addrs| addrs.iter().map(|a| stats(*a)));
    let mut replies = futures::stream::iter(asks)
        .buffered(ASK_AT_ONCE)
        .collect::<Vec<_>>()
        .await
        .into_iter();
    for (service, addrs) in peers {
        let mut figures = ServiceFigures {
            replicas: addrs.len() as u32,
            ..Default::default()
        };
        for (i, addr) in addrs.iter().enumerate() {
            // Cannot fail: one reply was asked for per address, in this order.
            let reply = match replies.next().expect("one reply per replica") {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("no figures from {service}#{i} at {addr}: {e:#}");
                    figures.unreachable.push(i as u32);
                    continue;
                }
            };
            for e in &reply.endpoints {
                figures
                    .endpoints
                    .entry(e.endpoint.clone())
                    .or_insert_with(|| EndpointFigures::new(addrs.len()))
                    .add(i, e)?;
            }
            figures.spans_recorded += reply.spans_recorded;
            figures.spans_dropped += reply.spans_dropped;
            figures.work_asked_us += reply.work_asked_us;
            figures.work_late_us += reply.work_late_us;
            for c in &reply.callees {
                let f = figures.callees.entry(c.callee.clone()).or_default();
                f.attempts += c.attempts;
                for (code, n) in &c.outcomes {
                    *f.outcomes.entry(code.clone()).or_default() += n;
                }
                if f.per_replica.len() < c.per_replica.len() {
                    f.per_replica.resize(c.per_replica.len(), 0);
                }
                for (slot, n) in f.per_replica.iter_mut().zip(&c.per_replica) {
                    *slot += n;
                }
                f.retries += c.retries;
                f.retries_denied += c.retries_denied;
                f.breaker_rejected += c.breaker_rejected;
                f.breaker_opened += c.breaker_opened;
            }
        }
        out.insert(service.clone(), figures);
    }
    Ok(out)
}

/// Replicas asked for their figures at once.
const ASK_AT_ONCE: usize = 32;

async fn stats(addr: SocketAddr) -> anyhow::Result<StatsReply> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .connect()
        .await?;
    Ok(ControlClient::new(channel)
        .stats(StatsRequest {})
        .await?
        .into_inner())
}

fn empty_histogram() -> Histogram<u64> {
    // Cannot fail: 3 significant figures is within hdrhistogram's range.
    Histogram::new(3).expect("valid sigfig")
}

fn merge(into: &mut Histogram<u64>, encoded: &[u8]) -> anyhow::Result<()> {
    if encoded.is_empty() {
        return Ok(());
    }
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &encoded[..])
        .context("decoding a replica's histogram")?;
    into.add(&h).context("merging histograms")?;
    Ok(())
}
