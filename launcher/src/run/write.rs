//! Phase 4 of a run, shared by a local run and [`crate::drive`] against
//! containers: the summary, the cascade (read back from `timeseries.csv`,
//! written while the run went on), the sampled requests and staleness, and
//! last the report, which reads the files written before it.

use topolab_model::Loaded;
use topolab_results::summary::RestartRecord;
use topolab_results::{cascade, links, report, timeseries};

use super::{Collected, RunResult};
use crate::run_folder::RunFolder;
use crate::summary;

/// Phase 4 for any run that collected its figures (a local one, or
/// [`crate::drive`] against containers).
pub(crate) fn write_run_folder(
    loaded: &Loaded,
    seed: u64,
    verbose: bool,
    folder: RunFolder,
    collected: Collected,
) -> anyhow::Result<RunResult> {
    let topology = &loaded.topology;
    let Collected {
        outcome: driven,
        telemetry,
        figures,
        trace_summary,
    } = collected;
    let mut summary = summary::build(
        topology,
        seed,
        driven.duration.as_secs_f64(),
        driven.interrupted,
        driven.healthy.as_secs_f64() * 1e3,
        &driven.recorders,
        &figures,
    );
    summary.load_s = driven.load_window.map(|w| summary::round3(w.as_secs_f64()));
    summary.traces = Some(trace_summary);
    summary.faults = driven.faults;
    summary.warmup = driven.warmed.map(|w| w.summary);
    summary.actions = driven.actions;
    for (id, t_s) in &driven.restarts {
        if let Some(s) = summary.services.get_mut(&id.service) {
            s.restarts += 1;
        }
        summary.restart_log.push(RestartRecord {
            replica: id.to_string(),
            t_s: summary::round3(*t_s),
        });
    }
    if let Some(e) = &telemetry.error {
        topolab_notice::say(format!("warning: timeseries.csv is incomplete: {e}"));
    }
    if telemetry.late > 0 && verbose {
        topolab_notice::say(format!(
            "note: {} telemetry rows of timeseries.csv came after later instants were written (a replica slow to answer): they are out of time order",
            telemetry.late
        ));
    }
    let series = folder.path.join(timeseries::FILE);
    let dead = summary
        .services
        .iter()
        .flat_map(|(n, s)| s.unreachable.iter().map(|&i| (n.clone(), i)))
        .collect();
    summary::lost_replicas(
        &mut summary,
        topology,
        &timeseries::served_by(&series, &dead)?,
    );
    let by_service = timeseries::read_by_service(&series)?;
    summary.cascade = cascade::analyze(topology, &by_service);
    if topology.network.in_use() {
        match links::read(&folder.path) {
            Ok(l) => summary.links = l,
            Err(e) => topolab_notice::say(format!("warning: no time on the wire per link: {e}")),
        }
    }
    folder.write_summary(&summary)?;
    if !topology.load.is_empty() {
        // In the topology's order, so the file reads as the load does.
        let sampled: Vec<_> = topology
            .load
            .iter()
            .filter_map(|g| Some((g, driven.recorders.get(&g.name)?.sample.as_ref()?)))
            .flat_map(|(g, s)| s.rows(&g.name))
            .collect();
        folder.write_requests(&sampled)?;
    }
    if let Err(e) = report::write(&folder.path)
        && verbose
    {
        topolab_notice::say(format!("warning: report.html not written: {e:#}"));
    }
    Ok(RunResult {
        summary,
        folder: folder.path,
        recorders: driven.recorders,
    })
}
