//! `topolab import`'s inputs: spans from the OpenTelemetry Python SDK in
//! four formats, gzip and one OTLP document, error injection, and bad
//! input named by line while the rest is still imported.

mod common;
#[path = "import/helpers.rs"]
mod helpers;

use std::path::PathBuf;
use std::process::Output;

use common::Sandbox;
use helpers::{good, import, line, load, shapes, span, text};
use serde_json::Value;

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
