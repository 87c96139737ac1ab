//! What the simulator predicts for each step of a sweep: the same topology
//! at the same value and seed, simulated in milliseconds, so `sweep.html`
//! can draw the predicted curve and the capacity line (the offered load at
//! which the first service saturates) beside the measured points.

use topolab_model::Loaded;
use topolab_results::summary::round3;
use topolab_results::sweep::{SweepPrediction, SweepRow};

use topolab_predict::{self as predict, Hop};

/// One step, predicted.
#[derive(Debug, Clone, PartialEq)]
pub struct StepPrediction {
    pub throughput_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Share of requests sent that did not end OK.
    pub failed_share: f64,
    /// On the sweep's `offered_per_s` scale, at this step's own mix.
    pub capacity_per_s: Option<f64>,
    pub bottleneck: Option<String>,
    /// The bottleneck's utilisation ρ at this step (unloaded hold times).
    pub rho: f64,
    /// The step's offered load, as the sweep counts it.
    pub offered_per_s: f64,
}

/// Predicts one step. `offered_per_s` is the step's offered load as the
/// sweep counts it (what the generators ask for over the load's span);
/// predict's capacity counts every generator at its rate at once, so it is
/// brought onto the sweep's scale by the same ratio.
pub fn step(
    loaded: &Loaded,
    seed: u64,
    hop: &Hop,
    offered_per_s: f64,
) -> anyhow::Result<StepPrediction> {
    let sim = predict::simulate(loaded, seed, hop)?;
    let (mut sent, mut ok) = (0, 0);
    for l in sim.summary.load.values() {
        sent += l.sent;
        ok += l.ok;
    }
    let secs = sim.summary.duration_s;
    let h = &sim.latency_us;
    let q = |p: f64| {
        if h.is_empty() {
            0.0
        } else {
            round3(h.value_at_quantile(p) as f64 / 1e3)
        }
    };
    let cap = &sim.capacity;
    Ok(StepPrediction {
        throughput_per_s: round3(if secs > 0.0 { ok as f64 / secs } else { 0.0 }),
        p50_ms: q(0.5),
        p99_ms: q(0.99),
        failed_share: if sent == 0 {
            0.0
        } else {
            round3((sent - ok) as f64 / sent as f64)
        },
        capacity_per_s: cap
            .capacity
            .filter(|_| cap.offered > 0.0)
            .map(|c| round3(offered_per_s * c / cap.offered)),
        bottleneck: cap.bottleneck.clone(),
        rho: cap.services.iter().map(|u| u.rho).fold(0.0, f64::max),
        offered_per_s,
    })
}

/// Puts each step's prediction into its row of `sweep.csv`.
pub fn fill(rows: &mut [SweepRow], predicted: &[StepPrediction]) {
    for (r, p) in rows.iter_mut().zip(predicted) {
        r.predicted_throughput_per_s = Some(p.throughput_per_s);
        r.predicted_p50_ms = Some(p.p50_ms);
        r.predicted_p99_ms = Some(p.p99_ms);
        r.predicted_failed_share = Some(p.failed_share);
        r.predicted_capacity_per_s = p.capacity_per_s;
    }
}

/// `sweep.json`'s account of the prediction, with the capacity line: the
/// offered load at which the bottleneck's ρ reaches 1 along this sweep,
/// interpolated between the two steps either side of it (or extrapolated
/// from the nearest two). Along the sweep, not at one step's mix: when a
/// sweep varies one generator of several, the mix changes from step to step
/// and so does the capacity of "this mix".
pub fn meta(hop: &Hop, predicted: &[StepPrediction]) -> SweepPrediction {
    let mut pts: Vec<&StepPrediction> = predicted.iter().filter(|p| p.rho > 0.0).collect();
    pts.sort_by(|a, b| a.offered_per_s.total_cmp(&b.offered_per_s));
    let at = pts.iter().position(|p| p.rho >= 1.0);
    let pair = match (at, pts.len()) {
        (_, 0) => None,
        (_, 1) => Some((pts[0], pts[0])),
        (Some(0), _) => Some((pts[0], pts[1])),
        (Some(i), _) => Some((pts[i - 1], pts[i])),
        (None, n) => Some((pts[n - 2], pts[n - 1])),
    };
    let capacity = pair.and_then(|(a, b)| crossing(a, b));
    let bottleneck = at
        .map(|i| pts[i])
        .or(pts.last().copied())
        .and_then(|p| p.bottleneck.clone());
    SweepPrediction {
        hop_cost_ms: round3(hop.ns as f64 / 1e6),
        work_overhead_ms: round3(hop.work_ns as f64 / 1e6),
        hop_cost_source: hop.source.clone(),
        bottleneck: bottleneck.filter(|_| capacity.is_some()),
        capacity_per_s: capacity.map(round3),
    }
}

/// Where the line through (offered, ρ) of `a` and `b` reaches ρ = 1; with
/// one point (or a flat line), where ρ would reach 1 in proportion.
fn crossing(a: &StepPrediction, b: &StepPrediction) -> Option<f64> {
    let dx = b.offered_per_s - a.offered_per_s;
    let slope = if dx.abs() > 1e-9 {
        (b.rho - a.rho) / dx
    } else {
        0.0
    };
    let x = if slope > 1e-12 {
        a.offered_per_s + (1.0 - a.rho) / slope
    } else {
        b.offered_per_s / b.rho
    };
    (x.is_finite() && x > 0.0).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(offered: f64, rho: f64) -> StepPrediction {
        StepPrediction {
            throughput_per_s: 0.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
            failed_share: 0.0,
            capacity_per_s: None,
            bottleneck: Some("db".into()),
            rho,
            offered_per_s: offered,
        }
    }

    #[test]
    fn the_capacity_is_where_rho_crosses_one_along_the_sweep() {
        let hop = topolab_predict::hop::set(std::time::Duration::ZERO);
        // ρ = 0.2 + 0.01 × offered: 1 at 80/s.
        let steps = [p(20.0, 0.4), p(60.0, 0.8), p(100.0, 1.2)];
        let m = meta(&hop, &steps);
        assert_eq!(m.capacity_per_s, Some(80.0));
        assert_eq!(m.bottleneck.as_deref(), Some("db"));
        // All below 1: extrapolated from the two heaviest steps.
        let m = meta(&hop, &steps[..2]);
        assert_eq!(m.capacity_per_s, Some(80.0));
        // One step: in proportion.
        let m = meta(&hop, &steps[1..2]);
        assert_eq!(m.capacity_per_s, Some(75.0));
    }
}
