//! Every example validates, and each kind of mistake in a topology gives exit
//! 1, a message located at file:line:col, and starts no process.

mod common;

use common::Sandbox;

#[test]
fn every_example_topology_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "diner, chain and feed at least: {files:?}"
    );
    for f in files {
        let out = Sandbox::new()
            .command(&["validate", f.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} does not validate:\n{}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Runs a malformed topology; asserts exit 1, no run folder, no process, and
/// that stderr holds every `expected` fragment.
fn rejected(yaml: &str, expected: &[&str]) {
    let sb = Sandbox::new();
    let file = sb.file("bad.yaml", yaml);
    let out = sb.run(&file, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit 1 for an invalid topology: {stderr}"
    );
    for e in expected {
        assert!(stderr.contains(e), "stderr lacks {e:?}:\n{stderr}");
    }
    assert!(!sb.out().exists(), "nothing written");
    assert!(sb.live_processes().is_empty(), "nothing started");
    let validate = sb
        .command(&["validate", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(validate.status.code(), Some(1));
}

const HEAD: &str = "name: bad\nservices:\n  api:\n";

#[test]
fn unknown_key_is_located_with_a_suggestion() {
    rejected(
        &format!("{HEAD}    endpoints:\n      Get:\n        stpes: []\n"),
        &["bad.yaml:6:9", "stpes", "steps"],
    );
}

#[test]
fn bad_unit_is_located() {
    rejected(
        &format!("{HEAD}    endpoints:\n      Get:\n        steps:\n          - work: 5 parsecs\n"),
        &["bad.yaml:7:", "5 parsecs"],
    );
}

#[test]
fn unknown_callee_is_located() {
    rejected(
        &format!(
            "{HEAD}    endpoints:\n      Get:\n        steps:\n          - call: dbb/Query\n  db:\n    endpoints:\n      Query: {{}}\n"
        ),
        &["bad.yaml:7:", "dbb", "db"],
    );
}

#[test]
fn endpoint_cycle_is_shown() {
    rejected(
        "name: bad\nservices:\n  a:\n    endpoints:\n      X:\n        steps:\n          - call: b/Y\n  b:\n    endpoints:\n      Y:\n        steps:\n          - call: a/X\n",
        &["a/X", "b/Y", "bad.yaml:"],
    );
}

#[test]
fn zero_workers_is_refused() {
    rejected(
        &format!("{HEAD}    workers: 0\n    endpoints:\n      Get: {{}}\n"),
        &["bad.yaml:4:", "workers"],
    );
}

#[test]
fn more_processes_than_the_machine_holds_names_the_limit() {
    rejected(
        &format!("{HEAD}    replicas: 900000\n    endpoints:\n      Get: {{}}\n"),
        &[
            "bad.yaml:4:",
            "more than the limit of",
            "sets the limit:",
            "per replica",
            "--max-processes N",
        ],
    );
}

/// `--max-processes` (or its variable) replaces the machine's limit, both
/// ways: here it lowers it, and the error says whose limit it was.
#[test]
fn a_forced_process_limit_is_named() {
    let sb = Sandbox::new();
    let file = sb.file(
        "bad.yaml",
        &format!("{HEAD}    replicas: 4\n    endpoints:\n      Get: {{}}\n"),
    );
    let out = sb
        .command(&["validate", "--max-processes", "3", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("more than the limit of 3"), "{stderr}");
    assert!(stderr.contains("this machine's own limit is"), "{stderr}");
    let ok = sb
        .command(&["validate", "--max-processes", "4", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn yaml_syntax_error_is_located() {
    rejected(
        "name: bad\nservices:\n  api:\n    endpoints: [\n",
        &["bad.yaml:"],
    );
}

/// What the simulator does not model yet is refused by name, never ignored:
/// `predict` of a topology whose clients poll through a balancer exits 1,
/// names the generator, and writes nothing. (Every key of the format now runs for real, so the
/// refusal lives where a feature is still missing: the simulator.)
#[test]
fn not_simulated_yet_is_an_error_not_silence() {
    let sb = Sandbox::new();
    let file = sb.file(
        "bad.yaml",
        &format!(
            "{HEAD}    updates: exp(1s)\n    endpoints:\n      Get: {{}}\n  lb:\n    kind: balancer\n    backend: api\nload:\n  fans:\n    target: lb/Get\n    clients: 2\n    poll: 1s\n    duration: 2s\n"
        ),
    );
    let out = sb
        .command(&[
            "predict",
            file.to_str().unwrap(),
            "--hop-cost",
            "100us",
            "--out",
            sb.out().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("load.fans"), "{stderr}");
    assert!(stderr.contains("through a balancer"), "{stderr}");
    assert!(stderr.contains("not simulated yet"), "{stderr}");
    assert!(!sb.out().exists(), "nothing written");
}

/// `drive` without `--stack` (the Kubernetes Job's driver) has nothing to
/// signal a replica with: a `kill` fault is refused at validation, located
/// at its key, exit 1, before the driver looks for a single replica.
#[test]
fn drive_without_an_engine_refuses_kill_by_name_and_place() {
    let sb = Sandbox::new();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/spof.yaml");
    let started = std::time::Instant::now();
    let out = sb
        .command(&[
            "drive",
            file.to_str().unwrap(),
            "--peers-dns",
            "{service}.invalid",
            "--out",
            sb.out().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: a `kill` fault cannot be carried out here")
            && stderr.contains("without `--stack`"),
        "{stderr}"
    );
    // Both faults, each at its `kill` key (line 43 and 44 of spof.yaml).
    assert!(stderr.contains("spof.yaml:43:"), "{stderr}");
    assert!(stderr.contains("spof.yaml:44:"), "{stderr}");
    assert!(!sb.out().exists(), "nothing written");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "refused before looking for replicas (that waits 60 s)"
    );
}
