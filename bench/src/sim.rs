//! `make bench BENCH=sim`: the simulator's speed. Events per second on one
//! core (an M/M/1 queue, and the large topologies), and the wall time to
//! predict 60 simulated seconds of a generated 1,000- and 10,000-service
//! topology at 100,000 requests per simulated second, run folder written
//! (without the report page). Goals: ≥ 5 M events/s, 10,000 services ≤ 30 s.

use std::fmt::Write as _;
use std::time::Instant;

use topolab_launcher::predict::{self, Hop, PredictOptions};
use topolab_model::{Limits, load_str_with};

/// Runs every part and prints the figures.
pub fn bench() -> anyhow::Result<()> {
    println!("\n== simulator: events per second (one core) and wall time per prediction");
    let mm1 = "name: mm1\nservices:\n  s:\n    queue: unbounded\n    endpoints:\n      E:\n        steps:\n          - work: exp(10ms)\nload:\n  g:\n    target: s/E\n    rate: 80/s\n    duration: 20000s\n    timeout: 60s\n";
    time("M/M/1, 1.6 M requests", mm1)?;
    for n in [1_000, 10_000] {
        time(
            &format!("{n} services, 100k req/s × 60 s"),
            &generated(n, 100_000.0, 60),
        )?;
    }
    println!("goals: >= 5 M events/s; 10,000 services in <= 30 s");
    Ok(())
}

fn time(label: &str, yaml: &str) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let loaded = load_str_with("generated.yaml", yaml, &[], Limits::SIMULATION)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let validated = t0.elapsed().as_secs_f64();
    let dir = tempfile::tempdir()?;
    let opts = PredictOptions {
        out: Some(dir.path().join("p")),
        force: false,
        seed: 1,
        hop: Hop {
            ns: 400_000,
            source: "bench".into(),
            work_ns: 0,
        },
        report: false,
    };
    let t1 = Instant::now();
    let p = predict::predict(&loaded, &opts)?;
    let total = t1.elapsed().as_secs_f64();
    let pr = p.summary.prediction.unwrap_or_default();
    let sent: u64 = p.summary.load.values().map(|l| l.sent).sum();
    println!(
        "{label:<36} {:>6.2} M events/s  simulation {:>6.2} s  predict (folder written) {:>6.2} s  validate {:>5.2} s  {:>5.1} M events  {:>5.2} M requests",
        pr.events as f64 / pr.wall_s.max(1e-9) / 1e6,
        pr.wall_s,
        total,
        validated,
        pr.events as f64 / 1e6,
        sent as f64 / 1e6,
    );
    Ok(())
}

/// A layered topology of `n` services: a tenth are entry services, each with
/// its own open-loop generator and calling two of the next three tenths in
/// turn, each of which calls one of the remaining six tenths. A request
/// visits five services.
pub fn generated(n: usize, rate: f64, secs: u32) -> String {
    let entries = n / 10;
    let middle = 3 * n / 10;
    let leaves = n - entries - middle;
    let mut y = String::from("name: generated\nsettings:\n  sample_every: 1s\nservices:\n");
    for i in 0..n {
        let _ = write!(
            y,
            "  s{i}:\n    workers: 8\n    endpoints:\n      E:\n        steps:\n          - work: exp(1ms)\n"
        );
        if i < entries {
            for k in 0..2 {
                let m = entries + (2 * i + k) % middle;
                let _ = writeln!(y, "          - call: s{m}/E");
            }
        } else if i < entries + middle {
            let l = entries + middle + (i - entries) % leaves;
            let _ = writeln!(y, "          - call: s{l}/E");
        }
    }
    y.push_str("load:\n");
    for i in 0..entries {
        let _ = write!(
            y,
            "  g{i}:\n    target: s{i}/E\n    rate: {}/s\n    duration: {secs}s\n",
            rate / entries as f64
        );
    }
    y
}
