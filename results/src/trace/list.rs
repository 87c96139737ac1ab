//! Lists of traces: the slowest N (end to end) and the failed ones, one line
//! each with the id to pass to `topolab trace --id`; [`Slowest`] and
//! [`Failed`] keep them while traces stream past, in bounded memory.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fmt::Write;

use super::span::{Kind, Trace, code_name};
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

/// One line per trace: id, when it started in the run, its durations on
/// both sides, outcome, the first failing hop and why it failed, its size.
/// A client that gives up does not stop the servers, so the client's
/// duration (its root span: until it had its answer or gave up) and the
/// trace's (until its last span ended) can be far apart: both are shown,
/// each named, and a client that gave up says so.
pub fn render(title: &str, traces: &[&Trace], run_start_ns: u64) -> String {
    let mut out = format!("{title}\n");
    let _ = writeln!(
        out,
        "{:<32}  {:>9}  {:>9}  {:>12}  {:<34} {:>5}  {:<22}  first failure",
        "trace id", "at s", "client ms", "last span ms", "status", "spans", "request"
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
        let start = t.start_ns();
        let client = t
            .root()
            .map_or(t.duration_ns(), |r| r.end_ns.saturating_sub(start));
        let status = if gave_up(t) {
            format!("client gave up ({})", code_name(t.code()))
        } else {
            code_name(t.code()).to_string()
        };
        let _ = writeln!(
            out,
            "{:<32}  {:>9.3}  {:>9.3}  {:>12.3}  {:<34} {:>5}  {:<22}  {}",
            t.id,
            (start.saturating_sub(run_start_ns)) as f64 / 1e9,
            ms(client),
            ms(t.duration_ns()),
            status,
            t.spans.len(),
            t.root().map_or("?", |r| r.name.as_str()),
            first_error,
        );
    }
    if traces.is_empty() {
        out.push_str("(none)\n");
    } else if traces.iter().any(|t| gave_up(t)) {
        out.push_str(
            "client ms: until the client had its answer or gave up; last span ms: until the trace's last span ended (servers work on after their client gives up)\n",
        );
    }
    out
}

/// The client stopped waiting (its deadline passed, or it cancelled)
/// while some span of its request went on.
fn gave_up(t: &Trace) -> bool {
    const CANCELLED: i64 = 1;
    const DEADLINE_EXCEEDED: i64 = 4;
    t.root().is_some_and(|r| {
        r.kind == Kind::Client
            && matches!(r.code, CANCELLED | DEADLINE_EXCEEDED)
            && r.end_ns < t.end_ns()
    })
}

#[cfg(test)]
mod tests {
    use super::super::span::Span;
    use super::*;

    fn trace(id: &str, dur: u64, code: i64) -> Trace {
        Trace::new(
            id.into(),
            vec![span(id, Kind::Client, 100, 100 + dur, code)],
        )
    }

    fn span(id: &str, kind: Kind, start_ns: u64, end_ns: u64, code: i64) -> Span {
        Span {
            trace_id: id.into(),
            span_id: format!("{kind:?}"),
            parent_id: (kind == Kind::Server).then(|| format!("{:?}", Kind::Client)),
            name: "x".into(),
            kind,
            service: "load".into(),
            process: "load/x".into(),
            endpoint: None,
            callee: None,
            callee_replica: None,
            attempt: None,
            start_ns,
            end_ns,
            code,
            message: String::new(),
            queue_ns: None,
            work_ns: None,
            downstream_ns: None,
            held_ns: None,
            attributes: Default::default(),
        }
    }

    #[test]
    fn a_client_that_gave_up_is_told_from_the_servers_that_went_on() {
        const MS: u64 = 1_000_000;
        let t = Trace::new(
            "abandoned".into(),
            vec![
                span("abandoned", Kind::Client, 0, 405 * MS, 4),
                span("abandoned", Kind::Server, MS, 2155 * MS, 0),
            ],
        );
        let text = render("failed", &[&t], 0);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].contains("client ms") && lines[1].contains("last span ms"));
        let row: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            row[..4],
            ["abandoned", "0.000", "405.000", "2155.000"],
            "{text}"
        );
        assert!(
            lines[2].contains("client gave up (DEADLINE_EXCEEDED)"),
            "{text}"
        );
        assert!(text.contains("servers work on after their client gives up"));
        // A client that had its answer: one duration, no such note.
        let answered = trace("answered", 7 * MS, 14);
        let text = render("failed", &[&answered], 0);
        assert!(!text.contains("gave up"), "{text}");
        let row: Vec<&str> = text.lines().nth(2).unwrap().split_whitespace().collect();
        assert_eq!(row[2..5], ["7.000", "7.000", "UNAVAILABLE"], "{text}");
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
