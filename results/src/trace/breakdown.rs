//! Where the time went across all traces: for every service and endpoint,
//! the mean and p99 of its SERVER spans' queue wait, work and downstream
//! wait (and of the whole span), so a cascade shows as queue time growing
//! where a slow callee holds workers.

use std::collections::BTreeMap;
use std::fmt::Write;

use hdrhistogram::Histogram;

use super::span::{Kind, Span, Trace};
use crate::units::ms_from_ns as ms;

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

/// One figure's distribution, in constant memory: the exact sum for the mean
/// and a histogram (three significant digits) for the p99.
#[derive(Debug, Clone)]
struct Dist {
    sum: u128,
    hist: Histogram<u64>,
}

impl Default for Dist {
    fn default() -> Self {
        Dist {
            sum: 0,
            // Three significant digits, auto-resizing: cannot fail.
            hist: Histogram::new(3).expect("3 significant digits is valid"),
        }
    }
}

impl Dist {
    fn add(&mut self, ns: u64) {
        self.sum += u128::from(ns);
        // Auto-resizing: recording cannot fail for a u64.
        let _ = self.hist.record(ns);
    }

    fn stat(&self) -> Stat {
        let n = self.hist.len();
        if n == 0 {
            return Stat::default();
        }
        Stat {
            mean: self.sum as f64 / n as f64 / 1e6,
            p99: ms(self.hist.value_at_quantile(0.99)),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Acc {
    errors: usize,
    total: Dist,
    queue: Dist,
    work: Dist,
    downstream: Dist,
}

/// Where the time went, accumulated span by span while the traces stream
/// past: memory grows with the number of endpoints, not of spans.
#[derive(Debug, Clone, Default)]
pub struct Breakdown {
    traces: u64,
    acc: BTreeMap<String, Acc>,
}

impl Breakdown {
    /// Counts a trace and every SERVER span in it.
    pub fn add_trace(&mut self, t: &Trace) {
        self.traces += 1;
        t.spans.iter().for_each(|s| self.add_span(s));
    }

    /// Takes one span: only SERVER spans carrying topolab's split count.
    pub fn add_span(&mut self, s: &Span) {
        if s.kind != Kind::Server {
            return;
        }
        let (Some(q), Some(w), Some(d)) = (s.queue_ns, s.work_ns, s.downstream_ns) else {
            return;
        };
        let endpoint = s.endpoint.as_deref().unwrap_or(&s.name);
        let key = format!("{}/{endpoint}", s.service);
        let a = self.acc.entry(key).or_default();
        a.errors += usize::from(s.is_error());
        a.total.add(s.duration_ns());
        a.queue.add(q);
        a.work.add(w);
        a.downstream.add(d);
    }

    /// Per `service/Endpoint`, the figures so far.
    pub fn hops(&self) -> BTreeMap<String, Hop> {
        self.acc
            .iter()
            .map(|(k, a)| {
                let hop = Hop {
                    spans: a.total.hist.len() as usize,
                    errors: a.errors,
                    total: a.total.stat(),
                    queue: a.queue.stat(),
                    work: a.work.stat(),
                    downstream: a.downstream.stat(),
                };
                (k.clone(), hop)
            })
            .collect()
    }

    /// The table `topolab trace RUN_DIR` prints.
    pub fn render(&self) -> String {
        let hops = self.hops();
        let mut out = format!(
            "where the time went: {} traces; per service/endpoint, its SERVER spans (ms, mean / p99)\n",
            self.traces
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
}

/// Per `service/Endpoint`, from every SERVER span that carries topolab's split.
pub fn by_hop(traces: &[Trace]) -> BTreeMap<String, Hop> {
    of(traces).hops()
}

/// The table `topolab trace RUN_DIR` prints, for traces already in memory.
pub fn render(traces: &[Trace]) -> String {
    of(traces).render()
}

fn of(traces: &[Trace]) -> Breakdown {
    let mut b = Breakdown::default();
    traces.iter().for_each(|t| b.add_trace(t));
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p99_is_nearest_rank_to_three_digits() {
        let mut d = Dist::default();
        (1..=100).for_each(|i| d.add(i * 1_000_000));
        let s = d.stat();
        assert!((s.p99 - 99.0).abs() < 0.1, "{}", s.p99);
        assert!((s.mean - 50.5).abs() < 1e-9);
        assert_eq!(Dist::default().stat(), Stat::default());
    }
}
