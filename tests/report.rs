//! `report.html` in a real browser: a run of `topologies/cascade.yaml`
//! (shortened) writes it, `topolab report` rewrites it, and headless Chromium
//! opens it with no console message and no network request, its charts
//! present. The reports of the diner (the collapse, request by request),
//! `retry-storm.yaml` (its faults) and `sticky-sessions.yaml` (the
//! `session_miss` edge) tell their story. Screenshots are kept in
//! `target/test-artifacts/`. Without Chromium the tests that open a page fail
//! in CI and are skipped, and counted as skipped, elsewhere
//! (`common::require_peer`; `.ci/run` installs it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::peers::CHROMIUM_PATH as CHROMIUM;
use common::{Sandbox, peers, require_peer};

/// Opens `page` headless: returns the DOM after load and Chromium's stderr,
/// writes the network log to `netlog` and a screenshot to `shot`.
fn chromium(page: &Path, profile: &Path, netlog: &Path, shot: &Path) -> (String, String) {
    let url = format!("file://{}", page.display());
    let base = |cmd: &mut Command| {
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1000,3200",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    };
    let mut dump = Command::new(CHROMIUM);
    base(&mut dump);
    let out = dump
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {out:?}");
    let mut snap = Command::new(CHROMIUM);
    base(&mut snap);
    let shot_out = snap
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(shot_out.status.success(), "screenshot failed: {shot_out:?}");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// URLs the page itself asked for. Chromium's own background requests carry
/// the initiator "not an origin"; a `file://` page's requests carry "null".
fn page_requests(netlog: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(netlog).expect("net log written");
    let log: serde_json::Value = serde_json::from_str(&text).expect("net log is JSON");
    log["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| {
            let p = &e["params"];
            let url = p["url"].as_str()?;
            let initiator = p["initiator"].as_str()?;
            (initiator != "not an origin").then(|| format!("{url} (initiator {initiator})"))
        })
        .collect()
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

#[test]
fn report_opens_offline_in_chromium_with_its_charts() {
    if !require_peer(&peers::CHROMIUM) {
        return;
    }
    let sb = Sandbox::new();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/cascade.yaml");
    let out = sb.run(
        &file,
        &[
            "--quiet",
            "--seed",
            "5",
            "--set",
            "load.base.duration=6s",
            "--set",
            "load.surge.start=2s",
            "--set",
            "load.surge.duration=3s",
        ],
    );
    assert!(out.status.success());
    let report = sb.out().join("report.html");
    assert!(report.exists(), "run writes report.html");
    std::fs::remove_file(&report).unwrap();

    let again = sb
        .command(&["report", sb.out().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(again.status.success(), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stdout).contains("report.html"));
    let html = std::fs::read_to_string(&report).expect("topolab report rewrote it");
    // Its scripts (the chain view) are inline, and none reaches out.
    for banned in [
        "<script src",
        "fetch(",
        "XMLHttpRequest",
        "<link",
        "<img",
        "@import",
        "url(http",
        "src=\"http",
    ] {
        assert!(!html.contains(banned), "self-contained: found {banned}");
    }

    let profile = sb.dir.path().join("chromium-profile");
    let netlog = sb.dir.path().join("netlog.json");
    let shot = artifacts().join("report-cascade.png");
    let (dom, stderr) = chromium(&report, &profile, &netlog, &shot);

    let console: Vec<&str> = stderr.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let requests = page_requests(&netlog);
    assert!(requests.is_empty(), "the page made requests: {requests:#?}");

    for id in [
        "chart-service-frontend",
        "chart-service-api",
        "chart-service-db",
    ] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "missing {id}");
    }
    assert!(dom.matches("<svg").count() >= 4, "graph and charts drawn");
    assert!(dom.contains("class=\"graph\""), "topology graph");
    let said = dom
        .split("id=\"cascade\"")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or("(no cascade paragraph)");
    assert!(
        dom.contains("db saturated from"),
        "cascade in words: {said}"
    );
    let png = std::fs::metadata(&shot).expect("screenshot kept").len();
    assert!(png > 10_000, "screenshot has content: {png} bytes");
}

#[test]
fn report_of_a_folder_that_is_not_a_run_says_so() {
    let sb = Sandbox::new();
    let out = sb
        .command(&["report", sb.dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a run folder"));
}

/// Opens `report` in Chromium, asserts it is quiet and self-contained, and
/// keeps its screenshot as `target/test-artifacts/<name>.png`.
fn look_at(sb: &Sandbox, report: &Path, name: &str) -> String {
    let profile = sb.dir.path().join("chromium-profile");
    let netlog = sb.dir.path().join("netlog.json");
    let shot = artifacts().join(format!("{name}.png"));
    let (dom, stderr) = chromium(report, &profile, &netlog, &shot);
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert!(page_requests(&netlog).is_empty(), "the page made requests");
    let png = std::fs::metadata(&shot).expect("screenshot kept").len();
    assert!(png > 10_000, "screenshot has content: {png} bytes");
    dom
}

/// The SVG of the chart with `id` in `html`.
fn chart<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"chart-{id}\""))
        .unwrap_or_else(|| panic!("no chart {id}"));
    let end = html[start..].find("</svg>").expect("chart closes") + start;
    &html[start..end]
}

const RED_DOT: &str = "fill=\"#D62D2D\"";
const YELLOW_DOT: &str = "fill=\"#F2BE24\"";
const BLUE_DOT: &str = "fill=\"#3478DB\"";

#[test]
fn the_diners_report_shows_the_collapse_request_by_request() {
    if !require_peer(&peers::CHROMIUM) {
        return;
    }
    let sb = Sandbox::new();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/diner.yaml");
    let out = sb.run(&file, &["--quiet"]);
    assert!(out.status.success(), "{out:?}");
    let summary = sb.summary();
    let sent: u64 = ["regulars", "lunch-rush"]
        .iter()
        .map(|g| summary["load"][g]["sent"].as_u64().unwrap())
        .sum();
    // Fewer requests than the sample holds: every one is drawn.
    let sample = std::fs::read_to_string(sb.out().join("requests.csv")).unwrap();
    assert_eq!(
        sample.lines().count() as u64,
        sent + 1,
        "one row per request"
    );
    let html = std::fs::read_to_string(sb.out().join("report.html")).unwrap();
    let dots = chart(&html, "requests");
    // Before the rush the cook keeps up (blue); in it, requests wait (yellow)
    // and the full rail turns them away (red).
    for (colour, what) in [(BLUE_DOT, "blue"), (YELLOW_DOT, "yellow"), (RED_DOT, "red")] {
        assert!(
            dots.contains(colour),
            "no {what} dots in the requests chart"
        );
    }
    assert!(
        html.contains("All ") && html.contains(" requests."),
        "says all are drawn"
    );
    // ~5 requests/s: the rates are in 2 s bins, and the chart says so.
    assert!(html.contains("per <b>2 s</b> bin"), "the bin is named");
    // One verdict, said once: the headline, the graph's key and the charts'
    // marks all call the kitchen saturated, and none claims a cascade.
    let cascade = &summary["cascade"];
    if cascade["onsets"].as_array().is_some_and(|o| !o.is_empty()) {
        assert_eq!(cascade["detected"], false, "{cascade}");
        let said = cascade["text"].as_str().unwrap();
        assert!(
            said.starts_with("no cascade: kitchen saturated from"),
            "{said}"
        );
        assert!(
            html.contains("saturated: nothing waits on it (no cascade)"),
            "the graph's key agrees"
        );
        assert!(
            html.contains("kitchen saturated from"),
            "the charts' mark agrees"
        );
        assert!(
            !html.contains("where the cascade started"),
            "nothing claims a cascade"
        );
    }
    look_at(&sb, &sb.out().join("report.html"), "report-diner");
}

#[test]
fn a_fault_appears_in_the_report_of_retry_storm() {
    if !require_peer(&peers::CHROMIUM) {
        return;
    }
    let sb = Sandbox::new();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/retry-storm.yaml");
    let out = sb.run(&file, &["--quiet"]);
    assert!(out.status.success(), "{out:?}");
    let html = std::fs::read_to_string(sb.out().join("report.html")).unwrap();
    let table = &html[html.find("id=\"faults\"").expect("a faults table")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert!(table.contains("slow 10x") && table.contains(">db<") && table.contains(">db-b<"));
    // Its effect: the load failed far more while db was slow than just before.
    let row = &table[table
        .find("<tr><td><b>slow 10x</b></td><td>db</td>")
        .expect("db's row")..];
    let shares: Vec<f64> = row
        .split("%)")
        .take(2)
        .map(|s| s[s.rfind('(').unwrap() + 1..].parse().unwrap())
        .collect();
    assert!(
        shares[0] > shares[1] + 20.0,
        "failed during vs before: {shares:?}"
    );
    // Marked on every time chart: requests, load, latency and each service.
    for id in [
        "requests",
        "load",
        "latency",
        "service-api",
        "service-db",
        "service-db-b",
    ] {
        assert!(
            chart(&html, id).contains("slow 10x on db"),
            "the fault is not labelled on chart {id}"
        );
    }
    look_at(&sb, &sb.out().join("report.html"), "report-retry-storm");
}

#[test]
fn the_report_of_sticky_sessions_draws_cart_to_db() {
    let sb = Sandbox::new();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/sticky-sessions.yaml");
    let out = sb.run(
        &file,
        &[
            "--quiet",
            "--set",
            "load.round-robin.duration=5s",
            "--set",
            "load.sticky.duration=5s",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let html = std::fs::read_to_string(sb.out().join("report.html")).unwrap();
    for (from, to) in [("cart", "db"), ("cart-s", "db-s")] {
        assert!(
            html.contains(&format!(
                "data-from=\"{from}\" data-to=\"{to}\" data-kind=\"session_miss\""
            )),
            "no session_miss edge {from} -> {to}"
        );
    }
    // The kill at 4 s and the restart after it are marked.
    let requests = chart(&html, "requests");
    assert!(requests.contains("kill cart#0") && requests.contains("restart cart#0"));
    assert!(
        sb.summary()["restart_log"]
            .as_array()
            .is_some_and(|r| r.len() >= 2)
    );
}
