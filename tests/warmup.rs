//! `settings.warmup` on a real run: the warmup's load reaches the replicas,
//! but none of it enters the summary, the time series or the traces, and the
//! run folder says how much was discarded.

mod common;

use std::collections::BTreeSet;

use common::{Sandbox, assert_counts_add_up};
use topolab_results::trace;

/// A warmup longer than the measured load, so a leak would show plainly:
/// 1.5 s at 200/s (~300 requests) before 1 s at 200/s (~200).
const WARM: &str = "name: warm
services:
  front:
    workers: 4
    endpoints:
      Hi:
        steps:
          - work: 1ms
          - call: back/Get
  back:
    workers: 4
    endpoints:
      Get:
        steps:
          - work: 200us
load:
  users:
    target: front/Hi
    rate: 200/s
    duration: 1s
settings:
  seed: 11
  warmup: 1500ms
  sample_every: 100ms
";

#[test]
fn the_warmup_is_sent_and_left_out_of_every_figure() {
    let sb = Sandbox::new();
    let summary = sb.run_yaml(WARM, &["-q"]);

    // The run folder says what was discarded: ~300 requests (Poisson).
    let w = &summary["warmup"];
    assert_eq!(w["duration_s"].as_f64(), Some(1.5), "{w}");
    let discarded = w["requests_sent"].as_u64().unwrap();
    assert!((200..=400).contains(&discarded), "{w}");
    assert_eq!(w["settled"].as_bool(), Some(true), "{w}");

    // Only the measured second's requests: 200 expected, σ ≈ 14.
    let users = &summary["load"]["users"];
    assert_counts_add_up(users);
    let sent = users["sent"].as_u64().unwrap();
    assert!((130..=270).contains(&sent), "sent {sent}: {users}");

    // The replicas' figures start at the boundary too: every measured
    // request, and nothing else, arrived at each hop.
    for (service, endpoint) in [("front", "Hi"), ("back", "Get")] {
        let e = &summary["services"][service]["endpoints"][endpoint];
        assert_eq!(e["requests"].as_u64(), Some(sent), "{service}: {e}");
        let errors: u64 = e["errors"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        let (ok, rejected) = (e["ok"].as_u64().unwrap(), e["rejected"].as_u64().unwrap());
        assert_eq!(ok + rejected + errors, sent, "{service}: {e}");
    }

    // The time series begin at the measured start, not before it.
    let text = std::fs::read_to_string(sb.out().join("timeseries.csv")).unwrap();
    let first: f64 = text
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(first > 0.0 && first <= 0.2, "first row at {first} s");
    let arrived: u64 = text
        .lines()
        .skip(1)
        .filter(|l| l.contains(",front,"))
        .map(|l| l.split(',').nth(5).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(arrived, sent, "timeseries arrivals at front");

    // Every trace in the file is a measured request's: one per request sent,
    // each rooted at the generator.
    let traces = trace::load(&sb.out()).unwrap();
    let roots: BTreeSet<_> = traces
        .iter()
        .filter(|t| t.root().is_some_and(|r| r.process == "load/users"))
        .map(|t| t.root().unwrap().trace_id.clone())
        .collect();
    assert_eq!(traces.len(), roots.len(), "a trace without its root");
    assert_eq!(roots.len() as u64, sent, "traces in the file");
}
