//! The warmup phase of a run (`settings.warmup`): the generators' warmup
//! load, then the replicas' figures as a baseline, taken off the figures
//! collected at the end so the summary counts only the measured load. The
//! baseline is taken once every replica has answered all it received (so no
//! request straddles the boundary and every endpoint's
//! `requests = ok + rejected + errors` holds on both sides of it).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use topolab_model::Topology;
use topolab_results::summary::{Warmup, round3};

use topolab_collector::RunTraces;
use topolab_load::{self as load, StopSignals};
use topolab_telemetry::figures::{self as collect, EndpointFigures, ServiceFigures};

/// What the warmup sent, and the replicas' figures at its end, which the
/// figures collected after the run are taken from.
pub(crate) struct Warmed {
    pub(crate) summary: Warmup,
    pub(crate) baseline: BTreeMap<String, ServiceFigures>,
}

/// With `settings.warmup`, every generator sends its first stage's load for
/// that long, unsampled and unrecorded; once the replicas have answered all
/// of it, their figures are taken as the baseline. `None` without a warmup.
pub(crate) async fn phase(
    topology: &Topology,
    seed: u64,
    verbose: bool,
    peers: &BTreeMap<String, Vec<SocketAddr>>,
    traces: &RunTraces,
) -> anyhow::Result<Option<Warmed>> {
    let warmup = topology.settings.warmup;
    if warmup.is_zero() || topology.load.is_empty() {
        return Ok(None);
    }
    let say = |msg: String| {
        if verbose {
            topolab_notice::say(msg);
        }
    };
    say(format!("warming up for {:.1} s", warmup.as_secs_f64()));
    // Never fired: the warmup runs its course (Ctrl-C ends the process).
    let (_stop_tx, stop) = watch::channel(false);
    let (_abort_tx, abort) = watch::channel(false);
    let signals = StopSignals { stop, abort };
    let tracer = traces.generator_exporter();
    let sent = load::warmup::run(topology, peers, seed, signals, tracer).await?;
    let longest_timeout = topology.load.iter().map(|g| g.timeout).max();
    let limit = longest_timeout.unwrap_or_default() + Duration::from_secs(1);
    let (baseline, settled) = settled(peers, limit).await?;
    let busy = if settled {
        ""
    } else {
        " (some replicas were still busy with them)"
    };
    say(format!(
        "warmup: {sent} request(s) in {:.1} s, discarded from every figure{busy}",
        warmup.as_secs_f64(),
    ));
    Ok(Some(Warmed {
        summary: Warmup {
            duration_s: round3(warmup.as_secs_f64()),
            requests_sent: sent,
            settled,
        },
        baseline,
    }))
}

/// Every replica's figures once all of them have settled (each endpoint has
/// answered every request it received), or at `limit`, whichever is first;
/// the `bool` says whether they settled.
async fn settled(
    peers: &BTreeMap<String, Vec<SocketAddr>>,
    limit: Duration,
) -> anyhow::Result<(BTreeMap<String, ServiceFigures>, bool)> {
    let until = Instant::now() + limit;
    loop {
        let figures = collect::collect(peers).await?;
        let quiet = figures
            .values()
            .flat_map(|s| s.endpoints.values())
            .all(|e| e.requests == e.ok + e.rejected + e.errors.values().sum::<u64>());
        if quiet || Instant::now() >= until {
            return Ok((figures, quiet));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Takes `baseline` off `figures`: counts and histograms. Maxima (deepest
/// queue, most held) cannot be taken apart and stay whole-run figures.
/// A replica restarted since the baseline started again from zero, so
/// counts saturate at zero rather than wrap.
pub(crate) fn subtract(
    figures: &mut BTreeMap<String, ServiceFigures>,
    baseline: &BTreeMap<String, ServiceFigures>,
) {
    for (service, base) in baseline {
        let Some(f) = figures.get_mut(service) else {
            continue;
        };
        for (name, b) in &base.endpoints {
            if let Some(e) = f.endpoints.get_mut(name) {
                endpoint(e, b);
            }
        }
        for (callee, b) in &base.callees {
            let Some(c) = f.callees.get_mut(callee) else {
                continue;
            };
            c.subtract(b);
        }
        f.spans_recorded = f.spans_recorded.saturating_sub(base.spans_recorded);
        f.spans_dropped = f.spans_dropped.saturating_sub(base.spans_dropped);
        f.work_asked_us = f.work_asked_us.saturating_sub(base.work_asked_us);
        f.work_late_us = f.work_late_us.saturating_sub(base.work_late_us);
    }
}

fn endpoint(e: &mut EndpointFigures, b: &EndpointFigures) {
    // Fails only when a replica restarted since the baseline (its values
    // are not in the final histogram): then the whole run's is kept.
    if let Err(err) = e.subtract(b) {
        tracing::warn!("warmup not taken off a histogram (a replica restarted?): {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(ok: u64, latencies: &[u64]) -> BTreeMap<String, ServiceFigures> {
        let mut e = collect::EndpointFigures::new(1, 3);
        e.requests = ok;
        e.ok = ok;
        e.per_replica = vec![ok];
        for l in latencies {
            e.latency_us.record(*l).unwrap();
        }
        let mut s = ServiceFigures::default();
        s.endpoints.insert("X".into(), e);
        BTreeMap::from([("a".to_string(), s)])
    }

    #[test]
    fn the_baseline_comes_off_counts_and_histograms() {
        let mut end = figures(5, &[100, 100, 100, 900, 900]);
        subtract(&mut end, &figures(3, &[100, 100, 100]));
        let e = &end["a"].endpoints["X"];
        assert_eq!((e.requests, e.ok, e.per_replica[0]), (2, 2, 2));
        assert_eq!(e.latency_us.len(), 2);
        assert_eq!(e.latency_us.min(), 900);
    }
}
