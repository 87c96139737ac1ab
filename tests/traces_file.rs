//! `traces.jsonl` on real runs: written as spans arrive in the OpenTelemetry
//! file-exporter format (every line read by the Python `opentelemetry-proto`
//! types), and, when a run outgrows `settings.trace_budget`, thinned by the
//! keeping policy without losing a single trace of a failed request.

mod common;

use std::process::Command;

use common::{Sandbox, peers, require_peer};
use topolab_results::trace;

/// One service failing a share of its requests, flooded for long enough that
/// its traces outgrow a small budget.
const FLAKY: &str = "name: flaky
services:
  echo:
    workers: 8
    endpoints:
      Hi:
        steps:
          - work: 1ms
          - call: back/Get
  back:
    workers: 8
    endpoints:
      Get:
        steps:
          - work: 200us
load:
  users:
    target: echo/Hi
    rate: 400/s
    duration: 2s
faults:
  - { at: 0s, target: back, errors: 5% UNAVAILABLE }
settings:
  seed: 5
  trace_budget: 256KiB
";

fn python_reads(path: &std::path::Path) -> (u64, u64) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otlp/check_jsonl.py");
    let py = Command::new("python3")
        .args([script, path.to_str().unwrap()])
        .output()
        .expect("python3");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let out = String::from_utf8_lossy(&py.stdout);
    let mut it = out.split_whitespace().map(|n| n.parse::<u64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

#[test]
fn every_line_is_otlp_traces_data_for_the_python_types() {
    if !require_peer(&peers::PYTHON_OTLP_PROTO) {
        return;
    }
    let sb = Sandbox::new();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/chain.yaml");
    let out = sb.run(
        &path,
        &["--duration", "1s", "--set", "load.shoppers.rate=30/s", "-q"],
    );
    assert!(out.status.success());
    let file = sb.out().join("traces.jsonl");
    let (lines, spans) = python_reads(&file);
    let t = &sb.summary()["traces"];
    assert!(lines >= 1);
    assert_eq!(spans, t["spans_written"].as_u64().unwrap(), "{t}");
    assert_eq!(spans, t["spans_received"].as_u64().unwrap(), "{t}");
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        t["file_bytes"].as_u64().unwrap()
    );
    assert!(
        t["keeping"]["policy"]
            .as_str()
            .unwrap()
            .starts_with("every trace kept")
    );
    assert!(!sb.out().join("traces.json").exists());
}

#[test]
fn an_exceeded_budget_keeps_every_error_trace() {
    if !require_peer(&peers::PYTHON_OTLP_PROTO) {
        return;
    }
    let sb = Sandbox::new();
    let summary = sb.run_yaml(FLAKY, &["-q"]);
    let users = &summary["load"]["users"];
    let failed = users["sent"].as_u64().unwrap() - users["ok"].as_u64().unwrap();
    assert!(failed >= 5, "the fault failed too few requests: {users}");
    let t = &summary["traces"];
    let k = &t["keeping"];
    assert_eq!(t["spans_dropped"].as_u64().unwrap(), 0, "{t}");
    assert!(k["thinning_from_s"].as_f64().is_some(), "{k}");
    assert!(k["left_out"].as_u64().unwrap() > 0, "{k}");
    assert_eq!(k["errors_left_out"].as_u64().unwrap(), 0, "{k}");
    let budget = t["budget_bytes"].as_u64().unwrap();
    assert_eq!(budget, 256 << 10);
    assert!(t["file_bytes"].as_u64().unwrap() <= 2 * budget, "{t}");

    let traces = trace::load(&sb.out()).unwrap();
    let failed_in_file = traces
        .iter()
        .filter(|t| {
            t.root()
                .is_some_and(|r| r.process == "load/users" && r.is_error())
        })
        .count() as u64;
    assert_eq!(
        failed_in_file, failed,
        "every failed request's trace is kept"
    );
    let kept = k["kept_under_budget"].as_u64().unwrap()
        + k["kept_error"].as_u64().unwrap()
        + k["kept_slow"].as_u64().unwrap()
        + k["kept_sampled"].as_u64().unwrap();
    assert_eq!(
        kept + k["left_out"].as_u64().unwrap(),
        k["traces_seen"].as_u64().unwrap()
    );
    assert_eq!(traces.len() as u64, kept, "{k}");
    python_reads(&sb.out().join("traces.jsonl"));
}

#[test]
fn the_trace_command_streams_the_file() {
    let sb = Sandbox::new();
    sb.run_yaml(FLAKY, &["-q", "--set", "settings.trace_budget=64MiB"]);
    let dir = sb.out();
    let dir = dir.to_str().unwrap();
    let out = sb.command(&["trace", dir, "--errors"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = sb.summary();
    let users = &summary["load"]["users"];
    let failed = users["sent"].as_u64().unwrap() - users["ok"].as_u64().unwrap();
    let sent = users["sent"].as_u64().unwrap();
    assert!(
        text.starts_with(&format!("{failed} of {sent} traces failed somewhere")),
        "{text}"
    );
}
