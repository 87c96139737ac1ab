//! `topolab run FILE --on swarm`: the run on a Docker Swarm (see
//! `topolab_deploy::swarm`); the driver in the stack prints the summary and
//! the run folder. Exit codes as `run`: 2 when the sandbox failed.

use std::process::ExitCode;

use topolab_deploy::swarm::{self, SwarmRun};
use topolab_model::Loaded;

use super::EXIT_SANDBOX;
use crate::cli::RunArgs;
use topolab_predict::Simulated;

/// Runs `loaded` on the Swarm as `args` say; with `--predict`, `predicted`
/// is set beside what the run measured, as after a local run.
pub fn run(args: &RunArgs, loaded: &Loaded, predicted: Option<&Simulated>) -> ExitCode {
    let unsupported = [
        (args.otlp_endpoint.is_some(), "--otlp-endpoint"),
        (args.otlp_only, "--otlp-only"),
    ];
    for (given, flag) in unsupported {
        if given {
            eprintln!("error: {flag} with --on swarm is not supported yet");
            return ExitCode::from(EXIT_SANDBOX);
        }
    }
    let out = args.folder.out.clone().unwrap_or_else(|| {
        std::path::PathBuf::from("runs").join(format!(
            "{}-swarm-{}",
            loaded.topology.name,
            chrono_free_stamp()
        ))
    });
    let out = match std::path::absolute(&out) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: the run folder {}: {e}", out.display());
            return ExitCode::from(EXIT_SANDBOX);
        }
    };
    let mut driver_flags = Vec::new();
    if args.quiet {
        driver_flags.push("--quiet".to_string());
    }
    if args.json {
        driver_flags.push("--json".to_string());
    }
    let run = SwarmRun {
        loaded,
        image: args.image.clone(),
        out: out.clone(),
        driver_flags,
    };
    match swarm::run(&run) {
        Ok(code) => {
            if let (0, Some(p)) = (code, predicted) {
                super::predict::after_run(&out, loaded, p, !args.json);
            }
            ExitCode::from(u8::try_from(code).unwrap_or(EXIT_SANDBOX))
        }
        Err(e) => {
            eprintln!("error: the sandbox failed: {e:#}");
            ExitCode::from(EXIT_SANDBOX)
        }
    }
}

/// The guardian of a stack (`__swarm-guard`, started by `run --on swarm`).
pub fn guard(stack: &str) -> ExitCode {
    match topolab_deploy::guardian::watch(stack) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: removing stack {stack}: {e:#}");
            ExitCode::from(EXIT_SANDBOX)
        }
    }
}

/// Seconds since the epoch: unique enough for a default folder name.
fn chrono_free_stamp() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
