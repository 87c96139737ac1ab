//! Helpers of the `import` tests (tests/import.rs, tests/import_inputs.rs):
//! running `topolab import`, reading a topology's shape, and writing OTLP
//! spans by hand.

#![allow(dead_code)]

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use topolab_model::{Pattern, Step, Topology};

use super::common::Sandbox;

pub fn topology(path: &Path) -> Topology {
    topolab_model::load(path, &[])
        .unwrap_or_else(|e| panic!("{} does not load:\n{e}", path.display()))
        .topology
}

pub fn import(sb: &Sandbox, args: &[&str]) -> Output {
    sb.command(&[&["import"], args].concat())
        .output()
        .expect("run topolab import")
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An endpoint's steps without their work: calls with their repetitions,
/// and parallel blocks with their branches in a fixed order.
pub fn shape(steps: &[Step]) -> Vec<String> {
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
pub fn shapes(t: &Topology) -> Vec<(String, Vec<String>)> {
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
pub fn probabilities(t: &Topology) -> Vec<(String, f64)> {
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
pub fn load(t: &Topology) -> Vec<(String, String, Vec<f64>)> {
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

/// One OTLP/JSON span, ids written small.
pub fn span(
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
pub fn line(service: &str, spans: Vec<Value>) -> String {
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": spans}]
    }]})
    .to_string()
}

/// A good trace: web/Page calls api/Get.
pub fn good(trace: u32, at: u64) -> Vec<String> {
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
