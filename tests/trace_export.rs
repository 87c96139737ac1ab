//! `topolab trace --format jaeger|zipkin`: the run's traces as the JSON the
//! Jaeger and Zipkin UIs upload, checked against the field lists of their
//! published definitions (Jaeger's `model/json` Trace, Span, Reference,
//! KeyValue and Process; Zipkin's `zipkin2-api.yaml` Span and Endpoint), and
//! carrying the same request chains as `traces.jsonl`.

mod common;

use std::collections::{BTreeSet, HashMap};

use common::Sandbox;
use serde_json::Value;
use topolab_results::trace::{self, Kind};

/// Every key an object may have, and those it must.
fn fields(v: &Value, allowed: &[&str], required: &[&str], what: &str) {
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("{what} not an object: {v}"));
    for k in o.keys() {
        assert!(allowed.contains(&k.as_str()), "{what}: unknown field {k}");
    }
    for k in required {
        assert!(o.contains_key(*k), "{what}: no {k}: {v}");
    }
}

fn hex(s: &Value, lens: &[usize]) -> bool {
    s.as_str().is_some_and(|s| {
        lens.contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}

/// The service edges (caller -> callee) of SERVER spans under a parent of
/// another service, from `traces.jsonl` itself.
fn edges_of_run(dir: &std::path::Path) -> BTreeSet<(String, String)> {
    let mut edges = BTreeSet::new();
    for t in trace::load(dir).unwrap() {
        let by_id: HashMap<&str, &str> = t
            .spans
            .iter()
            .map(|s| (s.span_id.as_str(), s.service.as_str()))
            .collect();
        for s in t.spans.iter().filter(|s| s.kind == Kind::Server) {
            if let Some(p) = s.parent_id.as_deref().and_then(|p| by_id.get(p)) {
                edges.insert((p.to_string(), s.service.clone()));
            }
        }
    }
    edges
}

#[test]
fn jaeger_and_zipkin_exports_hold_the_runs_chains_in_their_published_fields() {
    let sb = Sandbox::new();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/chain.yaml");
    let out = sb.run(
        &path,
        &["--duration", "1s", "--set", "load.shoppers.rate=20/s", "-q"],
    );
    assert!(out.status.success());
    let run = sb.out();
    let expected = edges_of_run(&run);
    assert!(expected.len() >= 4, "{expected:?}");
    let traced = trace::load(&run).unwrap();
    let spans_in_run: usize = traced.iter().map(|t| t.spans.len()).sum();

    for format in ["jaeger", "zipkin"] {
        let out = sb
            .command(&["trace", run.to_str().unwrap(), "--format", format])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains(&format!("{} traces written", traced.len())),
            "{said}"
        );
        let file = run.join(format!("trace.{format}.json"));
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        // (span id, service, parent id, kind) of every span written.
        let mut spans: Vec<(String, String, Option<String>, String)> = Vec::new();
        if format == "jaeger" {
            fields(
                &doc,
                &["data", "total", "limit", "offset", "errors"],
                &["data"],
                "document",
            );
            for t in doc["data"].as_array().unwrap() {
                fields(
                    t,
                    &["traceID", "spans", "processes", "warnings"],
                    &["traceID", "spans", "processes"],
                    "trace",
                );
                let processes = t["processes"].as_object().unwrap();
                for p in processes.values() {
                    fields(p, &["serviceName", "tags"], &["serviceName"], "process");
                }
                for s in t["spans"].as_array().unwrap() {
                    fields(
                        s,
                        &[
                            "traceID",
                            "spanID",
                            "parentSpanID",
                            "flags",
                            "operationName",
                            "references",
                            "startTime",
                            "duration",
                            "tags",
                            "logs",
                            "processID",
                            "process",
                            "warnings",
                        ],
                        &[
                            "traceID",
                            "spanID",
                            "operationName",
                            "references",
                            "startTime",
                            "duration",
                            "tags",
                            "processID",
                        ],
                        "span",
                    );
                    assert!(hex(&s["traceID"], &[32]) && hex(&s["spanID"], &[16]), "{s}");
                    assert!(
                        s["startTime"].is_u64() && s["duration"].as_u64() > Some(0),
                        "{s}"
                    );
                    let mut parent = None;
                    for r in s["references"].as_array().unwrap() {
                        fields(
                            r,
                            &["refType", "traceID", "spanID"],
                            &["refType", "traceID", "spanID"],
                            "reference",
                        );
                        assert!(
                            ["CHILD_OF", "FOLLOWS_FROM"].contains(&r["refType"].as_str().unwrap())
                        );
                        parent = r["spanID"].as_str().map(String::from);
                    }
                    let mut kind = String::new();
                    for kv in s["tags"].as_array().unwrap() {
                        fields(
                            kv,
                            &["key", "type", "value"],
                            &["key", "type", "value"],
                            "tag",
                        );
                        assert!(
                            ["string", "bool", "int64", "float64", "binary"]
                                .contains(&kv["type"].as_str().unwrap())
                        );
                        if kv["key"] == "span.kind" {
                            kind = kv["value"].as_str().unwrap().to_ascii_uppercase();
                        }
                    }
                    let service = processes[s["processID"].as_str().unwrap()]["serviceName"]
                        .as_str()
                        .unwrap();
                    spans.push((
                        s["spanID"].as_str().unwrap().into(),
                        service.into(),
                        parent,
                        kind,
                    ));
                }
            }
        } else {
            for s in doc.as_array().unwrap() {
                fields(
                    s,
                    &[
                        "traceId",
                        "name",
                        "parentId",
                        "id",
                        "kind",
                        "timestamp",
                        "duration",
                        "debug",
                        "shared",
                        "localEndpoint",
                        "remoteEndpoint",
                        "annotations",
                        "tags",
                    ],
                    &["traceId", "id"],
                    "span",
                );
                assert!(hex(&s["traceId"], &[16, 32]) && hex(&s["id"], &[16]), "{s}");
                assert!(
                    ["CLIENT", "SERVER", "PRODUCER", "CONSUMER"]
                        .contains(&s["kind"].as_str().unwrap())
                );
                assert!(
                    s["timestamp"].is_u64() && s["duration"].as_u64() > Some(0),
                    "{s}"
                );
                for e in ["localEndpoint", "remoteEndpoint"] {
                    if !s[e].is_null() {
                        fields(&s[e], &["serviceName", "ipv4", "ipv6", "port"], &[], e);
                    }
                }
                assert!(
                    s["tags"]
                        .as_object()
                        .unwrap()
                        .values()
                        .all(Value::is_string),
                    "{s}"
                );
                spans.push((
                    s["id"].as_str().unwrap().into(),
                    s["localEndpoint"]["serviceName"].as_str().unwrap().into(),
                    s["parentId"].as_str().map(String::from),
                    s["kind"].as_str().unwrap().into(),
                ));
            }
        }
        assert_eq!(spans.len(), spans_in_run, "{format}: every span, once");
        let service: HashMap<&str, &str> =
            spans.iter().map(|s| (s.0.as_str(), s.1.as_str())).collect();
        let edges: BTreeSet<(String, String)> = spans
            .iter()
            .filter(|s| s.3 == "SERVER")
            .filter_map(|s| Some((service.get(s.2.as_deref()?)?.to_string(), s.1.clone())))
            .collect();
        assert_eq!(
            edges, expected,
            "{format}: the same call edges as traces.jsonl"
        );
    }
}
