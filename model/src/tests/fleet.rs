//! Many servers in the model: balancers mirror their backend, sessions,
//! restart and deadlines, call policies with their defaults, the faults
//! timeline, and the located errors each of them can give.

use std::time::Duration;

use crate::*;

const FLEET: &str = "\
name: fleet
services:
  lb:
    kind: balancer
    backend: api
    policy: least_requests
  api:
    replicas: 3
    balance: p2c
    restart: always
    deadlines: ignore
    endpoints:
      Feed:
        steps:
          - call: cart/Get
            retries: 3
            backoff: 10ms
            backoff_multiplier: 2x
            jitter: 50%
            retry_budget: 10%
            breaker: { failures: 40%, window: 2s, min_calls: 5, open_for: 1s, probes: 2 }
      Ping: {}
  cart:
    replicas: 2
    balance: sticky
    state: sessions
    session_miss:
      - call: db/Load
    endpoints:
      Get: { steps: [ {work: 1ms} ] }
  db:
    endpoints:
      Load: {}
load:
  users:
    target: lb/Feed
    rate: 10/s
    duration: 5s
    sessions: 50
faults:
  - { at: 1s, for: 2s, target: db, slow: 10x }
  - { at: 2s, target: api#1, kill: true }
  - { at: 3s, for: 500ms, target: cart, errors: 50% UNAVAILABLE }
  - { at: 4s, for: 1s, target: cart#0, pause: true }
";

#[test]
fn a_fleet_with_every_new_key() {
    let t = load_str("fleet.yaml", FLEET, &[]).unwrap().topology;
    let lb = t.service("lb").unwrap();
    assert_eq!(
        lb.kind,
        Kind::Balancer {
            backend: "api".into(),
            policy: Balance::LeastRequests
        }
    );
    assert_eq!(lb.workers, DEFAULT_BALANCER_WORKERS);
    let names: Vec<&str> = lb.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Feed", "Ping"]);
    let Step::Call(fwd) = &lb.endpoints[0].steps[0] else {
        panic!("a balancer endpoint forwards: {:?}", lb.endpoints[0]);
    };
    assert_eq!(
        (fwd.service.as_str(), fwd.endpoint.as_str()),
        ("api", "Feed")
    );
    assert_eq!((fwd.timeout, fwd.retries), (FORWARD_TIMEOUT, 0));

    let api = t.service("api").unwrap();
    assert_eq!(api.balance, Balance::P2c);
    assert_eq!(
        (api.restart, api.deadlines),
        (Restart::Always, Deadlines::Ignore)
    );
    let Step::Call(c) = &api.endpoints[0].steps[0] else {
        panic!()
    };
    assert_eq!(c.retry_budget, Some(RetryBudget { ratio: 0.1 }));
    assert_eq!(
        c.backoff_shape,
        BackoffShape {
            multiplier: 2.0,
            jitter: 0.5
        }
    );
    assert_eq!(
        c.breaker,
        Some(Breaker {
            failures: 0.4,
            window: Duration::from_millis(2000),
            min_calls: 5,
            open_for: Duration::from_millis(1000),
            probes: 2
        })
    );

    let cart = t.service("cart").unwrap();
    assert_eq!(
        (cart.balance, cart.state),
        (Balance::Sticky, State::Sessions)
    );
    assert!(matches!(&cart.session_miss[..], [Step::Call(c)] if c.service == "db"));
    assert_eq!(t.load[0].sessions, 50);

    let kinds: Vec<String> = t.faults.iter().map(|f| f.action.to_string()).collect();
    assert_eq!(
        kinds,
        ["slow 10x", "kill", "errors 50% UNAVAILABLE", "pause"]
    );
    assert_eq!(t.faults[0].duration, Some(Duration::from_millis(2000)));
    assert_eq!(t.faults[1].duration, None);
    assert_eq!(t.faults[1].target.to_string(), "api#1");
    assert_eq!(t.faults[3].at, Duration::from_millis(4000));
}

#[test]
fn calls_get_a_retry_budget_by_default_and_none_turns_it_off() {
    let text = "name: t\nservices:\n  a:\n    endpoints:\n      X:\n        steps:\n          - call: b/Y\n          - call: b/Y\n            retry_budget: none\n  b:\n    endpoints: { Y: }\n";
    let t = load_str("t.yaml", text, &[]).unwrap().topology;
    let steps = &t.services[0].endpoints[0].steps;
    let budgets: Vec<_> = steps
        .iter()
        .map(|s| match s {
            Step::Call(c) => c.retry_budget,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(budgets, [Some(DEFAULT_RETRY_BUDGET), None]);
}

#[test]
fn an_empty_breaker_is_the_defaults() {
    let text = "name: t\nservices:\n  a:\n    endpoints:\n      X:\n        steps:\n          - call: b/Y\n            breaker: {}\n  b:\n    endpoints: { Y: }\n";
    let t = load_str("t.yaml", text, &[]).unwrap().topology;
    let Step::Call(c) = &t.services[0].endpoints[0].steps[0] else {
        panic!()
    };
    assert_eq!(c.breaker, Some(DEFAULT_BREAKER));
}

/// Every error of `text` as (message, line:col).
fn errors(text: &str) -> Vec<(String, String)> {
    let report = load_str("t.yaml", text, &[]).expect_err("should be refused");
    report
        .errors
        .iter()
        .map(|e| {
            let mut lines = e.lines();
            let m = lines
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ");
            let at = lines.next().unwrap_or_default().trim();
            (
                m.to_string(),
                at.trim_start_matches("--> t.yaml:").to_string(),
            )
        })
        .collect()
}

fn e(m: &str, at: &str) -> (String, String) {
    (m.to_string(), at.to_string())
}

#[test]
fn balancer_mistakes_are_located() {
    let text = "\
name: t
services:
  lb:
    kind: balancer
    backend: apj
    policy: fastest
  lb2:
    kind: balancer
    backend: lb
  lb3:
    kind: balancer
    endpoints: { X: }
  api:
    policy: p2c
    endpoints: { X: }
";
    assert_eq!(
        errors(text),
        [
            e("unknown service `apj` as the backend of `lb`", "5:14"),
            e("invalid `policy`: unknown value `fastest`", "6:13"),
            e("the backend of `lb2` is `lb`, another balancer", "9:14"),
            e("balancer `lb3` needs `backend`", "10:3"),
            e("a balancer has no endpoints of its own", "12:5"),
            e("`policy` applies only to `kind: balancer`", "14:5"),
        ]
    );
}

#[test]
fn a_call_through_a_balancer_back_to_itself_is_a_cycle() {
    let text = "\
name: t
services:
  lb:
    kind: balancer
    backend: api
  api:
    endpoints:
      X:
        steps:
          - call: lb/X
";
    let got = errors(text);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].0.starts_with("call cycle: "), "{got:?}");
}

#[test]
fn policy_and_session_mistakes_are_located() {
    let text = "\
name: t
services:
  a:
    session_miss: []
    endpoints:
      X:
        steps:
          - call: b/Y
            retry_budget: lots
            backoff_multiplier: 0.5x
            breaker: { failures: 0%, windw: 1s }
  b:
    endpoints: { Y: }
";
    assert_eq!(
        errors(text),
        [
            e("`session_miss` applies only with `state: sessions`", "4:5"),
            e(
                "invalid `retry_budget`: `lots` does not start with a number",
                "9:27"
            ),
            e(
                "`backoff_multiplier` must be at least 1x, found `0.5x`",
                "10:33"
            ),
            e("`failures` must be above 0%", "11:34"),
            e("unknown key `windw` in `breaker`", "11:38"),
        ]
    );
}

#[test]
fn fault_mistakes_are_located() {
    let text = "\
name: t
services:
  db:
    replicas: 2
    endpoints: { X: }
faults:
  - { at: 1s, target: db#2, slow: 2x }
  - { at: 1s, target: dv, pause: true }
  - { at: 1s, for: 1s, target: db, kill: true }
  - { at: 1s, target: db, slow: 2x, pause: true }
  - { target: db, kill: yes }
  - { at: 1s, target: db }
";
    assert_eq!(
        errors(text),
        [
            e("`db` has 2 replica(s), so there is no `db#2`", "7:23"),
            e("unknown service `dv` in fault target", "8:23"),
            e("`for` does not apply to `kill`", "9:15"),
            e(
                "a fault does one thing, but this one has `slow` and `pause`",
                "10:37"
            ),
            e("a fault needs `at`", "11:5"),
            e("`kill` takes `true`", "11:25"),
            e(
                "a fault needs one of `slow`, `errors`, `kill` or `pause`",
                "12:5"
            ),
        ]
    );
}
