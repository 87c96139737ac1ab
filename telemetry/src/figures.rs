//! Gathering figures from every replica after the load has drained: each one's
//! per-endpoint counters and histograms over its `Control/Stats` call, merged
//! per service so replicas add up to one view of the service. A replica that
//! does not answer (killed by a fault, never restarted) is listed, not fatal:
//! its callers' per-replica counts still show what it served. Where no
//! generator waited for the answers (`up`), [`drain`] waits for them first.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use tonic::transport::Endpoint;
use topolab_figures::FollowFigures;
use topolab_proto::v1::StatsRequest;
use topolab_proto::v1::control_client::ControlClient;
use topolab_proto::v1::{CalleeStats, EndpointStats, StatsReply};

pub use topolab_figures::{CallFigures, EndpointFigures};

/// One replica's figures of one endpoint, as its `Control/Stats` reply
/// carries them (histograms in V2 encoding).
fn decode(s: &EndpointStats) -> anyhow::Result<EndpointFigures> {
    let mut f = EndpointFigures::new(0, 3);
    f.requests = s.requests;
    f.ok = s.ok;
    f.rejected = s.rejected;
    f.errors = s.errors.iter().map(|(k, v)| (k.clone(), *v)).collect();
    f.deadline_dropped = s.deadline_dropped;
    f.max_queue = s.max_queue;
    f.session_misses = s.session_misses;
    f.follow = FollowFigures {
        long_polls: s.long_polls,
        max_held: s.max_held,
        streams_opened: s.streams_opened,
        streams_rejected: s.streams_rejected,
        max_streams: s.max_streams,
        pushed: s.pushed,
    };
    f.latency_us = histogram(&s.latency_us)?;
    f.queue_wait_us = histogram(&s.queue_wait_us)?;
    f.work_us = histogram(&s.work_us)?;
    Ok(f)
}

/// One call of a replica's `Control/Stats` reply.
fn call(c: &CalleeStats) -> CallFigures {
    CallFigures {
        attempts: c.attempts,
        outcomes: c.outcomes.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        per_replica: c.per_replica.clone(),
        retries: c.retries,
        retries_denied: c.retries_denied,
        breaker_rejected: c.breaker_rejected,
        breaker_opened: c.breaker_opened,
    }
}

/// A service's figures: its endpoints and the calls it made.
#[derive(Debug, Clone, Default)]
pub struct ServiceFigures {
    pub replicas: u32,
    pub endpoints: BTreeMap<String, EndpointFigures>,
    pub callees: BTreeMap<String, CallFigures>,
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
                    .or_insert_with(|| EndpointFigures::new(addrs.len(), 3))
                    .merge(i, &decode(e)?)
                    .context("merging histograms")?;
            }
            figures.spans_recorded += reply.spans_recorded;
            figures.spans_dropped += reply.spans_dropped;
            figures.work_asked_us += reply.work_asked_us;
            figures.work_late_us += reply.work_late_us;
            for c in &reply.callees {
                figures
                    .callees
                    .entry(c.callee.clone())
                    .or_default()
                    .merge(&call(c));
            }
        }
        out.insert(service.clone(), figures);
    }
    Ok(out)
}

/// Replicas asked for their figures at once.
const ASK_AT_ONCE: usize = 32;

/// Waits until no replica holds a request (every arrival has ended), so
/// figures taken next count each request once, as it ended; asks every
/// [`DRAIN_POLL`], at most `limit`. Returns the requests still held then
/// (0: drained). A replica that does not answer holds none it can report.
pub async fn drain(peers: &BTreeMap<String, Vec<SocketAddr>>, limit: Duration) -> u64 {
    let until = tokio::time::Instant::now() + limit;
    loop {
        let held = held(peers).await;
        if held == 0 || tokio::time::Instant::now() >= until {
            return held;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
}

/// How often [`drain`] asks.
const DRAIN_POLL: Duration = Duration::from_millis(100);

/// Requests that arrived at some replica and have not ended yet.
pub async fn held(peers: &BTreeMap<String, Vec<SocketAddr>>) -> u64 {
    // Addresses copied out first: a future that borrows through closures is
    // not `Send` for every lifetime, and the lab awaits this on a task.
    let addrs: Vec<SocketAddr> = peers.values().flatten().copied().collect();
    futures::stream::iter(addrs.into_iter().map(stats))
        .buffered(ASK_AT_ONCE)
        .collect::<Vec<_>>()
        .await
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .flat_map(|r| &r.endpoints)
        .map(|e| {
            let ended = e.ok + e.rejected + e.errors.values().sum::<u64>();
            e.requests.saturating_sub(ended)
        })
        .sum()
}

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

fn histogram(encoded: &[u8]) -> anyhow::Result<Histogram<u64>> {
    if encoded.is_empty() {
        return Ok(topolab_figures::histogram(3));
    }
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &encoded[..])
        .context("decoding a replica's histogram")?;
    h.auto(true);
    Ok(h)
}
