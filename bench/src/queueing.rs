//! `make bench BENCH=queueing`: the model against the machine at high load.
//! One replica, one worker, Poisson arrivals at ρ = 0.8 of the work asked
//! for, exponential work (M/M/1) and constant work (M/D/1). The mean queue
//! wait measured (from every request's trace) is printed against:
//!
//! - the textbook formula with the work as asked (ρ = 0.8 exactly);
//! - the Pollaczek–Khinchine formula with what this machine did: the
//!   arrival rate measured at the replica and the first two moments of the
//!   time each request held the worker. The gap between the two formulas is
//!   the machine's overhead, named: `work` ending late (a timer wakes after
//!   its deadline) and time held outside `work` (receiving, replying);
//!   the hand-off between one request's end and the next one's start is
//!   counted as queue wait, so it is printed too;
//! - the same sample path: Lindley's recursion (a FIFO single server) fed
//!   the very arrivals and worker-hold times measured, which takes out the
//!   noise of one finite run at ρ = 0.8 (tens of percent for M/M/1 over
//!   40 s). What remains is the replica's own doing: the hand-off from one
//!   request to the next, and arrivals taken out of order;
//! - `topolab predict` of the same file, which charges the overhead its
//!   probe measured (`work_overhead_ms`), over a run as long.
//!
//! Goal: measured within 5% of the same path, and of Pollaczek–Khinchine
//! where the run is long enough for its mean to settle.

use std::process::{Command, Stdio};

use serde_json::Value;
use topolab_results::trace::{Kind, for_each_trace};

use crate::topolab;

/// Work asked for each request, and the rate that makes ρ = 0.8 of it.
const WORK_MS: f64 = 2.0;
const RATE: f64 = 400.0;
const SECONDS: u64 = 40;

/// Runs both cases and prints the table.
pub fn bench() -> anyhow::Result<()> {
    println!(
        "\n== queueing at rho = 0.8 (1 worker, Poisson arrivals {RATE}/s, work {WORK_MS} ms, {SECONDS} s): mean queue wait, measured against theory"
    );
    println!(
        "{:<6} {:>9} {:>9} {:>7} {:>9} {:>7} {:>9} {:>7} {:>9} {:>7} {:>6} {:>8} {:>9} {:>9} {:>8}",
        "case",
        "measured",
        "textbook",
        "ratio",
        "P-K",
        "ratio",
        "path",
        "ratio",
        "predict",
        "ratio",
        "rho",
        "arr CV",
        "work late",
        "outside",
        "hand-off"
    );
    for (case, work) in [("M/M/1", "exp(2ms)"), ("M/D/1", "2ms")] {
        let m = measure(work)?;
        let rho = RATE * WORK_MS / 1e3;
        // E[S²] of the work as asked: 2 S² exponential, S² constant.
        let textbook = match case {
            "M/M/1" => rho * WORK_MS / (1.0 - rho),
            _ => rho * WORK_MS / (2.0 * (1.0 - rho)),
        };
        let lambda = m.rate / 1e3; // per ms
        let rho_m = lambda * m.hold_mean;
        let pk = lambda * m.hold_sq / (2.0 * (1.0 - rho_m));
        let predicted = predict(work)?;
        println!(
            "{case:<6} {:>6.2} ms {:>6.2} ms {:>7.3} {:>6.2} ms {:>7.3} {:>6.2} ms {:>7.3} {:>6.2} ms {:>7.3} {:>6.3} {:>8.3} {:>6.1} µs {:>6.1} µs {:>5.1} µs",
            m.wait,
            textbook,
            m.wait / textbook,
            pk,
            m.wait / pk,
            m.path,
            m.wait / m.path,
            predicted,
            m.wait / predicted,
            rho_m,
            m.arrival_cv,
            (m.work_mean - WORK_MS) * 1e3,
            (m.hold_mean - m.work_mean) * 1e3,
            m.handoff * 1e3
        );
    }
    println!(
        "(ratio = measured / theory, goal 0.95-1.05 against the same path; path = Lindley's FIFO recursion on the measured arrivals and holds; rho and P-K from the arrivals and worker-hold times measured at the replica; work late = mean work - {WORK_MS} ms; outside = worker held outside work; hand-off = mean idle time between a request's end and the next queued one's start)"
    );
    Ok(())
}

/// What one run measured at its replica, in ms (rate per second).
struct Measured {
    rate: f64,
    arrival_cv: f64,
    wait: f64,
    /// Lindley's mean wait on the measured arrivals and holds.
    path: f64,
    hold_mean: f64,
    hold_sq: f64,
    work_mean: f64,
    handoff: f64,
}

fn topology(work: &str) -> String {
    format!(
        "name: queueing\nservices:\n  s:\n    workers: 1\n    queue: 100000\n    endpoints:\n      Do:\n        steps:\n          - work: {work}\nload:\n  l:\n    target: s/Do\n    rate: {RATE}/s\n    arrivals: poisson\n    duration: {SECONDS}s\nsettings:\n  warmup: 3s\n  trace: 100%\n  seed: 7\n"
    )
}

/// Runs the case and reads every server span: arrival, queue wait, hold.
fn measure(work: &str) -> anyhow::Result<Measured> {
    let (dir, _) = topolab::run_kept(&topology(work))?;
    // (arrival, start of work, end) per request, in ns.
    let mut spans: Vec<(u64, u64, u64, u64)> = Vec::new();
    for_each_trace(&dir.path().join("run"), |t| {
        for s in t.spans.iter().filter(|s| s.kind == Kind::Server) {
            let q = s.queue_ns.unwrap_or(0);
            spans.push((s.start_ns, s.start_ns + q, s.end_ns, s.work_ns.unwrap_or(0)));
        }
    })?;
    spans.sort();
    anyhow::ensure!(
        spans.len() > 1000,
        "too few traced requests: {}",
        spans.len()
    );
    let n = spans.len() as f64;
    let gaps: Vec<f64> = spans.windows(2).map(|w| (w[1].0 - w[0].0) as f64).collect();
    let gap_mean = mean(&gaps);
    let gap_sd = (mean(&gaps.iter().map(|g| g * g).collect::<Vec<_>>()) - gap_mean.powi(2)).sqrt();
    let holds: Vec<f64> = spans.iter().map(|s| (s.2 - s.1) as f64 / 1e6).collect();
    // In order of service: the idle time between one's end and the next's
    // start, where the next had already arrived (it waited in the queue).
    let mut served: Vec<&(u64, u64, u64, u64)> = spans.iter().collect();
    served.sort_by_key(|s| s.1);
    let handoffs: Vec<f64> = served
        .windows(2)
        .filter(|w| w[1].0 < w[0].2)
        .map(|w| w[1].1.saturating_sub(w[0].2) as f64 / 1e6)
        .collect();
    // Lindley: W(n+1) = max(0, W(n) + S(n) - A(n+1)), in arrival order.
    let mut w = 0.0;
    let mut path = 0.0;
    for (i, pair) in spans.windows(2).enumerate() {
        w = f64::max(0.0, w + holds[i] - (pair[1].0 - pair[0].0) as f64 / 1e6);
        path += w;
    }
    Ok(Measured {
        path: path / n,
        rate: (n - 1.0) / ((spans[spans.len() - 1].0 - spans[0].0) as f64 / 1e9),
        arrival_cv: gap_sd / gap_mean,
        wait: mean(
            &spans
                .iter()
                .map(|s| (s.1 - s.0) as f64 / 1e6)
                .collect::<Vec<_>>(),
        ),
        hold_mean: mean(&holds),
        hold_sq: mean(&holds.iter().map(|h| h * h).collect::<Vec<_>>()),
        work_mean: mean(&spans.iter().map(|s| s.3 as f64 / 1e6).collect::<Vec<_>>()),
        handoff: mean(&handoffs),
    })
}

/// `topolab predict` of the case: the mean queue wait it predicts.
fn predict(work: &str) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("t.yaml");
    std::fs::write(&file, topology(work))?;
    let out = dir.path().join("predicted");
    let status = Command::new(topolab::binary()?)
        .arg("predict")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "topolab predict failed: {status}");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json"))?)?;
    s["services"]["s"]["endpoints"]["Do"]["queue_wait_ms"]["mean"]
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("no predicted queue wait"))
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}
