//! Why an import failed as a whole (one bad line does not: it is reported
//! and skipped, and the rest is imported).

use std::path::PathBuf;

/// What stops an import.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{0} is empty: expected trace spans (OTLP/JSON, Jaeger JSON, Zipkin v2 JSON or a CSV span table)"
    )]
    Empty(PathBuf),
    #[error(
        "{path}:1 is not a trace format import reads: expected OTLP/JSON (`{{\"resourceSpans\": ...}}` per line), Jaeger JSON (`{{\"data\": [{{\"spans\": ...}}]}}`), Zipkin v2 JSON (`[{{\"traceId\": ...}}]`) or a CSV span table with a header naming trace and span ids; line 1 reads `{first}`"
    )]
    Unrecognised { path: PathBuf, first: String },
    #[error("{path}:{line}: {why}")]
    Parse {
        path: PathBuf,
        line: u64,
        why: String,
    },
    #[error("nothing could be imported from {files}\n{details}")]
    Nothing { files: String, details: String },
    #[error("the inferred topology does not validate (a bug in import):\n{report}\n{yaml}")]
    Invalid { report: String, yaml: String },
}
