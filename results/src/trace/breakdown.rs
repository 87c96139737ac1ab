//! Where the time went across all traces: for every service and endpoint,
//! the mean and p99 of its SERVER spans' queue wait, work and downstream
//! wait (and of the whole span), so a cascade shows as queue time growing
//! where a slow callee holds workers.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::span::{Kind, Trace, ms};

/// The figures of one `service/Endpoint`, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hop {
    pub spans: usize,
    pub errors: usize,
    pub total: Stat,
    pub queue: Stat,
    pub work: Stat,
    pub downstream: Stat,
}

/// Mean and 99th percentile, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stat {
    pub mean: f64,
    pub p99: f64,
}

impl Stat {
    fn of(mut ns: Vec<u64>) -> Self {
        if ns.is_empty() {
            return Stat::default();
        }
        ns.sort_unstable();
        let mean = ns.iter().sum::<u64>() as f64 / ns.len() as f64;
        // Nearest rank: the smallest value with at least 99% at or below it.
        let rank = ((0.99 * ns.len() as f64).ceil() as usize).clamp(1, ns.len());
        Stat {
            mean: mean / 1e6,
            p99: ms(ns[rank - 1]),
        }
    }
}

/// Per `service/Endpoint`, from every SERVER span that carries topolab's split.
pub fn by_hop(traces: &[Trace]) -> BTreeMap<String, Hop> {
    #[derive(Default)]
    struct Acc {
        errors: usize,
        total: Vec<u64>,
        queue: Vec<u64>,
        work: Vec<u64>,
        downstream: Vec<u64>,
    }
    let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
    for s in traces.iter().flat_map(|t| &t.spans) {
        if s.kind != Kind::Server {
            continue;
        }
        let (Some(q), Some(w), Some(d)) = (s.queue_ns, s.work_ns, s.downstream_ns) else {
            continue;
        };
        let endpoint = s.endpoint.as_deref().unwrap_or(&s.name);
        let a = acc.entry(format!("{}/{endpoint}", s.service)).or_default();
        a.errors += usize::from(s.is_error());
        a.total.push(s.duration_ns());
        a.queue.push(q);
        a.work.push(w);
        a.downstream.push(d);
    }
    acc.into_iter()
        .map(|(k, a)| {
            let hop = Hop {
                spans: a.total.len(),
                errors: a.errors,
                total: Stat::of(a.total),
                queue: Stat::of(a.queue),
                work: Stat::of(a.work),
                downstream: Stat::of(a.downstream),
            };
            (k, hop)
        })
        .collect()
}

/// The table `topolab trace RUN_DIR` prints.
pub fn render(traces: &[Trace]) -> String {
    let hops = by_hop(traces);
    let mut out = format!(
        "where the time went: {} traces; per service/endpoint, its SERVER spans (ms, mean / p99)\n",
        traces.len()
    );
    let width = hops.keys().map(String::len).max().unwrap_or(8).max(16);
    let _ = writeln!(
        out,
        "{:<width$}  {:>6} {:>6}  {:>17}  {:>17}  {:>17}  {:>17}",
        "service/endpoint", "spans", "errors", "total", "queue wait", "work", "downstream wait"
    );
    let cell = |s: Stat| format!("{:>7.2} / {:>7.2}", s.mean, s.p99);
    for (name, h) in &hops {
        let _ = writeln!(
            out,
            "{:<width$}  {:>6} {:>6}  {}  {}  {}  {}",
            name,
            h.spans,
            h.errors,
            cell(h.total),
            cell(h.queue),
            cell(h.work),
            cell(h.downstream),
        );
    }
    if hops.is_empty() {
        out.push_str("(no SERVER spans with topolab's queue/work/downstream split)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p99_is_nearest_rank() {
        let s = Stat::of((1..=100).map(|i| i * 1_000_000).collect());
        assert_eq!(s.p99, 99.0);
        assert!((s.mean - 50.5).abs() < 1e-9);
        assert_eq!(Stat::of(vec![]), Stat::default());
    }
}
