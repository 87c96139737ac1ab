//! OTLP/JSON: JSON Lines of `TracesData` (topolab's own `traces.jsonl`, the
//! OpenTelemetry Collector's file exporter) or one OTLP JSON document over
//! many lines. Read with the `opentelemetry-proto` types through
//! `topolab_results::trace::spans_of`, the reader `topolab trace` uses, so
//! the format has one owner.

use std::io::BufRead;
use std::path::Path;

use opentelemetry_proto::tonic::trace::v1::TracesData;
use topolab_results::trace::spans_of;

use super::{Input, Loc, Sink};
use crate::error::ImportError;

/// Reads every line; a line that is not a `TracesData` is reported and
/// skipped. A first line that is the start of a larger document makes the
/// whole file one document.
pub fn read(
    path: &Path,
    mut reader: Box<dyn BufRead>,
    input: &Input<'_>,
    sink: &mut dyn Sink,
) -> Result<(), ImportError> {
    let read_err = |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut text = String::new();
    let mut line = 0u64;
    let mut first = true;
    loop {
        text.clear();
        if reader.read_line(&mut text).map_err(read_err)? == 0 {
            return Ok(());
        }
        line += 1;
        if text.trim().is_empty() {
            continue;
        }
        let at = Loc {
            file: input.file,
            line,
            item: false,
        };
        match serde_json::from_str::<TracesData>(text.trim_end()) {
            Ok(data) => spans_of(data, &mut |s| sink.span(s, at)),
            Err(e) if first && e.is_eof() => {
                // One document over many lines: read the rest with it.
                reader.read_to_string(&mut text).map_err(read_err)?;
                let data: TracesData =
                    serde_json::from_str(&text).map_err(|e| ImportError::Parse {
                        path: path.to_path_buf(),
                        line: line + e.line() as u64 - 1,
                        why: format!("not an OTLP/JSON `TracesData` document: {e}"),
                    })?;
                spans_of(data, &mut |s| sink.span(s, at));
                return Ok(());
            }
            Err(e) if e.is_eof() => sink.bad(
                at,
                format!(
                    "truncated: the line ends inside its JSON object ({e}); its spans are left out"
                ),
            ),
            Err(e) => sink.bad(
                at,
                format!("not an OTLP/JSON `TracesData` line ({e}); its spans are left out"),
            ),
        }
        first = false;
    }
}
