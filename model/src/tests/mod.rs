//! End-to-end tests of `load_str`: the spec's examples, each kind of error
//! with its location and message, warnings, and `--set` overrides.

mod errors;
mod examples;
mod fleet;
mod follow;
mod fuzz;
mod load_shapes;
mod network;
mod overrides;

/// Every error of `text` as (message line, location), e.g.
/// ("error: ...", "t.yaml:5:5").
fn errors_of(text: &str) -> Vec<(String, String)> {
    let report = crate::load_str("t.yaml", text, &[]).expect_err("the topology should be refused");
    report
        .errors
        .iter()
        .map(|e| {
            let mut lines = e.lines();
            let message = lines.next().unwrap_or_default().to_string();
            let at = lines
                .next()
                .unwrap_or_default()
                .trim()
                .trim_start_matches("--> ")
                .to_string();
            (message, at)
        })
        .collect()
}
