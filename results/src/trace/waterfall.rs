//! One trace as a terminal waterfall: the call tree indented, each process
//! and its role at that moment (server while serving, client while calling),
//! a time bar per span on the trace's scale, each SERVER hop's queue / work /
//! downstream shares, and `*` on the critical path.

use std::fmt::Write;

use super::span::{Kind, Span, Trace};
use super::tree::Tree;
use crate::units::ms_from_ns as ms;

/// Width of the time bars, in characters.
const BAR: usize = 40;

/// The waterfall of `trace`, ready to print.
pub fn render(trace: &Trace) -> String {
    let tree = Tree::new(trace);
    let critical = tree.critical_path();
    let (t0, total) = (trace.start_ns(), trace.duration_ns().max(1));
    let mut out = String::new();
    let root = trace.root();
    let _ = writeln!(
        out,
        "trace {}  {}  {:.3} ms  {}  {} spans in {} processes",
        trace.id,
        root.map_or("?", |r| r.name.as_str()),
        ms(trace.duration_ns()),
        super::span::code_name(trace.code()),
        trace.spans.len(),
        trace.processes(),
    );
    if tree.roots().len() > 1 {
        let _ = writeln!(
            out,
            "note: {} roots: some spans' parents are missing from traces.jsonl",
            tree.roots().len()
        );
    }
    let rows: Vec<(String, &Span, bool)> = tree
        .depth_first()
        .into_iter()
        .map(|(i, depth)| {
            let s = &trace.spans[i];
            (label(s, depth), s, critical.contains(&i))
        })
        .collect();
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "  {:<width$}  {:<12} {:<6} {:>9} {:>9}  {:<BAR$}  queue / work / downstream",
        "span",
        "process",
        "role",
        "start ms",
        "dur ms",
        format!("|0{:>w$}|", format!("{:.1} ms", ms(total)), w = BAR - 1),
    );
    for (label, s, on_path) in rows {
        let _ = writeln!(
            out,
            "{} {:<width$}  {:<12} {:<6} {:>9.3} {:>9.3}  |{}|  {}",
            if on_path { '*' } else { ' ' },
            label,
            s.process,
            s.kind.role(),
            ms(s.start_ns.saturating_sub(t0)),
            ms(s.duration_ns()),
            bar(s.start_ns - t0.min(s.start_ns), s.duration_ns(), total),
            detail(s),
        );
    }
    out.push_str("* critical path: the spans the end-to-end time waited on\n");
    out
}

fn label(s: &Span, depth: usize) -> String {
    let indent = "  ".repeat(depth);
    match s.kind {
        Kind::Client => {
            let callee = s.callee.as_deref().unwrap_or(&s.name);
            let attempt = match s.attempt {
                Some(n) if n > 1 => format!(" (attempt {n})"),
                _ => String::new(),
            };
            format!("{indent}→ {callee}{attempt}")
        }
        _ => format!("{indent}{}", s.name),
    }
}

fn bar(offset: u64, dur: u64, total: u64) -> String {
    let cell = |ns: u64| ((ns as f64 / total as f64) * BAR as f64).round() as usize;
    let a = cell(offset).min(BAR);
    let b = cell(offset + dur).clamp(a + 1, BAR.max(a + 1));
    let mut s = " ".repeat(a);
    s.push_str(&"█".repeat(b - a));
    let len = b.max(a);
    if len < BAR {
        s.push_str(&" ".repeat(BAR - len));
    }
    s
}

fn detail(s: &Span) -> String {
    let mut d = String::new();
    if let (Some(q), Some(w), Some(ds)) = (s.queue_ns, s.work_ns, s.downstream_ns) {
        let total = s.duration_ns().max(1) as f64;
        let pct = |x: u64| 100.0 * x as f64 / total;
        let _ = write!(
            d,
            "{:>3.0}% / {:>3.0}% / {:>3.0}%  ({:.2} / {:.2} / {:.2} ms)",
            pct(q),
            pct(w),
            pct(ds),
            ms(q),
            ms(w),
            ms(ds)
        );
    }
    if s.kind == Kind::Client
        && let Some(r) = &s.callee_replica
    {
        let _ = write!(d, "to {r}");
    }
    if s.is_error() {
        let _ = write!(d, "  {}", s.code_name());
        if !s.reason().is_empty() {
            let _ = write!(d, ": {}", s.reason());
        }
    }
    d
}
