//! A run on a modelled network: its hosts made before anything listens
//! (the span collector listens on the launcher's side of the bridge, where
//! replicas in namespaces of their own reach it), every replica's socket
//! bound on its own address inside its namespace, and the hosts removed
//! when the run ends. Without `network:` or link faults nothing here runs
//! and replicas stay on loopback.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use topolab_collector::TraceOptions;
use topolab_fleet::ports::Listeners;
use topolab_model::Topology;
use topolab_network::Hosts;

use super::{RunOptions, say};

/// The run's hosts when its topology models the network, with the span
/// collector moved onto the bridge.
pub(super) fn make(
    topology: &Topology,
    opts: &RunOptions,
) -> anyhow::Result<(Option<Arc<Hosts>>, TraceOptions)> {
    let mut trace = opts.trace.clone();
    if !topology.network.in_use() {
        return Ok((None, trace));
    }
    let hosts = tokio::task::block_in_place(|| Hosts::make(topology))
        .context("making the run's network")?;
    let n = hosts.plan().hosts.len();
    say(
        opts,
        format!(
            "network: {n} host(s) on 10.{}.0.0/16 made in {:.0} ms",
            hosts.plan().subnet,
            hosts.made_in.as_secs_f64() * 1e3
        ),
    );
    if trace.listen.is_none() {
        trace.listen = Some(SocketAddr::from((hosts.gateway(), 0)));
    }
    if let Some(e) = &trace.otlp_endpoint
        && (e.contains("127.0.0.1") || e.contains("localhost") || e.contains("[::1]"))
    {
        say(
            opts,
            format!(
                "warning: the replicas run in network namespaces of their own, where {e} is their own loopback: their spans cannot reach it (counted as not taken; the run folder's traces have them), the generators' can"
            ),
        );
    }
    Ok((Some(Arc::new(hosts)), trace))
}

/// Every replica's listening socket: on its own address in its namespace,
/// or on loopback without a network.
pub(super) fn listeners(hosts: Option<&Hosts>, topology: &Topology) -> anyhow::Result<Listeners> {
    let Some(hosts) = hosts else {
        return Listeners::bind(topology);
    };
    let mut by_service = BTreeMap::new();
    for s in &topology.services {
        let socks = (0..s.replicas)
            .map(|i| hosts.bind(&s.name, i))
            .collect::<Result<Vec<_>, _>>()?;
        by_service.insert(s.name.clone(), socks);
    }
    Ok(Listeners { by_service })
}

/// Where a replica serves its metrics: its own address when it has one.
pub(super) fn metrics_addr(hosts: Option<&Hosts>, service: &str, index: u32) -> String {
    let ip = hosts
        .and_then(|h| {
            let k = h.plan().host(service, index)?;
            Some(h.plan().hosts[k].addr.to_string())
        })
        .unwrap_or_else(|| "127.0.0.1".into());
    format!("{ip}:0")
}

/// Removes the run's network once nothing else holds it.
pub(super) fn remove(hosts: Option<Arc<Hosts>>, opts: &RunOptions) {
    let Some(hosts) = hosts else {
        return;
    };
    let t = hosts.totals();
    say(
        opts,
        format!(
            "network: {} frame(s) carried, {} dropped by the links as asked",
            t.frames, t.dropped_by_links
        ),
    );
    if t.dropped_full > 0 {
        topolab_notice::say(format!(
            "warning: the wire dropped {} frame(s) it had no room for (over 200,000 held, or a replica's device full): the links lost more than they were asked to",
            t.dropped_full
        ));
    }
    match Arc::try_unwrap(hosts) {
        Ok(h) => {
            if let Err(e) = h.remove() {
                say(opts, format!("warning: removing the run's network: {e}"));
            }
        }
        // Dropped later, which removes it too.
        Err(_) => tracing::warn!("the run's network is still shared after the run"),
    }
}
