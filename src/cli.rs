//! The command line, as clap reads it. The commands and their flags are the
//! contract in `cli-and-outputs.md`; keep them in step with it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Run microservice topologies as real gRPC processes, under load, and see
/// where the time goes.
#[derive(Debug, Parser)]
#[command(name = "topolab", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// topolab's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check topology files; prints every error with file:line:col.
    Validate {
        /// Topology files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Start every replica as its own gRPC process, send the load, and write a run folder.
    Run(RunArgs),
    /// Read a run's traces: where the time went, the slowest or failed
    /// request chains, one chain as a waterfall, or a Perfetto file.
    Trace(TraceArgs),
    /// Serve as one replica (started by `run`; reads its configuration on stdin).
    #[command(name = "__serve", hide = true)]
    Serve,
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
    /// `chrome` writes a Chrome trace-event file that Perfetto opens.
    #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
    pub format: TraceFormat,
    /// Where `--format chrome` writes (default RUN_DIR/trace.chrome.json).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Output of `topolab trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    Text,
    Chrome,
}

/// Flags of `topolab run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The topology file.
    pub file: PathBuf,
    /// The run folder (default: runs/<name>-<YYYYMMDD-HHMMSS>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override the duration of every load generator, e.g. 10s.
    #[arg(long)]
    pub duration: Option<String>,
    /// The seed for sampled durations, arrivals and choices.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Change one value, with its YAML path written with dots:
    /// --set load.customers.rate=8/s
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Print only the summary and the run folder.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also send every span to this OTLP/gRPC collector (Jaeger, Tempo, an
    /// OpenTelemetry Collector), e.g. http://127.0.0.1:4317.
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// Send spans only to --otlp-endpoint: no built-in collector, no traces.json.
    #[arg(long, requires = "otlp_endpoint")]
    pub otlp_only: bool,
}
