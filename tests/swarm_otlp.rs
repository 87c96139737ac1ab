//! `run --on swarm --otlp-endpoint URL --otlp-only`: the replicas in
//! containers and the load driver send their spans to a collector outside
//! the stack, as a local run does, and the run folder holds no
//! `traces.jsonl`; a loopback endpoint, which containers cannot reach, is
//! refused with the reason before anything is deployed.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;

use common::swarm::{leftovers, run_on_swarm};
use common::{Sandbox, peers, require_peer};
use topolab_collector::{RunTraces, TraceOptions};
use topolab_results::trace::{self, Kind};

/// This machine's address on `docker_gwbridge`, which every container of a
/// Swarm service reaches (its way out of the overlay).
fn gateway() -> IpAddr {
    let out = Command::new("docker")
        .args([
            "network",
            "inspect",
            "docker_gwbridge",
            "--format",
            "{{(index .IPAM.Config 0).Gateway}}",
        ])
        .output()
        .expect("docker");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("docker_gwbridge's gateway")
}

#[test]
fn spans_reach_an_outside_collector_from_the_containers() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let sb = Sandbox::new();
    // The outside collector: topolab's own OTLP/gRPC receiver, in this test
    // process, writing what it receives to a folder of its own.
    let chain = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/chain.yaml");
    let settings = topolab_model::load(&chain, &[]).unwrap().topology.settings;
    let outside = sb.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = TraceOptions {
        listen: Some(SocketAddr::new(gateway(), 0)),
        ..TraceOptions::default()
    };
    let receiver = rt
        .block_on(RunTraces::start(&settings, &outside, opts))
        .unwrap();
    let endpoint = format!("http://{}", receiver.collector_addr().unwrap());
    let (summary, stack) = run_on_swarm(
        &sb,
        "topologies/chain.yaml",
        &[
            "--duration",
            "3s",
            "--otlp-endpoint",
            &endpoint,
            "--otlp-only",
        ],
    );
    // The replicas' last batches leave within 200 ms of their spans.
    std::thread::sleep(std::time::Duration::from_millis(500));
    rt.block_on(receiver.finish((0, 0)));
    assert_eq!(summary["traces"]["otlp_endpoint"], endpoint.as_str());
    assert!(
        !sb.out().join("traces.jsonl").exists(),
        "--otlp-only: no traces.jsonl"
    );
    let traces = trace::load(&outside).expect("the outside collector's traces");
    let ok = summary["load"]["shoppers"]["ok"].as_u64().unwrap();
    // Every OK request reached every replica: its load span and four
    // SERVER spans, one per container, arrived outside under one trace.
    let whole = traces
        .iter()
        .filter(|t| {
            t.spans.iter().any(|s| s.process == "load/shoppers")
                && ["gateway#0", "orders#0", "inventory#0", "db#0"]
                    .iter()
                    .all(|p| {
                        t.spans
                            .iter()
                            .any(|s| s.kind == Kind::Server && s.process == *p)
                    })
        })
        .count() as u64;
    assert!(
        whole * 10 >= ok * 9,
        "{whole} of {ok} OK requests arrived whole at the outside collector"
    );
    assert_eq!(leftovers(&stack), Vec::<String>::new());
}

#[test]
fn a_loopback_endpoint_is_refused_before_deploying() {
    if !require_peer(&peers::SWARM) {
        return;
    }
    let sb = Sandbox::new();
    let out = sb
        .command(&[
            "run",
            "topologies/chain.yaml",
            "--on",
            "swarm",
            "--otlp-endpoint",
            "http://127.0.0.1:4317",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("a loopback address is each container's own"),
        "{said}"
    );
    assert!(!said.contains("deploying"), "{said}");
}
