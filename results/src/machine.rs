//! How far the machine stretched `work`: every replica times its `work`
//! steps and reports how much later than asked they ended. When many
//! processes share few cores, that delay is the machine's, not the
//! topology's, and a run says so (`machine-bound`) instead of passing it off
//! as the service's own latency (the terminal's words: `launcher`'s
//! `table/timing.rs`).

use serde::{Deserialize, Serialize};

/// Work that ran more than this much longer than asked (percent) marks the
/// run machine-bound: its figures measure the cores as much as the topology.
pub const MACHINE_BOUND_PCT: f64 = 5.0;

/// The replicas' `work` timing, over the measured part of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkTiming {
    /// Time the `work` steps (and retry backoffs) asked for, summed.
    pub work_asked_ms: f64,
    /// How much longer than asked they took, in percent of `work_asked_ms`.
    pub work_late_pct: f64,
    /// `work_late_pct` above [`MACHINE_BOUND_PCT`]: the machine could not
    /// run every replica's timers on time.
    pub machine_bound: bool,
}

impl WorkTiming {
    /// From the replicas' totals in microseconds; None when no work ran.
    pub fn new(asked_us: u64, late_us: u64) -> Option<WorkTiming> {
        if asked_us == 0 {
            return None;
        }
        let pct = late_us as f64 / asked_us as f64 * 100.0;
        Some(WorkTiming {
            work_asked_ms: (asked_us as f64 / 1e3 * 1e3).round() / 1e3,
            work_late_pct: (pct * 100.0).round() / 100.0,
            machine_bound: pct > MACHINE_BOUND_PCT,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_past_five_percent_and_absent_without_work() {
        assert_eq!(WorkTiming::new(0, 0), None);
        let ok = WorkTiming::new(1_000_000, 40_000).unwrap();
        assert_eq!((ok.work_late_pct, ok.machine_bound), (4.0, false));
        let bound = WorkTiming::new(1_000_000, 234_000).unwrap();
        assert!(bound.machine_bound);
        assert_eq!(bound.work_asked_ms, 1000.0);
        assert_eq!(bound.work_late_pct, 23.4);
    }
}
