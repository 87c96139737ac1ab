//! The summary a person reads at the end of a run: one table for the load as
//! the askers saw it, one for each service endpoint as the answerers saw it.

use std::fmt::Write;

use crate::summary::Summary;

/// Renders the summary as aligned plain-text tables.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{} — seed {}, {:.1} s, {} process{}{}",
        s.topology,
        s.seed,
        s.duration_s,
        s.processes,
        if s.processes == 1 { "" } else { "es" },
        if s.interrupted { " (interrupted)" } else { "" }
    );
    if !s.load.is_empty() {
        let mut rows = vec![row(&[
            "load",
            "target",
            "sent",
            "ok",
            "rejected",
            "timeouts",
            "errors",
            "offered/s",
            "ok/s",
            "p50 ms",
            "p99 ms",
            "max ms",
        ])];
        for (name, l) in &s.load {
            let errors: u64 = l.errors.values().sum();
            rows.push(vec![
                name.clone(),
                l.target.clone(),
                l.sent.to_string(),
                l.ok.to_string(),
                l.rejected.to_string(),
                l.timeouts.to_string(),
                errors.to_string(),
                format!("{:.2}", l.offered_rate),
                format!("{:.2}", l.throughput),
                ms(l.latency_ms.p50),
                ms(l.latency_ms.p99),
                ms(l.latency_ms.max),
            ]);
        }
        out.push('\n');
        out.push_str(&align(&rows));
    }
    let mut rows = vec![row(&[
        "service/endpoint",
        "replicas",
        "requests",
        "ok",
        "rejected",
        "errors",
        "max queue",
        "p50 ms",
        "p99 ms",
        "queue p50",
        "queue p99",
        "work mean",
    ])];
    for (name, svc) in &s.services {
        for (ep, e) in &svc.endpoints {
            let errors: u64 = e.errors.values().sum();
            rows.push(vec![
                format!("{name}/{ep}"),
                svc.replicas.to_string(),
                e.requests.to_string(),
                e.ok.to_string(),
                e.rejected.to_string(),
                errors.to_string(),
                e.max_queue.to_string(),
                ms(e.latency_ms.p50),
                ms(e.latency_ms.p99),
                ms(e.queue_wait_ms.p50),
                ms(e.queue_wait_ms.p99),
                ms(e.work_ms.mean),
            ]);
        }
    }
    out.push('\n');
    out.push_str(&align(&rows));
    if !s.cascade.text.is_empty() {
        let _ = writeln!(out, "\ncascade: {}", s.cascade.text);
    }
    out
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// Left-aligns the first column, right-aligns the numbers.
fn align(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            let w = widths[c];
            if c == 0 || (c == 1 && cell.contains('/')) {
                let _ = write!(out, "{cell:<w$}  ");
            } else {
                let _ = write!(out, "{cell:>w$}  ");
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    out
}
