//! `topolab predict`: the topology simulated instead of run, written as a run
//! folder of the same shape (marked as a prediction in `summary.json`), with
//! what a user wants to know before running: each service's utilisation at
//! the offered load, the bottleneck, the topology's capacity and the
//! predicted cascade.
//!
//! It runs the simulator (`topolab-sim`) and writes what it predicted; the
//! one real run it starts is the hop-cost probe ([`hop`]), through the
//! launcher like any run.

pub mod beside;
pub mod figures;
pub mod hop;
pub mod message;
mod sizes;
pub mod trim;
pub mod without_warmup;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use hdrhistogram::Histogram;

use topolab_model::Loaded;
use topolab_results::load_series::LoadRow;
use topolab_results::timeseries::{self, Row};
use topolab_results::{cascade, report};
use topolab_sim::analysis::{self, Capacity};

use topolab_launcher::run_folder::RunFolder;
use topolab_launcher::summary::{Summary, round3};

pub use hop::Hop;

/// Most services a prediction draws in `report.html` (a chart each).
pub const MAX_REPORT_SERVICES: usize = 200;

/// How to predict.
pub struct PredictOptions {
    /// `--out`: the folder; default `runs/<name>-predict-<timestamp>`.
    pub out: Option<PathBuf>,
    /// `--force`: empty a non-empty `--out` instead of refusing it.
    pub force: bool,
    pub seed: u64,
    pub hop: Hop,
    /// Write `report.html` too (a sweep of predictions skips it).
    pub report: bool,
}

/// What a prediction leaves.
pub struct Predicted {
    pub summary: Summary,
    pub folder: PathBuf,
    pub capacity: Capacity,
}

/// One simulation in memory, in the run folder's shapes, not yet written.
pub struct Simulated {
    pub summary: Summary,
    pub rows: Vec<Row>,
    pub load_rows: Vec<LoadRow>,
    pub capacity: Capacity,
    /// OK latency of every generator together, µs (a sweep's step figure);
    /// when every generator follows `updates`, their clients' staleness
    /// instead, as a sweep measures such steps.
    pub latency_us: Histogram<u64>,
}

/// Simulates the topology (its warmup simulated and discarded) into the
/// run folder's shapes, `summary.prediction` filled.
pub fn simulate(loaded: &Loaded, seed: u64, hop: &Hop) -> anyhow::Result<Simulated> {
    let t = &loaded.topology;
    let started = Instant::now();
    let sim = topolab_sim::Options {
        seed,
        hop_cost: hop.ns,
        work_overhead: hop.work_ns,
        message_cost: hop.message_ns,
        version_late: hop.version_late_ns,
        push_cost: hop.push_ns,
        telemetry: true,
    };
    let (f, warm) = without_warmup::simulate(t, &sim)?;
    let wall = started.elapsed().as_secs_f64();
    let capacity = analysis::capacity_with(t, &f, hop.ns as f64 / 1e9, hop.work_ns as f64 / 1e9);
    let rows = figures::rows(t, &f);
    let mut summary = figures::summary(t, seed, &f);
    summary.cascade = cascade::analyze(t, &timeseries::by_service(&rows));
    let mut prediction = figures::prediction(&capacity, &f, hop.ns, &hop.source, wall);
    prediction.work_overhead_ms = round3(hop.work_ns as f64 / 1e6);
    prediction.message_cost_ms = round3(hop.message_ns as f64 / 1e6);
    prediction.push_cost_ms = round3(hop.push_ns as f64 / 1e6);
    prediction.version_late_ms = round3(hop.version_late_ns as f64 / 1e6);
    prediction.not_modelled = sizes::not_modelled(t);
    summary.prediction = Some(prediction);
    // Simulated and discarded as a run discards it (see `warmup`).
    summary.warmup = warm;
    // Cannot fail: 3 significant figures is within hdrhistogram's range.
    let mut latency_us: Histogram<u64> = Histogram::new(3).expect("valid sigfig");
    latency_us.auto(true);
    let following = !t.load.is_empty() && t.load.iter().all(|g| g.follow.is_some());
    for (l, fresh) in f.load.iter().zip(&f.freshness) {
        // Cannot fail: the merged histogram auto-resizes.
        let _ = match (fresh, following) {
            (Some(fresh), true) => latency_us.add(fresh.staleness_us()),
            _ => latency_us.add(&l.latency_us),
        };
    }
    Ok(Simulated {
        latency_us,
        load_rows: figures::load_rows(t, &f),
        summary,
        rows,
        capacity,
    })
}

/// Writes a simulation as a run folder: `out`, or a fresh
/// `runs/<name>-predict-<timestamp>`.
pub fn write(
    loaded: &Loaded,
    sim: &Simulated,
    out: Option<&Path>,
    force: bool,
    with_report: bool,
) -> anyhow::Result<PathBuf> {
    let t = &loaded.topology;
    let folder = match out {
        Some(p) => RunFolder::create(Some(p), &t.name, force)?,
        None => RunFolder::create(None, &format!("{}-predict", t.name), force)?,
    };
    folder.write_topology(&loaded.yaml)?;
    folder.write_timeseries(&sim.rows)?;
    folder.write_summary(&sim.summary)?;
    folder.write_load_timeseries(&sim.load_rows)?;
    if with_report && t.services.len() > MAX_REPORT_SERVICES {
        eprintln!(
            "note: report.html not written: {} services, more than the {MAX_REPORT_SERVICES} one page can show",
            t.services.len()
        );
    } else if with_report && let Err(e) = report::write(&folder.path) {
        eprintln!("warning: report.html not written: {e:#}");
    }
    Ok(folder.path)
}

/// Simulates the topology and writes the folder.
pub fn predict(loaded: &Loaded, opts: &PredictOptions) -> anyhow::Result<Predicted> {
    let sim = simulate(loaded, opts.seed, &opts.hop)?;
    let folder = write(loaded, &sim, opts.out.as_deref(), opts.force, opts.report)?;
    Ok(Predicted {
        summary: sim.summary,
        folder,
        capacity: sim.capacity,
    })
}

/// The warning naming the payload sizes a prediction ignores (empty when
/// the topology sets none).
pub fn sizes_warning(p: &topolab_results::summary::Prediction) -> String {
    sizes::render(&p.not_modelled)
}

/// What `predict` prints after the tables (which end with the predicted
/// cascade): utilisation per service, the bottleneck, the capacity, and how
/// the prediction was made.
pub fn render(p: &Predicted) -> String {
    let mut out = String::new();
    let cap = &p.capacity;
    let _ = writeln!(
        out,
        "\nutilisation at the offered load ({:.2}/s):",
        cap.offered
    );
    // Ten thousand lines help nobody: the busiest services, and a count.
    let shown = trim::top(cap.services.iter().map(|u| u.rho), trim::MAX_PRINTED);
    let width = shown
        .iter()
        .map(|&i| cap.services[i].service.len())
        .max()
        .unwrap_or(0);
    for u in shown.iter().map(|&i| &cap.services[i]) {
        let mark = if Some(&u.service) == cap.bottleneck.as_ref() {
            "  <- bottleneck"
        } else {
            ""
        };
        let over = if u.rho >= 1.0 { " (saturated)" } else { "" };
        let _ = writeln!(
            out,
            "  {:width$}  rho {:>6.1}%{over}  simulated busy {:>5.1}%  ({:.2}/s × {:.3} ms held){mark}",
            u.service,
            u.rho * 100.0,
            u.simulated * 100.0,
            u.arrival_rate,
            u.hold_s * 1e3,
        );
    }
    if shown.len() < cap.services.len() {
        let _ = writeln!(
            out,
            "  ... {} more services, less utilised (every one is in summary.json)",
            cap.services.len() - shown.len()
        );
    }
    match (&cap.bottleneck, cap.capacity) {
        (Some(b), Some(c)) => {
            let _ = writeln!(
                out,
                "capacity: {c:.2}/s offered (this mix), where {b} saturates; the offered load is {:.0}% of it",
                cap.offered / c * 100.0
            );
        }
        _ => {
            let _ = writeln!(out, "capacity: no service does any work");
        }
    }
    if let Some(pr) = &p.summary.prediction {
        let _ = writeln!(
            out,
            "prediction: {} events simulated in {:.2} s; hop cost {:.3} ms, {:.3} ms added to each work step ({})",
            pr.events, pr.wall_s, pr.hop_cost_ms, pr.work_overhead_ms, pr.hop_cost_source
        );
        if pr.message_cost_ms > 0.0 && p.summary.load.values().any(|l| l.updates.is_some()) {
            let _ = writeln!(
                out,
                "followers: a replica's thread takes a burst one message after another, {:.3} ms an answer, {:.3} ms a push; a version is taken up {:.3} ms late",
                pr.message_cost_ms, pr.push_cost_ms, pr.version_late_ms
            );
        }
        if let Some(w) = &p.summary.warmup {
            let _ = writeln!(
                out,
                "warmup: {} request(s) in {:.1} s simulated, discarded from every figure",
                w.requests_sent, w.duration_s
            );
        }
        out.push_str(&sizes_warning(pr));
    }
    out
}
