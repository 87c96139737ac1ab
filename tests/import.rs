//! `topolab import`: the round trip (a topology run, its traces imported,
//! the import the same topology and running the same latencies), the same
//! with one service's clock skewed, and bad input reported by line while
//! the rest is still imported.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Sandbox, assert_binomial, read_summary};
use serde_json::Value;
use topolab_model::{Pattern, Step, Topology};

const ROUND_TRIP: &str = "tests/topologies/import-roundtrip.yaml";

fn topology(path: &Path) -> Topology {
    topolab_model::load(path, &[])
        .unwrap_or_else(|e| panic!("{} does not load:\n{e}", path.display()))
        .topology
}

fn import(sb: &Sandbox, args: &[&str]) -> Output {
    sb.command(&[&["import"], args].concat())
        .output()
        .expect("run topolab import")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An endpoint's steps without their work: calls with their repetitions,
/// and parallel blocks with their branches in a fixed order.
fn shape(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Work(_) => None,
            Step::Call(c) => Some(format!("call {}/{} x{}", c.service, c.endpoint, c.times)),
            Step::Parallel(branches) => {
                let mut b: Vec<String> = branches.iter().map(|br| shape(br).join(", ")).collect();
                b.sort();
                Some(format!("parallel [{}]", b.join(" | ")))
            }
        })
        .collect()
}

/// Every endpoint's shape, by `service/Endpoint`.
fn shapes(t: &Topology) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = t
        .services
        .iter()
        .flat_map(|s| {
            s.endpoints
                .iter()
                .map(move |e| (format!("{}/{}", s.name, e.name), shape(&e.steps)))
        })
        .collect();
    out.sort();
    out
}

/// Every call's probability, by caller and callee, in step order.
fn probabilities(t: &Topology) -> Vec<(String, f64)> {
    fn walk(steps: &[Step], at: &str, out: &mut Vec<(String, f64)>) {
        for s in steps {
            match s {
                Step::Call(c) => out.push((
                    format!("{at} -> {}/{}", c.service, c.endpoint),
                    c.probability,
                )),
                Step::Parallel(b) => b.iter().for_each(|br| walk(br, at, out)),
                Step::Work(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    for s in &t.services {
        for e in &s.endpoints {
            walk(&e.steps, &format!("{}/{}", s.name, e.name), &mut out);
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Each generator's target and its stages' rates.
fn load(t: &Topology) -> Vec<(String, String, Vec<f64>)> {
    let mut out: Vec<(String, String, Vec<f64>)> = t
        .load
        .iter()
        .map(|g| {
            let rates = match &g.pattern {
                Pattern::Open { stages, .. } => stages.iter().map(|s| s.from).collect(),
                Pattern::Closed { .. } => Vec::new(),
            };
            (g.name.clone(), g.target.to_string(), rates)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

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
/// not run the replicas' timers on time, or the load generator itself was
/// held up (a stall of the whole machine lands in every latency of the
/// requests in flight, and two runs' p99 then differ by the stall).
fn too_noisy(run: &Path) -> Option<String> {
    let s = read_summary(run);
    if s["work_timing"]["machine_bound"].as_bool() == Some(true) {
        return Some(format!("machine-bound: {}", s["work_timing"]));
    }
    let load = s["load"].as_object()?;
    load.iter().find_map(|(g, v)| {
        let late = v["late_ms"]["max"].as_f64()?;
        (late > 25.0).then(|| format!("`{g}` sent a request {late} ms late"))
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

/// One OTLP/JSON span, ids written small.
fn span(
    trace: u32,
    id: u32,
    parent: Option<u32>,
    name: &str,
    kind: u8,
    start_us: u64,
    end_us: u64,
) -> Value {
    let mut s = serde_json::json!({
        "traceId": format!("{trace:032x}"),
        "spanId": format!("{id:016x}"),
        "name": name,
        "kind": kind,
        "startTimeUnixNano": (start_us * 1000).to_string(),
        "endTimeUnixNano": (end_us * 1000).to_string(),
    });
    if let Some(p) = parent {
        s["parentSpanId"] = Value::String(format!("{p:016x}"));
    }
    s
}

/// One `TracesData` line of `service`'s spans.
fn line(service: &str, spans: Vec<Value>) -> String {
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": spans}]
    }]})
    .to_string()
}

/// A good trace: web/Page calls api/Get.
fn good(trace: u32, at: u64) -> Vec<String> {
    let base = trace * 10;
    vec![
        line(
            "web",
            vec![
                span(trace, base + 1, None, "Page", 2, at, at + 5000),
                span(
                    trace,
                    base + 2,
                    Some(base + 1),
                    "api/Get",
                    3,
                    at + 1000,
                    at + 4000,
                ),
            ],
        ),
        line(
            "api",
            vec![span(
                trace,
                base + 3,
                Some(base + 2),
                "Get",
                2,
                at + 1100,
                at + 3900,
            )],
        ),
    ]
}

/// Empty and unrecognised files are refused (exit 1) naming what was
/// expected; a file with a truncated line, spans without parents, a cycle
/// of parent links and a trace with two roots is imported with each named
/// by its line, and everything importable still imported.
#[test]
fn bad_input_is_named_by_line_and_the_rest_is_imported() {
    let sb = Sandbox::new();
    let empty = sb.file("empty.jsonl", "");
    let o = import(&sb, &[empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("empty.jsonl is empty: expected trace spans"),
        "{}",
        text(&o)
    );

    let other = sb.file("notes.txt", "hello, this is not a trace\n");
    let o = import(&sb, &[other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("notes.txt:1 is not a trace format import reads: expected OTLP/JSON"),
        "{}",
        text(&o)
    );

    let mut lines = Vec::new();
    for t in 1..=20 {
        lines.extend(good(t, u64::from(t) * 100_000));
    }
    // Line 41: truncated.
    let whole = line("web", vec![span(90, 901, None, "Page", 2, 0, 10)]);
    lines.push(whole[..whole.len() / 2].to_string());
    // Line 42: an orphan api span (its parent never written).
    lines.push(line(
        "api",
        vec![span(91, 911, Some(999), "Get", 2, 5_000_000, 5_001_000)],
    ));
    // Line 43: a cycle (912 and 913 each other's parent) beside a good root.
    lines.push(line(
        "web",
        vec![
            span(92, 920, None, "Page", 2, 6_000_000, 6_001_000),
            span(92, 912, Some(913), "Page", 2, 6_000_100, 6_000_200),
            span(92, 913, Some(912), "Page", 2, 6_000_100, 6_000_200),
        ],
    ));
    // Line 44: a trace with two roots.
    lines.push(line(
        "web",
        vec![
            span(93, 930, None, "Page", 2, 7_000_000, 7_001_000),
            span(93, 931, None, "Page", 2, 7_000_500, 7_001_500),
        ],
    ));
    let file = sb.file("bad.jsonl", &(lines.join("\n") + "\n"));
    let o = import(&sb, &[file.to_str().unwrap()]);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert!(said.contains("bad.jsonl:41: truncated"), "{said}");
    assert!(said.contains("bad.jsonl:42: span 000000000000038f (`Get`) names parent 00000000000003e7, which is not in trace"), "{said}");
    assert!(said.contains("bad.jsonl:43: 2 span(s) of trace"), "{said}");
    assert!(said.contains("are their own ancestors"), "{said}");
    assert!(said.contains("bad.jsonl:44: trace"), "{said}");
    assert!(said.contains("has 2 root spans"), "{said}");
    let yaml = String::from_utf8_lossy(&o.stdout).to_string();
    let t = topolab_model::load_str("imported", &yaml, &[])
        .unwrap()
        .topology;
    assert_eq!(
        shapes(&t),
        vec![
            ("api/Get".to_string(), vec![]),
            ("web/Page".to_string(), vec!["call api/Get x1".to_string()]),
        ],
        "{yaml}"
    );
    // 20 good traces, the cycle's root and the two roots are arrivals; the
    // orphan is not.
    assert!(
        yaml.contains("# 23 requests arrived from outside"),
        "{yaml}"
    );
}

/// Spans nobody here wrote: a small program traced with the OpenTelemetry
/// Python SDK (three services as threads; a parallel pair, a call after
/// it, a Redis nobody traced) imports into the shape it was written with,
/// and the same spans written as Jaeger, Zipkin and CSV (by that program)
/// import into the same topology. A CSV without span kinds, its columns
/// named by flag, reads by the kind-less rule: the same calls, with the
/// untraced Redis folded into its caller's work and the outside caller a
/// service of its own.
#[test]
fn spans_from_the_opentelemetry_python_sdk_import_the_same_in_every_format() {
    if !common::require_peer(&common::peers::PYTHON_OTLP_SDK) {
        return;
    }
    let sb = Sandbox::new();
    let out = sb.dir.path().join("spans");
    let app = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/import/otel_app.py");
    let o = std::process::Command::new("python3")
        .args([app.to_str().unwrap(), out.to_str().unwrap(), "60"])
        .output()
        .expect("python3");
    assert!(o.status.success(), "{}", text(&o));
    let expected = vec![
        ("catalog/Get".to_string(), vec![]),
        ("catalog/List".to_string(), vec![]),
        (
            "frontend/Home".to_string(),
            vec![
                "parallel [call catalog/List x1 | call pricing/Quote x1]".to_string(),
                "call catalog/Get x1".to_string(),
            ],
        ),
        (
            "pricing/Quote".to_string(),
            vec!["call redis/GET x1".to_string()],
        ),
        ("redis/GET".to_string(), vec![]),
    ];
    let mut imported = Vec::new();
    for (file, format) in [
        ("otlp.jsonl", "otlp"),
        ("jaeger.json", "jaeger"),
        ("zipkin.json", "zipkin"),
        ("spans.csv", "csv"),
    ] {
        let path = out.join(file);
        // Detected from the file, and the same when named.
        for args in [
            vec![path.to_str().unwrap()],
            vec![path.to_str().unwrap(), "--format", format],
        ] {
            let o = import(&sb, &args);
            let said = text(&o);
            assert!(o.status.success(), "{file}: {said}");
            assert!(said.contains(&format!("({format})")), "{said}");
            assert!(said.contains("(1 untraced: redis)"), "{file}: {said}");
            let yaml = String::from_utf8_lossy(&o.stdout).to_string();
            let t = topolab_model::load_str(file, &yaml, &[]).unwrap().topology;
            assert_eq!(shapes(&t), expected, "{file}\n{yaml}");
            assert!(
                yaml.contains("untraced: seen only in 60 CLIENT spans"),
                "{yaml}"
            );
            imported.push((
                file,
                load(&t)
                    .into_iter()
                    .map(|(n, target, r)| (n, target, r.len()))
                    .collect::<Vec<_>>(),
            ));
        }
    }
    for (file, l) in &imported {
        assert_eq!(l, &imported[0].1, "{file}: the same load as OTLP");
    }
    let kindless = out.join("kindless.csv");
    let o = import(
        &sb,
        &[kindless.to_str().unwrap(), "--column", "name=rpc_name"],
    );
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    let yaml = String::from_utf8_lossy(&o.stdout).to_string();
    let t = topolab_model::load_str("kindless", &yaml, &[])
        .unwrap()
        .topology;
    let mut kindless_expected: Vec<(String, Vec<String>)> = expected
        .iter()
        .filter(|(e, _)| !e.starts_with("redis") && e != "pricing/Quote")
        .cloned()
        .collect();
    kindless_expected.push(("pricing/Quote".into(), vec![]));
    kindless_expected.push(("shopper/Home".into(), vec!["call frontend/Home x1".into()]));
    kindless_expected.sort();
    assert_eq!(shapes(&t), kindless_expected, "{yaml}");
    // Pod names stripped of their replica suffix.
    assert!(
        yaml.contains("instances seen: frontend-5c7d8f9b4-x2x4z"),
        "{yaml}"
    );
    // A column named by flag that is not there is refused by name.
    let o = import(&sb, &[kindless.to_str().unwrap(), "--column", "name=nope"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("--column name=nope: no such column"),
        "{}",
        text(&o)
    );
}

/// gzip is undone whatever the format, told by its magic bytes; one OTLP
/// JSON document over many lines reads as the same spans on one line.
#[test]
fn gzip_and_a_single_otlp_document_import_as_the_plain_lines() {
    use std::io::Write as _;
    let sb = Sandbox::new();
    let mut lines = Vec::new();
    for t in 1..=5 {
        lines.extend(good(t, u64::from(t) * 100_000));
    }
    let plain = sb.file("t.jsonl", &(lines.join("\n") + "\n"));
    let gz = sb.dir.path().join("t.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(&plain).unwrap()).unwrap();
    enc.finish().unwrap();
    let a = import(&sb, &[plain.to_str().unwrap()]);
    let b = import(&sb, &[gz.to_str().unwrap()]);
    assert!(b.status.success(), "{}", text(&b));
    let strip = |o: &Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&a), strip(&b));
    // All the spans in one pretty-printed document.
    let mut all: Vec<Value> = Vec::new();
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap();
        all.extend(v["resourceSpans"].as_array().unwrap().iter().cloned());
    }
    let doc = serde_json::to_string_pretty(&serde_json::json!({"resourceSpans": all})).unwrap();
    let doc = sb.file("doc.json", &doc);
    let c = import(&sb, &[doc.to_str().unwrap()]);
    assert!(c.status.success(), "{}", text(&c));
    assert_eq!(strip(&a), strip(&c));
}

/// A request that failed with a code none of its calls failed with is the
/// endpoint's own error, injected with its rate and code; its caller, which
/// only passed the failure on, gets none.
#[test]
fn errors_an_endpoint_answered_itself_become_error_injection() {
    let sb = Sandbox::new();
    let mut lines = Vec::new();
    for t in 1..=40u32 {
        let at = u64::from(t) * 100_000;
        let code = if t % 4 == 0 { 14 } else { 0 };
        let status = |mut s: Value| {
            if code != 0 {
                s["attributes"] = serde_json::json!([{"key": "rpc.grpc.status_code", "value": {"intValue": code}}]);
            }
            s
        };
        let base = t * 10;
        lines.push(line(
            "web",
            vec![
                status(span(t, base + 1, None, "Page", 2, at, at + 5000)),
                status(span(
                    t,
                    base + 2,
                    Some(base + 1),
                    "api/Get",
                    3,
                    at + 1000,
                    at + 4000,
                )),
            ],
        ));
        lines.push(line(
            "api",
            vec![status(span(
                t,
                base + 3,
                Some(base + 2),
                "Get",
                2,
                at + 1100,
                at + 3900,
            ))],
        ));
    }
    let file = sb.file("errors.jsonl", &(lines.join("\n") + "\n"));
    let o = import(&sb, &[file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let yaml = String::from_utf8_lossy(&o.stdout).to_string();
    let t = topolab_model::load_str("errors", &yaml, &[])
        .unwrap()
        .topology;
    let ep = |s: &str| {
        t.services
            .iter()
            .find(|x| x.name == s)
            .map(|x| x.endpoints[0].errors.clone())
            .unwrap()
    };
    let api = ep("api").expect("api/Get's own errors");
    assert_eq!(
        (api.rate, api.status.name()),
        (0.25, "UNAVAILABLE"),
        "{yaml}"
    );
    assert!(
        ep("web").is_none(),
        "web only passed api's failures on\n{yaml}"
    );
    assert!(
        yaml.contains("# web -> api: p50 200us"),
        "the wire time per link\n{yaml}"
    );
}
