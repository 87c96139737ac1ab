//! `requests.csv`: a run with more requests than the sample holds keeps an
//! evenly drawn sample of exactly the bound per generator, spread over the
//! whole run, and the report says it shows a sample.

mod common;

use common::Sandbox;

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
    // Evenly drawn: both halves of the run are in it, about equally.
    let early = t.iter().filter(|t| **t < 1.0).count();
    assert!(
        (800..=1200).contains(&early),
        "{early} of 2000 in the first second"
    );
    // Traced requests carry their trace id (10% are traced).
    let traced = rows.iter().filter(|r| r[4].len() == 32).count();
    assert!((100..=350).contains(&traced), "{traced} traced of 2000");
    let html = std::fs::read_to_string(sb.out().join("report.html")).unwrap();
    assert!(
        html.contains(&format!(
            "Showing 2000 of {sent} requests: an evenly drawn sample"
        )),
        "the report says it draws a sample"
    );
}
