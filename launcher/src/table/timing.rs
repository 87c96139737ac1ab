//! Whether the machine's own timing moved a figure the user reads: requests
//! a generator sent late (its schedule slipped) and `work` that ran long (the
//! replicas' timers woke late). Either one is a warning that says by how much
//! when it moves a latency by more than [`MOVES`] of itself; a slip too small
//! to move a figure gets one quiet line, since a busy machine always slips a
//! little and a warning for every straggler teaches users to ignore warnings.

use std::fmt::Write;

use crate::summary::{LoadSummary, Summary};
use topolab_results::units::ms;

/// A delay moves a figure when it is more than this share of it (and over
/// 1 ms): below that, the same run on a quiet machine reads the same to the
/// precision a person compares two runs at.
const MOVES: f64 = 0.05;

/// Whether `by` ms of delay moves a latency figure of `of` ms. With no OK
/// answer there is no latency to compare with, so any delay over 1 ms counts.
fn moves(by: f64, of: f64, ok: u64) -> bool {
    by > 1.0 && (ok == 0 || by > MOVES * of)
}

/// Lateness moves this generator's figures: its typical or its tail request
/// left late by more than [`MOVES`] of its latency (which counts from the due
/// time, so lateness is part of it).
pub(super) fn late_matters(l: &LoadSummary) -> bool {
    l.late_over_1ms > 0
        && (moves(l.late_ms.p50, l.latency_ms.p50, l.ok)
            || moves(l.late_ms.p99, l.latency_ms.p99, l.ok))
}

/// A warning per generator whose lateness moved its latencies (see
/// [`late_matters`]), with by how much; else one quiet line when some
/// requests left late at all; else nothing.
pub(super) fn lateness(s: &Summary) -> String {
    let late: Vec<String> = s
        .load
        .iter()
        .filter(|(_, l)| late_matters(l))
        .map(|(name, l)| {
            format!(
                "  `{name}`: {} of {} requests left more than 1 ms after they were due: {} ms late at p50 (of its p50 {} ms), {} ms at p99 (of {} ms), max {} ms\n",
                l.late_over_1ms,
                l.sent,
                ms(l.late_ms.p50),
                ms(l.latency_ms.p50),
                ms(l.late_ms.p99),
                ms(l.latency_ms.p99),
                ms(l.late_ms.max)
            )
        })
        .collect();
    if !late.is_empty() {
        return format!(
            "warning: sent late: the generator or the machine was too busy to send on time, by more than {:.0}% of a latency (latency still counts from the due time)\n{}",
            MOVES * 100.0,
            late.concat()
        );
    }
    let (n, sent) = s
        .load
        .values()
        .fold((0, 0), |(n, sent), l| (n + l.late_over_1ms, sent + l.sent));
    if n == 0 {
        return String::new();
    }
    let max = s.load.values().map(|l| l.late_ms.max).fold(0.0, f64::max);
    format!(
        "sent late: {n} of {sent} requests left over 1 ms after they were due (at most {} ms), too little to move a figure\n",
        ms(max)
    )
}

/// The replicas' `work` ran long: a warning when the time the machine added
/// is more than [`MOVES`] of some endpoint's p50 latency, naming it; one
/// quiet line when the run is machine-bound but no figure moved.
pub(super) fn overrun(s: &Summary) -> String {
    let Some(w) = s.work_timing.as_ref() else {
        return String::new();
    };
    // Work figures are measured, overrun included: the machine's share of a
    // mean of `work_ms` is pct / (100 + pct) of it.
    let share = w.work_late_pct / (100.0 + w.work_late_pct);
    let worst = s
        .services
        .iter()
        .flat_map(|(name, svc)| {
            svc.endpoints
                .iter()
                .filter(|(_, e)| e.ok > 0 && e.latency_ms.p50 > 0.0)
                .map(move |(ep, e)| {
                    (
                        format!("{name}/{ep}"),
                        e.work_ms.mean * share,
                        e.latency_ms.p50,
                    )
                })
        })
        .max_by(|a, b| (a.1 / a.2).total_cmp(&(b.1 / b.2)));
    let mut out = String::new();
    match worst {
        Some((at, added, p50)) if moves(added, p50, 1) => {
            let _ = writeln!(
                out,
                "warning: machine-bound: work ran {:.1}% long (the cores could not wake every replica on time): about {} ms of {at}'s p50 of {} ms ({:.0}%) is the machine's, and a queue fed by slower work waits longer still; fewer replicas or a less busy machine would hold them",
                w.work_late_pct,
                ms(added),
                ms(p50),
                added / p50 * 100.0
            );
        }
        Some((at, added, p50)) if w.machine_bound => {
            let _ = writeln!(
                out,
                "machine-bound: work ran {:.1}% long, about {} ms of {at}'s p50 of {} ms: too little to move a figure",
                w.work_late_pct,
                ms(added),
                ms(p50)
            );
        }
        None if w.machine_bound => {
            let _ = writeln!(out, "machine-bound: work ran {:.1}% long", w.work_late_pct);
        }
        _ => {}
    }
    out
}
