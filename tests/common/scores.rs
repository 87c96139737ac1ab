//! What `topologies/scores.yaml` promises in its comments, checked on a run
//! folder wherever the run happened: locally (tests/updates.rs) and on a
//! Docker Swarm (tests/swarm.rs) the same checks hold.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::assert_counts_add_up;

/// The arguments both runs take: long enough for several versions
/// (`exp(3s)`), seeded so the timeline is the same in both.
pub const ARGS: [&str; 4] = ["--duration", "15s", "--set", "settings.seed=7"];

/// The followers of scores.yaml, 50 clients each.
const CLIENTS: u64 = 50;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("a count: {v}"))
}

/// Checks scores.yaml's "follows" and "updates cost" on the run in `folder`
/// whose summary is `s`: staleness by who initiates, the requests each way
/// costs, one stream per subscriber and one push per version per
/// subscriber, `updates_timeseries.csv` adding up, and the spans of held
/// long polls and of streams.
pub fn assert_scores(s: &Value, folder: &Path) {
    let load = &s["load"];
    for g in ["pollers", "long-pollers", "subscribers"] {
        assert_counts_add_up(&load[g]);
    }
    let endpoint = |e: &str| &s["services"]["scores"]["endpoints"][e];
    let created = u(&load["subscribers"]["updates"]["versions_created"]);
    assert!(created >= 3, "a few versions in 15 s at exp(3s): {created}");
    // Pollers: about half a second stale, and ~50 requests/s whatever the
    // score does.
    let poll = &load["pollers"]["updates"];
    let poll_stale = f(&poll["staleness_ms"]["mean"]);
    assert!(
        (350.0..750.0).contains(&poll_stale),
        "pollers' staleness {poll}"
    );
    let rps = f(&endpoint("Latest")["updates"]["requests_per_s"]);
    assert!((40.0..52.0).contains(&rps), "Latest at {rps}/s");
    // Long-pollers and subscribers: about one request's latency.
    for way in ["long-pollers", "subscribers"] {
        let g = &load[way]["updates"];
        let stale = f(&g["staleness_ms"]["mean"]);
        assert!(
            stale < 300.0 && stale * 2.0 < poll_stale,
            "{way}' staleness {g}"
        );
        assert_eq!(u(&g["versions_created"]), created, "{way}: {g}");
        assert!(
            u(&g["versions_seen"]) + u(&g["versions_missed"]) >= CLIENTS * created - CLIENTS,
            "{way}: every version reaches every client, or is overtaken: {g}"
        );
        assert!(
            u(&g["versions_missed"]) * 10 <= u(&g["versions_seen"]),
            "{way} miss little: {g}"
        );
    }
    // Wait: one request per fan per new score (and each fan's first).
    let wait = u(&endpoint("Wait")["requests"]);
    assert!(
        (CLIENTS * created..=CLIENTS * (created + 2)).contains(&wait),
        "one long poll per fan per version: {wait} for {created} versions"
    );
    // Watch: 50 open streams, one message per score per fan.
    let watch = &endpoint("Watch")["updates"];
    assert_eq!(u(&watch["max_streams"]), CLIENTS, "{watch}");
    let pushed = u(&watch["pushed"]);
    assert!(
        pushed + CLIENTS >= CLIENTS * created && pushed <= CLIENTS * (created + 2),
        "one message per version per subscriber: {pushed} for {created} versions"
    );
    assert_timeseries_adds_up(load, folder);
    assert_spans(folder, pushed);
}

/// `updates_timeseries.csv`: each follower's rows in time order, and what
/// they received adds up to every version a client held or skipped.
fn assert_timeseries_adds_up(load: &Value, folder: &Path) {
    let csv = std::fs::read_to_string(folder.join("updates_timeseries.csv")).unwrap();
    let mut by_gen: BTreeMap<&str, (f64, u64)> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let (t, received): (f64, u64) = (c[0].parse().unwrap(), c[2].parse().unwrap());
        let e = by_gen.entry(c[1]).or_insert((0.0, 0));
        assert!(t > e.0, "{}: {t} after {}", c[1], e.0);
        *e = (t, e.1 + received);
    }
    assert_eq!(by_gen.len(), 3, "{by_gen:?}");
    for (g, (_, received)) in &by_gen {
        let up = &load[*g]["updates"];
        assert_eq!(
            *received,
            u(&up["versions_seen"]) + u(&up["versions_missed"]),
            "{g}: {up}"
        );
    }
}

/// Traces: a long poll's SERVER span says how long it was held; a stream is
/// one span with an event per pushed version.
fn assert_spans(folder: &Path, pushed: u64) {
    let spans = super::otlp::spans(folder);
    let attr = super::otlp::attr;
    let held = spans
        .iter()
        .filter(|sp| sp["name"] == "scores/Wait")
        .filter_map(|sp| attr(sp, "topolab.held_ns"))
        .filter_map(|v| v["intValue"].as_str()?.parse::<f64>().ok())
        .filter(|ns| *ns > 50e6)
        .count();
    assert!(held > 0, "long polls were held, and their spans say so");
    let streams: Vec<&Value> = spans
        .iter()
        .filter(|sp| {
            attr(sp, "rpc.method") == Some(serde_json::json!({"stringValue": "Subscribe"}))
        })
        .collect();
    assert_eq!(streams.len() as u64, CLIENTS, "one span per stream");
    let events: usize = streams
        .iter()
        .map(|sp| sp["events"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(events as u64, pushed, "an event per pushed version");
}
