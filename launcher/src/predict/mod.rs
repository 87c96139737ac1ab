//! `topolab predict`: the topology simulated instead of run, written as a run
//! folder of the same shape (marked as a prediction in `summary.json`), with
//! what a user wants to know before running: each service's utilisation at
//! the offered load, the bottleneck, the topology's capacity and the
//! predicted cascade.

pub mod figures;
pub mod hop;
pub mod trim;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use topolab_model::Loaded;
use topolab_results::{cascade, report, timeseries};
use topolab_sim::analysis::{self, Capacity};

use crate::run_folder::RunFolder;
use crate::summary::Summary;

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

/// Simulates the topology and writes the folder.
pub fn predict(loaded: &Loaded, opts: &PredictOptions) -> anyhow::Result<Predicted> {
    let t = &loaded.topology;
    let started = Instant::now();
    let sim = topolab_sim::Options {
        seed: opts.seed,
        hop_cost: opts.hop.ns,
        telemetry: true,
    };
    let f = topolab_sim::simulate(t, &sim)?;
    let wall = started.elapsed().as_secs_f64();
    let cap = analysis::capacity(t, &f, opts.hop.ns as f64 / 1e9);
    let folder = match &opts.out {
        Some(p) => RunFolder::create(Some(p), &t.name, opts.force)?,
        None => RunFolder::create(None, &format!("{}-predict", t.name), opts.force)?,
    };
    folder.write_topology(&loaded.yaml)?;
    let rows = figures::rows(t, &f);
    folder.write_timeseries(&rows)?;
    let mut summary = figures::summary(t, opts.seed, &f);
    summary.cascade = cascade::analyze(t, &timeseries::by_service(&rows));
    summary.prediction = Some(figures::prediction(
        &cap,
        &f,
        opts.hop.ns,
        &opts.hop.source,
        wall,
    ));
    folder.write_summary(&summary)?;
    folder.write_load_timeseries(&figures::load_rows(t, &f))?;
    if opts.report && t.services.len() > MAX_REPORT_SERVICES {
        eprintln!(
            "note: report.html not written: {} services, more than the {MAX_REPORT_SERVICES} one page can show",
            t.services.len()
        );
    } else if opts.report
        && let Err(e) = report::write(&folder.path)
    {
        eprintln!("warning: report.html not written: {e:#}");
    }
    Ok(Predicted {
        summary,
        folder: folder.path,
        capacity: cap,
    })
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
            "prediction: {} events simulated in {:.2} s; hop cost {:.3} ms ({})",
            pr.events, pr.wall_s, pr.hop_cost_ms, pr.hop_cost_source
        );
    }
    out
}
