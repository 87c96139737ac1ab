//! `topolab`: run microservice topologies as real gRPC processes. `main` only
//! parses the command line and turns each command's result into an exit code.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    commands::dispatch(cli)
}
