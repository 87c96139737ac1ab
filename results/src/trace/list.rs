//! Lists of traces: the slowest N (end to end) and the failed ones, one line
//! each with the id to pass to `topolab trace --id`.

use std::fmt::Write;

use super::span::{Trace, code_name, ms};

/// The `n` slowest traces, slowest first.
pub fn slowest(traces: &[Trace], n: usize) -> Vec<&Trace> {
    let mut v: Vec<&Trace> = traces.iter().collect();
    v.sort_by_key(|t| std::cmp::Reverse(t.duration_ns()));
    v.truncate(n);
    v
}

/// Traces in which some span failed, in start order.
pub fn failed(traces: &[Trace]) -> Vec<&Trace> {
    traces.iter().filter(|t| t.is_error()).collect()
}

/// One line per trace: id, when it started in the run, duration, outcome,
/// the first failing hop and why it failed, its size.
pub fn render(title: &str, traces: &[&Trace], run_start_ns: u64) -> String {
    let mut out = format!("{title}\n");
    let _ = writeln!(
        out,
        "{:<32}  {:>9}  {:>9}  {:<18} {:>5}  {:<22}  first failure",
        "trace id", "at s", "dur ms", "status", "spans", "request"
    );
    for t in traces {
        let first_error = t
            .spans
            .iter()
            .filter(|s| s.is_error())
            .max_by_key(|s| s.start_ns)
            .map(|s| match s.reason() {
                "" => format!("{} {} ({})", s.process, s.name, s.code_name()),
                why => format!("{} {} ({}: {why})", s.process, s.name, s.code_name()),
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<32}  {:>9.3}  {:>9.3}  {:<18} {:>5}  {:<22}  {}",
            t.id,
            (t.start_ns().saturating_sub(run_start_ns)) as f64 / 1e9,
            ms(t.duration_ns()),
            code_name(t.code()),
            t.spans.len(),
            t.root().map_or("?", |r| r.name.as_str()),
            first_error,
        );
    }
    if traces.is_empty() {
        out.push_str("(none)\n");
    }
    out
}
