//! One more replica of a running service (the lab's replicas up): a fresh
//! process started the way the run started the others, on a loopback port
//! of its own, from the configuration of the service's first replica with
//! its own index and the address book as it is now.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};

use anyhow::{Context, anyhow};
use topolab_model::Topology;
use topolab_services::ReplicaSpec;

use crate::supervisor::{Fleet, LaunchSpec, ReplicaId};

/// Starts replica `index` of `service`, whose callees are at `peers`, with
/// the settings of `topology` (those in force: workers and queue limits the
/// lab changed); returns its address. It is not yet healthy: wait for it
/// before anyone calls it.
pub fn spawn_next(
    fleet: &mut Fleet,
    service: &str,
    index: u32,
    peers: &BTreeMap<String, Vec<SocketAddr>>,
    topology: &Topology,
) -> anyhow::Result<SocketAddr> {
    let (config, restart, netns) = fleet
        .template(service)
        .ok_or_else(|| anyhow!("there is no replica of {service} to copy"))?;
    anyhow::ensure!(
        !netns,
        "a run with a network (links) has no host for a new replica yet"
    );
    let mut spec: ReplicaSpec =
        serde_json::from_slice(&config).context("reading the first replica's configuration")?;
    spec.index = index;
    spec.peers = peers.clone();
    spec.topology = topology.clone();
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    let addr = listener.local_addr()?;
    fleet.spawn(LaunchSpec {
        id: ReplicaId {
            service: service.to_string(),
            index,
        },
        listener: &listener,
        config: serde_json::to_vec(&spec)?,
        restart,
        netns: None,
    })?;
    Ok(addr)
}

/// Writes `list` as `service`'s replicas into every replica's configuration,
/// so a replica restarted later (by the lab or `restart: always`) calls the
/// replicas in use, not those of the start.
pub fn remember(fleet: &mut Fleet, service: &str, list: &[SocketAddr]) {
    fleet.reconfigure(
        |_, config| match serde_json::from_slice::<ReplicaSpec>(config) {
            Ok(mut spec) => {
                spec.peers.insert(service.to_string(), list.to_vec());
                serde_json::to_vec(&spec).unwrap_or_else(|_| config.to_vec())
            }
            Err(_) => config.to_vec(),
        },
    );
}

/// `peers` with the replicas a lab added to the fleet (by service, in
/// index order): the address book as the run ends, so the final figures
/// and the summary's replica counts include them.
pub fn with_added(
    mut peers: BTreeMap<String, Vec<SocketAddr>>,
    fleet: &Fleet,
) -> BTreeMap<String, Vec<SocketAddr>> {
    let mut by: BTreeMap<String, Vec<(u32, SocketAddr)>> = BTreeMap::new();
    for r in fleet.replicas() {
        by.entry(r.id.service.clone())
            .or_default()
            .push((r.id.index, r.addr));
    }
    for (service, mut found) in by {
        let known = peers.entry(service).or_default();
        if found.len() > known.len() {
            found.sort();
            *known = found.into_iter().map(|(_, a)| a).collect();
        }
    }
    peers
}
