//! `topolab predict` and `topolab compare` through the real binary: a
//! prediction is a run folder of the run's shape, marked as a prediction,
//! beyond the process limit too; compare says what differed between the runs
//! first, lists figures in file order with units, finds no difference
//! between a folder and itself, and its gates exit 3 when they hold, 0 when
//! not, 1 for a bad folder or expression.

mod common;

use std::path::Path;

use common::{Sandbox, assert_counts_add_up};
use serde_json::Value;

fn predict(sb: &Sandbox, file: &Path, out: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "predict",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--hop-cost",
        "0us",
        "--seed",
        "5",
    ];
    all.extend_from_slice(args);
    sb.command(&all).output().expect("topolab predict")
}

fn read(p: &Path) -> Value {
    common::read_summary(p)
}

#[test]
fn predict_writes_a_run_folder_marked_as_a_prediction() {
    let sb = Sandbox::new();
    let out = sb.dir.path().join("p");
    let o = predict(&sb, Path::new("topologies/diner.yaml"), &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "topology.yaml",
        "summary.json",
        "timeseries.csv",
        "load_timeseries.csv",
        "report.html",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let s = read(&out);
    let p = &s["prediction"];
    assert_eq!(p["hop_cost_source"], "--hop-cost");
    assert_eq!(p["bottleneck"], "kitchen");
    // One cook at 200 ms a dish: five a second, whatever the mix.
    assert!(
        (p["capacity_per_s"].as_f64().unwrap() - 5.0).abs() < 1e-6,
        "{p}"
    );
    for l in s["load"].as_object().unwrap().values() {
        assert_counts_add_up(l);
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("<- bottleneck"), "{stdout}");
    assert!(
        stdout.trim_end().ends_with(out.to_str().unwrap()),
        "{stdout}"
    );
    // The same seed predicts the same figures.
    let again = sb.dir.path().join("q");
    assert!(
        predict(&sb, Path::new("topologies/diner.yaml"), &again, &[])
            .status
            .success()
    );
    assert_eq!(read(&again)["load"], s["load"]);
}

#[test]
fn predict_is_not_bound_by_the_process_limit() {
    let sb = Sandbox::new();
    let yaml = "name: wide\nservices:\n  api:\n    replicas: 400\n    endpoints:\n      Get:\n        steps:\n          - work: 1ms\nload:\n  users:\n    target: api/Get\n    rate: 60000/s\n    duration: 2s\n";
    let file = sb.file("wide.yaml", yaml);
    let run = sb
        .command(&["validate", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(1),
        "a run of 400 processes is refused"
    );
    let out = sb.dir.path().join("p");
    let o = predict(&sb, &file, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = read(&out);
    assert_eq!(s["services"]["api"]["replicas"], 400);
    let sent = s["load"]["users"]["sent"].as_u64().unwrap();
    assert!((110_000..130_000).contains(&sent), "{sent}");
}

#[test]
fn compare_says_what_differed_then_the_figures_in_file_order_with_units() {
    let sb = Sandbox::new();
    let a = sb.dir.path().join("a");
    let b = sb.dir.path().join("b");
    let diner = Path::new("topologies/diner.yaml");
    assert!(predict(&sb, diner, &a, &[]).status.success());
    let more = ["--set", "services.kitchen.workers=2"];
    assert!(predict(&sb, diner, &b, &more).status.success());
    let out = sb
        .command(&["compare", a.to_str().unwrap(), b.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"))
    };
    // What differed comes before any figure: the `--set`, and nothing else
    // (both runs have the same seed).
    let differed = &text[at("what differed between the runs")..at("load regulars")];
    assert!(
        differed.contains("services.kitchen.workers  A: 1  B: 2"),
        "{text}"
    );
    assert_eq!(differed.trim().lines().count(), 2, "{text}");
    // The diner's file order (regulars, then the lunch rush), and each
    // figure in the tables' order, with its unit.
    assert!(at("load regulars") < at("load lunch-rush"), "{text}");
    assert!(
        at("load lunch-rush") < at("endpoint kitchen/Cook"),
        "{text}"
    );
    assert!(
        at("  sent ") < at("  ok ") && at("  ok ") < at("  errors "),
        "{text}"
    );
    assert!(
        at("offered/s") < at("p50 ms") && at("p50 ms") < at("p99 ms"),
        "{text}"
    );
    assert!(text.contains("queue_p99 ms"), "{text}");

    let same = sb
        .command(&["compare", a.to_str().unwrap(), a.to_str().unwrap()])
        .output()
        .unwrap();
    let same = String::from_utf8_lossy(&same.stdout);
    assert!(same.contains("the same topology and settings"), "{same}");
}

#[test]
fn compare_gates_exit_3_when_they_hold() {
    let sb = Sandbox::new();
    let a = sb.dir.path().join("a");
    let b = sb.dir.path().join("b");
    let diner = Path::new("topologies/diner.yaml");
    assert!(predict(&sb, diner, &a, &[]).status.success());
    // More regulars: requests wait longer (the mean and median grow; p99 is
    // capped by the full queue).
    assert!(
        predict(&sb, diner, &b, &["--set", "load.regulars.rate=4.5/s"])
            .status
            .success()
    );
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let code = |args: &[&str]| sb.command(args).output().unwrap().status.code();

    // A folder against itself differs by nothing.
    let same = sb.command(&["compare", a, a, "--json"]).output().unwrap();
    assert_eq!(same.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&same.stdout).unwrap();
    let c = &doc["comparison"];
    for section in ["load", "endpoints"] {
        for figures in c[section].as_object().unwrap().values() {
            for (k, p) in figures.as_object().unwrap() {
                assert_eq!(p["diff"].as_f64(), Some(0.0), "{section} {k}: {p}");
            }
        }
    }
    assert_eq!(code(&["compare", a, a, "--fail-if", "p99 > +10%"]), Some(0));

    assert_eq!(
        code(&["compare", a, b, "--fail-if", "load.regulars.mean > +10%"]),
        Some(3)
    );
    assert_eq!(
        code(&["compare", a, b, "--fail-if", "kitchen/Cook.p50 > +10%"]),
        Some(3)
    );
    assert_eq!(
        code(&["compare", a, b, "--fail-if", "rejected > 90%"]),
        Some(0)
    );
    assert_eq!(code(&["compare", a, b, "--fail-if", "p99 < -50%"]), Some(0));
    assert_eq!(code(&["compare", a, b, "--fail-if", "p99 > 10%"]), Some(1));
    assert_eq!(
        code(&["compare", a, b, "--fail-if", "load.nobody.p99 > +1%"]),
        Some(1)
    );
    let missing = sb.dir.path().join("missing");
    assert_eq!(code(&["compare", a, missing.to_str().unwrap()]), Some(1));
}
