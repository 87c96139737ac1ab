//! What telemetry sampling costs: the same saturated three-hop chain run
//! with `sample_every: 10ms` and with `1s`, alternating to share the
//! machine's mood, and throughput compared as a ratio.

use crate::topolab;

/// Closed loop with enough clients to keep every hop busy, so any cost of
/// sampling shows up as lost throughput.
fn yaml(every: &str) -> String {
    format!(
        "name: sampling-bench\nservices:\n  a:\n    workers: 16\n    endpoints:\n      X:\n        steps:\n          - work: 0ms\n          - call: b/Y\n  b:\n    workers: 16\n    endpoints:\n      Y:\n        steps:\n          - work: 0ms\n          - call: c/Z\n  c:\n    workers: 16\n    endpoints:\n      Z:\n        steps:\n          - work: 0ms\nload:\n  c:\n    target: a/X\n    clients: 16\n    duration: 5s\nsettings:\n  seed: 1\n  sample_every: {every}\n"
    )
}

/// Prints ok/s for each setting over `rounds` alternating runs, and the ratio.
pub fn run(rounds: usize) -> anyhow::Result<()> {
    println!(
        "\n== telemetry sampling cost: throughput of a saturated 3-hop chain (16 closed-loop clients, 5 s), sample_every 10ms / 1s"
    );
    println!(
        "{:>6}  {:>14}  {:>14}  {:>8}",
        "round", "10ms ok/s", "1s ok/s", "ratio"
    );
    let (mut fast_sum, mut slow_sum) = (0.0, 0.0);
    for round in 1..=rounds {
        let fast = throughput(&yaml("10ms"))?;
        let slow = throughput(&yaml("1s"))?;
        fast_sum += fast;
        slow_sum += slow;
        println!(
            "{round:>6}  {fast:>14.0}  {slow:>14.0}  {:>8.3}",
            fast / slow
        );
    }
    println!(
        "{:>6}  {:>14.0}  {:>14.0}  {:>8.3}",
        "mean",
        fast_sum / rounds as f64,
        slow_sum / rounds as f64,
        fast_sum / slow_sum
    );
    Ok(())
}

fn throughput(yaml: &str) -> anyhow::Result<f64> {
    let s = topolab::run_once(yaml)?;
    Ok(s["load"]["c"]["throughput"].as_f64().unwrap_or(0.0))
}
