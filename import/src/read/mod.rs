//! Trace files into spans: the format detected from the first bytes (or
//! named by `--format`), gzip undone whatever the format, and each span
//! handed over with where it was read, so every message can name the line.

mod csv_table;
mod jaeger;
mod otlp;
mod zipkin;

use std::fs::File;
use std::io::{BufRead, BufReader, Read as _};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use topolab_results::trace::{Kind, Span};

pub use csv_table::Columns;

use crate::error::ImportError;

/// The trace formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OTLP/JSON: JSON Lines of `TracesData` or one document.
    Otlp,
    /// Jaeger's JSON download: `{"data": [{"spans": [...], "processes": {...}}]}`.
    Jaeger,
    /// Zipkin v2 JSON: an array of spans.
    Zipkin,
    /// A CSV span table with a header row.
    Csv,
}

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Otlp => "otlp",
            Format::Jaeger => "jaeger",
            Format::Zipkin => "zipkin",
            Format::Csv => "csv",
        }
    }
}

/// Where a span was read: the file (its index in the inputs) and the line,
/// from 1; in a JSON document (Jaeger, Zipkin), the number of its trace or
/// span in the document's list instead (`item`), shown as `#N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loc {
    pub file: u32,
    pub line: u64,
    pub item: bool,
}

impl Loc {
    /// `LINE`, or `#ITEM` in a document.
    pub fn place(&self) -> String {
        match self.item {
            true => format!("#{}", self.line),
            false => self.line.to_string(),
        }
    }
}

/// A tag's value as text.
pub(crate) fn tag_text(v: &serde_json::Value) -> Option<String> {
    Some(match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        _ => return None,
    })
}

/// A span kind written as a word (`server`, `SERVER`, `SPAN_KIND_CLIENT`).
pub(crate) fn tag_kind(k: &str) -> Kind {
    let k = k.to_ascii_lowercase();
    if k.contains("server") || k.contains("consumer") {
        Kind::Server
    } else if k.contains("client") || k.contains("producer") {
        Kind::Client
    } else {
        Kind::Other
    }
}

/// The gRPC code a span's tags give: `rpc.grpc.status_code`, else 2
/// (UNKNOWN) for `error: true` or an OpenTelemetry ERROR status.
pub(crate) fn tag_code(tags: &std::collections::BTreeMap<String, String>) -> i64 {
    if let Some(c) = tags
        .get("rpc.grpc.status_code")
        .or(tags.get("grpc.status_code"))
        .and_then(|c| c.parse().ok())
    {
        return c;
    }
    let err = tags.get("error").is_some_and(|e| e != "false")
        || tags
            .get("otel.status_code")
            .is_some_and(|c| c.eq_ignore_ascii_case("error"));
    i64::from(err) * 2
}

/// topolab's own split of a SERVER span's time, where the tags carry it
/// (`trace --format jaeger|zipkin` writes every attribute as a tag): queue
/// wait, work, waiting on callees and held, in ns, as the OTLP reader finds
/// them in attributes.
pub(crate) fn tag_split(tags: &std::collections::BTreeMap<String, String>) -> [Option<u64>; 4] {
    use topolab_proto::span_keys as keys;
    [
        keys::QUEUE_NS,
        keys::WORK_NS,
        keys::DOWNSTREAM_NS,
        keys::HELD_NS,
    ]
    .map(|k| tags.get(k).and_then(|v| v.parse().ok()))
}

/// topolab's own names of a span, where the tags carry them: the endpoint a
/// SERVER span served, the `service/Endpoint` and replica a CLIENT span
/// called, its attempt number.
pub(crate) fn tag_names(
    tags: &std::collections::BTreeMap<String, String>,
) -> (Option<String>, Option<String>, Option<String>, Option<i64>) {
    use topolab_proto::span_keys as keys;
    (
        tags.get(keys::ENDPOINT).cloned(),
        tags.get(keys::CALLEE).cloned(),
        tags.get(keys::CALLEE_REPLICA).cloned(),
        tags.get(keys::ATTEMPT).and_then(|a| a.parse().ok()),
    )
}

/// Where the readers put what they read: spans, and lines they could not
/// take (the reading goes on after those).
pub trait Sink {
    /// One span, read at `at`.
    fn span(&mut self, span: Span, at: Loc);
    /// Something at `at` that is not a span of the format, and why.
    fn bad(&mut self, at: Loc, why: String);
}

/// What every reader is given besides the bytes.
pub struct Input<'a> {
    pub file: u32,
    pub columns: &'a Columns,
}

/// Opens `path`, undoing gzip when its first bytes say so.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>, ImportError> {
    let read_err = |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(read_err)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).map_err(read_err)?;
    drop(file);
    let file = File::open(path).map_err(read_err)?;
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(1 << 20, MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, file))
    })
}

/// Reads one file in `format` (detected when `None`) into `sink`.
pub fn read(
    path: &Path,
    format: Option<Format>,
    input: &Input<'_>,
    sink: &mut dyn Sink,
) -> Result<Format, ImportError> {
    let mut reader = open(path)?;
    let head = reader.fill_buf().map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::Empty(path.to_path_buf()));
    }
    let format = match format {
        Some(f) => f,
        None => detect(head).ok_or_else(|| ImportError::Unrecognised {
            path: path.to_path_buf(),
            first: first_line(head),
        })?,
    };

    match format {
        Format::Otlp => otlp::read(path, reader, input, sink),
        Format::Jaeger => jaeger::read(path, reader, input, sink),
        Format::Zipkin => zipkin::read(path, reader, input, sink),
        Format::Csv => csv_table::read(path, reader, input, sink),
    }?;
    Ok(format)
}

/// The format of a file from its first bytes, by the keys each one must
/// have near its start.
pub fn detect(head: &[u8]) -> Option<Format> {
    let text = String::from_utf8_lossy(&head[..head.len().min(64 * 1024)]);
    let t = text.trim_start();
    let has = |k: &str| t.contains(k);
    if t.starts_with('{') && (has("\"resourceSpans\"") || has("\"resource_spans\"")) {
        return Some(Format::Otlp);
    }
    if t.starts_with('{') && has("\"data\"") && (has("\"spans\"") || has("\"traceID\"")) {
        return Some(Format::Jaeger);
    }
    if t.starts_with('[') && has("\"traceId\"") {
        return Some(Format::Zipkin);
    }
    let header = t.lines().next().unwrap_or("").to_ascii_lowercase();
    if header.contains(',') && header.contains("trace") && header.contains("span") {
        return Some(Format::Csv);
    }
    None
}

/// The first line of `head`, cut short for a message.
fn first_line(head: &[u8]) -> String {
    let text = String::from_utf8_lossy(&head[..head.len().min(4096)]);
    let line = text.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_is_told_by_its_first_bytes() {
        assert_eq!(detect(br#"{"resourceSpans":[]}"#), Some(Format::Otlp));
        assert_eq!(
            detect(br#"{"data":[{"traceID":"a","spans":[]}]}"#),
            Some(Format::Jaeger)
        );
        assert_eq!(
            detect(br#"[{"traceId":"a","id":"b"}]"#),
            Some(Format::Zipkin)
        );
        assert_eq!(
            detect(b"TraceID,SpanID,ParentID,PodName\n1,2,,a-0\n"),
            Some(Format::Csv)
        );
        assert_eq!(detect(b"hello world\n"), None);
    }
}
