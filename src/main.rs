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
    if !matches!(cli.command, cli::Command::Serve) {
        // A replica installs its own (its stderr is its log file).
        logging::init();
    }
    commands::dispatch(cli)
}
