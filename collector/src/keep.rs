//! The keeping policy for `traces.jsonl` under its disk budget, tail-based as
//! in tracing systems (the decision is taken once a trace's spans are in):
//! until the file holds half the budget every trace is kept; past that,
//! every trace with an error or rejection and the slowest 1% are kept, and
//! of the rest 1 in 2, then 1 in 4, ... (halving each time half of what is
//! left of the budget is used), chosen by trace id so the choice is
//! consistent; at the budget only error traces are kept, and at twice the
//! budget nothing more is written. Every decision is counted.

use hdrhistogram::Histogram;
pub use topolab_results::summary::Keeping;

/// Traces whose durations must be seen before "the slowest 1%" means anything.
const MIN_FOR_SLOW: u64 = 100;

/// What is known of a finished trace when it is decided.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// Some span ended with a non-OK status (an error, a rejection, a timeout).
    pub error: bool,
    /// From its first span's start to its last span's end.
    pub duration_ns: u64,
    /// Low bits of the trace id (random by W3C trace context).
    pub id_bits: u64,
}

/// Why a trace was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// The file was under half its budget.
    UnderBudget,
    Error,
    Slow,
    Sampled,
}

/// How much the count of durations seen grows (as a share, 1/this) before
/// the 99th percentile is read again: reading it walks the histogram, and
/// once per decision was the writer's largest single cost at saturation.
const P99_REFRESH: u64 = 128;

/// The policy's state over one run.
pub struct Policy {
    budget: u64,
    durations: Histogram<u64>,
    /// The 99th percentile and the count of durations it was read at.
    p99: Option<(u64, u64)>,
    /// Tallies so far.
    pub keeping: Keeping,
}

impl Policy {
    /// A policy for a file of at most `budget` bytes (errors: twice that).
    pub fn new(budget: u64) -> Self {
        Policy {
            budget,
            // Three significant digits, auto-resizing: cannot fail.
            durations: Histogram::new(3).expect("3 significant digits is valid"),
            p99: None,
            keeping: Keeping {
                rest_kept_share: 1.0,
                ..Keeping::default()
            },
        }
    }

    /// Decides one trace, the file holding `written` bytes now, `at_s`
    /// seconds into the run; counts the decision (spans too when left out).
    pub fn decide(&mut self, f: Facts, spans: u64, written: u64, at_s: f64) -> Option<Kept> {
        // Auto-resizing: recording cannot fail for a u64.
        let _ = self.durations.record(f.duration_ns.max(1));
        let half = self.budget / 2;
        // Read only where it decides (past half the budget, under it, no error).
        let slow = written >= half
            && written < self.budget
            && !f.error
            && self.durations.len() >= MIN_FOR_SLOW
            && f.duration_ns >= self.p99();
        let k = &mut self.keeping;
        k.traces_seen += 1;
        let kept = if written < half {
            Some(Kept::UnderBudget)
        } else {
            k.thinning_from_s.get_or_insert(at_s);
            let level = halvings(self.budget, written);
            k.rest_kept_share = level.map_or(0.0, |l| 1.0 / (1u64 << l) as f64);
            if f.error {
                (written < 2 * self.budget).then_some(Kept::Error)
            } else if written >= self.budget {
                None
            } else if slow {
                Some(Kept::Slow)
            } else {
                level
                    .filter(|&l| f.id_bits & ((1u64 << l) - 1) == 0)
                    .map(|_| Kept::Sampled)
            }
        };
        match kept {
            Some(Kept::UnderBudget) => k.kept_under_budget += 1,
            Some(Kept::Error) => k.kept_error += 1,
            Some(Kept::Slow) => k.kept_slow += 1,
            Some(Kept::Sampled) => k.kept_sampled += 1,
            None => {
                k.left_out += 1;
                k.spans_left_out += spans;
                k.errors_left_out += u64::from(f.error);
            }
        }
        kept
    }

    /// The 99th percentile of the durations seen, read again once their
    /// count grew by 1/[`P99_REFRESH`] since the last read.
    fn p99(&mut self) -> u64 {
        let n = self.durations.len();
        match self.p99 {
            Some((at, v)) if n < at + at / P99_REFRESH => v,
            _ => {
                let v = self.durations.value_at_quantile(0.99);
                self.p99 = Some((n, v));
                v
            }
        }
    }

    /// The tallies, with the policy in words.
    pub fn finish(mut self) -> Keeping {
        let mib = self.budget as f64 / (1 << 20) as f64;
        let k = &mut self.keeping;
        if self.durations.len() >= MIN_FOR_SLOW && k.thinning_from_s.is_some() {
            k.slow_from_ms = Some(self.durations.value_at_quantile(0.99) as f64 / 1e6);
        }
        k.policy = match k.thinning_from_s {
            None => {
                format!("every trace kept: the file stayed under half its budget of {mib:.1} MiB")
            }
            Some(at) => format!(
                "the file passed half its budget of {mib:.1} MiB at {at:.1} s: from then on every trace with an error or rejection and the slowest 1% were kept, and of the rest 1 in 2, halving each time half of what was left of the budget was used (by trace id); at the budget only error traces, at twice the budget none"
            ),
        };
        self.keeping
    }
}

/// How many times the rest has been halved: `Some(1)` from half the budget,
/// `Some(2)` from three quarters, ...; `None` at the budget (none kept).
fn halvings(budget: u64, written: u64) -> Option<u32> {
    if written >= budget {
        return None;
    }
    let left = budget - written;
    // Each level halves what is left: level l while left <= budget / 2^l.
    let mut level = 1;
    while level < 63 && left <= budget >> (level + 1) {
        level += 1;
    }
    Some(level)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ms: u64, id_bits: u64) -> Facts {
        Facts {
            error: false,
            duration_ns: ms * 1_000_000,
            id_bits,
        }
    }

    #[test]
    fn under_half_the_budget_everything_is_kept() {
        let mut p = Policy::new(1000);
        for i in 0..10 {
            assert_eq!(p.decide(ok(1, i), 2, 499, 0.0), Some(Kept::UnderBudget));
        }
        let k = p.finish();
        assert_eq!((k.kept_under_budget, k.left_out), (10, 0));
        assert!(k.policy.starts_with("every trace kept"));
    }

    #[test]
    fn past_half_errors_and_the_slowest_stay_and_the_rest_is_sampled_by_id() {
        let mut p = Policy::new(1000);
        for i in 0..1000 {
            p.decide(ok(1 + i % 10, i), 2, 0, 0.0);
        }
        // Half-way: 1 in 2 of the rest, by the id's lowest bit.
        assert_eq!(p.decide(ok(1, 4), 2, 600, 1.5), Some(Kept::Sampled));
        assert_eq!(p.decide(ok(1, 5), 2, 600, 1.5), None);
        // Three quarters: 1 in 4.
        assert_eq!(p.decide(ok(1, 2), 2, 800, 2.0), None);
        assert_eq!(p.decide(ok(1, 8), 2, 800, 2.0), Some(Kept::Sampled));
        // Slowest 1% and errors are kept regardless of the id.
        assert_eq!(p.decide(ok(500, 1), 2, 800, 2.0), Some(Kept::Slow));
        let err = Facts {
            error: true,
            ..ok(1, 3)
        };
        assert_eq!(p.decide(err, 2, 800, 2.0), Some(Kept::Error));
        // At the budget: errors only; at twice the budget: nothing.
        assert_eq!(p.decide(ok(500, 0), 2, 1000, 3.0), None);
        assert_eq!(p.decide(err, 2, 1500, 3.0), Some(Kept::Error));
        assert_eq!(p.decide(err, 2, 2000, 3.0), None);
        let k = p.finish();
        assert_eq!(k.thinning_from_s, Some(1.5));
        assert_eq!((k.kept_error, k.errors_left_out, k.kept_slow), (2, 1, 1));
        assert_eq!(k.spans_left_out, 2 * k.left_out);
        assert!(k.policy.contains("at 1.5 s"));
    }

    #[test]
    fn halvings_follow_what_is_left() {
        assert_eq!(halvings(1024, 512), Some(1));
        assert_eq!(halvings(1024, 767), Some(1));
        assert_eq!(halvings(1024, 768), Some(2));
        assert_eq!(halvings(1024, 896), Some(3));
        assert_eq!(halvings(1024, 1024), None);
    }
}
