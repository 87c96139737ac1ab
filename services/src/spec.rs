//! What a replica is told: its place in the topology and where its peers
//! listen (or how to find them by DNS). The launcher writes it as JSON on the
//! replica's stdin; `topolab replica` builds it from flags and environment.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use topolab_model::{Service, Topology};

use crate::discovery::Discovery;

/// Everything one replica needs to know to serve.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicaSpec {
    /// The whole checked topology (callees' settings are needed to call them).
    pub topology: Topology,
    /// The service this replica belongs to.
    pub service: String,
    /// This replica's index within its service, 0-based (`name#index`).
    pub index: u32,
    /// Listening address of every replica of every service, by service name,
    /// in index order.
    pub peers: BTreeMap<String, Vec<SocketAddr>>,
    /// The run's seed; each replica derives its own stream from it.
    pub seed: u64,
    /// OTLP/gRPC endpoints to send spans to (the run's collector, and any
    /// `--otlp-endpoint`); empty means this replica records no spans.
    #[serde(default)]
    pub otlp_endpoints: Vec<String>,
    /// Where to serve Prometheus `/metrics` (`127.0.0.1:0` locally: the
    /// kernel picks the port and `Control/Stats` tells it); `None`: nowhere.
    #[serde(default)]
    pub metrics: Option<String>,
    /// Find callees by DNS instead of `peers` (a replica in a container).
    #[serde(default)]
    pub discovery: Option<Discovery>,
    /// When the load started (wall-clock microseconds), for a replica
    /// started after it (a restart): its `updates` timeline counts from it.
    /// `None`: the launcher sends `Control/Begin` when the load starts.
    #[serde(default)]
    pub load_start_unix_us: Option<u64>,
}

impl ReplicaSpec {
    /// This replica's service.
    pub fn service(&self) -> &Service {
        // Cannot fail: the launcher only builds specs for services it found.
        self.topology
            .service(&self.service)
            .expect("spec names a service of its topology")
    }

    /// `service#index`, the name users see in traces and telemetry.
    pub fn replica_name(&self) -> String {
        format!("{}#{}", self.service, self.index)
    }
}
