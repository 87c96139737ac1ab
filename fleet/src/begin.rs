//! Telling the replicas when the load started, so every replica of a service
//! with `updates` follows the same version timeline from the same instant:
//! `Control/Begin` to those running, and the instant in the configuration
//! a restarted replica is given.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tonic::transport::Endpoint;
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
    let changing: Vec<&str> = topology
        .services
        .iter()
        .filter(|s| s.updates.is_some())
        .map(|s| s.name.as_str())
        .collect();
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
    let sends = changing
        .iter()
        .flat_map(|s| peers.get(*s).into_iter().flatten())
        .map(|addr| async move {
            if let Err(e) = send(*addr, start_us).await {
                tracing::warn!("replica at {addr} did not take the load's start: {e:#}");
            }
        });
    futures::future::join_all(sends).await;
}

async fn send(addr: SocketAddr, start_us: u64) -> anyhow::Result<()> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .timeout(LIMIT)
        .connect_timeout(LIMIT)
        .connect()
        .await
        .context("connecting")?;
    ControlClient::new(channel)
        .begin(BeginRequest {
            load_start_unix_us: start_us,
        })
        .await?;
    Ok(())
}
