//! The report's "Predicted vs measured" section, for a run made with
//! `run --predict`: each figure predicted (with the 95% range one run falls
//! in) beside what the run measured, flagged where it lies outside; and the
//! predicted latency drawn on the run's latency chart.

use maud::{Markup, html};
use plotters::style::RGBColor;

use super::charts::{self, generator_colour};
use crate::run_dir::RunDir;
use crate::versus;

/// The section, when the run folder holds a prediction to set beside it.
pub fn section(run: &RunDir) -> Option<Markup> {
    let pred = run.prediction.as_deref()?;
    let (Some(m), Some(p)) = (&run.summary, &pred.summary) else {
        return Some(
            html! { p.missing { "prediction/ holds no readable summary.json: nothing to set beside the run." } },
        );
    };
    let no_rows = Default::default();
    let lines = versus::side_by_side(
        &run.topology,
        m,
        run.timeseries.as_ref().unwrap_or(&no_rows),
        p,
        pred.timeseries.as_ref().unwrap_or(&no_rows),
    );
    let info = p.prediction.as_ref();
    let noise = info.and_then(|i| i.noise.as_ref());
    let flagged = lines.iter().filter(|l| l.flagged).count();
    Some(html! {
        p.caption {
            "Predicted by the simulator before the run (same topology and seed"
            @if let Some(i) = info { ", hop cost " (format!("{:.3}", i.hop_cost_ms)) " ms and " (format!("{:.3}", i.work_overhead_ms)) " ms added to each work step, from " (i.hop_cost_source) }
            "; the prediction's own folder: " a href={ (versus::FOLDER) "/report.html" } { (versus::FOLDER) "/" } "). "
            @match noise {
                Some(n) => {
                    "± is the 95% range one run of the predicted system falls in, from " (n.simulations)
                    " simulations with different seeds (the prediction's noise and one run's sampling noise together); "
                    b { "flagged" } " rows measured outside it: the model and this machine disagree there (about 1 figure in 20 is flagged by chance alone). "
                    (flagged) " of " (lines.len()) " flagged."
                }
                None => "One simulation: no noise estimate, so nothing is flagged.",
            }
            @if let Some(i) = info && !i.not_modelled.is_empty() {
                " Not modelled (payload sizes): " (i.not_modelled.join(", ")) "."
            }
        }
        table.figures {
            tr { th { "scope" } th { "figure" } th { "predicted" } th { "± (95%)" } th { "measured" } th { "measured − predicted" } }
            @for l in &lines {
                tr style=[l.flagged.then_some("background:#fde2e2")] {
                    td { (l.scope) } td { (l.figure) }
                    td { (format!("{:.2}", l.predicted)) }
                    td { @match l.half { Some(h) => (format!("{h:.2}")), None => "–" } }
                    td { (format!("{:.2}", l.measured)) }
                    td { (format!("{:+.2}", l.measured - l.predicted)) @if l.flagged { " ⚑" } }
                }
            }
        }
    })
}

/// The prediction's OK and rejected requests per second, every generator
/// together, binned as the run's own rates are, in pale tints of theirs.
pub fn rate_overlay(run: &RunDir, bin: f64, t_max: f64) -> Vec<charts::Rate<'static>> {
    let Some(rows) = run.prediction.as_deref().and_then(|p| p.load.as_deref()) else {
        return Vec::new();
    };
    let mut by_t: std::collections::BTreeMap<i64, (f64, f64)> = Default::default();
    for r in rows {
        let e = by_t.entry((r.t_s * 1e6).round() as i64).or_default();
        e.0 += r.ok as f64;
        e.1 += r.rejected as f64;
    }
    let series = |pick: fn(&(f64, f64)) -> f64| {
        let pts: Vec<(f64, f64)> = by_t
            .iter()
            .map(|(t, v)| (*t as f64 / 1e6, pick(v)))
            .collect();
        charts::rebin(&pts, bin, t_max)
    };
    vec![
        charts::Rate {
            name: "ok predicted",
            colour: pale(charts::GREEN),
            binned: series(|v| v.0),
        },
        charts::Rate {
            name: "rejected predicted",
            colour: pale(charts::RED),
            binned: series(|v| v.1),
        },
    ]
}

/// The prediction's p50/p99 per generator, averaged into the chart's `bin`s
/// (the simulator keeps them per `sample_every`), in a pale tint of each
/// generator's colour; with the key's entries.
pub fn latency_overlay(run: &RunDir, bin: f64) -> Vec<(charts::Percentiles, String)> {
    let Some(rows) = run.prediction.as_deref().and_then(|p| p.load.as_deref()) else {
        return Vec::new();
    };
    run.topology
        .load
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let mut bins: std::collections::BTreeMap<i64, (f64, f64, u32)> = Default::default();
            for r in rows.iter().filter(|r| r.generator == g.name) {
                if let (Some(p50), Some(p99)) = (r.p50_ms, r.p99_ms) {
                    let k = ((r.t_s - 1e-9) / bin).floor() as i64;
                    let e = bins.entry(k).or_default();
                    e.0 += p50;
                    e.1 += p99;
                    e.2 += 1;
                }
            }
            let points = bins
                .into_iter()
                .map(|(k, (a, b, n))| ((k + 1) as f64 * bin, a / f64::from(n), b / f64::from(n)))
                .collect();
            (
                charts::Percentiles {
                    colour: pale(generator_colour(i)),
                    points,
                },
                format!("{} predicted", g.name),
            )
        })
        .collect()
}

/// A colour two thirds of the way to white: the predicted twin of a line.
fn pale(c: RGBColor) -> RGBColor {
    let t = |v: u8| ((u16::from(v) + 2 * 255) / 3) as u8;
    RGBColor(t(c.0), t(c.1), t(c.2))
}
