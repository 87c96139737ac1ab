//! One module per command; each returns the exit code the contract gives it.

mod compare;
mod drive;
mod export;
mod graph;
mod image;
mod import;
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
        Command::Import(args) => import::import(&args),
        Command::Serve => serve::serve(),
        Command::SwarmGuard { stack } => swarm::guard(&stack),
    }
}
