//! What a person reads in the terminal: tables in the topology file's order,
//! `--quiet` printing only the summary, and every command leaving quietly
//! (exit 0, nothing on stderr) when the reader of its output goes away.

mod common;

use std::process::{Command, Stdio};

use common::Sandbox;

/// Services declared callee first and named against the alphabet; the
/// generators read as a story only in file order.
const PHASES: &str = "name: phases
services:
  zeta:
    endpoints:
      Get:
        steps:
          - call: alpha/Work
  alpha:
    endpoints:
      Work:
        steps:
          - work: 1ms
      Audit:
        steps:
          - work: 1ms
load:
  before:
    target: zeta/Get
    rate: 20/s
    duration: 1s
  during:
    target: alpha/Work
    rate: 20/s
    start: 1s
    duration: 1s
  after:
    target: alpha/Audit
    rate: 20/s
    start: 2s
    duration: 1s
";

/// Where each of `words` first appears in `text`, in order: all found and increasing.
fn in_order(text: &str, words: &[&str]) {
    let at: Vec<usize> = words
        .iter()
        .map(|w| {
            text.find(w)
                .unwrap_or_else(|| panic!("{w:?} missing:\n{text}"))
        })
        .collect();
    assert!(
        at.windows(2).all(|p| p[0] < p[1]),
        "{words:?} out of order:\n{text}"
    );
}

#[test]
fn tables_and_summary_keep_the_files_order_and_quiet_prints_only_the_summary() {
    let sb = Sandbox::new();
    let file = sb.file("phases.yaml", PHASES);
    let out = sb.run(&file, &["--quiet"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    in_order(
        &stdout,
        &[
            "\nbefore ",
            "\nduring ",
            "\nafter ",
            "\nzeta/Get",
            "\nalpha/Work",
            "\nalpha/Audit",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.trim().is_empty(),
        "--quiet: nothing but the summary:\n{stderr}"
    );

    sb.summary();
    let json = std::fs::read_to_string(sb.out().join("summary.json")).unwrap();
    in_order(
        &json,
        &[
            "\"before\"",
            "\"during\"",
            "\"after\"",
            "\"zeta\"",
            "\"alpha\"",
        ],
    );
    in_order(&json, &["\"Work\"", "\"Audit\""]);
}

#[test]
fn trace_into_a_closed_pipe_exits_quietly() {
    let sb = Sandbox::new();
    let file = sb.file("phases.yaml", PHASES);
    assert!(sb.run(&file, &["-q"]).status.success());
    let dir = sb.out();
    let dir = dir.to_str().unwrap();

    // The reader is gone before the first byte is written: EPIPE for sure.
    for args in [
        vec!["trace", dir],
        vec!["trace", dir, "--slowest", "1000"],
        vec!["trace", dir, "--errors"],
        vec!["graph", "topologies/diner.yaml"],
        vec!["schema"],
    ] {
        let mut child = sb
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?} said: {stderr}");
    }

    // And as a person types it.
    let out = Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -o pipefail; '{}' trace '{dir}' --slowest 1000 | head -1",
                env!("CARGO_BIN_EXE_topolab")
            ),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

/// Every failure carries its reason: the status message reaches the
/// summary's per-code sample, the terminal and `topolab trace`; a replica
/// that is gone is UNAVAILABLE with a message naming it, not an empty UNKNOWN.
#[test]
fn failures_carry_their_reason() {
    let sb = Sandbox::new();
    let file = sb.file(
        "why.yaml",
        "name: why
services:
  web:
    workers: 100
    endpoints:
      Get:
        steps:
          - call: db/Q
  db:
    workers: 1
    queue: 2
    endpoints:
      Q:
        steps:
          - work: 20ms
load:
  users:
    target: web/Get
    rate: 200/s
    duration: 2s
faults:
  - { at: 1.5s, target: db#0, kill: true }
",
    );
    let out = sb.run(&file, &["-q"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let s = sb.summary();
    let messages = &s["load"]["users"]["messages"];
    let said = |code: &str| -> Vec<String> {
        messages[code]
            .as_array()
            .unwrap_or_else(|| panic!("no {code} in {messages}"))
            .iter()
            .map(|m| m["message"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        said("RESOURCE_EXHAUSTED")
            .iter()
            .any(|m| m.contains("db#0 queue full (2/2)")),
        "{messages}"
    );
    assert!(
        said("UNAVAILABLE")
            .iter()
            .any(|m| m.contains("db#0/Q: connection lost to 127.0.0.1:")),
        "one cause, with the address: {messages}"
    );
    assert!(
        !messages.to_string().contains("tcp connect error"),
        "the transport's layers are not quoted: {messages}"
    );
    assert!(messages.get("UNKNOWN").is_none(), "{messages}");
    assert!(
        stdout.contains("why: users RESOURCE_EXHAUSTED"),
        "the terminal says why:\n{stdout}"
    );

    let dir = sb.out();
    let listed = sb
        .command(&["trace", dir.to_str().unwrap(), "--errors"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains("(RESOURCE_EXHAUSTED: db#0 queue full (2/2))"),
        "{text}"
    );
}

/// An OTLP endpoint that takes no spans is reported in the terminal, once.
#[test]
fn an_otlp_endpoint_that_drops_spans_is_reported() {
    let sb = Sandbox::new();
    let file = sb.file("phases.yaml", PHASES);
    // Port 1 on loopback: nothing listens, every export to it fails.
    let out = sb.run(&file, &["-q", "--otlp-endpoint", "http://127.0.0.1:1"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout
            .matches("warning: the OTLP endpoint http://127.0.0.1:1 did not take")
            .count(),
        1,
        "{stdout}"
    );
    assert!(sb.summary()["traces"]["spans_dropped"].as_u64().unwrap() > 0);
}
