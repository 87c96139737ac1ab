//! Tests of [`super`]: `cascade.rs` kept to what it owns.

use super::*;

const TOPO: &str = "name: t\nservices:\n  frontend:\n    workers: 4\n    endpoints:\n      Get:\n        steps:\n          - call: api/Get\n  api:\n    workers: 2\n    endpoints:\n      Get:\n        steps:\n          - call: db/Q\n  db:\n    workers: 1\n    queue: 8\n    endpoints:\n      Q:\n        steps:\n          - work: 10ms\nload:\n  l:\n    target: frontend/Get\n    rate: 1/s\n    duration: 1s\n";

fn topology() -> Topology {
    topolab_model::load_str("t.yaml", TOPO, &[])
        .unwrap()
        .topology
}

/// A series of 100 ms samples whose queue is 0 before `from` and `q` after.
fn series(from: Option<f64>, q: u64) -> ServiceSeries {
    let mut s = ServiceSeries::default();
    for i in 1..=50 {
        let t = i as f64 / 10.0;
        s.t_s.push(t);
        s.queue
            .push(if from.is_some_and(|f| t >= f) { q } else { 0 });
        s.in_flight.push(1);
        for v in [
            &mut s.arrived,
            &mut s.completed,
            &mut s.rejected,
            &mut s.failed,
        ] {
            v.push(0);
        }
    }
    s
}

#[test]
fn orders_onsets_and_names_what_each_waits_on() {
    let map = BTreeMap::from([
        ("db".to_string(), series(Some(1.0), 8)),
        ("api".to_string(), series(Some(1.3), 5)),
        ("frontend".to_string(), series(Some(2.0), 9)),
    ]);
    let c = analyze(&topology(), &map);
    assert!(c.detected);
    let order: Vec<&str> = c.onsets.iter().map(|o| o.service.as_str()).collect();
    assert_eq!(order, ["db", "api", "frontend"]);
    assert_eq!(c.onsets[1].waiting_on.as_deref(), Some("db"));
    assert_eq!(c.onsets[2].waiting_on.as_deref(), Some("api"));
    assert_eq!(
        c.text,
        "db saturated from 1.0s (queue 8/8, 1/1 workers busy) → api queue built from 1.3s, waiting on db → frontend queue built from 2.0s, waiting on api"
    );
}

#[test]
fn short_spikes_and_shallow_queues_are_no_cascade() {
    let mut spiky = series(None, 0);
    for i in (0..50).step_by(3) {
        spiky.queue[i] = 6;
    }
    let map = BTreeMap::from([
        ("db".to_string(), spiky),
        ("api".to_string(), series(Some(1.0), 1)),
    ]);
    let c = analyze(&topology(), &map);
    assert!(!c.detected);
    assert!(c.onsets.is_empty(), "{:?}", c.onsets);
    assert!(c.text.starts_with("no cascade"));
}

#[test]
fn a_callee_confirmed_one_sample_after_its_caller_still_goes_first() {
    // Seen on a busy machine: frontend's queue confirmed at 1.4 s, api's
    // (which frontend's requests were queued in) at 1.5 s.
    let map = BTreeMap::from([
        ("db".to_string(), series(Some(1.0), 8)),
        ("api".to_string(), series(Some(1.5), 5)),
        ("frontend".to_string(), series(Some(1.4), 9)),
    ]);
    let c = analyze(&topology(), &map);
    let order: Vec<&str> = c.onsets.iter().map(|o| o.service.as_str()).collect();
    assert_eq!(order, ["db", "api", "frontend"]);
    assert_eq!(c.onsets[2].waiting_on.as_deref(), Some("api"));
    // Two samples apart is no longer "the same moment": time order stands.
    let map = BTreeMap::from([
        ("api".to_string(), series(Some(1.6), 5)),
        ("frontend".to_string(), series(Some(1.4), 9)),
    ]);
    let c = analyze(&topology(), &map);
    let order: Vec<&str> = c.onsets.iter().map(|o| o.service.as_str()).collect();
    assert_eq!(order, ["frontend", "api"]);
}

#[test]
fn onsets_in_the_same_sample_go_callee_first() {
    let map = BTreeMap::from([
        ("db".to_string(), series(Some(1.0), 8)),
        ("api".to_string(), series(Some(1.5), 5)),
        ("frontend".to_string(), series(Some(1.5), 9)),
    ]);
    let c = analyze(&topology(), &map);
    let order: Vec<&str> = c.onsets.iter().map(|o| o.service.as_str()).collect();
    assert_eq!(order, ["db", "api", "frontend"]);
}

#[test]
fn a_lone_full_queue_is_not_a_cascade() {
    let map = BTreeMap::from([("db".to_string(), series(Some(2.0), 8))]);
    let c = analyze(&topology(), &map);
    assert!(!c.detected);
    assert_eq!(c.onsets.len(), 1);
    assert_eq!(
        c.text,
        "no cascade: db saturated from 2.0s (queue 8/8, 1/1 workers busy); nothing waits on it"
    );
}

#[test]
fn a_queue_built_at_the_very_end_still_counts() {
    let map = BTreeMap::from([("db".to_string(), series(Some(4.7), 8))]);
    assert_eq!(analyze(&topology(), &map).onsets.len(), 1);
    let map = BTreeMap::from([("db".to_string(), series(Some(4.95), 8))]);
    assert!(analyze(&topology(), &map).onsets.is_empty());
}

/// Pool exhaustion: every worker of a blocking caller held by a slow
/// callee whose own queue never builds, and the caller's queue building
/// behind them (pool-exhaustion.yaml).
#[test]
fn workers_held_by_a_slow_callee_are_a_cascade_that_starts_there() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/pool-exhaustion.yaml");
    let t = topolab_model::load(&path, &[]).unwrap().topology;
    let quiet = series(None, 0);
    let mut all: BTreeMap<String, ServiceSeries> = t
        .services
        .iter()
        .map(|s| (s.name.clone(), quiet.clone()))
        .collect();
    // recs: slow, 6 requests in flight of its 100 workers, no queue.
    let mut recs = series(None, 0);
    let mut front = series(None, 0);
    for (k, t_s) in front.t_s.clone().iter().enumerate() {
        if *t_s >= 1.0 {
            recs.in_flight[k] = 6;
            front.in_flight[k] = 6;
        }
        if *t_s >= 1.5 {
            front.queue[k] = 20;
        }
    }
    all.insert("recs".into(), recs);
    all.insert("front".into(), front);
    let c = analyze(&t, &all);
    assert!(c.detected, "{}", c.text);
    let order: Vec<(&str, OnsetKind)> = c
        .onsets
        .iter()
        .map(|o| (o.service.as_str(), o.kind))
        .collect();
    assert_eq!(
        order,
        [("recs", OnsetKind::Slow), ("front", OnsetKind::Held)]
    );
    assert_eq!(c.onsets[1].waiting_on.as_deref(), Some("recs"));
    assert_eq!(
        c.text,
        "recs slow from 1.0s (6 in flight, its queue short) → front workers held from 1.0s, waiting on recs (6/6 busy)"
    );
    // An async caller's workers are not held by its calls: no cascade.
    let async_front = c.onsets.iter().all(|o| o.service != "front-b");
    assert!(async_front);
}

#[test]
fn thresholds() {
    assert_eq!(threshold(1, Some(64)), Some(2));
    assert_eq!(threshold(16, Some(64)), Some(8));
    assert_eq!(threshold(16, Some(3)), Some(3));
    assert_eq!(threshold(16, Some(0)), None);
    assert_eq!(threshold(16, None), Some(8));
}

#[test]
fn a_session_miss_call_is_an_edge_the_cascade_follows() {
    // sticky-sessions: cart calls db only on a session miss.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/sticky-sessions.yaml");
    let t = topolab_model::load(&path, &[]).unwrap().topology;
    let quiet = series(None, 0);
    let mut all: BTreeMap<String, ServiceSeries> = t
        .services
        .iter()
        .map(|s| (s.name.clone(), quiet.clone()))
        .collect();
    all.insert("db".into(), series(Some(1.0), 20));
    all.insert("cart".into(), series(Some(1.3), 30));
    let c = analyze(&t, &all);
    assert!(c.detected, "{}", c.text);
    let cart = c.onsets.iter().find(|o| o.service == "cart").unwrap();
    assert_eq!(cart.waiting_on.as_deref(), Some("db"), "{}", c.text);
}
