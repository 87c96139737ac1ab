//! Tests of [`super`]: `summary.rs` kept to what it owns.

use super::*;

#[test]
fn round_trips_through_the_file() {
    let mut s = Summary {
        topology: "diner".into(),
        seed: 7,
        duration_s: 20.5,
        load_s: None,
        interrupted: false,
        processes: 1,
        healthy_after_ms: 80.0,
        load: IndexMap::new(),
        services: IndexMap::new(),
        traces: None,
        cascade: Cascade::default(),
        faults: vec![],
        restart_log: vec![RestartRecord {
            replica: "db#0".into(),
            t_s: 3.25,
        }],
        actions: Vec::new(),
        warmup: None,
        work_timing: None,
        links: Default::default(),
        prediction: None,
    };
    s.load.insert(
        "regulars".into(),
        LoadSummary {
            sent: 3,
            ok: 1,
            rejected: 1,
            errors: BTreeMap::from([("UNAVAILABLE".into(), 1)]),
            ..Default::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE);
    write(&path, &s).unwrap();
    let back = read(&path).unwrap();
    assert_eq!(back.load["regulars"].failed(), 2);
    assert_eq!(back.restart_log, s.restart_log);
    std::fs::write(&path, "{}").unwrap();
    assert!(matches!(read(&path), Err(SummaryError::Malformed { .. })));
}

#[test]
fn the_time_is_said_in_words() {
    let mut s: Summary = serde_json::from_value(serde_json::json!({
        "topology": "t", "seed": 1, "duration_s": 10.44, "load_s": 10.0,
        "load": {"x": {"target": "a/X", "sent": 1, "ok": 1, "rejected": 0,
            "timeouts": 0, "errors": {}, "offered_rate": 1.0, "throughput": 1.0,
            "latency_ms": {"mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}}},
        "services": {}
    }))
    .unwrap();
    assert_eq!(s.time_in_words(), "10.0 s of load + 0.4 s draining");
    s.duration_s = 24.5;
    s.load_s = Some(25.0);
    assert_eq!(
        s.time_in_words(),
        "25.0 s of load, the last answer at 24.5 s"
    );
    s.load_s = None;
    s.load.clear();
    assert_eq!(s.time_in_words(), "up 24.5 s, no load");
}

#[test]
fn a_fault_window_ends_when_cleared_or_at_the_end() {
    let f = FaultRecord {
        fault: "kill".into(),
        target: "db#1".into(),
        at_s: 2.0,
        for_s: None,
        applied_s: Some(2.01),
        cleared_s: None,
        replicas: vec!["db#1".into()],
        problems: vec![],
    };
    assert_eq!(f.service(), "db");
    assert_eq!(f.window(9.0), Some((2.01, 9.0)));
}
