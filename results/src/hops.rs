//! Where a request's time went, hop by hop, from the run's traces (streamed):
//! per service, the mean of its SERVER spans' queue wait, work, time waiting
//! on downstream calls, and the rest (gRPC, scheduling), as the replicas
//! recorded them in the `topolab.*_ns` attributes.

use std::collections::BTreeMap;

use crate::trace::{Span, Trace};

/// One service's mean split, in milliseconds per request it served.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HopSplit {
    pub spans: u64,
    pub queue_ms: f64,
    pub work_ms: f64,
    pub downstream_ms: f64,
    pub other_ms: f64,
}

/// The split of every service with topolab SERVER spans (those carrying the
/// queue/work/downstream attributes), read through the one trace reader.
pub fn split(traces: &[Trace]) -> BTreeMap<String, HopSplit> {
    let mut sums = HopSums::default();
    for span in traces.iter().flat_map(|t| &t.spans) {
        sums.add(span);
    }
    sums.finish()
}

/// The split accumulated span by span while traces stream past: memory
/// grows with the number of services, not of spans.
#[derive(Debug, Default)]
pub struct HopSums(BTreeMap<String, (u64, [f64; 4])>);

impl HopSums {
    /// Takes one span; only SERVER spans with topolab's split count.
    pub fn add(&mut self, span: &Span) {
        let Some(queue) = span.queue_ns else {
            return;
        };
        let (work, down) = (span.work_ns.unwrap_or(0), span.downstream_ns.unwrap_or(0));
        let other = span.duration_ns().saturating_sub(queue + work + down);
        let e = self.0.entry(span.service.clone()).or_default();
        e.0 += 1;
        for (s, x) in e.1.iter_mut().zip([queue, work, down, other]) {
            *s += x as f64;
        }
    }

    /// The mean split per service.
    pub fn finish(self) -> BTreeMap<String, HopSplit> {
        finish(self.0)
    }
}

fn finish(sums: BTreeMap<String, (u64, [f64; 4])>) -> BTreeMap<String, HopSplit> {
    sums.into_iter()
        .map(|(svc, (n, s))| {
            let mean = |x: f64| x / n as f64 / 1e6;
            (
                svc,
                HopSplit {
                    spans: n,
                    queue_ms: mean(s[0]),
                    work_ms: mean(s[1]),
                    downstream_ms: mean(s[2]),
                    other_ms: mean(s[3]),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_server_spans_per_service() {
        let text = r#"{"resourceSpans":[{"resource":{"attributes":[
            {"key":"service.name","value":{"stringValue":"db"}}]},
          "scopeSpans":[{"spans":[
            {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7",
             "name":"db/Q","kind":2,"startTimeUnixNano":"1000000","endTimeUnixNano":"11000000",
             "attributes":[
               {"key":"topolab.queue_wait_ns","value":{"intValue":"2000000"}},
               {"key":"topolab.work_ns","value":{"intValue":7000000}},
               {"key":"topolab.downstream_ns","value":{"intValue":"0"}}]},
            {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"1111111111111111",
             "parentSpanId":"00f067aa0ba902b7","name":"call","kind":3,
             "startTimeUnixNano":"0","endTimeUnixNano":"5"}]}]}]}"#
            .replace('\n', " ");
        let s = split(&crate::trace::parse(&text).unwrap());
        assert_eq!(s.len(), 1);
        let db = &s["db"];
        assert_eq!(db.spans, 1);
        assert!((db.queue_ms - 2.0).abs() < 1e-9 && (db.work_ms - 7.0).abs() < 1e-9);
        assert!((db.other_ms - 1.0).abs() < 1e-9);
    }
}
