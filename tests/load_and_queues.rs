//! Real runs of small topologies: the counts add up after drain, a full queue
//! rejects with RESOURCE_EXHAUSTED and never grows past its bound, injected
//! errors come back, and blocking and async servers differ as the spec says.

mod common;

use common::{Sandbox, assert_binomial, assert_counts_add_up};

#[test]
fn overloaded_single_worker_rejects_and_queue_stays_bounded() {
    let sb = Sandbox::new();
    let s = sb.run_yaml(
        r#"
name: overload
services:
  cook:
    workers: 1
    queue: 3
    endpoints:
      Cook:
        steps:
          - work: 20ms
load:
  crowd:
    target: cook/Cook
    rate: 200/s
    arrivals: constant
    duration: 1s
settings:
  seed: 1
"#,
        &["--quiet"],
    );
    let load = &s["load"]["crowd"];
    assert_counts_add_up(load);
    // One worker at 20 ms serves ~50/s; 200/s arrive, so most are turned away.
    let rejected = load["rejected"].as_u64().unwrap();
    let sent = load["sent"].as_u64().unwrap();
    assert!(rejected > sent / 2, "expected most rejected: {load}");
    assert!(load["ok"].as_u64().unwrap() > 10, "some are served: {load}");
    let cook = &s["services"]["cook"]["endpoints"]["Cook"];
    assert!(
        cook["max_queue"].as_u64().unwrap() <= 3,
        "queue past its bound: {cook}"
    );
    assert_eq!(
        cook["rejected"], load["rejected"],
        "server and client agree on rejections"
    );
    assert_eq!(cook["requests"], load["sent"]);
}

#[test]
fn injected_errors_come_back_at_their_rate() {
    let sb = Sandbox::new();
    let s = sb.run_yaml(
        r#"
name: flaky
services:
  api:
    workers: 8
    endpoints:
      Get:
        errors: 50% UNAVAILABLE
load:
  users:
    target: api/Get
    rate: 200/s
    duration: 2s
settings:
  seed: 7
"#,
        &["--quiet"],
    );
    let load = &s["load"]["users"];
    assert_counts_add_up(load);
    let sent = load["sent"].as_u64().unwrap();
    let unavailable = load["errors"]["UNAVAILABLE"].as_u64().unwrap();
    // ~400 requests: 200 ± 40 (4σ).
    assert_binomial("UNAVAILABLE", unavailable, sent, 0.5);
    assert_eq!(load["ok"].as_u64().unwrap() + unavailable, sent);
}

/// With one worker that calls a slow callee, a blocking server serves one
/// request per callee round trip; an async one overlaps them.
#[test]
fn blocking_holds_the_worker_across_calls_async_does_not() {
    let topology = |model: &str| {
        format!(
            r#"
name: models
services:
  front:
    workers: 1
    queue: 100
    model: {model}
    endpoints:
      Get:
        steps:
          - work: 1ms
          - call: slow/Wait
  slow:
    workers: 50
    endpoints:
      Wait:
        steps:
          - work: 50ms
load:
  clients:
    target: front/Get
    clients: 10
    duration: 2s
settings:
  seed: 3
"#
        )
    };
    let blocking = Sandbox::new().run_yaml(&topology("blocking"), &["--quiet"]);
    let asynch = Sandbox::new().run_yaml(&topology("async"), &["--quiet"]);
    let thr = |s: &serde_json::Value| s["load"]["clients"]["throughput"].as_f64().unwrap();
    let (b, a) = (thr(&blocking), thr(&asynch));
    // Blocking: ≤ 1/51ms ≈ 19.6/s. Async: 10 clients / ~52 ms ≈ 190/s.
    assert!(b < 22.0, "blocking throughput {b}/s should be ~19/s");
    assert!(a > 3.0 * b, "async {a}/s should far exceed blocking {b}/s");
    let queue_p50 = |s: &serde_json::Value| {
        s["services"]["front"]["endpoints"]["Get"]["queue_wait_ms"]["p50"]
            .as_f64()
            .unwrap()
    };
    assert!(
        queue_p50(&blocking) > 100.0,
        "blocking requests queue behind the held worker"
    );
    for s in [&blocking, &asynch] {
        assert_counts_add_up(&s["load"]["clients"]);
    }
}

/// In the chain every service sees exactly the requests its caller sent.
#[test]
fn chain_every_service_sees_what_its_caller_sent() {
    let sb = Sandbox::new();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/chain.yaml");
    let out = sb.run(&file, &["--quiet", "--duration", "2s"]);
    assert!(out.status.success());
    let s = sb.summary();
    let load = &s["load"]["shoppers"];
    assert_counts_add_up(load);
    let sent = load["sent"].as_u64().unwrap();
    assert!(sent > 50, "the load reached the chain: {load}");
    let services = &s["services"];
    let requests =
        |svc: &str, ep: &str| services[svc]["endpoints"][ep]["requests"].as_u64().unwrap();
    let attempts =
        |svc: &str, callee: &str| services[svc]["calls"][callee]["attempts"].as_u64().unwrap();
    assert_eq!(requests("gateway", "PlaceOrder"), sent);
    assert_eq!(
        requests("orders", "Create"),
        attempts("gateway", "orders/Create")
    );
    assert_eq!(
        requests("inventory", "Reserve"),
        attempts("orders", "inventory/Reserve")
    );
    assert_eq!(requests("db", "Update"), attempts("inventory", "db/Update"));
    assert_eq!(
        attempts("gateway", "orders/Create"),
        sent,
        "no retries configured"
    );
    // Each hop's latency includes everything below it.
    let p50 = |svc: &str, ep: &str| {
        services[svc]["endpoints"][ep]["latency_ms"]["p50"]
            .as_f64()
            .unwrap()
    };
    assert!(p50("gateway", "PlaceOrder") > p50("orders", "Create"));
    assert!(p50("orders", "Create") > p50("inventory", "Reserve"));
    assert!(p50("inventory", "Reserve") > p50("db", "Update"));
}

#[test]
fn closed_loop_with_think_time_and_a_constant_open_loop_count() {
    let sb = Sandbox::new();
    let s = sb.run_yaml(
        r#"
name: loops
services:
  api:
    workers: 4
    endpoints:
      Get:
        steps:
          - work: 2ms
load:
  steady:
    target: api/Get
    rate: 100/s
    arrivals: constant
    duration: 2s
  thinkers:
    target: api/Get
    clients: 2
    think: 100ms
    duration: 2s
"#,
        &["--quiet", "--seed", "5"],
    );
    let steady = &s["load"]["steady"];
    assert_counts_add_up(steady);
    let sent = steady["sent"].as_u64().unwrap();
    assert!(
        (199..=201).contains(&sent),
        "constant 100/s for 2 s sent {sent}"
    );
    let thinkers = &s["load"]["thinkers"];
    assert_counts_add_up(thinkers);
    // 2 clients, each ~102 ms a round: ~39 in 2 s, never more than 2 at once.
    let n = thinkers["sent"].as_u64().unwrap();
    assert!((20..=42).contains(&n), "closed loop sent {n}");
    assert_eq!(s["seed"], 5);
}
