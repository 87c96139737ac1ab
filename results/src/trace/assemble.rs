//! Spans into whole traces while streaming: a trace stays open until no span
//! of it has come for a few lines (the writer puts a trace's spans on one
//! line, and late ones shortly after), and at most [`MAX_OPEN_SPANS`] spans
//! are held, so reading a file of gigabytes takes bounded memory.

use std::collections::HashMap;
use std::path::Path;

use super::load::{TraceError, file, for_each_line, spans_of};
use super::span::{Span, Trace};

/// Lines a trace stays open after the last line that held one of its spans.
const QUIET_LINES: u64 = 8;
/// Spans held in open traces at most; past this the traces touched longest
/// ago are closed early (a straggler of one then reads as a second, partial
/// trace with the same id).
pub const MAX_OPEN_SPANS: usize = 200_000;

struct Open {
    last_line: u64,
    spans: Vec<Span>,
}

/// Groups streamed spans by trace id and hands each trace over once closed.
struct Assembler<F: FnMut(Trace)> {
    open: HashMap<String, Open>,
    spans: usize,
    emit: F,
}

impl<F: FnMut(Trace)> Assembler<F> {
    fn new(emit: F) -> Self {
        Assembler {
            open: HashMap::new(),
            spans: 0,
            emit,
        }
    }

    fn line(&mut self, line: u64, spans: Vec<Span>) {
        for s in spans {
            let open = self.open.entry(s.trace_id.clone()).or_insert(Open {
                last_line: line,
                spans: Vec::new(),
            });
            open.last_line = line;
            open.spans.push(s);
            self.spans += 1;
        }
        let quiet: Vec<String> = self
            .open
            .iter()
            .filter(|(_, o)| o.last_line + QUIET_LINES <= line)
            .map(|(id, _)| id.clone())
            .collect();
        quiet.into_iter().for_each(|id| self.close(&id));
        if self.spans > MAX_OPEN_SPANS {
            let mut by_age: Vec<(u64, String)> = self
                .open
                .iter()
                .map(|(id, o)| (o.last_line, id.clone()))
                .collect();
            by_age.sort_unstable();
            for (_, id) in by_age {
                if self.spans <= MAX_OPEN_SPANS / 2 {
                    break;
                }
                self.close(&id);
            }
        }
    }

    fn close(&mut self, id: &str) {
        if let Some((id, open)) = self.open.remove_entry(id) {
            self.spans -= open.spans.len();
            (self.emit)(Trace::new(id, open.spans));
        }
    }

    fn finish(mut self) {
        let mut rest: Vec<(u64, String)> = self
            .open
            .iter()
            .map(|(id, o)| (o.last_line, id.clone()))
            .collect();
        rest.sort_unstable();
        for (_, id) in rest {
            self.close(&id);
        }
    }
}

/// Calls `each` with every trace of `run_dir`, streamed: memory stays
/// bounded however large the file, and traces come in roughly file order.
pub fn for_each_trace(run_dir: &Path, each: impl FnMut(Trace)) -> Result<(), TraceError> {
    let path = file(run_dir)?;
    let mut asm = Assembler::new(each);
    for_each_line(&path, |line, spans| asm.line(line, spans))?;
    asm.finish();
    Ok(())
}

/// Every trace in `run_dir`, in start order, all held at once: for tests
/// and small runs; `topolab trace` and the report stream instead.
pub fn load(run_dir: &Path) -> Result<Vec<Trace>, TraceError> {
    let mut traces = Vec::new();
    for_each_trace(run_dir, |t| traces.push(t))?;
    traces.sort_by_key(Trace::start_ns);
    Ok(traces)
}

/// Traces from OTLP/JSON text: JSON Lines of `TracesData` (a single
/// `ExportTraceServiceRequest` is one such line), sorted by start.
pub fn parse(text: &str) -> Result<Vec<Trace>, serde_json::Error> {
    let mut traces = Vec::new();
    let mut asm = Assembler::new(|t| traces.push(t));
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut spans = Vec::new();
        spans_of(serde_json::from_str(line)?, &mut |s| spans.push(s));
        asm.line(i as u64 + 1, spans);
    }
    asm.finish();
    traces.sort_by_key(Trace::start_ns);
    Ok(traces)
}

#[cfg(test)]
mod tests {
    use super::super::span::Kind;
    use super::*;

    #[test]
    fn reads_otlp_json_from_other_producers() {
        // Ints as numbers or strings, ids in hex, an ERROR status without a
        // gRPC code: all valid OTLP/JSON.
        let text = r#"{"resourceSpans":[{"resource":{"attributes":[
            {"key":"service.name","value":{"stringValue":"api"}}]},
          "scopeSpans":[{"spans":[
            {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7",
             "name":"GET /","kind":2,"startTimeUnixNano":"1000","endTimeUnixNano":3000,
             "status":{"code":2,"message":"boom"},
             "attributes":[{"key":"topolab.queue_wait_ns","value":{"intValue":5}}]},
            {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"1111111111111111",
             "parentSpanId":"00f067aa0ba902b7","name":"db","kind":3,
             "startTimeUnixNano":"1500","endTimeUnixNano":"2500"}]}]}]}"#
            .replace('\n', " ");
        let traces = parse(&text).unwrap();
        assert_eq!(traces.len(), 1);
        let t = &traces[0];
        assert_eq!(t.root().unwrap().name, "GET /");
        assert_eq!(t.root().unwrap().code, 2);
        assert_eq!(t.root().unwrap().process, "api");
        assert_eq!(t.root().unwrap().queue_ns, Some(5));
        assert_eq!(t.spans[1].kind, Kind::Client);
        assert_eq!(t.duration_ns(), 2000);
        assert!(t.is_error());
    }

    fn line(trace: u8, span: u8, parent: Option<u8>, start: u64) -> String {
        let parent = parent.map_or(String::new(), |p| {
            format!(r#""parentSpanId":"{:016x}","#, p)
        });
        format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"{trace:032x}","spanId":"{span:016x}",{parent}"name":"s","kind":2,"startTimeUnixNano":"{start}","endTimeUnixNano":"{}"}}]}}]}}]}}"#,
            start + 10
        )
    }

    #[test]
    fn spans_of_one_trace_on_nearby_lines_join_and_far_ones_do_not() {
        let mut lines = vec![line(1, 1, None, 100), line(2, 5, None, 50)];
        lines.push(line(1, 2, Some(1), 101));
        // Trace 2 gets a straggler long after it closed: read as a second part.
        lines.extend((0..QUIET_LINES).map(|i| line(3, 9 + i as u8, None, 200)));
        lines.push(line(2, 6, Some(5), 51));
        let traces = parse(&lines.join("\n")).unwrap();
        let sizes: Vec<(String, usize)> = traces
            .iter()
            .map(|t| (t.id[30..].to_string(), t.spans.len()))
            .collect();
        assert_eq!(
            sizes,
            [
                ("02", 1),
                ("02", 1),
                ("01", 2),
                ("03", QUIET_LINES as usize)
            ]
            .map(|(a, b)| (a.to_string(), b))
        );
    }
}
