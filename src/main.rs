//! `topolab`: run microservice topologies as real gRPC processes. `main` only
//! parses the command line and turns each command's result into an exit code.

mod cli;
mod commands;
mod logging;
mod out;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    out::quiet_on_closed_pipe();
    let cli = cli::Cli::parse();
    let quiet = match &cli.command {
        // A replica installs its own (its stderr is its log file).
        cli::Command::Serve => None,
        cli::Command::Run(a) => Some(a.quiet),
        cli::Command::Sweep(a) => Some(a.quiet),
        _ => Some(false),
    };
    if let Some(quiet) = quiet {
        logging::init(quiet);
    }
    commands::dispatch(cli)
}
