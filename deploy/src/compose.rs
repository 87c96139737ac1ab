//! The topology as a Docker compose file that `docker stack deploy` runs on a
//! Swarm: one Swarm service per topology service with its `replicas`, a
//! restart policy from `restart`, DNS round-robin endpoints (`dnsrr`: callers
//! resolve `tasks.<service>` to every replica; the overlay's virtual IPs are
//! not needed), limits derived from the topology, the topology as a Swarm
//! config, and an attachable overlay network that a load driver can join.

use serde_json::{Map, Value, json};
use topolab_model::{Restart, Topology};

use crate::container::{self, GRPC_PORT, METRICS_PORT, Requests, TOPOLOGY_PATH};

/// The stack's network (Docker names it `<stack>_topolab`).
pub const NETWORK: &str = "topolab";
/// The file the compose file's config reads, beside it.
pub const TOPOLOGY_FILE: &str = "topology.yaml";
/// The compose file's own name in an export folder.
pub const COMPOSE_FILE: &str = "compose.yaml";

/// The compose file for `topology`, its replicas running `image`.
pub fn compose(topology: &Topology, image: &str) -> Value {
    let mut services = Map::new();
    for s in &topology.services {
        let env: Map<String, Value> =
            container::replica_env(&s.name, "tasks.{service}", Some("{{.Task.Slot}}"))
                .into_iter()
                .map(|(k, v)| (k, json!(v)))
                .collect();
        let req = Requests::of(s);
        // No delay (Docker's default is 5 s): a `restart: always` replica
        // is back as soon as a new task starts, as close to the local
        // keeper's milliseconds as the Swarm gets.
        let restart = match s.restart {
            Restart::Always => "any",
            Restart::Never => "none",
        };
        services.insert(
            s.name.clone(),
            json!({
                "image": image,
                "command": ["replica"],
                "environment": env,
                "configs": [{"source": "topology", "target": TOPOLOGY_PATH}],
                "networks": [NETWORK],
                "deploy": {
                    "replicas": s.replicas,
                    "endpoint_mode": "dnsrr",
                    "restart_policy": {"condition": restart, "delay": "0s"},
                    // Limits, not reservations: reservations summed over a
                    // stack exceed a small node and leave replicas unscheduled.
                    "resources": {"limits": {
                        "cpus": req.limit_cpus(),
                        "memory": format!("{}M", req.memory_limit_mib()),
                    }},
                    "labels": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": METRICS_PORT.to_string(),
                        "prometheus.io/path": "/metrics",
                        "topolab.grpc-port": GRPC_PORT.to_string(),
                    },
                },
            }),
        );
    }
    json!({
        "version": "3.8",
        "services": services,
        "networks": {NETWORK: {"driver": "overlay", "attachable": true}},
        "configs": {"topology": {"file": format!("./{TOPOLOGY_FILE}")}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_dnsrr_service_per_topology_service() {
        let t = topolab_model::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/spof.yaml"),
            &[],
        )
        .unwrap()
        .topology;
        let c = compose(&t, "img:1");
        let services = c["services"].as_object().unwrap();
        assert_eq!(services.len(), t.services.len());
        for s in &t.services {
            let d = &services[&s.name]["deploy"];
            assert_eq!(d["replicas"], s.replicas);
            assert_eq!(d["endpoint_mode"], "dnsrr");
            let env = &services[&s.name]["environment"];
            assert_eq!(env["TOPOLAB_SLOT"], "{{.Task.Slot}}");
            assert_eq!(env["TOPOLAB_PEERS_DNS"], "tasks.{service}");
        }
        let text = crate::yaml(&c);
        assert!(text.contains("endpoint_mode: dnsrr"), "{text}");
    }
}
