//! Lists of traces: the slowest N (end to end) and the failed ones, one line
//! each with the id to pass to `topolab trace --id`; [`Slowest`] and
//! [`Failed`] keep them while traces stream past, in bounded memory.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fmt::Write;

use super::span::{Trace, code_name};
use crate::units::ms_from_ns as ms;

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

/// A trace ordered by its duration (then id), for the heap of the slowest.
struct ByDuration(Trace);

impl ByDuration {
    fn key(&self) -> (u64, &str) {
        (self.0.duration_ns(), &self.0.id)
    }
}

impl PartialEq for ByDuration {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for ByDuration {}
impl PartialOrd for ByDuration {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByDuration {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// The `n` slowest traces of a stream, holding only those `n`.
pub struct Slowest {
    n: usize,
    heap: BinaryHeap<Reverse<ByDuration>>,
}

impl Slowest {
    /// Keeps the `n` slowest.
    pub fn new(n: usize) -> Self {
        Slowest {
            n,
            heap: BinaryHeap::with_capacity(n + 1),
        }
    }

    /// Offers one trace.
    pub fn add(&mut self, t: &Trace) {
        if self.n == 0 {
            return;
        }
        if self.heap.len() == self.n {
            let fastest = self.heap.peek().map(|r| r.0.0.duration_ns()).unwrap_or(0);
            if t.duration_ns() <= fastest {
                return;
            }
            self.heap.pop();
        }
        self.heap.push(Reverse(ByDuration(t.clone())));
    }

    /// The slowest, slowest first.
    pub fn into_vec(self) -> Vec<Trace> {
        let mut v: Vec<Trace> = self.heap.into_iter().map(|r| r.0.0).collect();
        v.sort_by_key(|t| Reverse(t.duration_ns()));
        v
    }
}

/// The failed traces of a stream: all counted, the first `keep` held.
pub struct Failed {
    keep: usize,
    /// How many traces failed.
    pub count: u64,
    held: Vec<Trace>,
}

impl Failed {
    /// Holds at most `keep` failed traces (the rest are only counted).
    pub fn new(keep: usize) -> Self {
        Failed {
            keep,
            count: 0,
            held: Vec::new(),
        }
    }

    /// Offers one trace.
    pub fn add(&mut self, t: &Trace) {
        if !t.is_error() {
            return;
        }
        self.count += 1;
        if self.held.len() < self.keep {
            self.held.push(t.clone());
        }
    }

    /// The failed traces held, in start order.
    pub fn into_vec(self) -> Vec<Trace> {
        let mut v = self.held;
        v.sort_by_key(Trace::start_ns);
        v
    }
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

#[cfg(test)]
mod tests {
    use super::super::span::{Kind, Span};
    use super::*;

    fn trace(id: &str, dur: u64, code: i64) -> Trace {
        let span = Span {
            trace_id: id.into(),
            span_id: "1".into(),
            parent_id: None,
            name: "x".into(),
            kind: Kind::Client,
            service: "load".into(),
            process: "load/x".into(),
            endpoint: None,
            callee: None,
            callee_replica: None,
            attempt: None,
            start_ns: 100,
            end_ns: 100 + dur,
            code,
            message: String::new(),
            queue_ns: None,
            work_ns: None,
            downstream_ns: None,
            attributes: Default::default(),
        };
        Trace::new(id.into(), vec![span])
    }

    #[test]
    fn streaming_lists_hold_only_what_they_show() {
        let mut slow = Slowest::new(2);
        let mut failed = Failed::new(1);
        for (i, d) in [5, 9, 1, 7, 3].into_iter().enumerate() {
            let t = trace(&i.to_string(), d, i64::from(d == 1 || d == 3));
            slow.add(&t);
            failed.add(&t);
        }
        let ids: Vec<String> = slow.into_vec().into_iter().map(|t| t.id).collect();
        assert_eq!(ids, ["1", "3"]);
        assert_eq!(failed.count, 2);
        assert_eq!(failed.into_vec().len(), 1);
    }
}
