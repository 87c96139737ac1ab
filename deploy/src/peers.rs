//! The address book of replicas that run in containers: every service's
//! replicas found by DNS (see `topolab_services::discovery`), waited for until
//! as many answer as the topology has, and put in index order by asking each
//! replica its index (`Control/Stats`), so `db#1` means the same replica to
//! the faults, the figures and the engine.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::bail;
use topolab_fleet::rejoin::index_of;
use topolab_model::Topology;
use topolab_services::discovery::Discovery;

/// Every service's replicas by index, once DNS lists all of them and each
/// says its index; fails naming the first service short of replicas after
/// `limit`.
pub async fn find(
    topology: &Topology,
    discovery: &Discovery,
    limit: Duration,
) -> anyhow::Result<BTreeMap<String, Vec<SocketAddr>>> {
    let started = Instant::now();
    let mut peers = BTreeMap::new();
    for s in &topology.services {
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
