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
    /// Write report.html for a run folder (run does this itself too).
    Report {
        /// The run folder.
        run_dir: PathBuf,
    },
    /// Start the services (no load) and keep them up for outside clients until Ctrl-C.
    Up(UpArgs),
    /// Print the topology as a graph: services, endpoints, calls and load.
    Graph {
        /// The topology file.
        file: PathBuf,
        /// `dot` (Graphviz) or `mermaid`.
        #[arg(long, default_value = "dot")]
        format: GraphFormat,
    },
    /// Serve as one replica (started by `run`; reads its configuration on stdin).
    #[command(name = "__serve", hide = true)]
    Serve,
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
}

/// Flags of `topolab up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// The topology file (its `load` is not sent).
    pub file: PathBuf,
    /// The run folder (default: runs/<name>-<YYYYMMDD-HHMMSS>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The seed for sampled durations and choices.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Change one value, with its YAML path written with dots.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

/// Output formats of `topolab graph`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}
