//! One request chain in the compact form a page embeds: its spans in the
//! waterfall's order (depth first), each a short array, times in whole µs
//! from the chain's start. The report holds one per drawn dot, so the form
//! is terse: the page's own script is its only reader (`chain.js`).

use serde::Serialize;

use super::span::{Kind, Trace};
use super::tree::Tree;

/// A chain: its spans, parents before children.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chain(pub Vec<Hop>);

/// One span, serialised as an array:
/// `[depth, process, role, name, start µs, duration µs, queue µs, work µs,
/// held µs, code, reason, attempt, critical, parent]`. A parent of -1 is a
/// root; queue, work and held are -1 where the span does not say (CLIENT
/// spans, outside SDKs). `code` is the gRPC code's name, `OK` included.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hop(
    pub usize,
    pub String,
    pub &'static str,
    pub String,
    pub u64,
    pub u64,
    pub i64,
    pub i64,
    pub i64,
    pub &'static str,
    pub String,
    pub i64,
    pub bool,
    pub i64,
);

/// A span's optional figure in whole µs, or -1.
fn us(ns: Option<u64>) -> i64 {
    ns.map_or(-1, |n| (n / 1_000) as i64)
}

impl Chain {
    /// The chain of `trace`, laid out as its waterfall.
    pub fn of(trace: &Trace) -> Chain {
        let tree = Tree::new(trace);
        let critical = tree.critical_path();
        let t0 = trace.start_ns();
        let order = tree.depth_first();
        let row_of = |span: usize| order.iter().position(|&(i, _)| i == span);
        let hops = order
            .iter()
            .map(|&(i, depth)| {
                let s = &trace.spans[i];
                let parent = s
                    .parent_id
                    .as_ref()
                    .and_then(|p| trace.spans.iter().position(|o| &o.span_id == p))
                    .and_then(row_of)
                    .map_or(-1, |r| r as i64);
                Hop(
                    depth,
                    s.process.clone(),
                    s.kind.role(),
                    s.name.clone(),
                    (s.start_ns - t0) / 1_000,
                    s.duration_ns() / 1_000,
                    us(s.queue_ns.filter(|_| s.kind == Kind::Server)),
                    us(s.work_ns.filter(|_| s.kind == Kind::Server)),
                    us(s.held_ns),
                    s.code_name(),
                    if s.is_error() {
                        s.reason().to_string()
                    } else {
                        String::new()
                    },
                    s.attempt.unwrap_or(0),
                    critical.contains(&i),
                    parent,
                )
            })
            .collect();
        Chain(hops)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::span::Span;
    use super::*;

    fn span(id: &str, parent: Option<&str>, kind: Kind, start: u64, end: u64) -> Span {
        Span {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_id: parent.map(String::from),
            name: id.into(),
            kind,
            service: "s".into(),
            process: format!("{id}#0"),
            endpoint: None,
            callee: None,
            callee_replica: None,
            attempt: Some(1),
            start_ns: start,
            end_ns: end,
            code: if id == "db" { 8 } else { 0 },
            message: "ResourceExhausted: db#0 queue full (4/4)".into(),
            queue_ns: Some(2_000_000),
            work_ns: Some(1_000_000),
            downstream_ns: Some(0),
            held_ns: None,
            attributes: BTreeMap::new(),
        }
    }

    #[test]
    fn a_chain_lists_hops_depth_first_with_parents_roles_and_reasons() {
        let t = Trace::new(
            "t".into(),
            vec![
                span("load", None, Kind::Client, 1_000_000, 9_000_000),
                span("web", Some("load"), Kind::Server, 1_500_000, 8_500_000),
                span("db", Some("web"), Kind::Server, 2_000_000, 3_000_000),
            ],
        );
        let Chain(hops) = Chain::of(&t);
        assert_eq!(hops.len(), 3);
        assert_eq!(
            (hops[0].0, hops[0].2, hops[0].13, hops[0].6),
            (0, "client", -1, -1)
        );
        assert_eq!(
            (hops[1].0, hops[1].4, hops[1].5, hops[1].6, hops[1].13),
            (1, 500, 7_000, 2_000, 0)
        );
        assert_eq!(
            (hops[2].9, hops[2].10.as_str(), hops[2].13),
            ("RESOURCE_EXHAUSTED", "db#0 queue full (4/4)", 1)
        );
        assert!(
            hops[0].12 && hops[1].12,
            "the root and what it waited on are critical"
        );
        let json = serde_json::to_string(&Chain::of(&t)).unwrap();
        assert!(json.starts_with("[[0,\"load#0\",\"client\""), "{json}");
    }
}
