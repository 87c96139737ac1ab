//! The engine's bookkeeping, checked by invariants rather than by queueing
//! theory: a cancelled timeout is never an event, a timeout that wins ends
//! the attempt, a paused or killed callee is seen by its callers, and a
//! generated topology of ten thousand services ends every request it sent,
//! with every endpoint's and call edge's counts adding up.

use topolab_model::{Limits, load_str_with};
use topolab_sim::{Figures, Options, generate, simulate};

fn sim(yaml: &str) -> Figures {
    let loaded =
        load_str_with("test.yaml", yaml, &[], Limits::SIMULATION).unwrap_or_else(|e| panic!("{e}"));
    let opts = Options {
        seed: 7,
        hop_cost: 200_000,
        telemetry: false,
        ..Options::default()
    };
    simulate(&loaded.topology, &opts).expect("simulates")
}

fn two_tier(back_work: &str, timeout: &str, faults: &str) -> String {
    format!(
        "name: t\nservices:\n  front:\n    workers: 64\n    endpoints:\n      E:\n        steps:\n          - call: back/E\n            timeout: {timeout}\n  back:\n    workers: 64\n    endpoints:\n      E:\n        steps:\n          - work: {back_work}\nload:\n  g:\n    target: front/E\n    rate: 200/s\n    arrivals: constant\n    duration: 5s\n{faults}"
    )
}

fn outcome(f: &Figures, code: &str) -> u64 {
    f.calls[0]
        .get("back/E")
        .and_then(|c| c.outcomes.get(code).copied())
        .unwrap_or(0)
}

#[test]
fn cancelled_timeouts_are_not_events() {
    let f = sim(&two_tier("1ms", "50ms", ""));
    let sent = f.load[0].sent;
    assert_eq!(sent, 1000);
    assert_eq!(f.load[0].ok, sent);
    // Per request: the arrival, two deliveries, one work, two replies. Not
    // one of the two timeouts armed per request may show up as an event.
    assert_eq!(
        f.events,
        6 * sent,
        "events {} for {sent} requests",
        f.events
    );
    assert_eq!(outcome(&f, "OK"), sent);
    assert_eq!(f.calls[0]["back/E"].attempts, sent);
    assert_eq!(f.endpoints[1][0].per_replica, [sent]);
}

#[test]
fn a_timeout_that_wins_ends_the_attempt() {
    let f = sim(&two_tier("30ms", "10ms", ""));
    let sent = f.load[0].sent;
    assert_eq!(outcome(&f, "DEADLINE_EXCEEDED"), sent);
    assert_eq!(
        f.load[0].timeouts, sent,
        "front fails with the callee's status"
    );
    // The callee still answers, late (its deadline passed during `work`,
    // noticed at the next step), and the answer is dropped as stale; the
    // last few are still working when the last caller has given up, which
    // ends the simulation.
    let back = &f.endpoints[1][0];
    let late = back.errors.get("DEADLINE_EXCEEDED").copied().unwrap_or(0);
    assert!((sent - 10..=sent).contains(&late), "late {late} of {sent}");
    assert_eq!(back.ok, 0);
    let p50 = f.load[0].latency_us.value_at_quantile(0.5);
    assert_eq!(p50, 0, "no request succeeded");
}

#[test]
fn paused_and_killed_callees_are_seen_by_their_callers() {
    let faults = "faults:\n  - at: 1s\n    target: back\n    pause: true\n    for: 1s\n  - at: 3s\n    target: back\n    kill: true\n";
    let f = sim(&two_tier("1ms", "100ms", faults));
    let sent = f.load[0].sent;
    let (ok, timeouts) = (f.load[0].ok, f.load[0].timeouts);
    let unavailable = f.load[0].errors.get("UNAVAILABLE").copied().unwrap_or(0);
    assert_eq!(
        ok + timeouts + unavailable,
        sent,
        "every request ended once"
    );
    // Paused for 1 s of 200/s: those requests wait past their 100 ms timeout.
    assert!((150..=210).contains(&timeouts), "timeouts {timeouts}");
    // Killed for the last 2 s: refused at once.
    assert!(
        (390..=410).contains(&unavailable),
        "unavailable {unavailable}"
    );
    assert_eq!(f.unreachable[1], [0]);
}

#[test]
fn ten_thousand_services_end_every_request_and_the_counts_add_up() {
    let yaml = generate::layered(10_000, 20_000.0, 1);
    let f = sim(&yaml);
    let sent: u64 = f.load.iter().map(|l| l.sent).sum();
    let ok: u64 = f.load.iter().map(|l| l.ok).sum();
    assert!((19_000..21_000).contains(&sent), "sent {sent}");
    assert_eq!(ok, sent, "nothing is overloaded");
    let requests: u64 = f.endpoints.iter().flatten().map(|e| e.requests).sum();
    assert_eq!(requests, 5 * sent, "a request visits five services");
    for e in f.endpoints.iter().flatten() {
        assert_eq!(e.per_replica.iter().sum::<u64>(), e.requests);
        assert_eq!(e.latency_us.len(), e.requests);
        assert_eq!(e.work_us.len(), e.requests);
    }
    let attempts: u64 = f
        .calls
        .iter()
        .flat_map(|c| c.values())
        .map(|c| c.attempts)
        .sum();
    let oks: u64 = f
        .calls
        .iter()
        .flat_map(|c| c.values())
        .filter_map(|c| c.outcomes.get("OK"))
        .sum();
    assert_eq!(attempts, 4 * sent);
    assert_eq!(oks, attempts);
}
