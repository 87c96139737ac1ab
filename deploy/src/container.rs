//! What every replica's container shares, whichever engine runs it: the
//! command and environment of `topolab replica`, its two ports, where the
//! topology is mounted, and resource requests derived from the topology.

use serde_json::{Value, json};
use topolab_model::{Service, Topology};

/// The gRPC port every replica listens on inside its container.
pub const GRPC_PORT: u16 = 50051;
/// The port of every replica's Prometheus `/metrics`.
pub const METRICS_PORT: u16 = 9464;
/// The port the load driver's span collector listens on in a container
/// network (OTLP/gRPC's conventional port), where replicas send their spans.
pub const COLLECTOR_PORT: u16 = 4317;
/// Where the topology file is mounted in every container.
pub const TOPOLOGY_PATH: &str = "/etc/topolab/topology.yaml";

/// `topolab replica`'s environment for one service, callees found by the
/// DNS name `peers_dns` (`tasks.{service}` on Swarm, `{service}` on
/// Kubernetes); `index` is an expression of the engine, if it has one.
pub fn replica_env(service: &str, peers_dns: &str, index: Option<&str>) -> Vec<(String, String)> {
    let mut env = vec![
        ("TOPOLAB_TOPOLOGY", TOPOLOGY_PATH.to_string()),
        ("TOPOLAB_SERVICE", service.to_string()),
        ("TOPOLAB_LISTEN", format!("0.0.0.0:{GRPC_PORT}")),
        ("TOPOLAB_METRICS_LISTEN", format!("0.0.0.0:{METRICS_PORT}")),
        ("TOPOLAB_PEERS_DNS", peers_dns.to_string()),
    ];
    if let Some(i) = index {
        env.push(("TOPOLAB_SLOT", i.to_string()));
    }
    env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// What one replica asks for: CPU by its worker pool (a busy worker can keep
/// a share of a core, and the runtime's one thread at most a core), memory for its queue
/// and in-flight requests on top of the process's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requests {
    /// Thousandths of a core.
    pub millicpu: u32,
    /// Mebibytes.
    pub memory_mib: u32,
}

impl Requests {
    /// 50m per worker on a 100m floor, at most one core; 24 MiB plus 1 MiB
    /// per 64 requests the replica may hold (workers + queue).
    pub fn of(service: &Service) -> Self {
        let workers = service.workers.max(1);
        let held = workers + service.queue.unwrap_or(workers * 16);
        Requests {
            millicpu: (100 + 50 * workers).min(1000),
            memory_mib: 24 + held.div_ceil(64),
        }
    }

    /// `"0.15"`: CPUs as compose writes them.
    pub fn cpus(&self) -> String {
        format!("{}", f64::from(self.millicpu) / 1000.0)
    }

    /// A ceiling for engines that cannot promise the request (a Swarm stack
    /// on one small node): the runtime's one thread may use a whole core.
    pub fn limit_cpus(&self) -> String {
        "1".to_string()
    }

    /// Memory a replica may not exceed: four times its request.
    pub fn memory_limit_mib(&self) -> u32 {
        self.memory_mib * 4
    }
}

/// Labels that mark every object of one exported topology.
pub fn labels(topology: &Topology, service: Option<&str>) -> Value {
    let mut l = json!({
        "app.kubernetes.io/part-of": format!("topolab-{}", topology.name),
        "app.kubernetes.io/managed-by": "topolab",
    });
    if let Some(s) = service {
        l["app.kubernetes.io/name"] = json!(s);
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_grow_with_workers_and_queue() {
        let t = topolab_model::load_str(
            "t.yaml",
            "name: t\nservices:\n  a:\n    workers: 1\n    queue: 10\n    endpoints:\n      E:\n        steps:\n          - work: 1ms\n  b:\n    workers: 64\n    queue: 1000\n    endpoints:\n      E:\n        steps:\n          - work: 1ms\n",
            &[],
        )
        .unwrap()
        .topology;
        let a = Requests::of(t.service("a").unwrap());
        let b = Requests::of(t.service("b").unwrap());
        assert_eq!(
            a,
            Requests {
                millicpu: 150,
                memory_mib: 25
            }
        );
        assert_eq!(
            b.millicpu, 1000,
            "capped at the one core its runtime can use"
        );
        assert_eq!(b.memory_mib, 24 + 17);
        assert_eq!(a.cpus(), "0.15");
    }
}
