//! One sweep step's figures (all generators together), the knee, and
//! `sweep.csv`. Offered load is what the generators asked for over the load's
//! span (open loop: the scheduled rate; closed loop: what the clients sent);
//! throughput is OK responses over the whole run, drain included.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use topolab_model::Topology;

use crate::run::RunResult;

/// The most requests that may fail (rejected, timed out, errored) at a load
/// that still counts as served: 1%.
pub const MAX_FAILED_SHARE: f64 = 0.01;

/// What one step measured.
#[derive(Debug, Clone, Serialize)]
pub struct StepFigures {
    /// The varied value, as written (`4/s`).
    pub value: String,
    pub offered_per_s: f64,
    pub throughput_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub sent: u64,
    pub ok: u64,
    pub rejected: u64,
    pub timeouts: u64,
    pub errors: u64,
    /// Whether this step met the latency goal and the failure bound.
    pub within_goal: bool,
    pub run: PathBuf,
}

impl StepFigures {
    /// The figures of one finished run of `topology` at `value`.
    pub fn new(value: &str, topology: &Topology, result: &RunResult) -> Self {
        let span = topology
            .load
            .iter()
            .map(|g| g.start + g.duration)
            .max()
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        let asked: f64 = topology
            .load
            .iter()
            .map(
                |g| match (g.pattern.mean_rate(), result.recorders.get(&g.name)) {
                    (Some(rate), _) if !result.summary.interrupted => {
                        rate * g.duration.as_secs_f64()
                    }
                    (_, Some(r)) => r.sent as f64,
                    _ => 0.0,
                },
            )
            .sum();
        // Cannot fail: 3 significant figures is within hdrhistogram's range.
        let mut latency: Histogram<u64> = Histogram::new(3).expect("valid sigfig");
        let (mut sent, mut ok, mut rejected, mut timeouts, mut errors) = (0, 0, 0, 0, 0);
        for r in result.recorders.values() {
            // Cannot fail: both histograms auto-resize.
            let _ = latency.add(&r.latency_us);
            sent += r.sent;
            ok += r.ok;
            rejected += r.rejected;
            timeouts += r.timeouts;
            errors += r.errors.values().sum::<u64>();
        }
        let q = |p: f64| {
            if latency.is_empty() {
                0.0
            } else {
                latency.value_at_quantile(p) as f64 / 1e3
            }
        };
        let per = |n: f64, secs: f64| if secs > 0.0 { n / secs } else { 0.0 };
        StepFigures {
            value: value.to_string(),
            offered_per_s: round3(per(asked, span)),
            throughput_per_s: round3(per(ok as f64, result.summary.duration_s)),
            p50_ms: round3(q(0.5)),
            p99_ms: round3(q(0.99)),
            sent,
            ok,
            rejected,
            timeouts,
            errors,
            within_goal: false,
            run: result.folder.clone(),
        }
    }

    /// Share of requests turned away by a full queue.
    pub fn rejected_share(&self) -> f64 {
        share(self.rejected, self.sent)
    }

    /// Share of requests that timed out or failed otherwise.
    pub fn error_share(&self) -> f64 {
        share(self.timeouts + self.errors, self.sent)
    }
}

/// The latency goal of a sweep: a fixed p99, or a multiple of the lightest
/// step's p99 (the topology's latency when it is barely loaded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    P99(Duration),
    TimesLightest(f64),
}

impl Goal {
    /// The p99 goal in milliseconds for these steps.
    pub fn p99_ms(&self, steps: &[StepFigures]) -> f64 {
        match self {
            Goal::P99(d) => d.as_secs_f64() * 1e3,
            Goal::TimesLightest(k) => {
                let lightest = steps
                    .iter()
                    .filter(|s| s.ok > 0)
                    .min_by(|a, b| a.offered_per_s.total_cmp(&b.offered_per_s));
                lightest.map_or(f64::INFINITY, |s| s.p99_ms * k)
            }
        }
    }
}

/// Marks each step within the goal or not, and returns the knee: the index
/// of the highest offered load such that it and every lighter step were
/// served within the goal (p99 at most the goal, at most 1% failed).
pub fn mark_and_find_knee(steps: &mut [StepFigures], goal_ms: f64) -> Option<usize> {
    for s in steps.iter_mut() {
        let failed = s.rejected_share() + s.error_share();
        s.within_goal = s.ok > 0 && s.p99_ms <= goal_ms && failed <= MAX_FAILED_SHARE;
    }
    let mut order: Vec<usize> = (0..steps.len()).collect();
    order.sort_by(|&a, &b| steps[a].offered_per_s.total_cmp(&steps[b].offered_per_s));
    order
        .into_iter()
        .take_while(|&i| steps[i].within_goal)
        .last()
}

/// `sweep.csv`: one row per step.
pub fn csv(steps: &[StepFigures]) -> String {
    let mut out = String::from(
        "step,value,offered_per_s,throughput_per_s,p50_ms,p99_ms,rejected_share,error_share,sent,ok,rejected,timeouts,errors,within_goal,run\n",
    );
    for (i, s) in steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{:.4},{:.4},{},{},{},{},{},{},{}",
            i + 1,
            s.value,
            s.offered_per_s,
            s.throughput_per_s,
            s.p50_ms,
            s.p99_ms,
            s.rejected_share(),
            s.error_share(),
            s.sent,
            s.ok,
            s.rejected,
            s.timeouts,
            s.errors,
            s.within_goal,
            s.run.display()
        );
    }
    out
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn step(offered: f64, p99: f64, rejected: u64) -> StepFigures {
        StepFigures {
            value: format!("{offered}/s"),
            offered_per_s: offered,
            throughput_per_s: offered.min(5.0),
            p50_ms: p99 / 3.0,
            p99_ms: p99,
            sent: 100,
            ok: 100 - rejected,
            rejected,
            timeouts: 0,
            errors: 0,
            within_goal: false,
            run: PathBuf::from("step"),
        }
    }

    #[test]
    fn the_knee_is_the_last_served_load_before_the_first_unserved() {
        let mut steps = vec![
            step(1.0, 900.0, 0),
            step(3.0, 1500.0, 0),
            step(4.0, 2500.0, 0),
            step(6.0, 2900.0, 20),
            step(2.0, 1000.0, 0),
            step(8.0, 1000.0, 0), // served again by luck: not the knee
        ];
        let goal = Goal::TimesLightest(3.0).p99_ms(&steps);
        assert_eq!(goal, 2700.0);
        assert_eq!(mark_and_find_knee(&mut steps, goal), Some(2));
        assert!(!steps[3].within_goal);
        let mut steps = vec![step(1.0, 5000.0, 0)];
        assert_eq!(mark_and_find_knee(&mut steps, 1000.0), None);
    }

    #[test]
    fn csv_has_a_row_per_step() {
        let text = csv(&[step(1.0, 900.0, 0), step(6.0, 2900.0, 20)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with(
            "step,value,offered_per_s,throughput_per_s,p50_ms,p99_ms,rejected_share,error_share"
        ));
        assert!(lines[2].starts_with("2,6/s,6,5,"), "{}", lines[2]);
        assert!(lines[2].contains(",0.2000,0.0000,"), "{}", lines[2]);
    }
}
