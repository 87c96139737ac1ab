//! `topolab predict FILE`: validate within the simulator's limits (not this
//! machine's process limit), settle the hop cost, simulate, print the
//! tables and what to expect, and, last, the folder. Exit codes as `run`.
//! Also `run --predict`'s two halves: the prediction before the run, and
//! predicted beside measured after it.

use std::path::Path;
use std::process::ExitCode;

use topolab_launcher::table;
use topolab_model::Loaded;
use topolab_predict::{self as predict, Hop, PredictOptions, Simulated, beside, hop};
use topolab_results::versus;

use super::run::{Flags, load_within, replica_program};
use super::{EXIT_INVALID, EXIT_SANDBOX};
use crate::cli::{PredictArgs, RunArgs};
use crate::out::out;

/// Predicts one topology as the flags say.
pub fn predict(args: PredictArgs) -> ExitCode {
    let flags = Flags {
        file: &args.topology.file,
        sets: &args.topology.sets,
        duration: args.duration.as_deref(),
        seed: args.seed,
        max_processes: None,
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
    let hop = match hop_cost(
        args.hop_cost.as_deref(),
        args.reprobe,
        !args.quiet && !args.json,
        &loaded.topology,
    ) {
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
        out: args.folder.out.clone(),
        force: args.folder.force,
        seed,
        hop,
        report: true,
    };
    let p = match predict::predict(&loaded, &opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "error: cannot predict {}: {e:#}",
                args.topology.file.display()
            );
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

/// `--hop-cost D`, else the cached probe (or a fresh one); `say`: tell the
/// user a probe may take a few seconds. `t`: the topology predicted, whose
/// followers (if any) need the message probe too.
pub fn hop_cost(
    set: Option<&str>,
    reprobe: bool,
    say: bool,
    t: &topolab_model::Topology,
) -> anyhow::Result<Hop> {
    if let Some(text) = set {
        let d = topolab_model::values::duration(text).map_err(|e| {
            anyhow::anyhow!("--hop-cost {text}: {}; expected {}", e.problem, e.expected)
        })?;
        return Ok(hop::set(d));
    }
    let program = replica_program()?;
    if say {
        eprintln!("hop cost: using the cached probe, or measuring one (a 4 s run of two services)");
    }
    let rt = tokio::runtime::Runtime::new()?;
    let followers = t.load.iter().any(|g| g.follow.is_some());
    rt.block_on(hop::probed(
        (program, vec!["__serve".into()]),
        reprobe,
        followers,
    ))
}

/// `run --predict`, before the run: settle the hop cost, predict (with the
/// prediction's noise) and say in a few lines what to expect. An error is
/// the exit status to end with (nothing has started yet).
pub fn before_run(args: &RunArgs, loaded: &Loaded, seed: u64) -> Result<Simulated, ExitCode> {
    let say = !args.quiet && !args.json;
    let hop = hop_cost(
        args.hop_cost.as_deref(),
        args.reprobe,
        say,
        &loaded.topology,
    )
    .map_err(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(if args.hop_cost.is_some() {
            EXIT_INVALID
        } else {
            EXIT_SANDBOX
        })
    })?;
    let sim = beside::predict_for_run(loaded, seed, &hop).map_err(|e| {
        eprintln!(
            "error: cannot predict {}: {e:#}",
            args.topology.file.display()
        );
        let sim = e.downcast_ref::<topolab_sim::SimError>().is_some();
        ExitCode::from(if sim { EXIT_INVALID } else { EXIT_SANDBOX })
    })?;
    if say {
        eprint!("{}", expect(&sim));
    }
    Ok(sim)
}

/// The prediction in a few lines, before the run starts.
fn expect(sim: &Simulated) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let noise = sim
        .summary
        .prediction
        .as_ref()
        .and_then(|p| p.noise.as_ref());
    let band = |scope: &str, k: &str, v: f64| match noise.and_then(|n| n.figures.get(scope)?.get(k))
    {
        Some(b) => format!("{:.2} ± {:.2}", b.mean, b.half),
        None => format!("{v:.2}"),
    };
    if let Some(p) = &sim.summary.prediction {
        let _ = writeln!(
            out,
            "prediction (simulated; hop cost {:.3} ms, work step +{:.3} ms, from {}):",
            p.hop_cost_ms, p.work_overhead_ms, p.hop_cost_source
        );
    }
    for (name, l) in &sim.summary.load {
        let scope = format!("load.{name}");
        let _ = writeln!(
            out,
            "  {name}: p50 {} ms, p99 {} ms, {} ok/s",
            band(&scope, "p50 ms", l.latency_ms.p50),
            band(&scope, "p99 ms", l.latency_ms.p99),
            band(&scope, "ok/s", l.throughput),
        );
    }
    let cap = &sim.capacity;
    if let (Some(b), Some(c)) = (&cap.bottleneck, cap.capacity) {
        let _ = writeln!(
            out,
            "  capacity {c:.1}/s offered, where {b} saturates; offered {:.1}/s",
            cap.offered
        );
    }
    out
}

/// `run --predict`, after the run: the prediction written into the run
/// folder, the report drawn again beside it, and (`table`) predicted beside
/// measured on stdout. Failing here loses the comparison, not the run.
pub fn after_run(run: &Path, loaded: &Loaded, sim: &Simulated, table: bool) {
    if let Err(e) = beside::write_beside(run, loaded, sim) {
        eprintln!("warning: the prediction could not be written beside the run: {e:#}");
        return;
    }
    if !table {
        return;
    }
    match beside::lines(run, loaded, sim) {
        Ok(lines) => {
            let noise = sim
                .summary
                .prediction
                .as_ref()
                .and_then(|p| p.noise.as_ref());
            out!("{}", versus::render(&lines, noise));
            if let Some(p) = &sim.summary.prediction {
                out!("{}", predict::sizes_warning(p));
            }
        }
        Err(e) => eprintln!("warning: cannot set the prediction beside the run: {e:#}"),
    }
}
