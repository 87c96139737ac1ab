//! Spans into whole traces, in a bounded window: a trace is closed once no
//! span of it has come for [`QUIET_SPANS`] spans, and at most
//! [`MAX_OPEN_SPANS`] spans are held (past that the traces touched longest
//! ago are closed early and counted), so a day of traces imports in the
//! memory of a minute.

use std::collections::HashMap;

use topolab_results::trace::Span;

use crate::read::Loc;

/// Spans read since a trace's last span after which it is closed.
pub const QUIET_SPANS: u64 = 20_000;
/// Spans held in open traces at most.
pub const MAX_OPEN_SPANS: usize = 200_000;
/// How often (in spans) quiet traces are looked for.
const SWEEP_EVERY: u64 = 4_096;

/// One span as the inference reads it, with where it was read.
pub type Located = (Span, Loc);

struct Open {
    last: u64,
    spans: Vec<Located>,
}

/// Groups streamed spans by trace id and hands each trace over once closed.
#[derive(Default)]
pub struct Assembler {
    open: HashMap<String, Open>,
    held: usize,
    seen: u64,
    /// Traces closed before they were quiet, because the window was full
    /// (a late span of one reads as a second, partial trace).
    pub closed_early: u64,
}

impl Assembler {
    /// Takes one span; `done` gets every trace this closes.
    pub fn push(&mut self, span: Span, at: Loc, done: &mut dyn FnMut(Vec<Located>)) {
        self.seen += 1;
        let seen = self.seen;
        let open = self
            .open
            .entry(span.trace_id.clone())
            .or_insert_with(|| Open {
                last: seen,
                spans: Vec::new(),
            });
        open.last = seen;
        open.spans.push((span, at));
        self.held += 1;
        if seen.is_multiple_of(SWEEP_EVERY) {
            self.sweep(done);
        }
    }

    fn sweep(&mut self, done: &mut dyn FnMut(Vec<Located>)) {
        let seen = self.seen;
        let mut quiet: Vec<(u64, String)> = self
            .open
            .iter()
            .filter(|(_, o)| o.last + QUIET_SPANS <= seen || self.held > MAX_OPEN_SPANS)
            .map(|(id, o)| (o.last, id.clone()))
            .collect();
        quiet.sort_unstable();
        for (last, id) in quiet {
            let early = last + QUIET_SPANS > seen;
            if early && self.held <= MAX_OPEN_SPANS / 2 {
                break;
            }
            self.closed_early += u64::from(early);
            self.close(&id, done);
        }
    }

    fn close(&mut self, id: &str, done: &mut dyn FnMut(Vec<Located>)) {
        if let Some(open) = self.open.remove(id) {
            self.held -= open.spans.len();
            done(open.spans);
        }
    }

    /// Closes every trace still open, oldest first.
    pub fn finish(&mut self, done: &mut dyn FnMut(Vec<Located>)) {
        let mut rest: Vec<(u64, String)> = self
            .open
            .iter()
            .map(|(id, o)| (o.last, id.clone()))
            .collect();
        rest.sort_unstable();
        for (_, id) in rest {
            self.close(&id, done);
        }
    }
}
