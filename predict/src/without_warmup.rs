//! `settings.warmup` in a prediction, simulated and discarded as a run does
//! it: every generator first sends its first stage's load for the warmup
//! (the very [`topolab_load::warmup::warm`] a run sends), the system drains,
//! and the measured load (and the faults) start after. The simulator has no
//! notion of a warmup, so two simulations are made: the whole (warmup, then
//! the measured load) and the warmup alone, identical up to the instant the
//! measured load starts; the second's figures are taken off the first's.

use std::time::Duration;

use topolab_model::Topology;
use topolab_results::summary::{Warmup, round3};
use topolab_sim::{Figures, Options, SimError};

/// Simulates `t` with its warmup taken off (or plainly, without one); the
/// warmup's own figures when it had one.
pub fn simulate(t: &Topology, opts: &Options) -> Result<(Figures, Option<Warmup>), SimError> {
    let warmup = t.settings.warmup;
    if warmup.is_zero() || t.load.is_empty() {
        return Ok((topolab_sim::simulate(t, opts)?, None));
    }
    // A run's versions count from the measured load's start; the whole
    // simulation's would count from the warmup's.
    if let Some(g) = t.load.iter().find(|g| g.follow.is_some()) {
        return Err(SimError::NotSimulated {
            key: format!("settings.warmup with load.{} (a follower)", g.name),
        });
    }
    let every = t.settings.sample_every.max(Duration::from_millis(1));
    // Every warmup request has ended by then (its deadline passed at the
    // latest), so the system is idle when the measured load starts; a whole
    // number of sampling intervals keeps the time series aligned.
    let longest = t.load.iter().map(|g| g.timeout).max().unwrap_or_default();
    let gap = warmup + longest + Duration::from_secs(1);
    let ticks = gap.as_nanos().div_ceil(every.as_nanos());
    let offset = every * ticks as u32;

    let warm: Vec<_> = t
        .load
        .iter()
        .map(|g| topolab_load::warmup::warm(g, warmup))
        .collect();
    let mut alone = t.clone();
    alone.load = warm.clone();
    alone.faults.clear();
    alone.network.faults.clear();
    let mut whole = t.clone();
    whole.load = warm;
    whole.load.extend(t.load.iter().map(|g| {
        let mut g = g.clone();
        g.start += offset;
        g
    }));
    // Faults count from the measured load's start, as in a run: the link
    // faults of the network as well as the replicas' faults.
    for f in &mut whole.faults {
        f.at += offset;
    }
    for f in &mut whole.network.faults {
        f.at += offset;
    }
    let base = topolab_sim::simulate(&alone, opts)?;
    let all = topolab_sim::simulate(&whole, opts)?;
    let sent = base.load.iter().map(|l| l.sent).sum();
    let offset_ns = offset.as_nanos() as u64;
    let figures = all.after_warmup(&base, t.load.len(), offset_ns, every.as_nanos() as u64);
    let summary = Warmup {
        duration_s: round3(warmup.as_secs_f64()),
        requests_sent: sent,
        // The gap lets every warmup request end before the measured load.
        settled: base.load.iter().all(|l| l.finished() == l.sent),
    };
    Ok((figures, Some(summary)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "name: w\nservices:\n  a:\n    workers: 2\n    endpoints:\n      X:\n        steps:\n          - work: exp(5ms)\nload:\n  g:\n    target: a/X\n    rate: 50/s\n    duration: 4s\n    timeout: 1s\nsettings:\n  warmup: 2s\n";

    #[test]
    fn the_warmup_is_simulated_and_left_out_of_every_figure() {
        let t = topolab_model::load_str("w.yaml", YAML, &[])
            .unwrap()
            .topology;
        let opts = Options::default();
        let (f, w) = simulate(&t, &opts).unwrap();
        let w = w.expect("a warmup");
        // About 2 s × 50/s sent and discarded.
        assert!((60..=140).contains(&w.requests_sent), "{w:?}");
        assert!(w.settled);
        assert_eq!(f.load.len(), 1);
        let l = &f.load[0];
        let e = &f.endpoints[0][0];
        // The endpoint saw exactly what the measured generator sent.
        assert_eq!(
            e.requests, l.sent,
            "warmup requests left in the endpoint's count"
        );
        assert_eq!(
            e.ok + e.rejected + e.errors.values().sum::<u64>(),
            e.requests
        );
        assert_eq!(e.latency_us.len(), e.requests);
        // The measured load's clock starts at zero, as a run's does.
        assert!(l.first_due.unwrap() < 100_000_000, "{:?}", l.first_due);
        assert!(f.duration < 6_000_000_000, "{}", f.duration);
    }

    /// A link fault counts from the measured load's start, as a run's does:
    /// shifted past the warmup with the other faults (it was left at its
    /// `at` from the warmup's start, inside the gap, and cut nothing).
    #[test]
    fn a_link_fault_after_a_warmup_still_cuts_its_link() {
        let yaml = "name: w\nservices:\n  a:\n    workers: 4\n    endpoints:\n      X:\n        steps:\n          - call: b/Y\n  b:\n    workers: 4\n    endpoints:\n      Y:\n        steps:\n          - work: 1ms\nload:\n  g:\n    target: a/X\n    rate: 50/s\n    duration: 4s\n    timeout: 1s\nfaults:\n  - { at: 1s, for: 2s, link: a <-> b, partition: true }\nsettings:\n  warmup: 2s\n";
        let t = topolab_model::load_str("w.yaml", yaml, &[])
            .unwrap()
            .topology;
        let (f, _) = simulate(&t, &Options::default()).unwrap();
        let l = &f.load[0];
        // Half the measured load falls in the partition: about 100 of 200.
        let failed = l.sent - l.ok;
        assert!(
            (50..=150).contains(&failed),
            "{failed} of {} failed",
            l.sent
        );
    }
}
