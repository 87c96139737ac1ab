//! `updates` on a service and `poll`, `long_poll`, `subscribe` on a
//! generator: what a valid file becomes, and each mistake with its place.

use std::time::Duration;

use super::errors_of;
use crate::*;

fn e(message: &str, at: &str) -> (String, String) {
    (format!("error: {message}"), format!("t.yaml:{at}"))
}

const SCORES: &str = "name: t
services:
  scores:
    updates: exp(2s)
    endpoints:
      Latest:
        steps:
          - work: 1ms
  lb:
    kind: balancer
    backend: scores
  plain:
    endpoints: { Get: }
load:
";

#[test]
fn the_three_ways_become_closed_loops_that_follow() {
    let text = format!(
        "{SCORES}  pollers:\n    target: scores/Latest\n    clients: 100\n    poll: 1s\n    duration: 10s\n  long:\n    target: scores/Latest\n    clients: 10\n    long_poll: 30s\n    duration: 10s\n  subs:\n    subscribe: scores/Latest\n    clients: 5\n    duration: 10s\n"
    );
    let t = load_str("t.yaml", &text, &[]).expect("valid").topology;
    let scores = t.service("scores").expect("scores");
    assert_eq!(
        scores.updates,
        Some(Dist::Exp {
            mean: Duration::from_secs(2)
        })
    );
    let follow: Vec<_> = t.load.iter().map(|g| g.follow).collect();
    assert_eq!(
        follow,
        [
            Some(Follow::Poll {
                interval: Duration::from_secs(1)
            }),
            Some(Follow::LongPoll {
                timeout: Duration::from_secs(30)
            }),
            Some(Follow::Subscribe),
        ]
    );
    assert_eq!(t.load[2].target.to_string(), "scores/Latest");
    for g in &t.load {
        assert!(matches!(g.pattern, Pattern::Closed { think: None, .. }));
    }
}

#[test]
fn balancers_forward_the_three_ways_to_a_backend_with_updates() {
    let text = format!(
        "{SCORES}  long:\n    target: lb/Latest\n    clients: 2\n    long_poll: 5s\n    duration: 5s\n  subs:\n    subscribe: lb/Latest\n    clients: 2\n    duration: 5s\n"
    );
    let t = load_str("t.yaml", &text, &[]).expect("valid").topology;
    assert_eq!(t.data_of("lb").map(|s| s.name.as_str()), Some("scores"));
    let text = "name: t\nservices:\n  a:\n    endpoints: { X: }\n  lb:\n    kind: balancer\n    backend: a\nload:\n  s:\n    subscribe: lb/X\n    clients: 1\n    duration: 5s\n";
    assert_eq!(
        errors_of(text),
        [e(
            "`subscribe` follows `lb/X` (through balancer `lb`), whose data never changes",
            "10:16"
        )]
    );
}

#[test]
fn mistakes_are_located() {
    let text = format!(
        "{SCORES}  a:\n    target: plain/Get\n    clients: 1\n    poll: 1s\n    duration: 5s\n  b:\n    target: scores/Latest\n    rate: 5/s\n    long_poll: 10s\n    duration: 5s\n  c:\n    subscribe: lb/Latest\n    clients: 1\n    duration: 5s\n  d:\n    target: scores/Latest\n    subscribe: scores/Latest\n    clients: 1\n    duration: 5s\n  f:\n    target: scores/Latest\n    clients: 1\n    poll: 0s\n    duration: 5s\n"
    );
    assert_eq!(
        errors_of(&text),
        [
            e(
                "`poll` follows `plain/Get`, whose data never changes",
                "18:11"
            ),
            e("`rate` does not go with `long_poll`", "22:5"),
            e("`target` does not go with `subscribe`", "30:5"),
            e("`poll` must be longer than zero", "37:11"),
        ]
    );
}

#[test]
fn updates_must_be_a_slow_enough_distribution_on_a_service() {
    let text = "name: t\nservices:\n  a:\n    updates: exp(1ms)\n    endpoints: { X: }\n  lb:\n    kind: balancer\n    backend: a\n    updates: 1s\n";
    assert_eq!(
        errors_of(text),
        [
            e(
                "`updates` has a mean gap of 1ms, below the limit of 10ms",
                "4:14"
            ),
            e("a balancer has no data of its own to update", "9:5"),
        ]
    );
}
