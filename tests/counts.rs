//! Counts that agree with each other: what the callers sent and what the
//! endpoints counted are the same requests, every rate column stays within
//! the one it is part of, and nothing served disappears from the tables.

mod common;

use std::path::Path;

use common::{Sandbox, assert_counts_add_up};
use serde_json::Value;

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("a count: {v}"))
}

fn errors(v: &Value) -> u64 {
    v["errors"]
        .as_object()
        .unwrap_or_else(|| panic!("errors in {v}"))
        .values()
        .map(u)
        .sum()
}

/// `scores.yaml`: every subscription a subscriber opened is a request
/// `scores/Watch` served, counted like any other: the endpoint's
/// `requests` and `ok` are the subscribers' `sent` and `ok`.
#[test]
fn an_opened_stream_is_a_request_the_endpoint_served() {
    let sb = Sandbox::new();
    let out = sb.run(
        Path::new("topologies/scores.yaml"),
        &["--duration", "3s", "--quiet"],
    );
    assert!(out.status.success(), "topolab run failed: {:?}", out.status);
    let s = sb.summary();
    let subscribers = &s["load"]["subscribers"];
    assert_counts_add_up(subscribers);
    assert!(u(&subscribers["ok"]) >= 50, "{subscribers}");
    let watch = &s["services"]["scores"]["endpoints"]["Watch"];
    assert_eq!(u(&watch["requests"]), u(&subscribers["sent"]), "{watch}");
    assert_eq!(u(&watch["ok"]), u(&subscribers["ok"]), "{watch}");
    assert_eq!(
        u(&watch["requests"]),
        u(&watch["ok"]) + u(&watch["rejected"]) + errors(watch),
        "{watch}"
    );
    assert_eq!(
        u(&watch["updates"]["streams_opened"]),
        u(&watch["ok"]),
        "{watch}"
    );
    // The table says the same as the file.
    let table = String::from_utf8_lossy(&out.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("scores/Watch"))
        .unwrap_or_else(|| panic!("no scores/Watch row:\n{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[2], watch["requests"].to_string(), "{row}");
}
