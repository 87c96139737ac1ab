//! Who initiates an update, measured on real runs: polling costs the server
//! clients/interval requests per second whatever the data does and keeps
//! clients about half an interval stale; long polls and streams deliver
//! within about a request's latency and cost in step with the versions; a
//! `blocking` server runs out of workers for held requests, an `async` one
//! does not; a killed replica's subscribers reconnect and the gap counts as
//! staleness; an outside gRPC client can subscribe.

mod common;

use std::time::Duration;

use common::{Sandbox, assert_counts_add_up, peers, require_peer, wait_for_line};
use serde_json::Value;

/// These runs measure time: one at a time, so they do not slow each other.
static ONE_AT_A_TIME: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

fn serial() -> parking_lot::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("a count: {v}"))
}

#[test]
fn three_ways_cost_and_freshness_follow_from_who_initiates() {
    let _one = serial();
    let sb = Sandbox::new();
    let mut yaml = String::from("name: ways\nservices:\n");
    for (name, gap) in [("slow", "exp(2s)"), ("fast", "exp(250ms)")] {
        yaml += &format!(
            "  {name}:\n    updates: {gap}\n    model: async\n    workers: 4\n    endpoints:\n      Poll: {{ steps: [ {{work: 1ms}} ] }}\n      Long: {{ steps: [ {{work: 1ms}} ] }}\n      Sub: {{ steps: [ {{work: 1ms}} ] }}\n"
        );
    }
    yaml += "load:\n";
    for name in ["slow", "fast"] {
        yaml += &format!(
            "  poll-{name}:\n    target: {name}/Poll\n    clients: 20\n    poll: 1s\n    duration: 10s\n  long-{name}:\n    target: {name}/Long\n    clients: 10\n    long_poll: 30s\n    duration: 10s\n  sub-{name}:\n    subscribe: {name}/Sub\n    clients: 10\n    duration: 10s\n"
        );
    }
    yaml += "settings:\n  seed: 11\n";
    let s = sb.run_yaml(&yaml, &["--quiet"]);
    let load = &s["load"];
    for g in load.as_object().unwrap().values() {
        assert_counts_add_up(g);
    }
    let ep = |svc: &str, e: &str| s["services"][svc]["endpoints"][e]["updates"].clone();
    for name in ["slow", "fast"] {
        // Polling: half the interval plus a request's latency, on average.
        let poll = &load[format!("poll-{name}")]["updates"];
        let mean = f(&poll["staleness_ms"]["mean"]);
        assert!(
            (350.0..750.0).contains(&mean),
            "poll-{name} staleness {poll}"
        );
        // ... and clients/interval requests per second, whatever the versions do.
        let rps = f(&ep(name, "Poll")["requests_per_s"]);
        assert!((16.0..21.0).contains(&rps), "{name}/Poll at {rps}/s");
        // Long polls and streams: about one request's latency (a busy
        // machine stretches it, so the bound is loose and relative too).
        let poll_missed =
            u(&poll["versions_missed"]) as f64 / u(&poll["versions_seen"]).max(1) as f64;
        for way in ["long", "sub"] {
            let g = &load[format!("{way}-{name}")]["updates"];
            let stale = f(&g["staleness_ms"]["mean"]);
            assert!(
                stale < 300.0 && stale * 2.0 < mean,
                "{way}-{name} staleness {g}"
            );
            // Only versions closer together than a round trip are skipped.
            let missed = u(&g["versions_missed"]) as f64 / u(&g["versions_seen"]).max(1) as f64;
            assert!(
                missed <= 0.3 && (name == "slow" || missed * 3.0 < poll_missed),
                "{way}-{name} misses little ({missed:.3}, polls {poll_missed:.3}): {g}"
            );
            let created = u(&g["versions_created"]);
            assert!(created > 0, "versions appeared: {g}");
            // Every version reaches every client, or is overtaken by a newer one.
            assert!(
                u(&g["versions_seen"]) + u(&g["versions_missed"]) >= 10 * created - 10,
                "{way}-{name}: {g}"
            );
        }
        let sub = ep(name, "Sub");
        assert_eq!(
            u(&sub["max_streams"]),
            10,
            "one open stream per subscriber: {sub}"
        );
        let created = u(&load[format!("sub-{name}")]["updates"]["versions_created"]);
        let pushed = u(&sub["pushed"]);
        assert!(
            pushed + 10 >= 10 * created && pushed <= 10 * (created + 2),
            "one message per version per subscriber: {pushed} for {created} versions"
        );
    }
    // `updates_timeseries.csv` (written as the run goes): every following
    // generator's intervals in time order, and what they received adds up
    // to every version a client held or skipped.
    let csv = std::fs::read_to_string(sb.out().join("updates_timeseries.csv")).unwrap();
    let mut by_gen: std::collections::BTreeMap<&str, (f64, u64, usize)> = Default::default();
    for line in csv.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let (t, received): (f64, u64) = (c[0].parse().unwrap(), c[2].parse().unwrap());
        let e = by_gen.entry(c[1]).or_insert((0.0, 0, 0));
        assert!(t > e.0, "{}: {t} after {}", c[1], e.0);
        *e = (t, e.1 + received, e.2 + 1);
    }
    assert_eq!(by_gen.len(), 6, "{by_gen:?}");
    for (g, (_, received, rows)) in &by_gen {
        let u_ = &load[*g]["updates"];
        assert_eq!(
            *received,
            u(&u_["versions_seen"]) + u(&u_["versions_missed"]),
            "{g}: {u_}"
        );
        assert!(*rows >= 100, "{g}: one row per 100 ms over 10 s: {rows}");
    }
    // Long polls ask once per version: their rate follows the versions'.
    let long_rate = |name: &str| f(&ep(name, "Long")["requests_per_s"]);
    let versions =
        |name: &str| u(&load[format!("long-{name}")]["updates"]["versions_created"]) as f64;
    assert!(
        long_rate("fast") > 3.0 * long_rate("slow"),
        "long polls follow the version rate: fast {} /s for {} versions, slow {} /s for {}",
        long_rate("fast"),
        versions("fast"),
        long_rate("slow"),
        versions("slow")
    );
    let per_version = long_rate("fast") * s["duration_s"].as_f64().unwrap() / versions("fast");
    assert!(
        (7.0..14.0).contains(&per_version),
        "about one long poll per client per version: {per_version}"
    );

    // Traces: a long poll's SERVER span says how long it was held; a stream
    // is one span with an event per pushed version.
    let spans = common::otlp::spans(&sb.out());
    let attr = common::otlp::attr;
    let held_ms: Vec<f64> = spans
        .iter()
        .filter(|sp| sp["name"] == "fast/Long")
        .filter_map(|sp| attr(sp, "topolab.held_ns"))
        .filter_map(|v| v["intValue"].as_str()?.parse::<f64>().ok())
        .map(|ns| ns / 1e6)
        .collect();
    assert!(
        held_ms.iter().any(|ms| *ms > 50.0),
        "long polls were held, and their spans say so: {held_ms:?}"
    );
    let streams: Vec<&Value> = spans
        .iter()
        .filter(|sp| {
            attr(sp, "rpc.method") == Some(serde_json::json!({"stringValue": "Subscribe"}))
        })
        .collect();
    assert_eq!(streams.len(), 20, "one span per stream (10 per service)");
    let events: usize = streams
        .iter()
        .map(|sp| sp["events"].as_array().map_or(0, Vec::len))
        .sum();
    let pushed = u(&ep("slow", "Sub")["pushed"]) + u(&ep("fast", "Sub")["pushed"]);
    assert_eq!(events as u64, pushed, "an event per pushed version");
}

/// scores.yaml as users run it: what its comments promise holds (the same
/// checks run on a Swarm in tests/swarm.rs).
#[test]
fn scores_yaml_keeps_its_promises() {
    let _one = serial();
    let sb = Sandbox::new();
    let mut args = vec!["--quiet"];
    args.extend(common::scores::ARGS);
    let run = sb.run(std::path::Path::new("topologies/scores.yaml"), &args);
    assert!(run.status.success(), "topolab run failed: {:?}", run.status);
    common::scores::assert_scores(&sb.summary(), &sb.out());
}

/// 100 long-pollers on a server of 16 workers and a queue of 64.
fn long_pollers(model: &str) -> Value {
    let sb = Sandbox::new();
    sb.run_yaml(
        &format!(
            "name: held\nservices:\n  scores:\n    updates: exp(1s)\n    model: {model}\n    workers: 16\n    queue: 64\n    endpoints:\n      Latest: {{ steps: [ {{work: 1ms}} ] }}\nload:\n  waiting:\n    target: scores/Latest\n    clients: 100\n    long_poll: 30s\n    duration: 5s\nsettings:\n  seed: 5\n"
        ),
        &["--quiet"],
    )
}

/// scores.yaml's report: long polls held for seconds are drawn as rings at
/// their latency without the hold, so the chart's scale is the queue's, not
/// the hold's (issue 24: "a held request is drawn as held").
#[test]
fn the_report_draws_held_long_polls_apart_from_their_hold() {
    let _one = serial();
    let sb = Sandbox::new();
    let summary = sb.run_yaml(
        "name: held\nservices:\n  scores:\n    updates: 1s\n    model: async\n    endpoints:\n      Latest: { steps: [ {work: 1ms} ] }\nload:\n  waiting:\n    target: scores/Latest\n    clients: 10\n    long_poll: 30s\n    duration: 4s\nsettings:\n  seed: 5\n",
        &["--quiet"],
    );
    let g = &summary["load"]["waiting"];
    assert!(f(&g["latency_ms"]["p50"]) > 300.0, "held for news: {g}");
    let html = std::fs::read_to_string(sb.out().join("report.html")).unwrap();
    let caption = html
        .split("A <b>ring</b> is a long poll the server held until the next version: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no caption for held requests"));
    let held: u64 = caption.split(' ').next().unwrap().parse().unwrap();
    assert!(
        held >= 10,
        "every answered long poll is a ring: {caption:.200}"
    );
    // The requests chart's latency axis ends near the unheld latencies
    // (milliseconds), not at the holds (about a second each).
    let chart = html.split("id=\"chart-requests\"").nth(1).unwrap();
    let chart = &chart[..chart.find("</svg>").unwrap()];
    let rings = chart.matches("fill=\"none\"").count();
    assert!(rings as u64 >= held.min(10), "rings drawn: {rings}");
    // Its tick labels: the latency axis's (whole numbers) come before the
    // time axis's (`0.0`, `5.0`, ...).
    let labels: Vec<&str> = chart
        .split("</text>")
        .filter_map(|t| Some(t.rsplit('>').next()?.trim()))
        .collect();
    let ticks: Vec<f64> = labels
        .iter()
        .skip_while(|l| l.parse::<f64>().is_err())
        .take_while(|l| !l.contains('.'))
        .filter_map(|l| l.parse().ok())
        .collect();
    let top = ticks.iter().fold(0.0, |a: f64, &b| a.max(b));
    assert!(
        !ticks.is_empty() && top < 300.0,
        "the latency axis spans the holds: {labels:?}"
    );
}

#[test]
fn held_long_polls_take_a_blocking_servers_workers_but_not_an_async_ones() {
    let _one = serial();
    let blocking = long_pollers("blocking");
    let g = &blocking["load"]["waiting"];
    assert_counts_add_up(g);
    assert!(u(&g["rejected"]) > 0, "the queue overflows: {g}");
    assert!(
        u(&g["updates"]["reconnects"]) > 0,
        "rejected clients come back: {g}"
    );
    let ep = &blocking["services"]["scores"]["endpoints"]["Latest"];
    assert_eq!(
        u(&ep["updates"]["max_held"]),
        16,
        "a held request per worker: {ep}"
    );

    let async_ = long_pollers("async");
    let g = &async_["load"]["waiting"];
    assert_counts_add_up(g);
    // Parked requests hold no worker, so nobody is turned away for want of
    // one; only the herd of re-asks right after a version (100 arrivals at
    // once on 16 workers and 64 places) may overflow the queue, by at most
    // 100 - 16 - 64 = 20 per version (and the first herd). In `blocking` 20
    // clients are turned away all the time, retrying with a backoff of at
    // most 2 s. (Over 5 s the two totals come out alike: a replica that
    // answers a herd at once, as a one-thread replica does, has every one
    // of its herds turn 20 away; so the totals are not compared.)
    let versions = u(&g["updates"]["versions_created"]);
    let (rejected_async, rejected_blocking) = (
        u(&g["rejected"]),
        u(&blocking["load"]["waiting"]["rejected"]),
    );
    assert!(
        rejected_blocking >= 50,
        "blocking turns clients away all along: {rejected_blocking}"
    );
    assert!(
        rejected_async <= 20 * (versions + 1),
        "async rejects only in herds: async {rejected_async} for {versions} versions, blocking {rejected_blocking}: {g}"
    );
    let ep = &async_["services"]["scores"]["endpoints"]["Latest"];
    assert_eq!(u(&ep["updates"]["max_held"]), 100, "all held at once: {ep}");
}

#[test]
fn a_killed_replicas_subscribers_reconnect_and_the_gap_counts() {
    let _one = serial();
    let sb = Sandbox::new();
    let yaml = |replicas: u32| {
        format!(
            "name: kill\nservices:\n  scores:\n    replicas: {replicas}\n    updates: exp(300ms)\n    model: async\n    endpoints:\n      Latest: {{ steps: [ {{work: 1ms}} ] }}\nload:\n  fans:\n    subscribe: scores/Latest\n    clients: 10\n    duration: 6s\nfaults:\n  - {{ at: 2s, target: \"scores#0\", kill: true }}\nsettings:\n  seed: 3\n"
        )
    };
    // Two replicas: the killed one's subscribers move to the other.
    let s = sb.run_yaml(&yaml(2), &["--quiet"]);
    let g = &s["load"]["fans"]["updates"];
    assert!(u(&g["reconnects"]) >= 1, "{g}");
    assert!(u(&g["reconnects"]) <= 20, "reconnected, not flapping: {g}");
    let created = u(&g["versions_created"]);
    assert!(
        u(&g["versions_seen"]) + u(&g["versions_missed"]) >= 10 * created - 10,
        "every subscriber follows to the end: {g}"
    );
    // One replica: nowhere to reconnect to, so every later version stays
    // unseen and counts as stale until the end.
    let sb = Sandbox::new();
    let s = sb.run_yaml(&yaml(1), &["--quiet"]);
    let g = &s["load"]["fans"]["updates"];
    assert!(
        u(&g["reconnects"]) >= 10,
        "every subscriber kept trying: {g}"
    );
    assert!(
        f(&g["staleness_ms"]["max"]) > 1500.0,
        "the gap is staleness: {g}"
    );
    assert!(f(&g["staleness_ms"]["mean"]) > 200.0, "{g}");
}

#[test]
fn grpcurl_subscribes_from_outside_and_receives_versions() {
    if !require_peer(&peers::GRPCURL) {
        return;
    }
    let _one = serial();
    let sb = Sandbox::new();
    let file = sb.file(
        "up.yaml",
        "name: up\nservices:\n  scores:\n    updates: 200ms\n    endpoints:\n      Latest: {}\n",
    );
    let mut launcher = sb.spawn_on("run", &file);
    // The gRPC address line (the metrics list names scores#0 first).
    let lines = wait_for_line(&mut launcher, "scores#0  127.0.0.1:");
    let addr = lines
        .last()
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    let out = std::process::Command::new("grpcurl")
        .args([
            "-plaintext",
            "-max-time",
            "2",
            "-d",
            r#"{"endpoint":"Latest"}"#,
            &addr,
            "topolab.v1.Replica/Subscribe",
        ])
        .output()
        .expect("run grpcurl");
    let text = String::from_utf8_lossy(&out.stdout);
    let versions: Vec<u64> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("\"version\": \""))
        .filter_map(|v| v.trim_end_matches(['"', ',']).parse().ok())
        .collect();
    assert!(versions.len() >= 5, "versions pushed every 200 ms: {text}");
    assert!(
        versions.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, none skipped: {versions:?}"
    );
    common::interrupt(&launcher);
    assert!(launcher.wait().unwrap().success());
    assert!(sb.wait_all_gone(Duration::from_secs(5)).is_empty());
}

#[test]
fn a_balancer_forwards_long_polls_and_relays_streams_across_a_kill() {
    let _one = serial();
    let sb = Sandbox::new();
    let yaml = "name: lb\nservices:\n  scores:\n    replicas: 2\n    updates: exp(300ms)\n    model: async\n    endpoints:\n      Latest: { steps: [ {work: 1ms} ] }\n  lb:\n    kind: balancer\n    backend: scores\n    policy: least_requests\n    model: async\nload:\n  waiters:\n    target: lb/Latest\n    clients: 10\n    long_poll: 30s\n    duration: 6s\n  fans:\n    subscribe: lb/Latest\n    clients: 10\n    duration: 6s\nfaults:\n  - { at: 3s, target: \"scores#0\", kill: true }\nsettings:\n  seed: 5\n";
    let s = sb.run_yaml(yaml, &["--quiet"]);
    let backend = &s["services"]["scores"]["endpoints"]["Latest"]["updates"];
    // Held at the backend, not at the balancer: it holds no version.
    assert!(u(&backend["max_held"]) >= 3, "{backend}");
    assert!(u(&backend["streams_opened"]) >= 10, "{backend}");
    assert!(u(&backend["pushed"]) >= 50, "{backend}");
    for name in ["waiters", "fans"] {
        let g = &s["load"][name]["updates"];
        let created = u(&g["versions_created"]);
        assert!(created >= 8, "{g}");
        assert!(
            u(&g["versions_seen"]) + u(&g["versions_missed"]) >= 10 * created - 10,
            "{name}: every client follows to the end, across the kill: {g}"
        );
        assert!(
            u(&g["versions_seen"]) >= 5 * created,
            "{name}: versions delivered through the balancer: {g}"
        );
    }
    let fans = &s["load"]["fans"]["updates"];
    assert!(
        u(&fans["reconnects"]) >= 1,
        "the killed replica's subscribers were told to reconnect: {fans}"
    );
    assert!(u(&fans["reconnects"]) <= 30, "not flapping: {fans}");
    let waiters = &s["load"]["waiters"]["updates"];
    assert!(
        f(&waiters["staleness_ms"]["p50"]) < 100.0,
        "a forwarded long poll delivers within about a round trip: {waiters}"
    );
}
