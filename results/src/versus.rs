//! Predicted beside measured, for `run --predict`: the figures a user checks
//! first (per generator p50, p99 and mean latency, ok/s and rejected %, and
//! a follower's staleness and versions missed; per endpoint the same
//! latencies and rejected %, and what followers cost it; per service the share of its
//! workers busy and when its queue built up in a cascade), the prediction's
//! own noise from several simulations with
//! different seeds, and a flag wherever a measured figure falls outside the
//! range one run of the predicted system would fall in.
//!
//! The range is a 95% prediction interval for one more observation:
//! mean ± t(n−1) × sd × √(1 + 1/n), over n simulations. The `1` is the
//! measurement's own sampling noise (a run is one draw of the same random
//! process, as each simulation is); the `1/n` is the noise of the predicted
//! mean. A flag therefore says "the model and the machine disagree", not
//! "this run was unlucky" (about 1 in 20 figures is flagged by chance alone).
//! Latencies' ranges are widened by 1% of the value, the resolution of the
//! simulator's histograms (2 significant figures).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use topolab_model::Topology;

use crate::summary::{Summary, round3};
use crate::timeseries::ServiceSeries;

/// One figure over several simulations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub mean: f64,
    /// Standard deviation between simulations.
    pub sd: f64,
    /// Half-width of the 95% range one more run falls in.
    pub half: f64,
}

/// Several simulations' spread, per scope and figure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    /// Simulations behind each band (seeds `seed`, `seed + 1`, ...).
    pub simulations: u32,
    /// Scope (`load.NAME`, `SERVICE/Endpoint`, `service NAME`) → figure → band.
    pub figures: BTreeMap<String, BTreeMap<String, Band>>,
}

/// Figures by scope, in the topology's order: generators, endpoints, services.
pub type Scoped = IndexMap<String, Vec<(&'static str, f64)>>;

/// The figures set side by side, of one summary; `busy` is each service's
/// share of workers busy ([`busy`]). Latencies only where something
/// answered OK (else there is no latency to compare).
pub fn figures(s: &Summary, busy: &IndexMap<String, f64>) -> Scoped {
    let mut out = Scoped::new();
    for (name, l) in &s.load {
        let mut f = Vec::new();
        if l.ok > 0 {
            f.extend([
                ("p50 ms", l.latency_ms.p50),
                ("p99 ms", l.latency_ms.p99),
                ("mean ms", l.latency_ms.mean),
            ]);
        }
        f.push(("ok/s", l.throughput));
        f.push(("rejected %", pct(l.rejected, l.sent)));
        f.push(("failed %", pct(l.failed(), l.sent)));
        if let Some(u) = &l.updates {
            f.extend([
                ("stale ms", u.staleness_ms.mean),
                ("stale p99", u.staleness_ms.p99),
                ("missed", u.versions_missed as f64),
            ]);
        }
        out.insert(format!("load.{name}"), f);
    }
    for (service, svc) in &s.services {
        for (ep, e) in &svc.endpoints {
            let mut f = Vec::new();
            if e.ok > 0 {
                f.extend([
                    ("p50 ms", e.latency_ms.p50),
                    ("p99 ms", e.latency_ms.p99),
                    ("mean ms", e.latency_ms.mean),
                ]);
            }
            f.push(("rejected %", pct(e.rejected, e.requests)));
            if let Some(u) = &e.updates {
                f.push(("req/s", u.requests_per_s));
                if u.long_polls > 0 {
                    f.push(("most held", u.max_held as f64));
                }
                if u.streams_opened > 0 {
                    f.extend([
                        ("most open", u.max_streams as f64),
                        ("pushed", u.pushed as f64),
                    ]);
                }
            }
            out.insert(format!("{service}/{ep}"), f);
        }
    }
    for (service, b) in busy {
        out.insert(format!("service {service}"), vec![("busy %", b * 100.0)]);
    }
    // When a queue built is a threshold crossing of a random process: from
    // one seed to the next the same topology's onsets move by a second or
    // more (cascade.yaml's frontend: 4.5 to 6.7 s over ten seeds), so they
    // are compared as every other figure is, against the simulations' range.
    for o in &s.cascade.onsets {
        out.entry(format!("service {}", o.service))
            .or_default()
            .push(("onset s", o.t_s));
    }
    out
}

fn pct(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64 * 100.0
    }
}

/// Each service's share of its workers busy while the load ran: per
/// telemetry instant up to the end of the load, requests in flight on all
/// its replicas (at most all their workers) over all their workers,
/// averaged. The same rule on a run's `timeseries.csv` and a prediction's,
/// so the two compare.
pub fn busy(t: &Topology, series: &BTreeMap<String, ServiceSeries>) -> IndexMap<String, f64> {
    let span = t
        .load
        .iter()
        .map(|g| (g.start + g.duration).as_secs_f64())
        .fold(0.0, f64::max);
    t.services
        .iter()
        .filter_map(|s| {
            let ser = series.get(&s.name)?;
            let workers = f64::from(s.workers.max(1)) * f64::from(s.replicas.max(1));
            let shares: Vec<f64> = ser
                .t_s
                .iter()
                .zip(&ser.in_flight)
                .filter(|(t, _)| **t <= span + 1e-9)
                .map(|(_, n)| (*n as f64).min(workers) / workers)
                .collect();
            let n = shares.len();
            (n > 0).then(|| (s.name.clone(), shares.iter().sum::<f64>() / n as f64))
        })
        .collect()
}

/// The bands of several simulations' figures.
pub fn noise(simulations: &[Scoped]) -> Noise {
    let mut values: BTreeMap<String, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    for sim in simulations {
        for (scope, figures) in sim {
            for (k, v) in figures {
                values
                    .entry(scope.clone())
                    .or_default()
                    .entry((*k).to_string())
                    .or_default()
                    .push(*v);
            }
        }
    }
    let figures = values
        .into_iter()
        .map(|(scope, f)| {
            // A figure some simulations lack (no OK request: no latency) and
            // fewer than two have says nothing about its spread: left out.
            let bands = f
                .into_iter()
                .filter(|(_, xs)| xs.len() >= 2)
                .map(|(k, xs)| {
                    let mut b = band(&xs);
                    if k.ends_with(" ms") {
                        // Latencies come from histograms of 2 significant
                        // figures (the simulator's endpoints): a value is
                        // known to 1%, whatever the spread.
                        b.half = round3(b.half + 0.01 * b.mean.abs());
                    }
                    (k, b)
                })
                .collect();
            (scope, bands)
        })
        .collect();
    Noise {
        simulations: simulations.len() as u32,
        figures,
    }
}

/// Mean, spread and the 95% range of one more draw, of two or more values.
fn band(xs: &[f64]) -> Band {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let sd = var.sqrt();
    let half = t95(xs.len() - 1) * sd * (1.0 + 1.0 / n).sqrt();
    Band {
        mean: round3(mean),
        sd: round3(sd),
        half: round3(half),
    }
}

/// Student's t, two-sided 95%, by degrees of freedom.
fn t95(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    T.get(df.wrapping_sub(1)).copied().unwrap_or(1.96)
}

/// One figure, predicted beside measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub scope: String,
    pub figure: &'static str,
    pub predicted: f64,
    /// The 95% range's half-width (absent: the prediction has no noise
    /// estimate, so nothing is flagged).
    pub half: Option<f64>,
    pub measured: f64,
    /// Measured outside predicted ± half.
    pub flagged: bool,
}

/// Every figure present on both sides, predicted (the bands' means when
/// the prediction has them) beside measured.
pub fn lines(predicted: &Scoped, noise: Option<&Noise>, measured: &Scoped) -> Vec<Line> {
    let mut out = Vec::new();
    for (scope, pf) in predicted {
        let Some(mf) = measured.get(scope) else {
            continue;
        };
        for (k, p) in pf {
            let Some((_, m)) = mf.iter().find(|(mk, _)| mk == k) else {
                continue;
            };
            let b = noise.and_then(|n| n.figures.get(scope)?.get(*k));
            let predicted = b.map_or(*p, |b| b.mean);
            let half = b.map(|b| b.half);
            let flagged = half.is_some_and(|h| (m - predicted).abs() > h + 1e-6);
            out.push(Line {
                scope: scope.clone(),
                figure: k,
                predicted,
                half,
                measured: *m,
                flagged,
            });
        }
    }
    out
}

/// The sub-folder of a run folder where `run --predict` keeps its
/// prediction: a prediction's own run folder (`summary.json` with its
/// `prediction` section and noise, time series, report), so `compare`,
/// `report` and every other reader take it as they take any prediction.
pub const FOLDER: &str = "prediction";

/// A run and its prediction side by side, from each one's summary and
/// telemetry per service.
pub fn side_by_side(
    t: &Topology,
    measured: &Summary,
    measured_rows: &BTreeMap<String, ServiceSeries>,
    predicted: &Summary,
    predicted_rows: &BTreeMap<String, ServiceSeries>,
) -> Vec<Line> {
    let noise = predicted.prediction.as_ref().and_then(|p| p.noise.as_ref());
    let p = figures(predicted, &busy(t, predicted_rows));
    let m = figures(measured, &busy(t, measured_rows));
    lines(&p, noise, &m)
}

/// The lines as an aligned table.
pub fn render(lines: &[Line], noise: Option<&Noise>) -> String {
    let mut out = String::new();
    let _ = match noise {
        Some(n) => writeln!(
            out,
            "\npredicted beside measured ({} simulations; ± is the 95% range one run falls in; ! measured outside it):",
            n.simulations
        ),
        None => writeln!(
            out,
            "\npredicted beside measured (one simulation: no noise estimate, nothing flagged):"
        ),
    };
    let width = lines.iter().map(|l| l.scope.len()).max().unwrap_or(5);
    let _ = writeln!(
        out,
        "  {:width$}  {:<11}{:>22}{:>12}{:>12}",
        "scope", "figure", "predicted", "measured", "diff"
    );
    for l in lines {
        let p = match l.half {
            Some(h) => format!("{} ± {}", num(l.predicted), num(h)),
            _ => num(l.predicted),
        };
        let _ = writeln!(
            out,
            "  {:width$}  {:<11}{p:>22}{:>12}{:>12}{}",
            l.scope,
            l.figure,
            num(l.measured),
            format!("{:+.2}", l.measured - l.predicted),
            if l.flagged { "  !" } else { "" }
        );
    }
    let flagged = lines.iter().filter(|l| l.flagged).count();
    let _ = writeln!(
        out,
        "{flagged} of {} figure(s) outside the prediction's range",
        lines.len()
    );
    out
}

fn num(x: f64) -> String {
    format!("{x:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_widens_with_the_spread_and_flags_what_lies_outside() {
        let sims: Vec<Scoped> = [10.0, 12.0, 11.0, 9.0, 13.0]
            .iter()
            .map(|v| Scoped::from([("load.g".into(), vec![("p99 ms", *v)])]))
            .collect();
        let n = noise(&sims);
        let b = &n.figures["load.g"]["p99 ms"];
        assert_eq!(b.mean, 11.0);
        // sd = √2.5; t(4) = 2.776; × √1.2; plus 1% of 11 ms (resolution).
        let want = 2.776 * 2.5f64.sqrt() * 1.2f64.sqrt() + 0.11;
        assert!((b.half - want).abs() < 1e-3, "{b:?}");
        let inside = Scoped::from([("load.g".into(), vec![("p99 ms", 14.0)])]);
        let outside = Scoped::from([("load.g".into(), vec![("p99 ms", 16.5)])]);
        assert!(!lines(&sims[0], Some(&n), &inside)[0].flagged);
        assert!(lines(&sims[0], Some(&n), &outside)[0].flagged);
        // Without a noise estimate nothing can be flagged.
        assert!(!lines(&sims[0], None, &outside)[0].flagged);
    }

    #[test]
    fn busy_is_in_flight_over_workers_while_the_load_ran() {
        let yaml = "name: t\nservices:\n  a:\n    workers: 2\n    endpoints: { X: }\nload:\n  g:\n    target: a/X\n    rate: 1/s\n    duration: 1s\n";
        let t = topolab_model::load_str("t.yaml", yaml, &[])
            .unwrap()
            .topology;
        let row = |t_s: f64, in_flight: u64| crate::timeseries::Row {
            t_s,
            service: "a".into(),
            replica: 0,
            queue: 0,
            in_flight,
            arrived: 0,
            completed: 0,
            rejected: 0,
            failed: 0,
            held: 0,
            streams: 0,
            pushed: 0,
        };
        // 1 of 2 workers, then more in flight than workers (capped at 2),
        // then a sample after the load ended (left out).
        let rows = [row(0.5, 1), row(1.0, 4), row(1.5, 2)];
        let series = crate::timeseries::by_service(&rows);
        assert_eq!(busy(&t, &series)["a"], 0.75);
    }

    #[test]
    fn cascade_onsets_are_figures_of_their_service() {
        let onset = r#"{"service": "db", "t_s": 4.2, "threshold": 2, "queue_peak": 9,
            "queue_capacity": 64, "in_flight": 2, "workers": 2, "waiting_on": null}"#;
        let s: Summary = serde_json::from_str(&format!(
            r#"{{"topology": "t", "seed": 1, "duration_s": 10, "load": {{}}, "services": {{}},
                "cascade": {{"detected": false, "text": "", "rule": "", "onsets": [{onset}]}}}}"#
        ))
        .unwrap();
        let busy = IndexMap::from([("db".to_string(), 0.5)]);
        let f = figures(&s, &busy);
        assert_eq!(f["service db"], vec![("busy %", 50.0), ("onset s", 4.2)]);
    }

    #[test]
    fn one_simulation_gives_no_range() {
        let sims = vec![Scoped::from([("load.g".into(), vec![("ok/s", 5.0)])])];
        assert!(noise(&sims).figures["load.g"].is_empty());
    }
}
