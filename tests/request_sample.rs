//! `requests.csv`: a run with more requests than the sample holds keeps an
//! evenly drawn sample of exactly the bound per generator, spread over the
//! whole run, and the report says it shows a sample. Also the 4σ binomial
//! bounds that sample checks (here and in other tests) are held to.

mod common;

use common::tolerance::binomial_range;
use common::{Sandbox, assert_binomial};

#[test]
fn a_long_load_keeps_a_bounded_evenly_drawn_sample() {
    let sb = Sandbox::new();
    let summary = sb.run_yaml(
        "name: busy\nservices:\n  s:\n    workers: 8\n    endpoints:\n      Get: {}\nload:\n  many:\n    target: s/Get\n    rate: 1500/s\n    arrivals: constant\n    duration: 2s\nsettings:\n  trace: 10%\n",
        &["--quiet"],
    );
    let sent = summary["load"]["many"]["sent"].as_u64().unwrap();
    assert!(sent > 2500, "the load outgrew the sample: {sent}");
    let text = std::fs::read_to_string(sb.out().join("requests.csv")).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 2000, "the sample holds its bound, no more");
    let t: Vec<f64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    // Evenly drawn: each row is from the first second (1,500 of the sent
    // requests, at a constant 1500/s) with that request's share of the run.
    let early = t.iter().filter(|t| **t < 1.0).count() as u64;
    assert_binomial(
        "rows from the first second",
        early,
        2000,
        1500.0 / sent as f64,
    );
    // Traced requests carry their trace id (10% are traced).
    let traced = rows.iter().filter(|r| r[4].len() == 32).count() as u64;
    assert_binomial("traced rows", traced, 2000, 0.1);
    let html = std::fs::read_to_string(sb.out().join("report.html")).unwrap();
    assert!(
        html.contains(&format!(
            "Showing 2000 of {sent} requests: an evenly drawn sample"
        )),
        "the report says it draws a sample"
    );
}

#[test]
fn four_sigma_of_a_fair_coin_over_400_is_160_to_240() {
    // σ = √(400 · 0.5 · 0.5) = 10.
    assert_eq!(binomial_range(400, 0.5), 160..=240);
    // 30% over 400: 120 ± 4·√84 = 120 ± 36.7; 40% (160) is outside.
    let r = binomial_range(400, 0.3);
    assert_eq!(r, 83..=157);
    assert!(!r.contains(&160));
}

#[test]
#[should_panic(expected = "raise the sample size")]
fn too_few_trials_are_refused() {
    binomial_range(100, 0.05);
}
