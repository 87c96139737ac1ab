//! `topolab import`'s round trip: a topology run, its traces imported, and
//! the import the same topology running the same latencies; the same with
//! one service's clock skewed. Input formats and bad input:
//! tests/import_inputs.rs.

mod common;
#[path = "import/helpers.rs"]
mod helpers;

use std::path::{Path, PathBuf};

use common::{Sandbox, assert_binomial, read_summary};
use helpers::{import, load, probabilities, shapes, text, topology};
use serde_json::Value;
use topolab_model::Topology;

const ROUND_TRIP: &str = "tests/topologies/import-roundtrip.yaml";

/// Asserts that `imported` is `original` as far as traces can tell.
fn assert_same_topology(original: &Topology, imported: &Topology, run: &Path, yaml: &str) {
    let names = |t: &Topology| {
        let mut n: Vec<String> = t.services.iter().map(|s| s.name.clone()).collect();
        n.sort();
        n
    };
    assert_eq!(names(imported), names(original), "services\n{yaml}");
    assert_eq!(
        shapes(imported),
        shapes(original),
        "endpoints, calls and stages\n{yaml}"
    );
    let summary = read_summary(run);
    for ((edge, p0), (edge1, p1)) in probabilities(original)
        .into_iter()
        .zip(probabilities(imported))
    {
        assert_eq!(edge, edge1);
        let caller = edge.split(" -> ").next().unwrap();
        let (svc, ep) = caller.split_once('/').unwrap();
        let n = summary["services"][svc]["endpoints"][ep]["requests"]
            .as_u64()
            .unwrap();
        if p0 >= 1.0 {
            assert_eq!(p1, 1.0, "{edge} is always made\n{yaml}");
        } else {
            assert_binomial(&edge, (p1 * n as f64).round() as u64, n, p0);
        }
    }
    let (a, b) = (load(original), load(imported));
    assert_eq!(a.len(), b.len(), "generators\n{yaml}");
    for ((name, target, rates), (name1, target1, rates1)) in a.iter().zip(&b) {
        assert_eq!((name, target), (name1, target1), "\n{yaml}");
        assert_eq!(rates.len(), rates1.len(), "{name}'s stages\n{yaml}");
        for (r, r1) in rates.iter().zip(rates1) {
            // A Poisson count over a 10 s stage: 4 sigma of r*10, per second.
            let tol = 4.0 * (r * 10.0).sqrt() / 10.0 + 0.5;
            assert!(
                (r - r1).abs() <= tol,
                "{name}: {r1}/s for {r}/s (±{tol:.1})\n{yaml}"
            );
        }
    }
}

/// Samples per side the KS test is judged at, at most. Two runs on this
/// machine differ by its load: timers wake later in one than the other, and
/// a sleep-based `work` of 20 ms drifts by a few percent between them. With
/// thousands of samples KS rejects that drift, which is the machine's, not
/// the import's; at 300 a side it still rejects a wrong shape (exp for
/// lognormal: D ≈ 0.4) or a mean 15% off (D ≈ 0.2), and passes the drift.
const KS_SAMPLES: u64 = 300;

/// The 99% critical value of the two-sample Kolmogorov-Smirnov distance
/// for `n` and `m` samples (each at most [`KS_SAMPLES`]).
fn ks_critical(n: u64, m: u64) -> f64 {
    let (n, m) = (n.min(KS_SAMPLES) as f64, m.min(KS_SAMPLES) as f64);
    1.628 * ((n + m) / (n * m)).sqrt()
}

/// Shifts every span of `service` in an OTLP JSON Lines file by `ns`.
fn shift(from: &Path, to: &Path, service: &str, ns: i64) {
    let text = std::fs::read_to_string(from).unwrap();
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut v: Value = serde_json::from_str(line).unwrap();
        for rs in v["resourceSpans"].as_array_mut().unwrap() {
            let name = rs["resource"]["attributes"]
                .as_array()
                .and_then(|a| a.iter().find(|kv| kv["key"] == "service.name"))
                .and_then(|kv| kv["value"]["stringValue"].as_str())
                .unwrap_or("")
                .to_string();
            if name != service {
                continue;
            }
            for ss in rs["scopeSpans"].as_array_mut().unwrap() {
                for s in ss["spans"].as_array_mut().unwrap() {
                    for k in ["startTimeUnixNano", "endTimeUnixNano"] {
                        let t: i64 = match &s[k] {
                            Value::String(t) => t.parse().unwrap(),
                            t => t.as_i64().unwrap(),
                        };
                        s[k] = Value::String((t + ns).to_string());
                    }
                }
            }
        }
        out.push_str(&serde_json::to_string(&v).unwrap());
        out.push('\n');
    }
    std::fs::write(to, out).unwrap();
}

/// Why a run is too noisy to judge tails by, if it is: the machine could
/// not run the replicas' timers on time (work over 10% late; the import
/// takes the run's own lateness out, but a stretch that large comes in
/// bursts), or the load generator itself was held up over 40 ms (a stall of the whole machine lands in every latency of the
/// requests in flight, and two runs' p99 then differ by the stall).
fn too_noisy(run: &Path) -> Option<String> {
    let s = read_summary(run);
    let late = s["work_timing"]["work_late_pct"].as_f64().unwrap_or(0.0);
    if late > 10.0 {
        return Some(format!("work ran {late}% late"));
    }
    let load = s["load"].as_object()?;
    load.iter().find_map(|(g, v)| {
        let late = v["late_ms"]["max"].as_f64()?;
        (late > 40.0).then(|| format!("`{g}` sent a request {late} ms late"))
    })
}

/// Runs `file` into `<sandbox>/NAME`, again (up to three times in all)
/// while the machine is too busy for its tails to mean anything; fails when
/// it never is quiet enough, rather than judging noise.
fn quiet_run(sb: &Sandbox, file: &str, name: &str) -> PathBuf {
    let mut why = Vec::new();
    for attempt in 0..3 {
        let dir = sb.dir.path().join(format!("{name}-{attempt}"));
        let o = sb
            .command(&["run", file, "--out", dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        match too_noisy(&dir) {
            None => return dir,
            Some(w) => why.push(w),
        }
    }
    panic!("the machine was too busy to judge the round trip by: {why:?}");
}

/// A topology with a parallel pair, a call made with probability 0.3, a
/// fan-out of 3, lognormal work and two entry points (one in two stages)
/// is run, its traces imported, and the import is the same topology: the
/// same services, endpoints, calls and stages, probabilities within the
/// binomial bound of the original's, self times that pass a KS test
/// against the original's, and a run of it that gives the entry points'
/// p50 and p99 within 10% (`compare --fail-if`). With one service's clock
/// 3 ms ahead, the import is the same, and the skew is reported.
#[test]
fn a_run_imported_from_its_traces_is_the_same_topology_and_runs_the_same() {
    let sb = Sandbox::new();
    let original_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(ROUND_TRIP);
    let run1 = quiet_run(&sb, ROUND_TRIP, "run1");
    let traces = run1.join("traces.jsonl");
    let imported_path = sb.dir.path().join("imported.yaml");
    let o = import(
        &sb,
        &[
            traces.to_str().unwrap(),
            "--out",
            imported_path.to_str().unwrap(),
        ],
    );
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert!(
        said.contains("inferred 5 services, 6 endpoints, 4 calls, 2 load generators"),
        "{said}"
    );
    let yaml = std::fs::read_to_string(&imported_path).unwrap();
    let original = topology(&original_path);
    let imported = topology(&imported_path);
    assert_same_topology(&original, &imported, &run1, &yaml);

    // Clock skew: users' clock 3 ms ahead changes nothing but the report.
    // In a copy of the run folder, so that the import reads the same
    // machine lateness from its summary.json.
    let skewed_run = sb.dir.path().join("skewed");
    std::fs::create_dir(&skewed_run).unwrap();
    std::fs::copy(run1.join("summary.json"), skewed_run.join("summary.json")).unwrap();
    let skewed = skewed_run.join("traces.jsonl");
    shift(&traces, &skewed, "users", 3_000_000);
    let skewed_path = sb.dir.path().join("skewed.yaml");
    let o = import(
        &sb,
        &[
            skewed.to_str().unwrap(),
            "--out",
            skewed_path.to_str().unwrap(),
        ],
    );
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    let skew: f64 = said
        .split("clock skew seen: users's clock reads +")
        .nth(1)
        .and_then(|rest| rest.split("ms").next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no skew reported for users:\n{said}"));
    // The midpoints' difference: the shift, give or take the wire's asymmetry.
    assert!(
        (2.5..3.5).contains(&skew),
        "{skew} ms for a 3 ms shift\n{said}"
    );
    let skewed_yaml = std::fs::read_to_string(&skewed_path).unwrap();
    assert_same_topology(&original, &topology(&skewed_path), &run1, &skewed_yaml);
    let steps = |y: &str| -> Vec<String> {
        y.lines()
            .filter(|l| l.trim_start().starts_with("- work:"))
            .map(|l| l.split('#').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        steps(&skewed_yaml),
        steps(&yaml),
        "self times do not move with a skewed clock"
    );

    // The import runs as the original did.
    let run2 = quiet_run(&sb, imported_path.to_str().unwrap(), "run2");
    let opts = topolab_import::Options::default();
    let a = topolab_import::import(std::slice::from_ref(&traces), &opts).unwrap();
    let b = topolab_import::import(&[run2.join("traces.jsonl")], &opts).unwrap();
    for (endpoint, h) in &a.self_times {
        let h2 = &b.self_times[endpoint];
        let d = topolab_import::fit::ks2(h, h2);
        let c = ks_critical(h.len(), h2.len());
        assert!(
            d < c,
            "{endpoint}: self times differ (KS D={d:.3} >= {c:.3} at 99%)"
        );
    }
    let o = sb
        .command(&[
            "compare",
            run1.to_str().unwrap(),
            run2.to_str().unwrap(),
            "--fail-if",
            "p50 > +10%",
            "--fail-if",
            "p50 < -10%",
            "--fail-if",
            "p99 > +10%",
            "--fail-if",
            "p99 < -10%",
        ])
        .output()
        .unwrap();
    let said = text(&o);
    let figures: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("load ") || l.contains(" ms ") || l.contains("fail"))
        .collect();
    assert_eq!(
        o.status.code(),
        Some(0),
        "entry latencies differ by more than 10%:\n{}",
        figures.join("\n")
    );
}
