//! `traces.jsonl`, the run's traces in the OpenTelemetry file-exporter
//! format: JSON Lines, each line one OTLP/JSON `TracesData` (hex ids,
//! integer enums) holding at most [`LINE_SPANS`] spans grouped under their
//! resource and scope, so a reader holds at most one line at a time. Spans
//! arrive as protobuf bytes and are written by [`json`](super::json); the
//! line around them (resources and scopes) is written by serde.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::bytes::Bytes;

use super::direct::Appender;
use super::json::{Repeats, write_span};

pub use topolab_results::trace::TRACES_JSONL;

/// Spans on one line at most.
pub const LINE_SPANS: usize = 2048;

/// Where a span came from: the resource (process) and instrumentation scope
/// of the batch it arrived in, shared by all its spans.
#[derive(Debug, Default, PartialEq)]
pub struct Origin {
    pub resource: Option<Resource>,
    pub schema_url: String,
    pub scope: Option<InstrumentationScope>,
    pub scope_schema_url: String,
}

/// The open `traces.jsonl` of a run.
pub struct TracesFile {
    path: PathBuf,
    out: Appender,
    line: Vec<u8>,
    repeats: Repeats,
    /// Spans left out because their bytes were not a readable `Span`.
    pub unreadable: u64,
    /// Bytes written so far.
    pub bytes: u64,
    /// Spans written so far.
    pub spans: u64,
}

impl TracesFile {
    /// Creates (or empties) `dir/traces.jsonl`.
    pub fn create(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(TRACES_JSONL);
        let out =
            Appender::create(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TracesFile {
            path,
            out,
            line: Vec::new(),
            repeats: Repeats::default(),
            unreadable: 0,
            bytes: 0,
            spans: 0,
        })
    }

    /// Writes `spans` (protobuf bytes) as lines of at most [`LINE_SPANS`]
    /// spans each.
    pub fn write(&mut self, spans: &[(Arc<Origin>, Bytes)]) -> anyhow::Result<()> {
        for chunk in spans.chunks(LINE_SPANS) {
            self.write_line(chunk)?;
        }
        Ok(())
    }

    fn write_line(&mut self, spans: &[(Arc<Origin>, Bytes)]) -> anyhow::Result<()> {
        self.line.clear();
        let written = encode_line(&mut self.line, &mut self.repeats, spans)?;
        self.line.push(b'\n');
        self.out
            .write_all(&self.line)
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.bytes += self.line.len() as u64;
        self.spans += written;
        self.unreadable += spans.len() as u64 - written;
        Ok(())
    }

    /// Flushes what is buffered to the disk.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.out
            .flush()
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

/// One `TracesData` line (no newline): spans grouped by origin, in order of
/// first appearance. Returns the spans written (unreadable ones are left
/// out).
fn encode_line(
    line: &mut Vec<u8>,
    repeats: &mut Repeats,
    spans: &[(Arc<Origin>, Bytes)],
) -> anyhow::Result<u64> {
    let mut groups: Vec<(&Arc<Origin>, Vec<&[u8]>)> = Vec::new();
    let mut index: HashMap<*const Origin, usize> = HashMap::new();
    for (origin, span) in spans {
        match index.get(&Arc::as_ptr(origin)) {
            Some(&i) => groups[i].1.push(span),
            None => {
                index.insert(Arc::as_ptr(origin), groups.len());
                groups.push((origin, vec![span]));
            }
        }
    }
    let mut written = 0;
    line.extend_from_slice(b"{\"resourceSpans\":[");
    for (i, (o, spans)) in groups.into_iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        line.extend_from_slice(b"{\"resource\":");
        serde_json::to_writer(&mut *line, &o.resource)?;
        line.extend_from_slice(b",\"scopeSpans\":[{\"scope\":");
        serde_json::to_writer(&mut *line, &o.scope)?;
        line.extend_from_slice(b",\"spans\":[");
        let mut first = true;
        for span in spans {
            let mark = line.len();
            if !first {
                line.push(b',');
            }
            match write_span(span, line, repeats) {
                Ok(()) => {
                    first = false;
                    written += 1;
                }
                Err(_) => line.truncate(mark),
            }
        }
        line.extend_from_slice(b"],\"schemaUrl\":");
        serde_json::to_writer(&mut *line, &o.scope_schema_url)?;
        line.extend_from_slice(b"}],\"schemaUrl\":");
        serde_json::to_writer(&mut *line, &o.schema_url)?;
        line.push(b'}');
    }
    line.extend_from_slice(b"]}");
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, TracesData};
    use prost::Message;

    /// The line reads back as the `TracesData` of the same spans.
    #[test]
    fn a_line_reads_back_as_the_traces_data_of_its_spans() {
        let a = Arc::new(Origin {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("echo".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            schema_url: "s".into(),
            scope: Some(InstrumentationScope {
                name: "topolab".into(),
                ..Default::default()
            }),
            scope_schema_url: String::new(),
        });
        let b = Arc::new(Origin::default());
        let span = |n: u8| Span {
            trace_id: vec![n; 16],
            span_id: vec![n; 8],
            name: format!("s{n}"),
            status: Some(Default::default()),
            ..Default::default()
        };
        let spans = vec![
            (a.clone(), span(1).encode_to_vec().into()),
            (b.clone(), span(2).encode_to_vec().into()),
            // Not a span: left out of the line.
            (b.clone(), Bytes::from_static(&[0x0a, 0x20, 1])),
            (a.clone(), span(3).encode_to_vec().into()),
        ];
        let mut line = Vec::new();
        let written = encode_line(&mut line, &mut Repeats::default(), &spans).unwrap();
        assert_eq!(written, 3);
        let group = |o: &Origin, spans: Vec<Span>| ResourceSpans {
            resource: o.resource.clone(),
            schema_url: o.schema_url.clone(),
            scope_spans: vec![ScopeSpans {
                scope: o.scope.clone(),
                schema_url: o.scope_schema_url.clone(),
                spans,
            }],
        };
        let expected = TracesData {
            resource_spans: vec![group(&a, vec![span(1), span(3)]), group(&b, vec![span(2)])],
        };
        let back: TracesData = serde_json::from_slice(&line).unwrap();
        assert_eq!(back, expected);
    }
}
