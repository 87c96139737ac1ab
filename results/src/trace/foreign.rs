//! Traces in the two JSON forms the tracing UIs people already have open:
//! Jaeger's (the UI's "upload JSON": `{"data": [trace, ...]}`, each trace
//! with its spans, `references` and `processes`) and Zipkin's v2 (a list of
//! spans with `localEndpoint.serviceName`, `kind`, and times in µs). Both
//! are written a trace at a time, so a run of any length exports in the
//! memory of one trace.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{Value, json};

use super::span::{Kind, Span, Trace};

/// Which foreign form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    Jaeger,
    Zipkin,
}

/// Writes traces one at a time into an open JSON document; [`Writer::finish`]
/// closes it.
pub struct Writer<W: Write> {
    form: Foreign,
    out: W,
    /// Entries written so far (traces for Jaeger, spans for Zipkin).
    written: u64,
}

impl<W: Write> Writer<W> {
    /// Opens the document.
    pub fn new(form: Foreign, mut out: W) -> io::Result<Self> {
        out.write_all(match form {
            Foreign::Jaeger => b"{\"data\":[",
            Foreign::Zipkin => b"[",
        })?;
        Ok(Writer {
            form,
            out,
            written: 0,
        })
    }

    /// Appends one trace.
    pub fn trace(&mut self, t: &Trace) -> io::Result<()> {
        let entries = match self.form {
            Foreign::Jaeger => vec![jaeger(t)],
            Foreign::Zipkin => t.spans.iter().map(zipkin).collect(),
        };
        for e in entries {
            if self.written > 0 {
                self.out.write_all(b",")?;
            }
            serde_json::to_writer(&mut self.out, &e)?;
            self.written += 1;
        }
        Ok(())
    }

    /// Closes the document; the writer, flushed.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(match self.form {
            Foreign::Jaeger => b"]}\n",
            Foreign::Zipkin => b"]\n",
        })?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One trace as Jaeger's JSON: a process per OS process (`s#0`), its
/// service the service, its instance a tag.
fn jaeger(t: &Trace) -> Value {
    let mut processes: BTreeMap<&str, (String, &Span)> = BTreeMap::new();
    for s in &t.spans {
        let n = processes.len();
        processes
            .entry(s.process.as_str())
            .or_insert_with(|| (format!("p{}", n + 1), s));
    }
    let spans: Vec<Value> = t
        .spans
        .iter()
        .map(|s| {
            let references: Vec<Value> = s
                .parent_id
                .iter()
                .map(|p| json!({"refType": "CHILD_OF", "traceID": t.id, "spanID": p}))
                .collect();
            let mut tags = vec![
                tag("span.kind", kind(s.kind).to_ascii_lowercase()),
                json!({"key": "rpc.grpc.status_code", "type": "int64", "value": s.code}),
            ];
            if s.code != 0 {
                tags.push(json!({"key": "error", "type": "bool", "value": true}));
                tags.push(tag("otel.status_description", s.message.clone()));
            }
            tags.extend(
                s.attributes
                    .iter()
                    .filter(|(k, _)| k.as_str() != "rpc.grpc.status_code")
                    .map(|(k, v)| tag(k, v.clone())),
            );
            json!({
                "traceID": t.id,
                "spanID": s.span_id,
                "flags": 1,
                "operationName": s.name,
                "references": references,
                "startTime": s.start_ns / 1_000,
                "duration": micros(s),
                "tags": tags,
                "logs": [],
                "processID": processes[s.process.as_str()].0,
                "warnings": null,
            })
        })
        .collect();
    let processes: serde_json::Map<String, Value> = processes
        .iter()
        .map(|(process, (id, s))| {
            (
                id.clone(),
                json!({
                    "serviceName": s.service,
                    "tags": [tag("service.instance.id", process.to_string())],
                }),
            )
        })
        .collect();
    json!({"traceID": t.id, "spans": spans, "processes": processes, "warnings": null})
}

/// One span as Zipkin v2's JSON.
fn zipkin(s: &Span) -> Value {
    let mut tags: serde_json::Map<String, Value> = s
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    tags.insert("service.instance.id".into(), s.process.clone().into());
    tags.insert("rpc.grpc.status_code".into(), s.code.to_string().into());
    if s.code != 0 {
        tags.insert("error".into(), s.code_name().into());
    }
    let mut span = json!({
        "traceId": s.trace_id,
        "id": s.span_id,
        "name": s.name,
        "timestamp": s.start_ns / 1_000,
        "duration": micros(s),
        "localEndpoint": {"serviceName": s.service},
        "tags": tags,
    });
    if let Some(p) = &s.parent_id {
        span["parentId"] = p.clone().into();
    }
    if s.kind != Kind::Other {
        span["kind"] = kind(s.kind).into();
    }
    if let Some(callee) = s.callee.as_deref().and_then(|c| c.split('/').next()) {
        span["remoteEndpoint"] = json!({"serviceName": callee});
    }
    span
}

/// Zipkin's kind word (Jaeger's `span.kind` tag is its lower case).
fn kind(k: Kind) -> &'static str {
    match k {
        Kind::Server => "SERVER",
        Kind::Client => "CLIENT",
        Kind::Other => "INTERNAL",
    }
}

/// A span's duration in whole µs, at least 1 (both formats read 0 as absent).
fn micros(s: &Span) -> u64 {
    (s.duration_ns() / 1_000).max(1)
}

fn tag(key: &str, value: String) -> Value {
    json!({"key": key, "type": "string", "value": value})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: Option<&str>, kind: Kind, process: &str) -> Span {
        Span {
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            span_id: id.into(),
            parent_id: parent.map(String::from),
            name: "kitchen/Cook".into(),
            kind,
            service: process.split('#').next().unwrap().into(),
            process: process.into(),
            endpoint: None,
            callee: (kind == Kind::Client).then(|| "kitchen/Cook".into()),
            callee_replica: None,
            attempt: None,
            start_ns: 1_000_000_000,
            end_ns: 1_250_000_000,
            code: if kind == Kind::Client { 8 } else { 0 },
            message: "queue full".into(),
            queue_ns: None,
            work_ns: None,
            downstream_ns: None,
            held_ns: None,
            attributes: BTreeMap::from([("topolab.queue_wait_ns".into(), "5".into())]),
        }
    }

    fn trace() -> Trace {
        Trace::new(
            "0af7651916cd43dd8448eb211c80319c".into(),
            vec![
                span("00f067aa0ba902b7", None, Kind::Client, "load/regulars"),
                span(
                    "00f067aa0ba902b8",
                    Some("00f067aa0ba902b7"),
                    Kind::Server,
                    "kitchen#0",
                ),
            ],
        )
    }

    fn written(form: Foreign) -> Value {
        let mut w = Writer::new(form, Vec::new()).unwrap();
        w.trace(&trace()).unwrap();
        w.trace(&trace()).unwrap();
        serde_json::from_slice(&w.finish().unwrap()).unwrap()
    }

    #[test]
    fn jaeger_links_children_to_parents_and_names_processes() {
        let doc = written(Foreign::Jaeger);
        let t = &doc["data"][1];
        assert_eq!(doc["data"].as_array().unwrap().len(), 2);
        let server = &t["spans"][1];
        assert_eq!(server["references"][0]["refType"], "CHILD_OF");
        assert_eq!(server["references"][0]["spanID"], "00f067aa0ba902b7");
        assert_eq!(
            (server["startTime"].as_u64(), server["duration"].as_u64()),
            (Some(1_000_000), Some(250_000))
        );
        let p = server["processID"].as_str().unwrap();
        assert_eq!(t["processes"][p]["serviceName"], "kitchen");
        assert_eq!(t["processes"][p]["tags"][0]["value"], "kitchen#0");
        let client = &t["spans"][0];
        assert!(
            client["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["key"] == "error")
        );
    }

    #[test]
    fn zipkin_is_a_flat_list_of_spans_in_microseconds() {
        let doc = written(Foreign::Zipkin);
        let spans = doc.as_array().unwrap();
        assert_eq!(spans.len(), 4);
        assert_eq!(spans[0]["kind"], "CLIENT");
        assert!(spans[0].get("parentId").is_none());
        assert_eq!(spans[0]["remoteEndpoint"]["serviceName"], "kitchen");
        assert_eq!(spans[1]["parentId"], "00f067aa0ba902b7");
        assert_eq!(spans[1]["localEndpoint"]["serviceName"], "kitchen");
        assert_eq!(spans[1]["timestamp"], 1_000_000);
        assert_eq!(spans[1]["tags"]["service.instance.id"], "kitchen#0");
    }
}
