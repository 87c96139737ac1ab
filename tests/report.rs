//! `report.html` in a real browser: a run of `topologies/cascade.yaml`
//! (shortened) writes it, `topolab report` rewrites it, and headless Chromium
//! opens it with no console message and no network request, its charts
//! present; a screenshot is kept in `target/test-artifacts/`. Chromium is a
//! requirement of this test (`.ci/run` installs it), never silently skipped.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Sandbox;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Opens `page` headless: returns the DOM after load and Chromium's stderr,
/// writes the network log to `netlog` and a screenshot to `shot`.
fn chromium(page: &Path, profile: &Path, netlog: &Path, shot: &Path) -> (String, String) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)"
    );
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
    for banned in [
        "<script",
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
    assert!(dom.contains("db saturated at"), "cascade in words");
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
