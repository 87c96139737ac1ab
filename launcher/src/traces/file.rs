//! `traces.jsonl`, the run's traces in the OpenTelemetry file-exporter
//! format: JSON Lines, each line one OTLP/JSON `TracesData` (hex ids,
//! integer enums) holding at most [`LINE_SPANS`] spans grouped under their
//! resource and scope, so a reader holds at most one line at a time.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, TracesData};

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
    out: BufWriter<std::fs::File>,
    line: Vec<u8>,
    /// Bytes written so far.
    pub bytes: u64,
    /// Spans written so far.
    pub spans: u64,
}

impl TracesFile {
    /// Creates (or empties) `dir/traces.jsonl`.
    pub fn create(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(TRACES_JSONL);
        let file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TracesFile {
            path,
            out: BufWriter::with_capacity(1 << 20, file),
            line: Vec::new(),
            bytes: 0,
            spans: 0,
        })
    }

    /// Writes `spans` as lines of at most [`LINE_SPANS`] spans each.
    pub fn write(&mut self, spans: Vec<(Arc<Origin>, Span)>) -> anyhow::Result<()> {
        let mut spans = spans.into_iter().peekable();
        while spans.peek().is_some() {
            let chunk: Vec<_> = spans.by_ref().take(LINE_SPANS).collect();
            self.write_line(chunk)?;
        }
        Ok(())
    }

    fn write_line(&mut self, spans: Vec<(Arc<Origin>, Span)>) -> anyhow::Result<()> {
        let n = spans.len() as u64;
        let data = group(spans);
        self.line.clear();
        serde_json::to_writer(&mut self.line, &data).context("encoding a traces.jsonl line")?;
        self.line.push(b'\n');
        self.out
            .write_all(&self.line)
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.bytes += self.line.len() as u64;
        self.spans += n;
        Ok(())
    }

    /// Flushes what is buffered to the disk.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.out
            .flush()
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

/// One `TracesData`: spans grouped by origin, in order of first appearance.
fn group(spans: Vec<(Arc<Origin>, Span)>) -> TracesData {
    let mut groups: Vec<(Arc<Origin>, Vec<Span>)> = Vec::new();
    let mut index: HashMap<*const Origin, usize> = HashMap::new();
    for (origin, span) in spans {
        match index.get(&Arc::as_ptr(&origin)) {
            Some(&i) => groups[i].1.push(span),
            None => {
                index.insert(Arc::as_ptr(&origin), groups.len());
                groups.push((origin, vec![span]));
            }
        }
    }
    TracesData {
        resource_spans: groups
            .into_iter()
            .map(|(o, spans)| ResourceSpans {
                resource: o.resource.clone(),
                schema_url: o.schema_url.clone(),
                scope_spans: vec![ScopeSpans {
                    scope: o.scope.clone(),
                    schema_url: o.scope_schema_url.clone(),
                    spans,
                }],
            })
            .collect(),
    }
}
