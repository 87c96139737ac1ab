//! What one more message costs a replica's one thread when a new version
//! sends many at once, probed beside the hop (`hop.rs`) with the same
//! binary a run uses: a real run of three services with `updates`, one
//! followed by 5 long-polling clients, one by 50, one by 50 subscribers.
//! Each version makes a replica answer every held long poll (and take each
//! client's next one) or push to every stream, one message after another.
//! The simulator's figures are fitted to the run's, in turn: the cost per
//! answer that gives its 50 long pollers' staleness the same lead over its
//! 5's, the lateness of a new version that then gives it the 5's, and the
//! cost per push that then gives it the subscribers'.

use std::path::PathBuf;

use anyhow::Context;

use topolab_collector::TraceOptions;
use topolab_launcher::run::{RunOptions, run};
use topolab_live::LiveMode;
use topolab_model::Loaded;

use crate::Hop;

/// The probe's topology. A process per crowd, so no two share a thread;
/// their versions come at different instants (a timeline is drawn from the
/// service's name). `work: 1ms`, `async`, 16 workers: the followed
/// endpoints of `topologies/scores.yaml`.
const PROBE: &str = "name: message-probe
description: topolab predict's probe of what one more message costs a replica's thread.
services:
  few:
    updates: exp(300ms)
    model: async
    workers: 16
    queue: 64
    endpoints:
      Wait:
        steps:
          - work: 1ms
  many:
    updates: exp(300ms)
    model: async
    workers: 16
    queue: 64
    endpoints:
      Wait:
        steps:
          - work: 1ms
  streams:
    updates: exp(300ms)
    model: async
    workers: 16
    queue: 64
    endpoints:
      Watch:
        steps:
          - work: 1ms
load:
  few:
    target: few/Wait
    clients: 5
    long_poll: 30s
    duration: 6s
  many:
    target: many/Wait
    clients: 50
    long_poll: 30s
    duration: 6s
  subscribers:
    subscribe: streams/Watch
    clients: 50
    duration: 6s
";

/// The seed of the probe's run and of its simulations: the same versions.
const SEED: u64 = 1;

/// The largest cost the fit considers (a thread slower than this per
/// message would be a machine stalled, not a cost).
const MOST_NS: u64 = 5_000_000;

/// What the probe measured: the median staleness of its 5 and its 50 long
/// pollers and its 50 subscribers (medians, as the hop's: a stall of the
/// whole machine moves a mean, not what a version typically meets), and
/// the three figures fitted to them.
#[derive(Debug, Clone, Copy)]
pub struct Probed {
    pub few_ms: f64,
    pub many_ms: f64,
    pub streams_ms: f64,
    pub message_ns: u64,
    pub version_late_ns: u64,
    pub push_ns: u64,
}

fn loaded() -> anyhow::Result<Loaded> {
    topolab_model::load_str("message-probe.yaml", PROBE, &[])
        .map_err(|e| anyhow::anyhow!("the message probe's topology is invalid: {e}"))
}

/// Runs the probe and fits the figures with the simulator, given the hop
/// and work costs probed just before.
pub async fn probe(replica_command: (PathBuf, Vec<String>), hop: &Hop) -> anyhow::Result<Probed> {
    let loaded = loaded()?;
    let dir = std::env::temp_dir().join(format!("topolab-message-probe-{}", std::process::id()));
    let opts = RunOptions {
        out: Some(dir.clone()),
        force: true,
        seed: SEED,
        replica_command,
        verbose: false,
        trace: TraceOptions::default(),
        live: LiveMode::Off,
        steering: None,
    };
    let result = run(&loaded, opts).await;
    // The probe's run folder is of no use once its figures are read.
    let _ = std::fs::remove_dir_all(&dir);
    let result = result.context("running the message probe")?;
    let stale = |g: &str| {
        result
            .summary
            .load
            .get(g)
            .and_then(|l| l.updates.as_ref())
            .map(|u| u.staleness_ms.p50)
            .with_context(|| format!("the message probe's `{g}` measured no staleness"))
    };
    let measured = [stale("few")?, stale("many")?, stale("subscribers")?];
    fit(&loaded, hop, measured)
}

/// The simulator's median staleness of the 5, the 50 and the subscribers.
fn simulated(loaded: &Loaded, hop: &Hop) -> anyhow::Result<[f64; 3]> {
    let s = crate::simulate(loaded, SEED, hop)?.summary;
    let stale = |g: &str| {
        s.load
            .get(g)
            .and_then(|l| l.updates.as_ref())
            .map_or(0.0, |u| u.staleness_ms.p50)
    };
    Ok([stale("few"), stale("many"), stale("subscribers")])
}

/// The three figures, fitted in turn to what was measured.
fn fit(loaded: &Loaded, hop: &Hop, measured: [f64; 3]) -> anyhow::Result<Probed> {
    let [few_ms, many_ms, streams_ms] = measured;
    let mut hop = Hop {
        message_ns: 0,
        version_late_ns: 0,
        push_ns: 0,
        ..hop.clone()
    };
    hop.message_ns = bisect(many_ms - few_ms, |ns| {
        let [few, many, _] = simulated(
            loaded,
            &Hop {
                message_ns: ns,
                ..hop.clone()
            },
        )?;
        Ok(many - few)
    })?;
    let [few, ..] = simulated(loaded, &hop)?;
    hop.version_late_ns = ((few_ms - few).max(0.0) * 1e6) as u64;
    hop.push_ns = bisect(streams_ms, |ns| {
        Ok(simulated(
            loaded,
            &Hop {
                push_ns: ns,
                ..hop.clone()
            },
        )?[2])
    })?;
    Ok(Probed {
        few_ms,
        many_ms,
        streams_ms,
        message_ns: hop.message_ns,
        version_late_ns: hop.version_late_ns,
        push_ns: hop.push_ns,
    })
}

/// The cost in ns, to a microsecond, at which `simulated` (growing with
/// it) reaches `measured`: 0 if it is already there at none, the most
/// considered if it never is.
fn bisect(measured: f64, simulated: impl Fn(u64) -> anyhow::Result<f64>) -> anyhow::Result<u64> {
    let (mut lo, mut hi) = (0, MOST_NS);
    if simulated(lo)? >= measured {
        return Ok(0);
    }
    if simulated(hi)? <= measured {
        return Ok(hi);
    }
    while hi - lo > 1_000 {
        let mid = (lo + hi) / 2;
        if simulated(mid)? < measured {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok((lo + hi) / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop() -> Hop {
        Hop {
            ns: 1_000_000,
            source: "test".into(),
            work_ns: 0,
            message_ns: 0,
            version_late_ns: 0,
            push_ns: 0,
        }
    }

    #[test]
    fn the_fit_finds_the_figures_a_simulation_was_made_with() {
        let loaded = loaded().unwrap();
        let made = Hop {
            message_ns: 200_000,
            version_late_ns: 1_000_000,
            push_ns: 100_000,
            ..hop()
        };
        let measured = simulated(&loaded, &made).unwrap();
        assert!(measured[1] - measured[0] > 1.0, "{measured:?}");
        let found = fit(&loaded, &hop(), measured).unwrap();
        assert!(found.message_ns.abs_diff(200_000) <= 20_000, "{found:?}");
        assert!(
            found.version_late_ns.abs_diff(1_000_000) <= 100_000,
            "{found:?}"
        );
        assert!(found.push_ns.abs_diff(100_000) <= 30_000, "{found:?}");
    }

    #[test]
    fn no_gap_is_no_cost() {
        let loaded = loaded().unwrap();
        assert_eq!(bisect(-1.0, |ns| Ok(ns as f64)).unwrap(), 0);
        let found = fit(&loaded, &hop(), [0.0, 0.0, 0.0]).unwrap();
        assert_eq!((found.message_ns, found.push_ns), (0, 0), "{found:?}");
    }
}
