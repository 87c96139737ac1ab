//! The run's processes: a bad topology starts none; Ctrl-C stops the load,
//! writes what was measured and stops every replica (a second one abandons
//! the requests in flight, booked as CANCELLED); SIGKILL of the launcher
//! leaves no replica behind; replicas speak standard health and reflection.

mod common;

use std::time::Duration;

use common::{Sandbox, assert_counts_add_up, peers, require_peer, wait_for_line};

const LONG_RUN: &str = r#"
name: long
services:
  front:
    replicas: 2
    workers: 2
    endpoints:
      Get:
        steps:
          - work: 5ms
          - call: back/Get
  back:
    replicas: 2
    endpoints:
      Get:
        steps:
          - work: 2ms
load:
  users:
    target: front/Get
    rate: 50/s
    duration: 60s
"#;

#[test]
fn sigkill_of_the_launcher_leaves_no_replica_behind() {
    let sb = Sandbox::new();
    let file = sb.file("long.yaml", LONG_RUN);
    let mut launcher = sb.spawn_on("run", &file);
    let lines = wait_for_line(&mut launcher, "sending load");
    assert!(lines.iter().any(|l| l.contains("healthy")), "{lines:?}");
    // The launcher and its 4 replicas are alive.
    assert!(
        sb.live_processes().len() >= 5,
        "replicas running: {:?}",
        sb.live_processes()
    );
    launcher.kill().unwrap(); // SIGKILL
    launcher.wait().unwrap();
    let left = sb.wait_all_gone(Duration::from_secs(5));
    assert!(left.is_empty(), "processes outlived the launcher: {left:?}");
}

#[test]
fn ctrl_c_stops_the_load_writes_the_summary_and_stops_every_replica() {
    let sb = Sandbox::new();
    let file = sb.file("long.yaml", LONG_RUN);
    let mut launcher = sb.spawn_on("run", &file);
    wait_for_line(&mut launcher, "sending load");
    std::thread::sleep(Duration::from_millis(700));
    common::interrupt(&launcher);
    let status = launcher.wait().unwrap();
    assert!(
        status.success(),
        "Ctrl-C is a normal end of a run: {status:?}"
    );
    let s = sb.summary();
    assert_eq!(s["interrupted"], true);
    let load = &s["load"]["users"];
    assert_counts_add_up(load);
    let sent = load["sent"].as_u64().unwrap();
    assert!(sent > 5 && sent < 500, "stopped early after ~0.7 s: {load}");
    assert!(sb.wait_all_gone(Duration::from_secs(5)).is_empty());
}

/// A second Ctrl-C abandons the requests in flight: they are booked as
/// CANCELLED so the counts still add up, which only an interrupted run may
/// do. The same summary, had the run not been interrupted, fails the check
/// every summary read goes through.
#[test]
fn a_second_ctrl_c_books_requests_in_flight_as_cancelled() {
    let sb = Sandbox::new();
    let file = sb.file(
        "slow.yaml",
        "name: slow\nservices:\n  api:\n    workers: 64\n    endpoints:\n      Get:\n        steps:\n          - work: 20s\nload:\n  users:\n    target: api/Get\n    rate: 20/s\n    duration: 60s\n    timeout: 30s\n",
    );
    let mut launcher = sb.spawn_on("run", &file);
    wait_for_line(&mut launcher, "sending load");
    std::thread::sleep(Duration::from_millis(700));
    common::interrupt(&launcher);
    std::thread::sleep(Duration::from_millis(300));
    common::interrupt(&launcher);
    let status = launcher.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut s = sb.summary();
    assert_eq!(s["interrupted"], true);
    let load = &s["load"]["users"];
    assert_counts_add_up(load);
    assert!(load["errors"]["CANCELLED"].as_u64() > Some(0), "{load}");
    assert_eq!(load["ok"], 0, "{load}");
    s["interrupted"] = false.into();
    let judged = std::panic::catch_unwind(|| common::accounting::assert_nothing_cut_short(&s));
    assert!(
        judged.is_err(),
        "an uninterrupted run may not book CANCELLED"
    );
    assert!(sb.wait_all_gone(Duration::from_secs(5)).is_empty());
}

#[test]
fn an_invalid_topology_starts_nothing_and_exits_1() {
    let sb = Sandbox::new();
    let file = sb.file(
        "bad.yaml",
        "name: bad\nservices:\n  api:\n    wrokers: 2\n    endpoints:\n      Get: {}\n",
    );
    let out = sb.run(&file, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yaml:4:5"), "located: {stderr}");
    assert!(stderr.contains("workers"), "suggests the fix: {stderr}");
    assert!(!sb.out().exists(), "no run folder for an invalid topology");
    assert!(sb.live_processes().is_empty());
}

#[test]
fn replicas_serve_health_and_reflection_to_outside_clients() {
    if !require_peer(&peers::GRPCURL) {
        return;
    }
    let sb = Sandbox::new();
    let file = sb.file(
        "up.yaml",
        "name: up\nservices:\n  api:\n    endpoints:\n      Get:\n        response: 3B\n",
    );
    let mut launcher = sb.spawn_on("run", &file);
    // The gRPC address line (the metrics list names api#0 first).
    let lines = wait_for_line(&mut launcher, "api#0  127.0.0.1:");
    let addr = lines
        .last()
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    let grpcurl = |args: &[&str]| {
        let o = std::process::Command::new("grpcurl")
            .args(args)
            .output()
            .expect("run grpcurl");
        String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
    };
    let listed = grpcurl(&["-plaintext", &addr, "list"]);
    assert!(listed.contains("topolab.v1.Replica"), "{listed}");
    assert!(listed.contains("grpc.health.v1.Health"), "{listed}");
    let called = grpcurl(&[
        "-plaintext",
        "-d",
        r#"{"endpoint":"Get"}"#,
        &addr,
        "topolab.v1.Replica/Call",
    ]);
    assert!(
        called.contains("\"payload\": \"AAAA\""),
        "3 zero bytes come back: {called}"
    );
    let missing = grpcurl(&[
        "-plaintext",
        "-d",
        r#"{"endpoint":"Nope"}"#,
        &addr,
        "topolab.v1.Replica/Call",
    ]);
    assert!(missing.contains("NotFound"), "{missing}");
    common::interrupt(&launcher);
    assert!(launcher.wait().unwrap().success());
    assert!(sb.wait_all_gone(Duration::from_secs(5)).is_empty());
}

#[test]
fn a_replica_that_cannot_start_is_named_and_the_run_exits_2() {
    let sb = Sandbox::new();
    let file = sb.file("ok.yaml", "name: ok\nservices:\n  api:\n    endpoints:\n      Get: {}\nload:\n  u:\n    target: api/Get\n    rate: 1/s\n    duration: 1s\n");
    // A replica command that is not a replica: it exits at once.
    let out = sb.out();
    let output = sb
        .command(&[
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .env("TOPOLAB_REPLICA_EXE", "/bin/false")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("api#0"), "names the replica: {stderr}");
    assert!(sb.wait_all_gone(Duration::from_secs(5)).is_empty());
}

#[test]
fn up_serves_without_sending_the_load_until_ctrl_c() {
    let sb = Sandbox::new();
    let file = sb.file(
        "up.yaml",
        "name: up\nservices:\n  api:\n    replicas: 2\n    endpoints:\n      Get: {}\nload:\n  u:\n    target: api/Get\n    rate: 100/s\n    duration: 60s\n",
    );
    let mut up = sb.spawn_on("up", &file);
    let lines = wait_for_line(&mut up, "api#1");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("api#0") && l.contains("127.0.0.1:")),
        "{lines:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    common::interrupt(&up);
    assert!(up.wait().unwrap().success());
    let s = sb.summary();
    assert!(
        s["load"].as_object().unwrap().is_empty(),
        "up sends no load: {}",
        s["load"]
    );
    assert_eq!(s["services"]["api"]["replicas"], 2);
    assert!(sb.wait_all_gone(Duration::from_secs(5)).is_empty());
}

#[test]
fn graph_shows_every_call_edge() {
    let sb = Sandbox::new();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/feed.yaml");
    let out = sb
        .command(&["graph", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let dot = String::from_utf8_lossy(&out.stdout);
    for edge in [
        r#""api" -> "auth""#,
        r#""api" -> "posts""#,
        r#""posts" -> "db""#,
        r#""users" -> "db""#,
    ] {
        assert!(dot.contains(edge), "{edge} missing:\n{dot}");
    }
    let out = sb
        .command(&["graph", file.to_str().unwrap(), "--format", "mermaid"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("flowchart LR"));
}
