//! Hundreds of replicas on the real binary: 320 processes (a balancer in
//! front of 319) start, all answer their health checks, serve a few hundred
//! requests spread over every one of them, and stop with the run. The
//! terminal lists a dozen replicas, not 320; `replicas.csv` has them all, and
//! `timeseries.csv` keeps a row per replica per interval even for replicas
//! that parked their sampler while idle. A debug build on a busy two-core
//! box: tolerances are about behaviour, never speed.

mod common;

use std::time::Duration;

use common::{Sandbox, assert_counts_add_up};
use serde_json::Value;

const FLEET: usize = 319;

fn topology() -> String {
    format!(
        "
name: scale
settings: {{ seed: 3 }}
services:
  lb:
    kind: balancer
    backend: fleet
    policy: round_robin
  fleet:
    replicas: {FLEET}
    workers: 2
    endpoints:
      Get: {{ steps: [ {{work: 1ms}} ] }}
load:
  users: {{ target: lb/Get, rate: 160/s, duration: 4s, timeout: 5s }}
"
    )
}

#[test]
fn three_hundred_twenty_replicas_start_serve_and_stop() {
    let sb = Sandbox::new();
    let file = sb.file("scale.yaml", &topology());
    let out = sb.run(&file, &["--quiet"]);
    assert!(out.status.success(), "run failed: {:?}", out.status);
    let s = sb.summary();
    assert_eq!(s["processes"].as_u64(), Some(FLEET as u64 + 1));

    let load = &s["load"]["users"];
    assert_counts_add_up(load);
    let sent = load["sent"].as_u64().unwrap();
    let ok = load["ok"].as_u64().unwrap();
    assert!(sent >= 500, "the generator sent {sent} of 640");
    // Served, not merely started: most requests made it through two hops.
    assert!(ok * 2 >= sent, "only {ok} of {sent} answered OK");

    // Round-robin over 319 replicas with 500+ requests reaches every one.
    let per: Vec<u64> = s["services"]["fleet"]["endpoints"]["Get"]["per_replica"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(per.len(), FLEET);
    let idle = per.iter().filter(|n| **n == 0).count();
    assert_eq!(idle, 0, "{idle} replicas served nothing: {per:?}");

    let csv = std::fs::read_to_string(sb.out().join("replicas.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        FLEET + 2,
        "a header and a line per replica"
    );
    assert!(csv.contains("fleet#318,127.0.0.1:"), "{}", &csv[..200]);

    // One row per replica per interval: the replicas parked between their
    // requests still have their quiet rows.
    let rows = std::fs::read_to_string(sb.out().join("timeseries.csv")).unwrap();
    let fleet_rows = rows.lines().filter(|l| l.contains(",fleet,")).count();
    let intervals = (s["duration_s"].as_f64().unwrap() / 0.1).floor() as usize;
    assert!(
        fleet_rows >= FLEET * intervals * 9 / 10,
        "{fleet_rows} fleet rows for {intervals} intervals of {FLEET} replicas"
    );

    let left = sb.wait_all_gone(Duration::from_secs(10));
    assert!(left.is_empty(), "processes outlived the run: {left:?}");
}

/// Without `--quiet` a run of 320 replicas prints a dozen of their metrics
/// addresses and points at `replicas.csv` for the rest.
#[test]
fn the_terminal_lists_a_dozen_replicas_not_all() {
    let sb = Sandbox::new();
    let file = sb.file(
        "scale.yaml",
        &topology().replace("duration: 4s", "duration: 500ms"),
    );
    let out = sb.run(&file, &[]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let listed = stderr.lines().filter(|l| l.contains("/metrics")).count();
    assert!(listed <= 12, "{listed} metrics lines:\n{stderr}");
    assert!(
        stderr.contains("more, every one in replicas.csv"),
        "{stderr}"
    );
    let summary: Value = sb.summary();
    assert_eq!(summary["processes"].as_u64(), Some(FLEET as u64 + 1));
}
