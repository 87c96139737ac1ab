//! `run --predict` against real runs of `topologies/cascade.yaml` and
//! `topologies/feed.yaml`: the prediction (hop cost and work-step overhead
//! probed afresh on this machine just before) must agree with what the
//! processes measured, within the prediction's own noise plus a stated
//! allowance for what no model of a shared machine can know.
//!
//! The noise is the prediction's 95% range for one run (8 simulations, see
//! `results/src/versus.rs`); tests use 3 × its half-width, about a 99.99%
//! range, so a correct model fails a figure far less than once in a
//! thousand runs rather than once in twenty.

mod common;

use std::path::Path;

use common::Sandbox;
use serde_json::Value;

/// Attempts, when a run the machine starved (see [`starved`]) disagrees.
const ATTEMPTS: usize = 3;

/// Disagreements between a run and its prediction, in words.
type Misses = Vec<String>;

/// `run FILE --predict` (fresh probe) and `check` the two summaries. A
/// disagreement fails the test at once when the run was not starved; a
/// starved run (its own figures say the machine, not the topology, set the
/// pace) is tried again, up to [`ATTEMPTS`] times, and then fails too.
fn agree(file: &str, check: impl Fn(&Value, &Value, &str) -> Misses) {
    let mut log = Vec::new();
    for attempt in 1..=ATTEMPTS {
        let sb = Sandbox::new();
        let (m, p, stdout) = run_predicted(&sb, file);
        let misses = check(&m, &p, &stdout);
        if misses.is_empty() {
            return;
        }
        match starved(&m, &p) {
            None => panic!(
                "{file}: the prediction disagrees with a run the machine did not starve:\n{}",
                misses.join("\n")
            ),
            Some(w) => {
                eprintln!(
                    "attempt {attempt}: disagrees, but the machine starved the run ({w}); again:\n{}",
                    misses.join("\n")
                );
                log.push(format!("{w}: {misses:?}"));
            }
        }
    }
    panic!("{file}: every run disagreed and was starved by the machine: {log:#?}");
}

/// The run's own evidence that the machine, not the topology, set its
/// pace: a generator sending late (p99 over 10 ms late: the processes did
/// not get a core when due) or an endpoint's work steps running more than
/// 25% + 1 ms longer than the model's (sampled work plus the probed
/// overhead). Other engineers' builds share these two cores; a load
/// average of 12 was seen while writing this test.
fn starved(m: &Value, p: &Value) -> Option<String> {
    for (name, l) in m["load"].as_object()? {
        let late = f(&l["late_ms"]["p99"]);
        if late > 10.0 {
            return Some(format!("load.{name} sent late: p99 {late} ms"));
        }
    }
    for (svc, s) in m["services"].as_object()? {
        for (ep, e) in s["endpoints"].as_object()? {
            let real = f(&e["work_ms"]["mean"]);
            let model = f(&p["services"][svc]["endpoints"][ep]["work_ms"]["mean"]);
            if real > model * 1.25 + 1.0 {
                return Some(format!(
                    "{svc}/{ep} work {real} ms against the model's {model} ms"
                ));
            }
        }
    }
    None
}

/// `run FILE --predict` with a fresh probe (its own cache folder), quiet;
/// returns (measured summary, predicted summary, stdout).
fn run_predicted(sb: &Sandbox, file: &str) -> (Value, Value, String) {
    let out = sb.out();
    let cache = sb.dir.path().join("cache");
    let o = sb
        .command(&[
            "run",
            file,
            "--out",
            out.to_str().unwrap(),
            "--predict",
            "--reprobe",
            "-q",
        ])
        .env("XDG_CACHE_HOME", &cache)
        .output()
        .expect("topolab run --predict");
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let read = |p: &Path| -> Value { common::read_summary(p) };
    let predicted = out.join("prediction");
    assert!(
        predicted.join("report.html").exists(),
        "no prediction/report.html"
    );
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        report.contains("Predicted vs measured"),
        "no section in report.html"
    );
    (read(&out), read(&predicted), stdout)
}

/// (mean, half-width) of a predicted figure's 95% range.
fn band(p: &Value, scope: &str, figure: &str) -> (f64, f64) {
    let b = &p["prediction"]["noise"]["figures"][scope][figure];
    let mean = b["mean"]
        .as_f64()
        .unwrap_or_else(|| panic!("no band {scope} {figure}"));
    (mean, b["half"].as_f64().unwrap())
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

/// Notes a miss unless `measured` is within `3 × half + allowance` of the
/// band's mean.
#[allow(clippy::too_many_arguments)]
fn near(
    misses: &mut Misses,
    p: &Value,
    scope: &str,
    figure: &str,
    measured: f64,
    allowance: f64,
    why: &str,
) {
    let (mean, half) = band(p, scope, figure);
    let within = 3.0 * half + allowance;
    eprintln!("{scope} {figure}: predicted {mean:.2} ± {half:.2}, measured {measured:.2}");
    if (measured - mean).abs() > within {
        misses.push(format!(
            "{scope} {figure}: measured {measured:.2}, predicted {mean:.2} ± {half:.2}; allowed ±{within:.2} ({why})"
        ));
    }
}

/// Notes `what` as a miss unless `ok`.
fn expect(misses: &mut Misses, ok: bool, what: String) {
    if !ok {
        misses.push(what);
    }
}

#[test]
fn feed_below_saturation_is_predicted_within_its_noise() {
    agree("topologies/feed.yaml", check_feed);
}

fn check_feed(m: &Value, p: &Value, stdout: &str) -> Misses {
    let mut misses = Misses::new();
    // What the model cannot have wrong whatever the machine: the table is
    // printed, sizes are named as not modelled, nothing fails below
    // saturation in the model, and every Feed asks db 4 times (posts × 3,
    // users × 1).
    assert!(stdout.contains("predicted beside measured"), "{stdout}");
    assert!(
        stdout.contains("services.api.endpoints.Feed.response"),
        "{stdout}"
    );
    let (ml, pl) = (&m["load"]["app"], &p["load"]["app"]);
    assert_eq!(pl["ok"], pl["sent"], "{pl}");
    let pf = &p["services"];
    assert_eq!(
        f(&pf["db"]["endpoints"]["Query"]["requests"]),
        4.0 * f(&pf["api"]["endpoints"]["Feed"]["ok"])
    );
    // The run may lose a request to auth's 100 ms timeout when the machine
    // stalls (2% allowed); the answered ones asked db 4 times each.
    let failed = f(&ml["sent"]) - f(&ml["ok"]);
    expect(
        &mut misses,
        failed <= 0.02 * f(&ml["sent"]),
        format!("failed {failed}: {ml}"),
    );
    let ms = &m["services"];
    let (feed, db) = (
        f(&ms["api"]["endpoints"]["Feed"]["requests"]),
        f(&ms["db"]["endpoints"]["Query"]["requests"]),
    );
    expect(
        &mut misses,
        db <= 4.0 * feed && db >= 4.0 * f(&ml["ok"]),
        format!("db {db} for {feed} Feeds"),
    );
    // Poisson arrivals at 40/s: the ok rate is within the noise alone.
    near(
        &mut misses,
        p,
        "load.app",
        "ok/s",
        f(&ml["throughput"]),
        0.0,
        "sampling noise only",
    );
    // Latency: five hops lie on each Feed's critical path, and on this
    // shared two-core machine (a debug build, load average near 10 while
    // others build) the hop cost drifts with what else runs: probes minutes
    // apart measured 1.9 to 4.7 ms per hop, and the run's own hops (five
    // processes, a fan-out) cost more than the two-process probe's. Hence
    // 50% of the prediction on top of its noise: a model missing a hop or
    // a work step, or summing the parallel calls instead of waiting for
    // the slower, is off by more. The median, not the mean: the mean
    // carries the machine's stalls (the run's p99 is several times the
    // model's), which no model of the topology knows.
    let (pm, _) = band(p, "load.app", "p50 ms");
    let measured = f(&ml["latency_ms"]["p50"]);
    near(
        &mut misses,
        p,
        "load.app",
        "p50 ms",
        measured,
        0.5 * pm,
        "hop cost drift",
    );
    misses
}

#[test]
fn cascade_saturation_and_its_order_are_predicted() {
    agree("topologies/cascade.yaml", |m, p, _| check_cascade(m, p));
}

fn check_cascade(m: &Value, p: &Value) -> Misses {
    let mut misses = Misses::new();
    // The cascade in the same order, at about the same moments: db first,
    // then api, then frontend. An onset is a threshold crossing of a random
    // process, so one run's lands anywhere in the simulations' range (the
    // frontend's moved from 4.5 to 6.7 s over ten seeds; CI once measured
    // 5.1 s against the first simulation's 7.5 s); 0.5 s more for the
    // telemetry's sampling and the real db's slightly longer work steps.
    let onsets = |s: &Value| -> Vec<(String, f64)> {
        s["cascade"]["onsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["service"].as_str().unwrap().to_string(), f(&o["t_s"])))
            .collect()
    };
    let (mo, po) = (onsets(m), onsets(p));
    let names = |o: &[(String, f64)]| o.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&po), ["db", "api", "frontend"], "{}", p["cascade"]);
    expect(
        &mut misses,
        names(&mo) == names(&po),
        format!("measured cascade {}", m["cascade"]["text"]),
    );
    for (service, t_s) in &mo {
        let scope = format!("service {service}");
        near(&mut misses, p, &scope, "onset s", *t_s, 0.5, "sampling");
    }
    // Saturated: what got through is db's capacity, which the model knows
    // (2 workers × 20 ms); 10% for the real db's work steps running a
    // little long on a busy machine beyond the probed overhead.
    for g in ["base", "surge"] {
        let l = &m["load"][g];
        let scope = format!("load.{g}");
        let (pm, _) = band(p, &scope, "ok/s");
        let why = "db runs a little long";
        near(
            &mut misses,
            p,
            &scope,
            "ok/s",
            f(&l["throughput"]),
            0.1 * pm,
            why,
        );
        // Turned away at the front door: in percentage points, 3 more for
        // the same reason (a slower db rejects a little more).
        let rejected = f(&l["rejected"]) / f(&l["sent"]) * 100.0;
        near(&mut misses, p, &scope, "rejected %", rejected, 3.0, why);
    }
    // db's queue is bounded by api's 8 blocking workers: 25% for its
    // longer work steps again (each waits behind up to 7 others).
    let db = f(&m["services"]["db"]["endpoints"]["Query"]["latency_ms"]["mean"]);
    let (pm, _) = band(p, "db/Query", "mean ms");
    near(
        &mut misses,
        p,
        "db/Query",
        "mean ms",
        db,
        0.25 * pm,
        "db's work steps run long",
    );
    misses
}
