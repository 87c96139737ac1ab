//! Reading a run's `traces.jsonl` (the OpenTelemetry file-exporter format:
//! JSON Lines, one OTLP/JSON `TracesData` per line, read with the
//! `opentelemetry-proto` types so any conforming producer's file reads too)
//! one line at a time, so memory is bounded by a line, never by the file.
//! [`for_each_span`] streams spans; [`super::assemble`] groups them into traces.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::TracesData;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

use topolab_proto::span_keys as keys;

use super::span::{Kind, Span};

/// The file name in a run folder.
pub const TRACES_JSONL: &str = "traces.jsonl";
/// What runs before `traces.jsonl` wrote: one OTLP/JSON object on one line,
/// which reads the same way.
const TRACES_JSON_OLD: &str = "traces.json";

/// Why a run folder's traces could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{0} is not a folder (expected a run folder written by `topolab run`)")]
    NotAFolder(PathBuf),
    #[error(
        "{0} has no traces.jsonl: the run traced nothing (`settings.trace: 0%`), sent its spans elsewhere (`--otlp-only`), or is not a run folder"
    )]
    NoTraces(PathBuf),
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line} is not an OTLP/JSON `TracesData` line: {source}")]
    Parse {
        path: PathBuf,
        line: u64,
        source: serde_json::Error,
    },
}

/// The traces file of `run_dir`: `traces.jsonl`, or an older run's `traces.json`.
pub fn file(run_dir: &Path) -> Result<PathBuf, TraceError> {
    if !run_dir.is_dir() {
        return Err(TraceError::NotAFolder(run_dir.to_path_buf()));
    }
    [TRACES_JSONL, TRACES_JSON_OLD]
        .iter()
        .map(|name| run_dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| TraceError::NoTraces(run_dir.to_path_buf()))
}

/// Calls `each` with the line number and the spans of every line of `path`,
/// in file order; only one line is held at a time.
pub fn for_each_line(path: &Path, mut each: impl FnMut(u64, Vec<Span>)) -> Result<(), TraceError> {
    let read_err = |source| TraceError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut text = String::new();
    let mut line = 0u64;
    loop {
        text.clear();
        if reader.read_line(&mut text).map_err(read_err)? == 0 {
            return Ok(());
        }
        line += 1;
        if text.trim().is_empty() {
            continue;
        }
        let data: TracesData = serde_json::from_str(&text).map_err(|source| TraceError::Parse {
            path: path.to_path_buf(),
            line,
            source,
        })?;
        let mut spans = Vec::new();
        spans_of(data, &mut |s| spans.push(s));
        each(line, spans);
    }
}

/// Every span of `run_dir`'s traces, streamed in file order.
pub fn for_each_span(run_dir: &Path, mut each: impl FnMut(Span)) -> Result<(), TraceError> {
    for_each_line(&file(run_dir)?, |_, spans| {
        spans.into_iter().for_each(&mut each)
    })
}

/// The spans of one `TracesData` (or `ExportTraceServiceRequest`: same JSON),
/// with topolab's attributes picked out.
pub fn spans_of(data: TracesData, each: &mut impl FnMut(Span)) {
    for rs in data.resource_spans {
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
                each(Span {
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
                    held_ns: nonneg(keys::HELD_NS).filter(|&ns| ns > 0),
                    attributes: attrs,
                });
            }
        }
    }
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
