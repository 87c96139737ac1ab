//! A profiling driver for the simulator alone (no launcher, no run folder):
//! `cargo run --release -p topolab-sim --example speed -- [SERVICES RATE SECS | FILE.yaml]`
//! simulates a generated layered topology (default: the M/M/1 queue of the
//! benchmark) or a topology file, and prints events per second. Under
//! `perf record` or `valgrind --tool=callgrind` it shows where events cost.

use std::time::Instant;

use topolab_model::{Limits, load_str_with};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let yaml = match args.as_slice() {
        [file] => std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}")),
        [n, rate, secs] => topolab_sim::generate::layered(
            n.parse().expect("SERVICES is a whole number"),
            rate.parse().expect("RATE is a number"),
            secs.parse().expect("SECS is a whole number"),
        ),
        _ => MM1.to_string(),
    };
    let t = Instant::now();
    let loaded = load_str_with("speed.yaml", &yaml, &[], Limits::SIMULATION)
        .unwrap_or_else(|e| panic!("{e}"));
    let validate = t.elapsed().as_secs_f64();
    let opts = topolab_sim::Options {
        seed: 1,
        hop_cost: 400_000,
        work_overhead: 0,
        message_cost: 0,
        push_cost: 0,
        version_late: 0,
        telemetry: true,
    };
    let t0 = Instant::now();
    let f = topolab_sim::simulate(&loaded.topology, &opts).unwrap_or_else(|e| panic!("{e}"));
    let wall = t0.elapsed().as_secs_f64();
    let sent: u64 = f.load.iter().map(|l| l.sent).sum();
    println!(
        "{:.2} M events/s: {:.1} M events, {:.2} M requests, {wall:.2} s (validation {validate:.2} s)",
        f.events as f64 / wall / 1e6,
        f.events as f64 / 1e6,
        sent as f64 / 1e6
    );
}

const MM1: &str = "name: mm1\nservices:\n  s:\n    queue: unbounded\n    endpoints:\n      E:\n        steps:\n          - work: exp(10ms)\nload:\n  g:\n    target: s/E\n    rate: 80/s\n    duration: 20000s\n    timeout: 60s\n";
