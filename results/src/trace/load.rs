//! Parsing `traces.json` (an OTLP/JSON `ExportTraceServiceRequest`, by the
//! `opentelemetry-proto` types, so any conforming producer's file reads too)
//! into traces grouped by trace id.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

use topolab_proto::span_keys as keys;

use super::span::{Kind, Span, Trace};

/// Why a run folder's traces could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{0} is not a folder (expected a run folder written by `topolab run`)")]
    NotAFolder(PathBuf),
    #[error(
        "{0} has no traces.json: the run traced nothing (`settings.trace: 0%`), sent its spans elsewhere (`--otlp-only`), or is not a run folder"
    )]
    NoTraces(PathBuf),
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not OTLP/JSON traces: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Every trace in `run_dir/traces.json`, in start order.
pub fn load(run_dir: &Path) -> Result<Vec<Trace>, TraceError> {
    if !run_dir.is_dir() {
        return Err(TraceError::NotAFolder(run_dir.to_path_buf()));
    }
    let path = run_dir.join("traces.json");
    if !path.is_file() {
        return Err(TraceError::NoTraces(run_dir.to_path_buf()));
    }
    let text = std::fs::read_to_string(&path).map_err(|source| TraceError::Read {
        path: path.clone(),
        source,
    })?;
    parse(&text).map_err(|source| TraceError::Parse { path, source })
}

/// Traces from the text of an OTLP/JSON `ExportTraceServiceRequest`, each
/// with its spans sorted by start; traces sorted by start.
pub fn parse(text: &str) -> Result<Vec<Trace>, serde_json::Error> {
    let req: ExportTraceServiceRequest = serde_json::from_str(text)?;
    let mut by_id: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    for rs in req.resource_spans {
        let resource = rs
            .resource
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        let service = resource
            .get("service.name")
            .cloned()
            .unwrap_or_else(|| "unknown".into());
        let instance = resource.get("service.instance.id").cloned();
        for ss in rs.scope_spans {
            for s in ss.spans {
                let attrs = attributes(&s.attributes);
                let int = |k: &str| attrs.get(k).and_then(|v| v.parse::<i64>().ok());
                let nonneg = |k: &str| int(k).map(|v| v.max(0) as u64);
                let status = s.status.unwrap_or_default();
                let code =
                    int(keys::GRPC_STATUS).unwrap_or(if status.code == StatusCode::Error as i32 {
                        2
                    } else {
                        0
                    });
                let kind = match SpanKind::try_from(s.kind) {
                    Ok(SpanKind::Server) => Kind::Server,
                    Ok(SpanKind::Client) => Kind::Client,
                    _ => Kind::Other,
                };
                let process = attrs
                    .get(keys::REPLICA)
                    .cloned()
                    .or_else(|| instance.clone())
                    .unwrap_or_else(|| service.clone());
                let span = Span {
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_id: (!s.parent_span_id.is_empty()).then(|| hex(&s.parent_span_id)),
                    name: s.name,
                    kind,
                    service: service.clone(),
                    process,
                    endpoint: attrs.get(keys::ENDPOINT).cloned(),
                    callee: attrs.get(keys::CALLEE).cloned(),
                    callee_replica: attrs.get(keys::CALLEE_REPLICA).cloned(),
                    attempt: int(keys::ATTEMPT),
                    start_ns: s.start_time_unix_nano,
                    end_ns: s.end_time_unix_nano.max(s.start_time_unix_nano),
                    code,
                    message: status.message,
                    queue_ns: nonneg(keys::QUEUE_NS),
                    work_ns: nonneg(keys::WORK_NS),
                    downstream_ns: nonneg(keys::DOWNSTREAM_NS),
                    attributes: attrs,
                };
                by_id.entry(span.trace_id.clone()).or_default().push(span);
            }
        }
    }
    let mut traces: Vec<Trace> = by_id
        .into_iter()
        .map(|(id, mut spans)| {
            spans.sort_by_key(|s| (s.start_ns, std::cmp::Reverse(s.end_ns)));
            Trace { id, spans }
        })
        .collect();
    traces.sort_by_key(Trace::start_ns);
    Ok(traces)
}

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .filter_map(|kv| Some((kv.key.clone(), text(kv.value.as_ref()?)?)))
        .collect()
}

fn text(v: &AnyValue) -> Option<String> {
    Some(match v.value.as_ref()? {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::DoubleValue(d) => d.to_string(),
        any_value::Value::BoolValue(b) => b.to_string(),
        _ => return None,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_otlp_json_from_other_producers() {
        // Ints as numbers or strings, ids in hex, an ERROR status without a
        // gRPC code: all valid OTLP/JSON.
        let text = r#"{"resourceSpans":[{"resource":{"attributes":[
            {"key":"service.name","value":{"stringValue":"api"}}]},
          "scopeSpans":[{"spans":[
            {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7",
             "name":"GET /","kind":2,"startTimeUnixNano":"1000","endTimeUnixNano":3000,
             "status":{"code":2,"message":"boom"},
             "attributes":[{"key":"topolab.queue_wait_ns","value":{"intValue":5}}]},
            {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"1111111111111111",
             "parentSpanId":"00f067aa0ba902b7","name":"db","kind":3,
             "startTimeUnixNano":"1500","endTimeUnixNano":"2500"}]}]}]}"#;
        let traces = parse(text).unwrap();
        assert_eq!(traces.len(), 1);
        let t = &traces[0];
        assert_eq!(t.root().unwrap().name, "GET /");
        assert_eq!(t.root().unwrap().code, 2);
        assert_eq!(t.root().unwrap().process, "api");
        assert_eq!(t.root().unwrap().queue_ns, Some(5));
        assert_eq!(t.spans[1].kind, Kind::Client);
        assert_eq!(t.duration_ns(), 2000);
        assert!(t.is_error());
    }
}
