//! `topolab run FILE`: validate, run, print the summary and, last, the run
//! folder. Exit 0 when the experiment ran (whatever its requests did), 1 for
//! an invalid topology (nothing started), 2 when the sandbox itself failed.

use std::io::IsTerminal;
use std::process::ExitCode;

use topolab_launcher::run_folder::FolderError;
use topolab_launcher::{RunOptions, table};
use topolab_live::LiveMode;
use topolab_model::diagnostic::Diag;
use topolab_model::{Loaded, Override};

use super::{EXIT_INVALID, EXIT_SANDBOX};
use crate::cli::{RunArgs, UpArgs};
use crate::out::{out, outln};

/// Runs one topology as the flags say.
pub fn run(args: RunArgs) -> ExitCode {
    run_with(args, false)
}

/// `topolab up`: the run machinery with the load left out, so the services
/// stay up for outside clients until Ctrl-C; their figures are still written.
pub fn up(args: UpArgs) -> ExitCode {
    let UpArgs {
        topology,
        folder,
        seed,
        processes,
    } = args;
    let args = RunArgs {
        topology,
        folder,
        duration: None,
        seed,
        processes,
        quiet: false,
        json: false,
        otlp_endpoint: None,
        otlp_only: false,
        on: crate::cli::Platform::Local,
        image: topolab_deploy::DEFAULT_IMAGE.into(),
        predict: false,
        hop_cost: None,
        reprobe: false,
    };
    run_with(args, true)
}

fn run_with(args: RunArgs, services_only: bool) -> ExitCode {
    let flags = Flags {
        file: &args.topology.file,
        sets: &args.topology.sets,
        duration: args.duration.as_deref(),
        seed: args.seed,
        max_processes: args.processes.max_processes,
    };
    let mut loaded = match load_with_flags(&flags) {
        Ok(l) => l,
        Err(report) => {
            eprint!("{report}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    if services_only {
        if !loaded.topology.load.is_empty() {
            let names: Vec<&str> = loaded
                .topology
                .load
                .iter()
                .map(|g| g.name.as_str())
                .collect();
            eprintln!(
                "up: the load of {} ({}) is not sent; `topolab run` sends it",
                args.topology.file.display(),
                names.join(", ")
            );
        }
        loaded.topology.load.clear();
        loaded.yaml = format!("# topolab up: the load below was not sent\n{}", loaded.yaml);
    }
    // Cannot be None: load_with_flags always pins a seed.
    let seed = loaded.topology.settings.seed.expect("seed pinned");
    let predicted = if args.predict {
        match super::predict::before_run(&args, &loaded, seed) {
            Ok(p) => Some(p),
            Err(code) => return code,
        }
    } else {
        None
    };
    if args.on == crate::cli::Platform::Swarm {
        return super::swarm::run(&args, &loaded, predicted.as_ref());
    }
    let program = match replica_program() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot find the topolab executable to start replicas: {e}");
            return ExitCode::from(EXIT_SANDBOX);
        }
    };
    let opts = RunOptions {
        out: args.folder.out.clone(),
        force: args.folder.force,
        seed,
        replica_command: (program, vec!["__serve".into()]),
        verbose: !args.quiet,
        trace: topolab_collector::TraceOptions {
            otlp_endpoint: args.otlp_endpoint.clone(),
            otlp_only: args.otlp_only,
            listen: None,
        },
        live: live_mode(args.quiet),
        steering: None,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_SANDBOX);
        }
    };
    match runtime.block_on(topolab_launcher::run(&loaded, opts)) {
        Ok(result) if args.json => {
            if let Some(p) = &predicted {
                super::predict::after_run(&result.folder, &loaded, p, false);
            }
            json_summary(&args, &result)
        }
        Ok(result) => {
            out!("{}", table::render(&result.summary));
            if let Some(note) = result.summary.traces.as_ref().and_then(|t| t.note()) {
                outln!("{note}");
            }
            if let Some(p) = &predicted {
                super::predict::after_run(&result.folder, &loaded, p, true);
            }
            outln!("\n{}", result.folder.display());
            ExitCode::SUCCESS
        }
        Err(e) => failed(&e),
    }
}

/// `--json`: the summary on stdout, the folder on stderr.
fn json_summary(args: &RunArgs, result: &topolab_launcher::RunResult) -> ExitCode {
    match serde_json::to_string_pretty(&result.summary) {
        Ok(json) => {
            outln!("{json}");
            if !args.quiet {
                eprintln!("{}", result.folder.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write the summary as JSON: {e}");
            ExitCode::from(EXIT_SANDBOX)
        }
    }
}

/// Exit status and message for a run that did not finish: an `--out` folder
/// that cannot be used is the user's to mend (1, nothing was started);
/// anything else is the sandbox failing (2).
pub fn failed(e: &anyhow::Error) -> ExitCode {
    if let Some(folder) = e.downcast_ref::<FolderError>() {
        eprintln!("error: {folder}");
        return ExitCode::from(EXIT_INVALID);
    }
    eprintln!("error: the sandbox failed: {e:#}");
    ExitCode::from(EXIT_SANDBOX)
}

/// The dashboard when stdout is a terminal, else a progress line on stderr;
/// nothing with `--quiet` (the same rules for `run` and every step of `sweep`).
pub fn live_mode(quiet: bool) -> LiveMode {
    if quiet {
        LiveMode::Off
    } else if std::io::stdout().is_terminal() {
        LiveMode::Dashboard
    } else if std::io::stderr().is_terminal() {
        // stdout redirected (`> summary.txt`) but a person still watches.
        LiveMode::Progress
    } else {
        // Nobody watches (CI, scripts): keep logs free of once-a-second lines.
        LiveMode::Off
    }
}

/// The flags that change what runs (shared by `run`, `up` and `sweep`).
pub struct Flags<'a> {
    pub file: &'a std::path::Path,
    pub sets: &'a [String],
    pub duration: Option<&'a str>,
    pub seed: Option<u64>,
    /// `--max-processes`: the process limit instead of this machine's.
    pub max_processes: Option<u32>,
}

/// Loads the file with `--set`, then turns `--duration` and `--seed` into
/// overrides too, so `topology.yaml` in the run folder is exactly what ran.
/// Without a seed anywhere one is drawn and pinned, so every run can be repeated.
/// `--duration D` makes the whole load last D: the load's span (from the start
/// of load until the last generator stops) is stretched or shrunk by one
/// factor, and with it every generator's `start` and `duration` (stages keep
/// their shape) and every fault's `at` and `for`, so a preview keeps the story.
pub fn load_with_flags(args: &Flags) -> Result<Loaded, topolab_model::Report> {
    load_within(args, machine_limits(args.max_processes))
}

/// The limits of a run on this machine: its probed process limit (which
/// also raises the open-files limit the replicas inherit), or `forced`.
pub fn machine_limits(forced: Option<u32>) -> topolab_model::Limits {
    topolab_fleet::capacity::Capacity::probe().limits(forced)
}

/// As [`load_with_flags`], within `limits` (a prediction's are not this
/// machine's). Each override notes the flag the user typed: `--duration`'s
/// are said as `--duration D`, and a `D` that is not a duration is one
/// error about that flag, not one per generator it would have set.
pub fn load_within(
    args: &Flags,
    limits: topolab_model::Limits,
) -> Result<Loaded, topolab_model::Report> {
    let first = topolab_model::load_with(args.file, args.sets, limits.clone())?;
    let mut sets: Vec<Override> = args.sets.iter().map(|s| Override::set(s)).collect();
    if let Some(d) = &args.duration {
        let want = topolab_model::values::duration(d).map_err(|e| {
            let file = args.file.display().to_string();
            let diag = Diag::unplaced(format!("invalid `--duration {d}`: {}", e.problem))
                .help(format!("expected {}", e.expected));
            topolab_model::Report {
                errors: vec![diag.render(&file, "")],
            }
        })?;
        let flag = format!("--duration {d}");
        sets.extend(
            duration_sets(&first.topology, want)
                .into_iter()
                .map(|set| Override {
                    set,
                    flag: flag.clone(),
                }),
        );
    }
    let seed = args
        .seed
        .or(first.topology.settings.seed)
        .unwrap_or_else(rand::random);
    if args.seed.is_some() || first.topology.settings.seed.is_none() {
        // Named `--seed` even when drawn: it is what `--seed` would pin, and
        // a seed (any u64) draws no diagnostic to note it on.
        sets.push(Override {
            set: format!("settings.seed={seed}"),
            flag: format!("--seed {seed}"),
        });
    }
    if sets.len() == args.sets.len() {
        return Ok(first);
    }
    topolab_model::load_overridden(args.file, &sets, limits)
}

/// The overrides `--duration` stands for to make the load last `want` (see
/// [`load_with_flags`]).
fn duration_sets(t: &topolab_model::Topology, want: std::time::Duration) -> Vec<String> {
    let Some(span) = t.load.iter().map(|g| g.start + g.duration).max() else {
        return Vec::new();
    };
    let factor = want.as_secs_f64() / span.as_secs_f64().max(1e-9);
    let scaled = |x: std::time::Duration| format!("{}us", (x.as_secs_f64() * factor * 1e6).round());
    let mut sets = Vec::new();
    for g in &t.load {
        sets.push(format!("load.{}.duration={}", g.name, scaled(g.duration)));
        if !g.start.is_zero() {
            sets.push(format!("load.{}.start={}", g.name, scaled(g.start)));
        }
    }
    for (i, f) in t.faults.iter().enumerate() {
        sets.push(format!("faults.{i}.at={}", scaled(f.at)));
        if let Some(x) = f.duration {
            sets.push(format!("faults.{i}.for={}", scaled(x)));
        }
    }
    sets
}

/// The program that becomes a replica: this very executable (`topolab
/// __serve`), unless `TOPOLAB_REPLICA_EXE` names another (for tests of how a
/// failing replica is reported).
pub fn replica_program() -> std::io::Result<std::path::PathBuf> {
    match std::env::var_os("TOPOLAB_REPLICA_EXE") {
        Some(p) => Ok(p.into()),
        None => std::env::current_exe(),
    }
}
