//! What holding many waiting clients costs one replica (`make bench
//! BENCH=updates`): 1,000 and 10,000 open subscriptions and held long polls
//! on one `async` replica whose data changes every second, the replica's
//! resident memory per held client, how stale those clients were, and the
//! request rate polling would need for the same freshness.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tonic::transport::{Channel, Endpoint};
use topolab_proto::v1::replica_client::ReplicaClient;
use topolab_proto::v1::{CallRequest, SubscribeRequest};

use crate::topolab::Up;

/// How long the clients are held, and versions come every second.
const HOLD: Duration = Duration::from_secs(6);

const YAML: &str = "name: held\nservices:\n  scores:\n    updates: 1s\n    model: async\n    workers: 16\n    queue: unbounded\n    endpoints:\n      Latest:\n        steps:\n          - work: 1ms\nsettings:\n  trace: 0%\n";

/// Runs the bench for both ways and both sizes.
pub fn bench() -> anyhow::Result<()> {
    println!("\n== holding clients: one async replica, versions every 1 s, {HOLD:?} held");
    println!(
        "{:>10}  {:>7}  {:>12}  {:>15}  {:>14}  {:>20}",
        "way", "clients", "replica RSS", "per held client", "stale mean", "polling, same fresh"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for n in [1_000usize, 10_000] {
        for way in ["subscribe", "long_poll"] {
            let up = Up::start(YAML, 1)?;
            std::thread::sleep(Duration::from_millis(300));
            let before = up.replica_rss_kib().first().copied().unwrap_or(0);
            let addr = up.addrs[0].clone();
            let (stale_ms, during) = rt.block_on(hold(&addr, n, way, &up))?;
            let per = (during.saturating_sub(before)) as f64 * 1024.0 / n as f64;
            // Polling every I keeps a client I/2 stale on average: the same
            // freshness needs I = 2 x stale, so n / I requests per second.
            let poll_rate = n as f64 / (2.0 * stale_ms / 1e3);
            println!(
                "{:>10}  {:>7}  {:>8.1} MiB  {:>11.0} B  {:>11.1} ms  {:>14.0} req/s",
                way,
                n,
                during as f64 / 1024.0,
                per,
                stale_ms,
                poll_rate
            );
        }
    }
    println!(
        "(polling at the same freshness: n / (2 x stale mean) requests per second; compare one hop's ~9k calls/s in `make bench BENCH=hop`)"
    );
    Ok(())
}

/// Opens `n` clients of `way`, holds them for [`HOLD`], and returns their
/// mean staleness (ms) and the replica's RSS (KiB) in the middle of it.
async fn hold(addr: &str, n: usize, way: &str, up: &Up) -> anyhow::Result<(f64, u64)> {
    // Many clients share a few connections, as a fleet of browsers behind a
    // proxy would; HTTP/2 multiplexes their streams.
    let channels: Vec<Channel> = (0..8)
        .map(|_| {
            Ok(Endpoint::from_shared(format!("http://{addr}"))?
                .tcp_nodelay(true)
                .connect_lazy())
        })
        .collect::<anyhow::Result<_>>()?;
    let start = Instant::now();
    let end = start + HOLD;
    // One more subscriber learns when each version appeared.
    let observer = {
        let mut client = ReplicaClient::new(channels[0].clone());
        tokio::spawn(async move {
            let mut created = std::collections::HashMap::new();
            let req = SubscribeRequest {
                endpoint: "Latest".into(),
                ..Default::default()
            };
            if let Ok(stream) = client.subscribe(req).await {
                let mut stream = stream.into_inner();
                while let Ok(Ok(Some(u))) =
                    tokio::time::timeout_at((end + Duration::from_secs(1)).into(), stream.message())
                        .await
                {
                    created.insert(u.version, u.created_unix_us);
                }
            }
            created
        })
    };
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let mut client = ReplicaClient::new(channels[i % channels.len()].clone());
        let subscribe = way == "subscribe";
        tasks.spawn(async move {
            // (version, when this client received it), after the first.
            let mut got: Vec<(u64, u64)> = Vec::new();
            let mut known = 0;
            if subscribe {
                let req = SubscribeRequest {
                    endpoint: "Latest".into(),
                    ..Default::default()
                };
                let Ok(stream) = client.subscribe(req).await else {
                    return got;
                };
                let mut stream = stream.into_inner();
                while let Ok(Ok(Some(u))) =
                    tokio::time::timeout_at(end.into(), stream.message()).await
                {
                    if known > 0 {
                        got.push((u.version, now_us()));
                    }
                    known = u.version;
                }
            } else {
                while Instant::now() < end {
                    let left = end.saturating_duration_since(Instant::now());
                    let req = CallRequest {
                        endpoint: "Latest".into(),
                        known_version: known,
                        long_poll_us: left.as_micros() as u64,
                        ..Default::default()
                    };
                    let call = client.call(req);
                    let Ok(Ok(r)) = tokio::time::timeout(left + Duration::from_secs(1), call).await
                    else {
                        break;
                    };
                    let v = r.into_inner().version;
                    if known > 0 && v > known {
                        got.push((v, now_us()));
                    }
                    known = v;
                }
            }
            got
        });
    }
    tokio::time::sleep(HOLD / 2).await;
    let during = up.replica_rss_kib().first().copied().unwrap_or(0);
    let mut received = Vec::new();
    while let Some(r) = tasks.join_next().await {
        received.extend(r?);
    }
    let created = observer.await?;
    let stale: Vec<u64> = received
        .iter()
        .filter_map(|(v, at)| Some(at.saturating_sub(*created.get(v)?)))
        .collect();
    let stale_ms = if stale.is_empty() {
        f64::NAN
    } else {
        stale.iter().sum::<u64>() as f64 / stale.len() as f64 / 1e3
    };
    Ok((stale_ms, during))
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}
