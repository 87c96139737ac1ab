//! `topolab sweep FILE --vary KEY=FROM..TO [--steps N]`: every step is
//! validated first (an invalid one starts nothing, exit 1), then run one
//! after another with the same seed, each into its own run folder inside the
//! sweep folder; then `sweep.csv`, `sweep.html` and the table naming the knee.
//! Exit codes as `run`: 0 ran, 1 invalid, 2 the sandbox failed.

use std::path::Path;
use std::process::ExitCode;

use topolab_launcher::RunOptions;
use topolab_launcher::run_folder::RunFolder;
use topolab_model::{Loaded, values};
use topolab_notice as notice;
use topolab_results::sweep::{self as sweep_files, SweepMeta};
use topolab_sweep::{Goal, StepFigures, Vary, figures, predicted, table};

use super::EXIT_INVALID;
use super::run::{Flags, live_mode, load_with_flags, replica_program};
use crate::cli::SweepArgs;
use crate::out::{out, outln};

/// Runs the sweep the flags describe.
pub fn sweep(args: SweepArgs) -> ExitCode {
    let (vary, goal) = match parse_flags(&args) {
        Ok(v) => v,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let steps = match load_steps(&args, &vary) {
        Ok(s) => s,
        Err(report) => {
            eprint!("{report}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    match run_steps(&args, &vary, goal, &steps) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::run::failed(&e),
    }
}

fn parse_flags(args: &SweepArgs) -> Result<(Vary, Goal), String> {
    let vary = Vary::parse(&args.vary, args.steps).map_err(|e| e.to_string())?;
    let g = args.goal_p99.trim();
    let goal = if g.ends_with('x') {
        values::factor(g).map(Goal::TimesLightest)
    } else {
        values::duration(g).map(Goal::P99)
    }
    .map_err(|e| {
        format!(
            "invalid --goal-p99 `{g}`: {}; expected a duration like `500ms` or a factor like `5x`",
            e.problem
        )
    })?;
    Ok((vary, goal))
}

/// Every step's topology, validated before anything starts, all with one seed.
fn load_steps(args: &SweepArgs, vary: &Vary) -> Result<Vec<Loaded>, String> {
    let first =
        topolab_model::load(&args.topology.file, &args.topology.sets).map_err(|r| r.to_string())?;
    let seed = args
        .seed
        .or(first.topology.settings.seed)
        .unwrap_or_else(rand::random);
    (0..vary.values.len())
        .map(|i| {
            let mut sets = args.topology.sets.clone();
            sets.push(vary.set(i));
            let flags = Flags {
                file: &args.topology.file,
                sets: &sets,
                duration: args.duration.as_deref(),
                seed: Some(seed),
                max_processes: args.processes.max_processes,
            };
            load_with_flags(&flags).map_err(|r| {
                format!(
                    "{r}(in step {} of the sweep: --set {})\n",
                    i + 1,
                    vary.set(i)
                )
            })
        })
        .collect()
}

fn run_steps(args: &SweepArgs, vary: &Vary, goal: Goal, steps: &[Loaded]) -> anyhow::Result<()> {
    let name = &steps[0].topology.name;
    let folder = RunFolder::create(
        args.folder.out.as_deref(),
        &format!("{name}-sweep"),
        args.folder.force,
    )?;
    let hop = predict_hop(args, &steps[0].topology);
    let program = replica_program()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let mut figures: Vec<StepFigures> = Vec::new();
    for (i, loaded) in steps.iter().enumerate() {
        let value = &vary.values[i];
        if !args.quiet {
            notice::say(format!("\nstep {}/{}: {}", i + 1, steps.len(), vary.set(i)));
        }
        let opts = RunOptions {
            out: Some(step_folder(&folder.path, i, value)),
            // The sweep folder was empty (or emptied): each step's is new.
            force: false,
            // Cannot be None: load_with_flags always pins a seed.
            seed: loaded.topology.settings.seed.unwrap_or_default(),
            replica_command: (program.clone(), vec!["__serve".into()]),
            verbose: !args.quiet,
            trace: Default::default(),
            live: live_mode(args.quiet),
            steering: None,
        };
        let result = runtime.block_on(topolab_launcher::run(loaded, opts))?;
        let interrupted = result.summary.interrupted;
        figures.push(StepFigures::new(value, &loaded.topology, &result));
        if interrupted {
            notice::say(format!("sweep interrupted after step {}", i + 1));
            break;
        }
    }
    let goal_ms = goal.p99_ms(&figures);
    let knee = figures::mark_and_find_knee(&mut figures, goal_ms);
    let mut rows = figures::rows(&figures);
    let predicted = hop.and_then(|hop| predict_steps(args, steps, &figures, &hop, &mut rows));
    let goal_text = match goal {
        Goal::P99(_) => format!("p99 ≤ {goal_ms:.1} ms and at most 1% failed"),
        Goal::TimesLightest(k) => {
            format!("p99 ≤ {k}× the lightest step's p99 = {goal_ms:.1} ms, and at most 1% failed")
        }
    };
    let meta = SweepMeta {
        topology: name.clone(),
        vary: vary.key.clone(),
        goal: goal_text,
        goal_p99_ms: goal_ms.is_finite().then_some(goal_ms),
        predicted,
    };
    sweep_files::write(&folder.path, &meta, &rows)?;
    topolab_results::report::write(&folder.path)?;
    out!("\n{}", table::render(&vary.key, &figures, knee, goal_ms));
    outln!("\n{}", folder.path.display());
    Ok(())
}

/// The hop cost for the predicted curve, unless `--no-predict`; a hop cost
/// that cannot be had costs the curve, not the sweep (said on stderr).
fn predict_hop(args: &SweepArgs, t: &topolab_model::Topology) -> Option<topolab_predict::Hop> {
    if args.no_predict {
        return None;
    }
    match super::predict::hop_cost(args.hop_cost.as_deref(), false, !args.quiet, t) {
        Ok(h) => Some(h),
        Err(e) => {
            eprintln!("note: the steps are not predicted: {e:#}");
            None
        }
    }
}

/// Simulates every step that ran and fills its predicted columns; how it
/// was predicted, for `sweep.json`. A topology the simulator refuses
/// (say, clients following `updates`) is run without the curve, said once.
fn predict_steps(
    args: &SweepArgs,
    steps: &[Loaded],
    figures: &[StepFigures],
    hop: &topolab_predict::Hop,
    rows: &mut [topolab_results::sweep::SweepRow],
) -> Option<topolab_results::sweep::SweepPrediction> {
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    for (loaded, f) in steps.iter().zip(figures) {
        let seed = loaded.topology.settings.seed.unwrap_or_default();
        match predicted::step(loaded, seed, hop, f.offered_per_s) {
            Ok(p) => out.push(p),
            Err(e) => {
                eprintln!("note: the steps are not predicted: {e:#}");
                return None;
            }
        }
    }
    predicted::fill(rows, &out);
    if !args.quiet {
        notice::say(format!(
            "predicted {} step(s) in {:.2} s",
            out.len(),
            started.elapsed().as_secs_f64()
        ));
    }
    Some(predicted::meta(hop, &out))
}

/// `step-03-4.5-s`: the step's number and value, safe as a folder name.
fn step_folder(sweep: &Path, i: usize, value: &str) -> std::path::PathBuf {
    let safe: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    sweep.join(format!("step-{:02}-{safe}", i + 1))
}
