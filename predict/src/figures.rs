//! The simulator's figures in the run folder's own types: `summary.json`
//! ([`topolab_results::summary`]), `timeseries.csv` rows and
//! `load_timeseries.csv` rows, filled exactly as a run fills them, so every
//! reader of a run folder reads a prediction too.

use topolab_model::Topology;
use topolab_results::load_series::LoadRow;
use topolab_results::summary::{FaultRecord, Prediction, Utilisation};
use topolab_results::timeseries::Row;
use topolab_results::updates::{EndpointUpdates, FollowFigures};
use topolab_sim::Figures;
use topolab_sim::analysis::Capacity;
use topolab_sim::figures::LoadFigures;

use topolab_launcher::summary::{
    CallSummary, EndpointSummary, LoadSummary, Percentiles, ServiceSummary, Summary, round3,
    target_label,
};

const NS: f64 = 1e9;

/// `summary.json` for a simulation (cascade and prediction filled by the caller).
pub fn summary(t: &Topology, seed: u64, f: &Figures) -> Summary {
    let duration_s = f.duration as f64 / NS;
    let load = t
        .load
        .iter()
        .zip(&f.load)
        .zip(&f.freshness)
        .map(|((g, l), fresh)| {
            let window = span(l.first_due, l.issue_end);
            let active = span(l.first_due, l.last_done);
            let asked = g.pattern.mean_rate();
            let offered = asked.unwrap_or_else(|| per_second(l.sent, window));
            let measured = active.max(window);
            let s = LoadSummary {
                target: target_label(g),
                sent: l.sent,
                ok: l.ok,
                rejected: l.rejected,
                timeouts: l.timeouts,
                errors: l.errors.clone(),
                messages: Default::default(),
                attempts: l.attempts,
                offered_rate: round3(offered),
                asked_rate: asked.map(round3),
                sent_rate: round3(per_second(l.sent, measured)),
                throughput: round3(per_second(l.ok, measured)),
                latency_ms: Percentiles::of(&l.latency_us),
                late_over_1ms: 0,
                late_ms: Default::default(),
                updates: g
                    .follow
                    .zip(fresh.as_ref())
                    .map(|(way, fresh)| FollowFigures::of(way, fresh)),
            };
            (g.name.clone(), s)
        })
        .collect();
    let services = t
        .services
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let endpoints = s
                .endpoints
                .iter()
                .zip(&f.endpoints[si])
                .map(|(e, x)| {
                    let mut summary = EndpointSummary::of(&x.widened());
                    if s.updates.is_some() {
                        let per_s = round3(per_second(summary.requests, duration_s));
                        summary.updates = Some(EndpointUpdates::of(&x.follow, per_s));
                    }
                    (e.name.clone(), summary)
                })
                .collect();
            let calls = f.calls[si]
                .iter()
                .map(|(callee, c)| {
                    let summary = CallSummary::of(c);
                    (callee.clone(), summary)
                })
                .collect();
            let summary = ServiceSummary {
                replicas: s.replicas,
                endpoints,
                calls,
                restarts: f.restarts[si],
                unreachable: f.unreachable[si].clone(),
                lost: Vec::new(),
            };
            (s.name.clone(), summary)
        })
        .collect();
    let faults = f
        .faults
        .iter()
        .map(|&(i, at, cleared)| FaultRecord {
            applied_s: Some(round3(at as f64 / NS)),
            cleared_s: cleared.map(|c| round3(c as f64 / NS)),
            replicas: replicas_of(t, i),
            ..topolab_fleet::faults::record(&t.faults[i])
        })
        .collect();
    Summary {
        topology: t.name.clone(),
        seed,
        duration_s: round3(f.duration as f64 / NS),
        load_s: None,
        interrupted: false,
        processes: 0,
        healthy_after_ms: 0.0,
        load,
        services,
        traces: None,
        cascade: Default::default(),
        faults,
        restart_log: Vec::new(),
        actions: Vec::new(),
        warmup: None,
        work_timing: None,
        links: Default::default(),
        prediction: None,
    }
}

/// The prediction's own section of the summary.
pub fn prediction(
    cap: &Capacity,
    f: &Figures,
    hop_cost_ns: u64,
    source: &str,
    wall_s: f64,
) -> Prediction {
    Prediction {
        hop_cost_ms: round3(hop_cost_ns as f64 / 1e6),
        hop_cost_source: source.to_string(),
        events: f.events,
        wall_s: round3(wall_s),
        offered_per_s: round3(cap.offered),
        utilisation: cap
            .services
            .iter()
            .map(|u| {
                let v = Utilisation {
                    rho: round3(u.rho),
                    simulated: round3(u.simulated),
                };
                (u.service.clone(), v)
            })
            .collect(),
        bottleneck: cap.bottleneck.clone(),
        capacity_per_s: cap.capacity.map(round3),
        sample_every_ms: round3(f.sample_every as f64 / 1e6),
        ..Prediction::default()
    }
}

/// `timeseries.csv` rows.
pub fn rows(t: &Topology, f: &Figures) -> Vec<Row> {
    let every = f.sample_every as f64 / NS;
    let follow: std::collections::HashMap<(u32, u32, u32), _> = f
        .follow_samples
        .iter()
        .map(|s| ((s.tick, s.service, s.replica), s))
        .collect();
    f.samples
        .iter()
        .map(|s| {
            let fs = follow.get(&(s.tick, s.service, s.replica));
            let level = |x: fn(&topolab_sim::figures::FollowSample) -> u32| {
                fs.map_or(0, |f| u64::from(x(f)))
            };
            Row {
                t_s: round3(f64::from(s.tick + 1) * every),
                service: t.services[s.service as usize].name.clone(),
                replica: s.replica,
                queue: u64::from(s.queue),
                in_flight: u64::from(s.in_flight),
                arrived: u64::from(s.arrived),
                completed: u64::from(s.completed),
                rejected: u64::from(s.rejected),
                failed: u64::from(s.failed),
                held: level(|f| f.held),
                streams: level(|f| f.streams),
                pushed: level(|f| f.pushed),
            }
        })
        .collect()
}

/// `load_timeseries.csv` rows: every generator over the same intervals.
pub fn load_rows(t: &Topology, f: &Figures) -> Vec<LoadRow> {
    let every = t.settings.sample_every.as_secs_f64().max(0.001);
    let n = f.load.iter().map(|l| l.series.len()).max().unwrap_or(0);
    let mut named: Vec<(&str, &LoadFigures)> = t
        .load
        .iter()
        .map(|g| g.name.as_str())
        .zip(&f.load)
        .collect();
    named.sort_by_key(|(n, _)| *n);
    let mut out = Vec::with_capacity(n * named.len());
    for i in 0..n {
        for (name, l) in &named {
            let r = l.series.get(i).copied().unwrap_or_default();
            out.push(topolab_load::series::row(every, i, name, &r));
        }
    }
    out
}

fn replicas_of(t: &Topology, i: usize) -> Vec<String> {
    let f = &t.faults[i];
    let n = t.service(&f.target.service).map_or(0, |s| s.replicas);
    match f.target.replica {
        Some(r) => vec![format!("{}#{r}", f.target.service)],
        None => (0..n)
            .map(|r| format!("{}#{r}", f.target.service))
            .collect(),
    }
}

fn span(a: Option<u64>, b: Option<u64>) -> f64 {
    match (a, b) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / NS,
        _ => 0.0,
    }
}

fn per_second(n: u64, secs: f64) -> f64 {
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}
