//! Traces as a Chrome trace-event file (the JSON that Perfetto and
//! chrome://tracing open): one process track per OS process, each span a
//! complete ("X") event. Spans of concurrent requests in one process overlap
//! without nesting, which one track cannot show, so each process's spans are
//! packed into as few lanes (threads) as keep every lane properly nested.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::span::{Span, Trace};

/// The trace-event JSON for `traces`.
pub fn render(traces: &[&Trace]) -> Value {
    let t0 = traces.iter().map(|t| t.start_ns()).min().unwrap_or(0);
    let mut by_process: BTreeMap<&str, Vec<&Span>> = BTreeMap::new();
    for s in traces.iter().flat_map(|t| &t.spans) {
        by_process.entry(s.process.as_str()).or_default().push(s);
    }
    let mut events = Vec::new();
    for (pid, (process, mut spans)) in by_process.into_iter().enumerate() {
        let pid = pid + 1;
        events.push(json!({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": process}}));
        spans.sort_by_key(|s| (s.start_ns, std::cmp::Reverse(s.end_ns)));
        // Each lane is a stack of the ends of its open spans.
        let mut lanes: Vec<Vec<u64>> = Vec::new();
        for s in spans {
            let lane = place(&mut lanes, s.start_ns, s.end_ns);
            events.push(json!({
                "ph": "X",
                "name": s.name,
                "cat": s.kind.role(),
                "pid": pid,
                "tid": lane + 1,
                "ts": (s.start_ns - t0.min(s.start_ns)) as f64 / 1e3,
                "dur": s.duration_ns() as f64 / 1e3,
                "args": {
                    "trace": s.trace_id,
                    "span": s.span_id,
                    "role": s.kind.role(),
                    "status": s.code_name(),
                    "queue_wait_ms": s.queue_ns.map(|v| v as f64 / 1e6),
                    "work_ms": s.work_ns.map(|v| v as f64 / 1e6),
                    "downstream_ms": s.downstream_ns.map(|v| v as f64 / 1e6),
                    "callee": s.callee,
                },
            }));
        }
        for lane in 0..lanes.len() {
            events.push(json!({"ph": "M", "name": "thread_name", "pid": pid, "tid": lane + 1, "args": {"name": format!("lane {}", lane + 1)}}));
        }
    }
    json!({"traceEvents": events, "displayTimeUnit": "ms"})
}

/// The first lane where `[start, end)` nests inside what is open, or a new one.
fn place(lanes: &mut Vec<Vec<u64>>, start: u64, end: u64) -> usize {
    for (i, stack) in lanes.iter_mut().enumerate() {
        while stack.last().is_some_and(|&e| e <= start) {
            stack.pop();
        }
        if stack.last().is_none_or(|&e| e >= end) {
            stack.push(end);
            return i;
        }
    }
    lanes.push(vec![end]);
    lanes.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_spans_get_lanes_nested_ones_share() {
        let mut lanes = Vec::new();
        assert_eq!(place(&mut lanes, 0, 100), 0);
        assert_eq!(place(&mut lanes, 10, 50), 0); // nested
        assert_eq!(place(&mut lanes, 40, 120), 1); // overlaps both, nests in neither
        assert_eq!(place(&mut lanes, 130, 140), 0); // all ended
    }
}
