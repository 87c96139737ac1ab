//! Telling the replicas when the load started, so every replica of a service
//! with `updates` follows the same version timeline from the same instant:
//! `Control/Begin` to those running, and the instant in the configuration a
//! restarted local replica is given (replicas in containers are told again
//! by [`crate::rejoin`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tonic::transport::{Channel, Endpoint};
use topolab_model::Topology;
use topolab_proto::v1::BeginRequest;
use topolab_proto::v1::control_client::ControlClient;
use topolab_services::ReplicaSpec;

use crate::supervisor::Fleet;

/// How long one replica may take to take the start instant.
const LIMIT: Duration = Duration::from_secs(2);

/// Sends `start_us` to every replica of every service with `updates`, and
/// puts it in their configurations for restarts. A replica that does not
/// answer (already dead) is skipped: a restart reads the configuration.
pub async fn begin(
    topology: &Topology,
    peers: &BTreeMap<String, Vec<SocketAddr>>,
    fleet: &mut Fleet,
    start_us: u64,
) {
    let changing = changing(topology);
    if changing.is_empty() {
        return;
    }
    fleet.reconfigure(|id, config| {
        if !changing.contains(&id.service.as_str()) {
            return config.to_vec();
        }
        match serde_json::from_slice::<ReplicaSpec>(config) {
            Ok(mut spec) => {
                spec.load_start_unix_us = Some(start_us);
                serde_json::to_vec(&spec).unwrap_or_else(|_| config.to_vec())
            }
            Err(_) => config.to_vec(),
        }
    });
    tell(topology, peers, start_us).await;
}

/// Sends `start_us` to every replica of every service with `updates` at
/// `peers`; one that does not answer is warned about and skipped.
pub async fn tell(topology: &Topology, peers: &BTreeMap<String, Vec<SocketAddr>>, start_us: u64) {
    let sends = changing(topology)
        .into_iter()
        .flat_map(|s| peers.get(s).into_iter().flatten())
        .map(|addr| async move {
            let sent = async { send(&mut connect(*addr)?, start_us).await };
            if let Err(e) = sent.await {
                tracing::warn!("replica at {addr} did not take the load's start: {e:#}");
            }
        });
    futures::future::join_all(sends).await;
}

/// The services whose replicas follow a timeline.
pub(crate) fn changing(topology: &Topology) -> Vec<&str> {
    topology
        .services
        .iter()
        .filter(|s| s.updates.is_some())
        .map(|s| s.name.as_str())
        .collect()
}

/// A control client of the replica at `addr`, connecting on first use.
pub(crate) fn connect(addr: SocketAddr) -> anyhow::Result<ControlClient<Channel>> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .timeout(LIMIT)
        .connect_timeout(LIMIT)
        .connect_lazy();
    Ok(ControlClient::new(channel))
}

/// Tells the replica behind `client` the load's start.
pub(crate) async fn send(client: &mut ControlClient<Channel>, start_us: u64) -> anyhow::Result<()> {
    client
        .begin(BeginRequest {
            load_start_unix_us: start_us,
        })
        .await
        .context("Control/Begin")?;
    Ok(())
}
