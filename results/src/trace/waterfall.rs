//! One trace as a terminal waterfall: the call tree indented, each process
//! and its role at that moment (server while serving, client while calling),
//! a time bar per span on the trace's scale, each SERVER hop's queue / work /
//! downstream shares, and `*` on the critical path. A CLIENT span whose
//! callee answered shows its time on the wire as segments of its own: `░`
//! on the bar before the callee's SERVER span began (the way there) and
//! after it ended (the way back), and both in milliseconds.

use std::collections::HashMap;
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
    let answered: HashMap<&str, &Span> = trace
        .spans
        .iter()
        .filter(|s| s.kind == Kind::Server)
        .filter_map(|s| Some((s.parent_id.as_deref()?, s)))
        .collect();
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
        let server = match s.kind {
            Kind::Client => answered.get(s.span_id.as_str()).copied(),
            _ => None,
        };
        let _ = writeln!(
            out,
            "{} {:<width$}  {:<12} {:<6} {:>9.3} {:>9.3}  |{}|  {}",
            if on_path { '*' } else { ' ' },
            label,
            s.process,
            s.kind.role(),
            ms(s.start_ns.saturating_sub(t0)),
            ms(s.duration_ns()),
            bar(s, server, t0, total),
            detail(s, server),
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

/// The span's bar; a CLIENT span's wire (outside its callee's SERVER
/// span) drawn `░`.
fn bar(span: &Span, server: Option<&Span>, t0: u64, total: u64) -> String {
    let offset = span.start_ns - t0.min(span.start_ns);
    let dur = span.duration_ns();
    let cell = |ns: u64| ((ns as f64 / total as f64) * BAR as f64).round() as usize;
    let a = cell(offset).min(BAR);
    let b = cell(offset + dur).clamp(a + 1, BAR.max(a + 1));
    let inner = server.map(|sv| {
        let at = |ns: u64| cell(ns.saturating_sub(t0)).clamp(a, b);
        (at(sv.start_ns), at(sv.end_ns))
    });
    let mut s = " ".repeat(a);
    for c in a..b {
        let wire = inner.is_some_and(|(x, y)| c < x || c >= y);
        s.push(if wire { '░' } else { '█' });
    }
    let len = b.max(a);
    if len < BAR {
        s.push_str(&" ".repeat(BAR - len));
    }
    s
}

fn detail(s: &Span, server: Option<&Span>) -> String {
    let mut d = String::new();
    if let Some(sv) = server {
        let there = sv.start_ns.saturating_sub(s.start_ns);
        let back = s.end_ns.saturating_sub(sv.end_ns);
        let _ = write!(
            d,
            "wire {:.2} ms ({:.2} there, {:.2} back)  ",
            ms(there + back),
            ms(there),
            ms(back)
        );
    }
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
    d.trim_end().to_string()
}
