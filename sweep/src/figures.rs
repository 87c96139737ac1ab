//! One sweep step's figures (all generators together), the knee, and
//! the rows of `sweep.csv`. Offered load is what the generators asked for over the load's
//! span (open loop: the scheduled rate; closed loop: what the clients sent);
//! throughput is OK responses over the whole run, drain included.

use std::path::PathBuf;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use topolab_model::Topology;
use topolab_results::summary::round3;
use topolab_results::sweep::{self, SweepRow};

use topolab_launcher::run::RunResult;

/// The most requests that may fail (rejected, timed out, errored) at a load
/// that still counts as served: 1%.
pub const MAX_FAILED_SHARE: f64 = 0.01;

/// What one step measured.
#[derive(Debug, Clone, Serialize)]
pub struct StepFigures {
    /// The varied value, as written (`4/s`).
    pub value: String,
    /// The load asked for (see `SweepRow::offered_per_s`).
    pub offered_per_s: f64,
    /// Requests sent per second, over the window `throughput_per_s` is on.
    pub sent_per_s: f64,
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
    /// True when every generator follows `updates`: then `p50_ms` and
    /// `p99_ms` are the clients' staleness, what such a client waits for.
    pub staleness: bool,
    /// The most long polls held and streams open at once on one replica,
    /// and requests plus pushed messages per second at followed endpoints.
    pub max_held: u64,
    pub max_streams: u64,
    pub server_msgs_per_s: f64,
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
        let staleness =
            !topology.load.is_empty() && topology.load.iter().all(|g| g.follow.is_some());
        let (mut sent, mut ok, mut rejected, mut timeouts, mut errors) = (0, 0, 0, 0, 0);
        for r in result.recorders.values() {
            // Cannot fail: both histograms auto-resize.
            let _ = match (&r.freshness, staleness) {
                (Some(f), true) => latency.add(f.staleness_us()),
                _ => latency.add(&r.latency_us),
            };
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
            sent_per_s: round3(per(sent as f64, result.summary.duration_s)),
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
            staleness,
            ..follow_cost(&result.summary)
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

/// The following clients' cost at the servers: zeros without `updates`.
fn follow_cost(s: &topolab_results::summary::Summary) -> StepFigures {
    let mut f = StepFigures {
        value: String::new(),
        offered_per_s: 0.0,
        sent_per_s: 0.0,
        throughput_per_s: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        sent: 0,
        ok: 0,
        rejected: 0,
        timeouts: 0,
        errors: 0,
        within_goal: false,
        run: PathBuf::new(),
        staleness: false,
        max_held: 0,
        max_streams: 0,
        server_msgs_per_s: 0.0,
    };
    for e in s.services.values().flat_map(|svc| svc.endpoints.values()) {
        let Some(u) = &e.updates else { continue };
        f.max_held = f.max_held.max(u.max_held);
        f.max_streams = f.max_streams.max(u.max_streams);
        let pushed = if s.duration_s > 0.0 {
            u.pushed as f64 / s.duration_s
        } else {
            0.0
        };
        f.server_msgs_per_s += u.requests_per_s + pushed;
    }
    f.server_msgs_per_s = round3(f.server_msgs_per_s);
    f
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
    sweep::knee(&rows(steps))
}

/// The rows of `sweep.csv` (its owner is [`topolab_results::sweep`]).
pub fn rows(steps: &[StepFigures]) -> Vec<SweepRow> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| SweepRow {
            step: i as u32 + 1,
            value: s.value.clone(),
            offered_per_s: s.offered_per_s,
            throughput_per_s: s.throughput_per_s,
            p50_ms: s.p50_ms,
            p99_ms: s.p99_ms,
            rejected_share: round4(s.rejected_share()),
            error_share: round4(s.error_share()),
            sent: s.sent,
            ok: s.ok,
            rejected: s.rejected,
            timeouts: s.timeouts,
            errors: s.errors,
            within_goal: s.within_goal,
            run: s.run.display().to_string(),
            measure: if s.staleness { "staleness" } else { "latency" }.into(),
            max_held: s.max_held,
            max_streams: s.max_streams,
            server_msgs_per_s: s.server_msgs_per_s,
            // Filled by `predicted::fill` when the steps were predicted.
            predicted_throughput_per_s: None,
            predicted_p50_ms: None,
            predicted_p99_ms: None,
            predicted_failed_share: None,
            predicted_capacity_per_s: None,
            sent_per_s: s.sent_per_s,
        })
        .collect()
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn step(offered: f64, p99: f64, rejected: u64) -> StepFigures {
        StepFigures {
            value: format!("{offered}/s"),
            offered_per_s: offered,
            sent_per_s: offered,
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
            staleness: false,
            max_held: 0,
            max_streams: 0,
            server_msgs_per_s: 0.0,
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
    fn rows_number_the_steps_with_their_shares() {
        let rows = rows(&[step(1.0, 900.0, 0), step(6.0, 2900.0, 20)]);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].step, rows[1].value.as_str()), (2, "6/s"));
        assert_eq!((rows[1].rejected_share, rows[1].error_share), (0.2, 0.0));
    }
}
