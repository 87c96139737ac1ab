//! The simulator against queueing theory's closed forms. Each case runs
//! independent replications (different seeds) and takes its tolerance from
//! their spread: the estimate must sit within four standard errors of the
//! formula (plus 0.5% for the histograms' resolution), and the standard
//! error itself must be under 1% of the formula, so a case cannot pass by
//! being noisy: a 5% error in the simulator fails every case.

use topolab_model::{Limits, load_str_with};
use topolab_sim::{Figures, Options, simulate};

const REPLICATIONS: u64 = 8;

fn sim(yaml: &str, seed: u64) -> Figures {
    let loaded =
        load_str_with("test.yaml", yaml, &[], Limits::SIMULATION).unwrap_or_else(|e| panic!("{e}"));
    let opts = Options {
        seed,
        hop_cost: 0,
        telemetry: false,
        ..Options::default()
    };
    simulate(&loaded.topology, &opts).expect("simulates")
}

/// Mean and standard error of `f` over independent replications.
fn replicate(yaml: &str, f: impl Fn(&Figures) -> f64) -> (f64, f64) {
    let xs: Vec<f64> = (0..REPLICATIONS).map(|s| f(&sim(yaml, 1000 + s))).collect();
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

fn assert_close(what: &str, (mean, se): (f64, f64), want: f64) {
    assert!(
        se < 0.01 * want.abs(),
        "{what}: too noisy to judge, se {se} for {want}"
    );
    eprintln!("{what}: simulated {mean:.4} ± {se:.4}, theory {want:.4}");
    let tol = 4.0 * se + 0.005 * want.abs();
    assert!(
        (mean - want).abs() <= tol,
        "{what}: simulated {mean:.4} ± {se:.4}, theory {want:.4} (tolerance {tol:.4})"
    );
}

fn mean_ms(f: &Figures) -> f64 {
    f.load[0].latency_us.mean() / 1e3
}

fn p99_ms(f: &Figures) -> f64 {
    f.load[0].latency_us.value_at_quantile(0.99) as f64 / 1e3
}

fn one_server(workers: u32, queue: &str, work: &str, rate: f64) -> String {
    format!(
        "name: q\nservices:\n  s:\n    workers: {workers}\n    queue: {queue}\n    endpoints:\n      E:\n        steps:\n          - work: {work}\nload:\n  g:\n    target: s/E\n    rate: {rate}/s\n    duration: 1500s\n    timeout: 60s\n"
    )
}

#[test]
fn mm1_mean_and_p99_sojourn() {
    // λ = 60/s, μ = 100/s: sojourn is exponential with rate μ − λ = 40/s.
    let yaml = one_server(1, "unbounded", "exp(10ms)", 60.0);
    assert_close("M/M/1 mean", replicate(&yaml, mean_ms), 1e3 / 40.0);
    assert_close(
        "M/M/1 p99",
        replicate(&yaml, p99_ms),
        1e3 * 100f64.ln() / 40.0,
    );
}

#[test]
fn md1_mean_sojourn() {
    // Pollaczek–Khinchine: Wq = ρ / (2μ(1 − ρ)), ρ = 0.6, service 8 ms.
    let yaml = one_server(1, "unbounded", "8ms", 75.0);
    let (rho, s) = (0.6, 8.0);
    let want = s + rho * s / (2.0 * (1.0 - rho));
    assert_close("M/D/1 mean", replicate(&yaml, mean_ms), want);
}

#[test]
fn mmc_erlang_c() {
    // c = 4 workers, service exp(40ms), λ = 70/s: a = λ/μ = 2.8, ρ = 0.7.
    let yaml = one_server(4, "unbounded", "exp(40ms)", 70.0);
    let (c, a, mu) = (4.0_f64, 2.8_f64, 25.0_f64);
    let rho = a / c;
    let fact = |n: u32| (1..=n).map(f64::from).product::<f64>();
    let sum: f64 = (0..4).map(|k| a.powi(k as i32) / fact(k)).sum();
    let tail = a.powi(4) / fact(4) / (1.0 - rho);
    let erlang_c = tail / (sum + tail);
    let wq = erlang_c / (c * mu - 70.0);
    let want = 1e3 * (wq + 1.0 / mu);
    assert_close("M/M/4 mean", replicate(&yaml, mean_ms), want);
}

#[test]
fn mm1k_blocking_probability() {
    // K = 1 worker + 4 queued = 5, ρ = 1.2: P(block) = (1−ρ)ρ^K / (1−ρ^(K+1)).
    let yaml = one_server(1, "4", "exp(10ms)", 120.0);
    let (rho, k) = (1.2_f64, 5);
    let want = (1.0 - rho) * rho.powi(k) / (1.0 - rho.powi(k + 1));
    let share = |f: &Figures| f.load[0].rejected as f64 / f.load[0].sent as f64;
    assert_close("M/M/1/5 blocking", replicate(&yaml, share), want);
}

#[test]
fn jackson_tandem() {
    // a (async: its worker is free while it waits on b) then b; each an
    // M/M/1 by Burke's theorem, so the sojourn is the sum of the two.
    let yaml = "name: tandem\nservices:\n  a:\n    model: async\n    workers: 1\n    queue: unbounded\n    endpoints:\n      E:\n        steps:\n          - work: exp(10ms)\n          - call: b/E\n            timeout: 60s\n  b:\n    workers: 1\n    queue: unbounded\n    endpoints:\n      E:\n        steps:\n          - work: exp(8ms)\nload:\n  g:\n    target: a/E\n    rate: 60/s\n    duration: 1500s\n    timeout: 60s\n";
    let want = 1e3 * (1.0 / (100.0 - 60.0) + 1.0 / (125.0 - 60.0));
    assert_close("tandem mean", replicate(yaml, mean_ms), want);
}

#[test]
fn closed_loop_exact_mva() {
    // 10 clients thinking exp(50ms) in front of one exp(10ms) server.
    let yaml = "name: closed\nservices:\n  s:\n    workers: 1\n    queue: unbounded\n    endpoints:\n      E:\n        steps:\n          - work: exp(10ms)\nload:\n  g:\n    target: s/E\n    clients: 10\n    think: exp(50ms)\n    duration: 1500s\n    timeout: 60s\n";
    let (s, z) = (0.010, 0.050);
    let (mut q, mut r, mut x) = (0.0, 0.0, 0.0);
    for n in 1..=10 {
        r = s * (1.0 + q);
        x = f64::from(n) / (z + r);
        q = x * r;
    }
    assert_close("MVA response", replicate(yaml, mean_ms), r * 1e3);
    let throughput = |f: &Figures| f.load[0].ok as f64 / 1500.0;
    assert_close("MVA throughput", replicate(yaml, throughput), x);
}

#[test]
fn round_robin_split_is_erlang2_per_replica() {
    // Poisson 120/s dealt in turn to 2 replicas: each sees Erlang-2 gaps
    // (mean 1/60 s), an E2/M/1 queue. GI/M/1: σ = A*(μ(1 − σ)), W = 1/(μ(1 − σ)).
    let yaml = "name: split\nservices:\n  s:\n    replicas: 2\n    workers: 1\n    queue: unbounded\n    endpoints:\n      E:\n        steps:\n          - work: exp(10ms)\nload:\n  g:\n    target: s/E\n    rate: 120/s\n    duration: 1500s\n    timeout: 60s\n";
    let mu = 100.0_f64;
    let mut sigma = 0.5_f64;
    for _ in 0..200 {
        sigma = (120.0 / (120.0 + mu * (1.0 - sigma))).powi(2);
    }
    let want = 1e3 / (mu * (1.0 - sigma));
    assert_close("E2/M/1 mean", replicate(yaml, mean_ms), want);
    let f = sim(yaml, 7);
    let per = &f.endpoints[0][0].per_replica;
    assert!(per[0].abs_diff(per[1]) <= 1, "round robin split {per:?}");
}
