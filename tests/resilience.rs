//! Resilience policies and faults on the real binary: a callee stops working
//! for callers that timed out (and counts it), retries obey their budget,
//! the breaker opens under failures and closes after recovery, a `slow`
//! fault raises latency only inside its window, and `pause` freezes then
//! resumes a replica. Each phase of a run is its own generator, so the
//! summary shows it apart. Tolerances are loose: two busy cores.

mod common;

use common::{Sandbox, assert_counts_add_up};
use serde_json::Value;

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn p50(s: &Value, generator: &str) -> f64 {
    s["load"][generator]["latency_ms"]["p50"].as_f64().unwrap()
}

/// Three back-to-back generators `before`, `during`, `after` of `each`
/// seconds at `rate` against `target`.
fn phases(target: &str, rate: &str, each: f64, timeout: &str) -> String {
    ["before", "during", "after"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            format!(
                "  {name}: {{ target: {target}, rate: {rate}, duration: {each}s, start: {}s, timeout: {timeout} }}\n",
                i as f64 * each
            )
        })
        .collect()
}

#[test]
fn a_callee_stops_work_for_callers_that_timed_out() {
    // Both callees take 150 ms; their callers give up after 30 ms. `back`
    // honors deadlines; `back-i` ignores them and finishes the work anyway.
    let yaml = "
name: gave-up
services:
  front:
    model: async
    endpoints:
      Get:
        steps:
          - call: back-i/Get
            timeout: 30ms
            on_error: continue
          - call: back/Get
            timeout: 30ms
  back:
    queue: 10
    endpoints:
      Get: { steps: [ {work: 150ms} ] }
  back-i:
    queue: 10
    deadlines: ignore
    endpoints:
      Get: { steps: [ {work: 150ms} ] }
load:
  users: { target: front/Get, rate: 10/s, duration: 2s }
";
    let s = Sandbox::new().run_yaml(yaml, &[]);
    assert_counts_add_up(&s["load"]["users"]);
    let honor = &s["services"]["back"]["endpoints"]["Get"];
    let ignore = &s["services"]["back-i"]["endpoints"]["Get"];
    assert_eq!(
        n(&honor["ok"]),
        0,
        "no work finished for a caller gone: {honor}"
    );
    // Counted as DEADLINE_EXCEEDED (a cancel well before the deadline, as
    // CANCELLED): every request is accounted for, none succeeded.
    let ended: u64 = honor["errors"].as_object().unwrap().values().map(n).sum();
    assert_eq!(
        ended + n(&honor["rejected"]),
        n(&honor["requests"]),
        "{honor}"
    );
    let gave_up = n(&honor["errors"]["DEADLINE_EXCEEDED"]);
    assert!(2 * gave_up >= n(&honor["requests"]), "{honor}");
    // Work of 150 ms, but each request ended when its caller gave up at 30 ms.
    let longest = honor["latency_ms"]["max"].as_f64().unwrap();
    assert!(
        longest < 100.0,
        "back stopped at the caller's deadline: {honor}"
    );
    // It may still be at it when figures are collected: some are enough.
    assert!(
        n(&ignore["ok"]) >= 2,
        "back-i did the work nobody waited for: {ignore}"
    );
}

#[test]
fn retries_obey_the_budget() {
    let yaml = "
name: budget
services:
  api:
    model: async
    endpoints:
      Get:
        steps:
          - call: db/Get
            retries: 5
            retry_budget: none
  api-b:
    model: async
    endpoints:
      Get:
        steps:
          - call: db/Get
            retries: 5
            retry_budget: 10%
  db:
    workers: 8
    endpoints:
      Get: { errors: 100% UNAVAILABLE }
load:
  free: { target: api/Get, rate: 100/s, duration: 2s }
  budgeted: { target: api-b/Get, rate: 100/s, duration: 2s }
";
    let s = Sandbox::new().run_yaml(yaml, &[]);
    let free = &s["services"]["api"]["calls"]["db/Get"];
    let calls = n(&s["load"]["free"]["sent"]);
    assert_eq!(n(&free["retries"]), 5 * calls, "{free}");
    let budgeted = &s["services"]["api-b"]["calls"]["db/Get"];
    let calls = n(&s["load"]["budgeted"]["sent"]) as f64;
    // 10% of first attempts, plus the floor of 1 retry/s over a 10 s window.
    let cap = 0.1 * calls + 10.0 + 2.0;
    assert!(
        (n(&budgeted["retries"]) as f64) <= cap,
        "{budgeted} (cap {cap})"
    );
    assert!(n(&budgeted["retries_denied"]) > 0, "{budgeted}");
    assert_eq!(
        n(&budgeted["attempts"]),
        calls as u64 + n(&budgeted["retries"]),
        "{budgeted}"
    );
}

#[test]
fn the_breaker_opens_under_failures_and_closes_after_recovery() {
    let yaml = format!(
        "
name: breaker
services:
  api:
    model: async
    endpoints:
      Get:
        steps:
          - call: db/Get
            breaker: {{ failures: 50%, window: 1s, min_calls: 5, open_for: 200ms, probes: 2 }}
  db:
    workers: 4
    endpoints:
      Get: {{ steps: [ {{work: 1ms}} ] }}
load:
{}faults:
  - {{ at: 1s, for: 1s, target: db, errors: 100% UNAVAILABLE }}
",
        phases("api/Get", "50/s", 1.0, "1s")
    );
    let s = Sandbox::new().run_yaml(&yaml, &[]);
    let calls = &s["services"]["api"]["calls"]["db/Get"];
    assert!(n(&calls["breaker_opened"]) >= 1, "{calls}");
    let rejected = n(&calls["breaker_rejected"]);
    assert!(rejected > 0, "{calls}");
    // Refused calls never reached db: fewer attempts than requests.
    let sent: u64 = ["before", "during", "after"]
        .iter()
        .map(|g| n(&s["load"][g]["sent"]))
        .sum();
    assert_eq!(n(&calls["attempts"]) + rejected, sent, "{calls}");
    // After the fault the breaker may stay open up to `open_for` (200 ms of
    // the 1 s phase) before its probes close it.
    for (g, share) in [("before", 0.9), ("after", 0.7)] {
        let l = &s["load"][g];
        assert!(
            n(&l["ok"]) as f64 >= share * n(&l["sent"]) as f64,
            "{g}: the breaker is closed: {l}"
        );
    }
    let f = &s["faults"][0];
    assert_eq!(f["fault"].as_str(), Some("errors 100% UNAVAILABLE"), "{f}");
    assert!(f["cleared_s"].as_f64().unwrap() >= 2.0, "{f}");
}

#[test]
fn a_slow_fault_raises_latency_only_inside_its_window() {
    let yaml = format!(
        "
name: slow
services:
  api:
    workers: 8
    endpoints:
      Get: {{ steps: [ {{work: 5ms}} ] }}
load:
{}faults:
  - {{ at: 1s, for: 1s, target: api, slow: 10x }}
",
        phases("api/Get", "30/s", 1.0, "2s")
    );
    let s = Sandbox::new().run_yaml(&yaml, &[]);
    let (before, during, after) = (p50(&s, "before"), p50(&s, "during"), p50(&s, "after"));
    assert!(
        during >= 30.0 && during >= 3.0 * before,
        "{before} {during} {after}"
    );
    assert!(after < 0.5 * during, "{before} {during} {after}");
    let f = &s["faults"][0];
    let (a, c) = (
        f["applied_s"].as_f64().unwrap(),
        f["cleared_s"].as_f64().unwrap(),
    );
    assert!((1.0..1.3).contains(&a) && (2.0..2.3).contains(&c), "{f}");
}

#[test]
fn pause_freezes_and_resumes_a_replica() {
    let yaml = format!(
        "
name: pause
services:
  api:
    workers: 8
    endpoints:
      Get: {{ steps: [ {{work: 2ms}} ] }}
load:
{}faults:
  - {{ at: 1s, for: 1s, target: api, pause: true }}
",
        phases("api/Get", "20/s", 1.0, "5s")
    );
    let s = Sandbox::new().run_yaml(&yaml, &[]);
    for g in ["before", "during", "after"] {
        let l = &s["load"][g];
        assert_counts_add_up(l);
        assert_eq!(
            n(&l["ok"]),
            n(&l["sent"]),
            "{g}: all answered once resumed: {l}"
        );
    }
    // Requests sent while frozen wait for SIGCONT: half a second on average.
    let (before, during, after) = (p50(&s, "before"), p50(&s, "during"), p50(&s, "after"));
    assert!(during >= 200.0, "{before} {during} {after}");
    assert!(before < 50.0 && after < 50.0, "{before} {during} {after}");
}
