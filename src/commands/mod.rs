//! One module per command; each returns the exit code the contract gives it.

mod compare;
mod drive;
mod export;
mod graph;
mod image;
mod lab;
mod pack;
mod predict;
mod replica;
mod report;
mod run;
mod serve;
mod swarm;
mod sweep;
mod trace;
mod validate;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::out::outln;

/// Exit status for an invalid topology.
pub const EXIT_INVALID: u8 = 1;
/// Exit status for a failure of the sandbox itself.
pub const EXIT_SANDBOX: u8 = 2;

/// Runs the chosen command.
pub fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Validate {
            files,
            max_processes,
        } => validate::validate(&files, max_processes),
        Command::Run(args) => run::run(args),
        Command::Report { run_dir } => report::report(&run_dir),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Up(args) => run::up(args),
        Command::Predict(args) => predict::predict(args),
        Command::Compare(args) => compare::compare(&args),
        Command::Graph { file, format } => graph::graph(&file, format),
        Command::Trace(args) => trace::trace(&args),
        Command::Schema => {
            outln!("{:#}", topolab_model::schema::json_schema());
            ExitCode::SUCCESS
        }
        Command::Image { tag } => image::image(&tag),
        Command::Export(args) => export::export(&args),
        Command::Pack { dir } => pack::pack(&dir),
        Command::Drive(args) => drive::drive(&args),
        Command::Replica(args) => replica::replica(args),
        Command::Lab(args) => lab::lab(args),
        Command::Import { .. } => not_supported_yet(
            "import",
            "write the topology by hand (see docs/topology.md)",
        ),
        Command::Serve => serve::serve(),
        Command::SwarmGuard { stack } => swarm::guard(&stack),
    }
}

/// A command the contract names that this version cannot do yet: refused by
/// name (exit 1, as for input it cannot take), with what to do instead.
fn not_supported_yet(command: &str, instead: &str) -> ExitCode {
    eprintln!("error: `topolab {command}` is not supported yet");
    eprintln!("  = help: {instead}");
    ExitCode::from(EXIT_INVALID)
}
