//! Fills `summary.json` (its types and the file belong to
//! [`topolab_results::summary`]) from the generators' recorders and the
//! replicas' merged figures.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use topolab_model::{Generator, Topology};
use topolab_results::machine::WorkTiming;
pub use topolab_results::summary::{
    CallSummary, EndpointSummary, LoadSummary, LostReplica, Percentiles, ServiceSummary, Summary,
    round3,
};
use topolab_results::timeseries::Served;

use topolab_load::Recorder;
use topolab_results::updates::EndpointUpdates;
use topolab_telemetry::figures::ServiceFigures;

/// Assembles the summary.
pub fn build(
    topology: &Topology,
    seed: u64,
    duration_s: f64,
    interrupted: bool,
    healthy_after_ms: f64,
    recorders: &BTreeMap<String, Recorder>,
    services: &BTreeMap<String, ServiceFigures>,
) -> Summary {
    let work_timing = WorkTiming::new(
        services.values().map(|f| f.work_asked_us).sum(),
        services.values().map(|f| f.work_late_us).sum(),
    );
    let load = topology
        .load
        .iter()
        .filter_map(|g| {
            let r = recorders.get(&g.name)?;
            let window = r.issuing_window().as_secs_f64();
            let active = match (r.first_due, r.last_done) {
                (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
                _ => 0.0,
            };
            let asked = g.pattern.mean_rate();
            let offered = match asked {
                Some(rate) if !interrupted => rate,
                _ => per_second(r.sent, window),
            };
            // ok/s and sent/s over one window, so the part never exceeds the whole.
            let measured = active.max(window);
            Some((
                g.name.clone(),
                LoadSummary {
                    target: target_label(g),
                    sent: r.sent,
                    ok: r.ok,
                    rejected: r.rejected,
                    timeouts: r.timeouts,
                    errors: r.errors.clone(),
                    messages: r.reasons.sorted(),
                    attempts: r.attempts,
                    offered_rate: round3(offered),
                    asked_rate: asked.map(round3),
                    sent_rate: round3(per_second(r.sent, measured)),
                    throughput: round3(per_second(r.ok, measured)),
                    latency_ms: Percentiles::of(&r.latency_us),
                    late_over_1ms: r.late_us.len() - r.late_us.count_between(0, 1000),
                    late_ms: Percentiles::of(&r.late_us),
                    updates: r.freshness.as_ref().map(|f| f.figures()),
                },
            ))
        })
        .collect();
    // In the file's order, as every table and summary.json list them.
    let services = topology
        .services
        .iter()
        .filter_map(|svc| {
            let f = services.get(&svc.name)?;
            let mut s = service_summary(svc, f);
            if svc.updates.is_some() {
                for (ep, e) in s.endpoints.iter_mut() {
                    let Some(figures) = f.endpoints.get(ep.as_str()) else {
                        continue;
                    };
                    let per_s = round3(per_second(e.requests, duration_s));
                    e.updates = Some(EndpointUpdates::of(&figures.follow, per_s));
                }
            }
            Some((svc.name.clone(), s))
        })
        .collect();
    Summary {
        topology: topology.name.clone(),
        seed,
        duration_s: round3(duration_s),
        load_s: None,
        interrupted,
        processes: topology.process_count(),
        healthy_after_ms: round3(healthy_after_ms),
        load,
        services,
        traces: None,
        cascade: Default::default(),
        faults: Vec::new(),
        restart_log: Vec::new(),
        actions: Vec::new(),
        warmup: None,
        work_timing,
        links: Default::default(),
        prediction: None,
    }
}

fn service_summary(svc: &topolab_model::Service, f: &ServiceFigures) -> ServiceSummary {
    // The file's endpoints first, in its order; then any the replicas
    // reported beyond them (none today), so no figure is ever dropped.
    let mut endpoints: IndexMap<String, EndpointSummary> = svc
        .endpoints
        .iter()
        .filter_map(|e| {
            Some((
                e.name.clone(),
                EndpointSummary::of(f.endpoints.get(&e.name)?),
            ))
        })
        .collect();
    for (n, e) in &f.endpoints {
        if !endpoints.contains_key(n) {
            endpoints.insert(n.clone(), EndpointSummary::of(e));
        }
    }
    ServiceSummary {
        replicas: f.replicas,
        endpoints,
        calls: f
            .callees
            .iter()
            .map(|(n, c)| (n.clone(), CallSummary::of(c)))
            .collect(),
        restarts: 0,
        unreachable: f.unreachable.clone(),
        lost: Vec::new(),
    }
}

/// Fills each service's `lost`: per replica dead at the end, what it had
/// served by its last sample (`served`, from `timeseries.csv`) and how it
/// ended (the `kill` fault that reached it, if one did).
pub fn lost_replicas(
    summary: &mut Summary,
    topology: &Topology,
    served: &BTreeMap<(String, u32), Served>,
) {
    let faults = &summary.faults;
    for (name, svc) in summary.services.iter_mut() {
        let endpoint = match topology.service(name).map(|s| s.endpoints.as_slice()) {
            Some([one]) => Some(one.name.clone()),
            _ => None,
        };
        svc.lost = svc
            .unreachable
            .iter()
            .map(|&i| {
                let id = format!("{name}#{i}");
                let kill = faults
                    .iter()
                    .find(|f| f.fault == "kill" && f.replicas.contains(&id));
                let ended = match kill.and_then(|f| f.applied_s) {
                    Some(t) => format!("killed by a fault at {t:.2} s"),
                    None => "stopped answering".to_string(),
                };
                let s = served.get(&(name.clone(), i)).copied().unwrap_or_default();
                LostReplica {
                    replica: i,
                    ended,
                    endpoint: endpoint.clone(),
                    requests: s.arrived,
                    ok: s.completed,
                    rejected: s.rejected,
                    failed: s.failed,
                    unended: s
                        .arrived
                        .saturating_sub(s.completed + s.rejected + s.failed),
                }
            })
            .collect();
    }
}

/// `a/X`, or for a mix `a/X 80%, a/Y 20%`.
pub fn target_label(g: &Generator) -> String {
    match g.mix.as_slice() {
        [] => g.target.to_string(),
        [one] => one.target.to_string(),
        many => many
            .iter()
            .map(|w| format!("{} {}%", w.target, round3(w.share * 100.0)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn per_second(n: u64, secs: f64) -> f64 {
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}
