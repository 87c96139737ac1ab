//! `topolab predict FILE`: validate within the simulator's limits (not this
//! machine's process limit), settle the hop cost, simulate, print the
//! tables and what to expect, and, last, the folder. Exit codes as `run`.

use std::process::ExitCode;

use topolab_launcher::predict::{self, Hop, PredictOptions, hop};
use topolab_launcher::table;

use super::run::{Flags, load_within, replica_program};
use super::{EXIT_INVALID, EXIT_SANDBOX};
use crate::cli::PredictArgs;

/// Predicts one topology as the flags say.
pub fn predict(args: PredictArgs) -> ExitCode {
    let flags = Flags {
        file: &args.file,
        sets: &args.sets,
        duration: args.duration.as_deref(),
        seed: args.seed,
    };
    let loaded = match load_within(&flags, topolab_model::Limits::SIMULATION) {
        Ok(l) => l,
        Err(report) => {
            eprint!("{report}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    if !args.json {
        for w in &loaded.warnings {
            eprintln!("{w}");
        }
    }
    // Cannot be None: load_within always pins a seed.
    let seed = loaded.topology.settings.seed.expect("seed pinned");
    let hop = match hop_cost(&args) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(if args.hop_cost.is_some() {
                EXIT_INVALID
            } else {
                EXIT_SANDBOX
            });
        }
    };
    let opts = PredictOptions {
        out: args.out.clone(),
        force: args.force,
        seed,
        hop,
        report: true,
    };
    let p = match predict::predict(&loaded, &opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot predict {}: {e:#}", args.file.display());
            let sim = e.downcast_ref::<topolab_sim::SimError>().is_some();
            return ExitCode::from(if sim { EXIT_INVALID } else { EXIT_SANDBOX });
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&p.summary) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: cannot write the summary as JSON: {e}");
                return ExitCode::from(EXIT_SANDBOX);
            }
        }
        eprintln!("{}", p.folder.display());
        return ExitCode::SUCCESS;
    }
    match predict::trim::trimmed(&p.summary, &p.capacity) {
        Some((short, note)) => {
            print!("{}", table::render(&short));
            print!("{note}");
        }
        None => print!("{}", table::render(&p.summary)),
    }
    print!("{}", predict::render(&p));
    println!("\n{}", p.folder.display());
    ExitCode::SUCCESS
}

/// `--hop-cost D`, else the cached probe (or a fresh one).
fn hop_cost(args: &PredictArgs) -> anyhow::Result<Hop> {
    if let Some(text) = &args.hop_cost {
        let d = topolab_model::values::duration(text).map_err(|e| {
            anyhow::anyhow!("--hop-cost {text}: {}; expected {}", e.problem, e.expected)
        })?;
        return Ok(hop::set(d));
    }
    let program = replica_program()?;
    if !args.quiet && !args.json {
        eprintln!("hop cost: using the cached probe, or measuring one (a 3 s run of two services)");
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(hop::probed((program, vec!["__serve".into()]), args.reprobe))
}
