//! Waiting until every replica answers the standard gRPC health check with
//! SERVING, so load never reaches a process that is still starting. A replica
//! that dies or stays silent is named, with the end of its stderr.

use std::time::{Duration, Instant};

use anyhow::bail;
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::supervisor::Fleet;

/// The gRPC service name each replica reports SERVING for once it can serve.
pub const HEALTH_SERVICE: &str = "topolab.v1.Replica";

/// Polls every replica until all are SERVING, failing on the first that exits
/// or when `limit` passes.
pub async fn wait_healthy(fleet: &mut Fleet, limit: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut pending: Vec<usize> = (0..fleet.replicas().len()).collect();
    while !pending.is_empty() {
        if let Some((id, status)) = fleet.exited().into_iter().next() {
            let replica = fleet.replicas().iter().find(|r| r.id == id);
            let tail = replica.map(|r| r.stderr_tail(20)).unwrap_or_default();
            bail!("replica {id} exited before it was healthy ({status}); its stderr:\n{tail}");
        }
        let checks = pending.iter().map(|&i| {
            let addr = fleet.replicas()[i].addr;
            async move { (i, is_serving(addr).await) }
        });
        let results = futures::future::join_all(checks).await;
        pending = results
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(i, _)| i)
            .collect();
        if pending.is_empty() {
            break;
        }
        if started.elapsed() > limit {
            let r = &fleet.replicas()[pending[0]];
            bail!(
                "replica {} (at {}) was not healthy within {:?} ({} replicas still starting); its stderr:\n{}",
                r.id,
                r.addr,
                limit,
                pending.len(),
                r.stderr_tail(20)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(started.elapsed())
}

/// Polls replicas that something else started (containers) until every
/// address answers SERVING, or names the first still silent after `limit`.
pub async fn wait_addrs_healthy(
    addrs: &[(String, std::net::SocketAddr)],
    limit: Duration,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut pending: Vec<&(String, std::net::SocketAddr)> = addrs.iter().collect();
    while !pending.is_empty() {
        let checks = pending
            .iter()
            .map(|r| async move { (*r, is_serving(r.1).await) });
        pending = futures::future::join_all(checks)
            .await
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(r, _)| r)
            .collect();
        if let Some((id, addr)) = pending.first() {
            if started.elapsed() > limit {
                bail!(
                    "replica {id} (at {addr}) was not healthy within {limit:?} ({} replicas still starting)",
                    pending.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(started.elapsed())
}

/// One health check; any failure (not serving yet, NOT_SERVING, no answer
/// within a short limit) is `false`. The socket accepts connections before the
/// replica runs (the launcher bound it), so only an answer counts.
async fn is_serving(addr: std::net::SocketAddr) -> bool {
    tokio::time::timeout(Duration::from_millis(500), check(addr))
        .await
        .unwrap_or(false)
}

async fn check(addr: std::net::SocketAddr) -> bool {
    let Ok(endpoint) = Endpoint::from_shared(format!("http://{addr}")) else {
        return false;
    };
    let endpoint = endpoint.connect_timeout(Duration::from_millis(200));
    let Ok(channel) = endpoint.connect().await else {
        return false;
    };
    let request = HealthCheckRequest {
        service: HEALTH_SERVICE.to_string(),
    };
    match HealthClient::new(channel).check(request).await {
        Ok(reply) => reply.into_inner().status == ServingStatus::Serving as i32,
        Err(_) => false,
    }
}
