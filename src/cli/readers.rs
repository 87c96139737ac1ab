//! The flags of the commands that read what runs and others wrote: `import`
//! (traces in), `trace` (a run's chains out) and `compare` (two run folders).

use std::path::PathBuf;

/// Flags of `topolab import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Trace files (gzip or not): OTLP/JSON lines or document, Jaeger JSON,
    /// Zipkin v2 JSON, or CSV span tables.
    #[arg(required = true)]
    pub traces: Vec<PathBuf>,
    /// The format of every file (detected from each file's first bytes
    /// when not given).
    #[arg(long, value_enum)]
    pub format: Option<ImportFormat>,
    /// Where to write the topology (stdout when not given; the summary
    /// then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace `--out` if it exists.
    #[arg(long)]
    pub force: bool,
    /// The topology's `name`.
    #[arg(long, default_value = "imported")]
    pub name: String,
    /// Two calls overlapping by less than this are one after the other, not
    /// parallel (the clock skew tolerated between hosts), in ms.
    #[arg(long, value_name = "MS", default_value_t = 0.5)]
    pub tolerance_ms: f64,
    /// A CSV column under another name: `FIELD=COLUMN`, FIELD one of
    /// trace_id, span_id, parent_id, service, instance, name, kind, start,
    /// end, duration, status.
    #[arg(long = "column", value_name = "FIELD=COLUMN")]
    pub columns: Vec<String>,
}

/// The trace formats `import` reads.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ImportFormat {
    Otlp,
    Jaeger,
    Zipkin,
    Csv,
}

/// Flags of `topolab trace`.
#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// A run folder written by `topolab run`.
    pub run_dir: PathBuf,
    /// List the N slowest request chains.
    #[arg(long, value_name = "N")]
    pub slowest: Option<usize>,
    /// List the chains in which some call failed.
    #[arg(long)]
    pub errors: bool,
    /// Show one chain as a waterfall (a unique prefix of its id is enough).
    #[arg(long, value_name = "TRACE")]
    pub id: Option<String>,
    /// `chrome` writes a Chrome trace-event file that Perfetto opens;
    /// `jaeger` and `zipkin` write the JSON their UIs upload.
    #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
    pub format: TraceFormat,
    /// Where a file format writes (default RUN_DIR/trace.FORMAT.json).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Output of `topolab trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    Text,
    Chrome,
    Jaeger,
    Zipkin,
}

/// Flags of `topolab compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The baseline run folder.
    pub a: PathBuf,
    /// The run folder compared with it.
    pub b: PathBuf,
    /// A gate: `p99 > +10%`, `rejected > 1%`, `load.rush.p99 > 250ms`,
    /// `api/Feed.errors > +0.5%` (see docs/predict.md); exit 3 when any holds.
    #[arg(long = "fail-if", value_name = "EXPR")]
    pub fail_if: Vec<String>,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
}
