//! `topolab replica`: this process becomes one replica started by anyone (a
//! container engine, a shell), not by `run`: the topology comes from a file,
//! the rest from flags or `TOPOLAB_*` variables, it listens where it is told,
//! and it finds its callees by DNS. Exit 1 for an invalid topology or flag,
//! 2 when it cannot serve.

use std::hash::{Hash, Hasher};
use std::process::ExitCode;

use topolab_services::ReplicaSpec;
use topolab_services::discovery::Discovery;

use super::{EXIT_INVALID, EXIT_SANDBOX};
use crate::cli::ReplicaArgs;

/// The port `/metrics` is served on when `--metrics` is not given.
pub const METRICS_PORT: u16 = 9464;

/// Serves until SIGTERM/SIGINT or `Control/Shutdown`.
pub fn replica(args: ReplicaArgs) -> ExitCode {
    let spec = match spec(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e:#}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let listener = match std::net::TcpListener::bind(args.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("replica failed: binding {}: {e}", args.listen);
            return ExitCode::from(EXIT_SANDBOX);
        }
    };
    eprintln!(
        "{} serving gRPC on {}, /metrics on {}",
        spec.replica_name(),
        args.listen,
        spec.metrics.as_deref().unwrap_or("-")
    );
    match topolab_services::run_standalone(spec, listener) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replica failed: {e:#}");
            ExitCode::from(EXIT_SANDBOX)
        }
    }
}

fn spec(args: &ReplicaArgs) -> anyhow::Result<ReplicaSpec> {
    let loaded = topolab_model::load(&args.topology, &[]).map_err(|r| anyhow::anyhow!("{r}"))?;
    let topology = loaded.topology;
    anyhow::ensure!(
        topology.service(&args.service).is_some(),
        "service {:?} is not in {} (it has: {}); mend --service or TOPOLAB_SERVICE",
        args.service,
        args.topology.display(),
        topology
            .services
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let every = topolab_model::values::duration(&args.resolve_every).map_err(|e| {
        anyhow::anyhow!(
            "--resolve-every {:?}: {}; expected {}",
            args.resolve_every,
            e.problem,
            e.expected
        )
    })?;
    let index = match (args.index, args.slot) {
        (Some(i), _) => i,
        (None, Some(0)) => anyhow::bail!("--slot counts from 1 (Swarm's {{{{.Task.Slot}}}})"),
        (None, Some(slot)) => slot - 1,
        (None, None) => 0,
    };
    let mut seed = args.seed.or(topology.settings.seed).unwrap_or_default();
    if args.index.is_none() && args.slot.is_none() {
        // Replicas without an index (a Kubernetes Deployment's pods) would
        // all draw the same stream: mix in the host name to keep them apart.
        seed ^= host_hash();
    }
    let metrics = match &args.metrics {
        Some(m) => m.clone(),
        None => std::net::SocketAddr::new(args.listen.ip(), METRICS_PORT).to_string(),
    };
    Ok(ReplicaSpec {
        topology,
        service: args.service.clone(),
        index,
        peers: Default::default(),
        seed,
        otlp_endpoints: args.otlp_endpoints.clone(),
        metrics: Some(metrics),
        load_start_unix_us: None,
        discovery: Some(Discovery {
            name: args.peers_dns.clone(),
            port: args.listen.port(),
            every,
        }),
    })
}

fn host_hash() -> u64 {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.trim().hash(&mut h);
    h.finish()
}
