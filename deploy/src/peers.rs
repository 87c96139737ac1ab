//! The address book of replicas that run in containers: every service's
//! replicas found by DNS (see `topolab_services::discovery`), waited for until
//! as many answer as the topology has, and put in index order by asking each
//! replica its index (`Control/Stats`), so `db#1` means the same replica to
//! the faults, the figures and the engine.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::bail;
use tonic::transport::Endpoint;
use topolab_model::Topology;
use topolab_proto::v1::StatsRequest;
use topolab_proto::v1::control_client::ControlClient;
use topolab_services::discovery::Discovery;

/// Every service's replicas by index, once DNS lists all of them and each
/// says its index; fails naming the first service short of replicas after
/// `limit`.
pub async fn find(
    topology: &Topology,
    discovery: &Discovery,
    limit: Duration,
) -> anyhow::Result<BTreeMap<String, Vec<SocketAddr>>> {
    let all: Vec<&str> = topology.services.iter().map(|s| s.name.as_str()).collect();
    find_some(topology, discovery, limit, &all).await
}

/// As [`find`], for the services named in `only`: after the load, where
/// replicas started again elsewhere (new tasks, new addresses) are now.
pub async fn find_some(
    topology: &Topology,
    discovery: &Discovery,
    limit: Duration,
    only: &[&str],
) -> anyhow::Result<BTreeMap<String, Vec<SocketAddr>>> {
    let started = Instant::now();
    let mut peers = BTreeMap::new();
    for s in topology
        .services
        .iter()
        .filter(|s| only.contains(&s.name.as_str()))
    {
        loop {
            let found = discovery.resolve(&s.name).await.unwrap_or_default();
            if found.len() == s.replicas as usize
                && let Some(ordered) = by_index(&found).await
            {
                peers.insert(s.name.clone(), ordered);
                break;
            }
            if started.elapsed() > limit {
                bail!(
                    "{}: DNS {} lists {} of its {} replicas after {limit:?} ({found:?})",
                    s.name,
                    discovery.host(&s.name),
                    found.len(),
                    s.replicas
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(peers)
}

/// The addresses in the order of the indices their replicas report, once
/// every one answers; in DNS order when the indices are not `0..n` (pods of
/// a Kubernetes Deployment have none).
async fn by_index(addrs: &[SocketAddr]) -> Option<Vec<SocketAddr>> {
    let mut slots: Vec<Option<SocketAddr>> = vec![None; addrs.len()];
    let mut distinct = true;
    for addr in addrs {
        let i = index_of(*addr).await? as usize;
        match slots.get_mut(i) {
            Some(slot @ None) => *slot = Some(*addr),
            _ => distinct = false,
        }
    }
    if distinct {
        slots.into_iter().collect()
    } else {
        Some(addrs.to_vec())
    }
}

async fn index_of(addr: SocketAddr) -> Option<u32> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(2))
        .connect()
        .await
        .ok()?;
    let reply = ControlClient::new(channel)
        .stats(StatsRequest {})
        .await
        .ok()?;
    Some(reply.into_inner().replica)
}
