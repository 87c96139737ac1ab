//! The import summary printed on the terminal: what was read, what the
//! topology holds (services, endpoints, calls, generators), and what was
//! left out and why (unreadable lines, orphan spans, cycles, several
//! roots), with the clock skew seen between services.

use std::fmt::Write as _;

use crate::emit::Written;
use crate::fit::duration;
use crate::infer::Accumulator;
use crate::notes::{Kind, Notes};
use crate::read::Format;

/// Clock offsets under this are not reported as skew, ns.
const SKEW_REPORTED_NS: f64 = 200_000.0;

/// The clock of one service against its caller's.
#[derive(Debug, Clone)]
pub struct Skew {
    pub caller: String,
    pub callee: String,
    /// Mean offset of the callee's clock, ns (positive: ahead).
    pub offset_ns: f64,
    pub calls: u64,
    /// Calls whose SERVER span lay outside its CLIENT span.
    pub outside: u64,
    pub wire_p50_ns: u64,
}

/// What one import read, wrote and left out.
#[derive(Debug, Clone)]
pub struct Summary {
    pub files: Vec<(String, Format)>,
    pub spans: u64,
    pub traces: u64,
    pub written: Written,
    pub notes: Notes,
    pub skew: Vec<Skew>,
    pub closed_early: u64,
}

impl Summary {
    /// The summary of an import.
    pub fn new(
        files: &[String],
        formats: &[Format],
        acc: &Accumulator,
        notes: &Notes,
        mut written: Written,
        closed_early: u64,
    ) -> Summary {
        written.rare_calls = written.rare_calls.max(notes.of(Kind::RareCall));
        let skew = acc
            .links
            .iter()
            .map(|((caller, callee), l)| Skew {
                caller: caller.clone(),
                callee: callee.clone(),
                offset_ns: l.offset_sum_ns / l.calls.max(1) as f64,
                calls: l.calls,
                outside: l.outside,
                wire_p50_ns: l.wire.value_at_quantile(0.5),
            })
            .collect();
        Summary {
            files: files.iter().cloned().zip(formats.iter().copied()).collect(),
            spans: acc.spans,
            traces: acc.traces,
            written,
            notes: notes.clone(),
            skew,
            closed_early,
        }
    }

    /// Clock offsets large enough to report.
    pub fn skewed(&self) -> impl Iterator<Item = &Skew> {
        self.skew
            .iter()
            .filter(|s| s.offset_ns.abs() >= SKEW_REPORTED_NS && s.outside > 0)
    }

    /// The summary as the terminal shows it.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let files: Vec<String> = self
            .files
            .iter()
            .map(|(f, fmt)| format!("{f} ({})", fmt.name()))
            .collect();
        let _ = writeln!(
            o,
            "read {} spans in {} traces from {}",
            self.spans,
            self.traces,
            files.join(", ")
        );
        let w = &self.written;
        let untraced = if w.untraced.is_empty() {
            String::new()
        } else {
            format!(
                " ({} untraced: {})",
                w.untraced.len(),
                w.untraced.join(", ")
            )
        };
        let _ = writeln!(
            o,
            "inferred {} services{untraced}, {} endpoints, {} calls, {} load generators",
            w.services, w.endpoints, w.calls, w.generators
        );
        if !w.unfitted.is_empty() {
            let _ = writeln!(
                o,
                "work that no distribution fits (the closest written, see its comment): {}",
                w.unfitted.join(", ")
            );
        }
        if w.rare_calls > 0 {
            let _ = writeln!(
                o,
                "left out: {} calls seen too rarely to keep (under 0.5% of their endpoint's requests)",
                w.rare_calls
            );
        }
        if w.overflow > 0 {
            let _ = writeln!(
                o,
                "left out: {} call steps of endpoints with more than {} distinct steps",
                w.overflow,
                crate::shape::MAX_SLOTS
            );
        }
        if self.closed_early > 0 {
            let _ = writeln!(
                o,
                "left out: {} traces closed before they were complete (the assembly window was full); their late spans read as orphans",
                self.closed_early
            );
        }
        for (kind, t) in &self.notes.by_kind {
            if *kind == Kind::Untraced && w.untraced.is_empty() {
                // Callees that are traced elsewhere: spans missing, not services.
                let _ = writeln!(
                    o,
                    "{} CLIENT spans whose callee sent no span (callee traced elsewhere: left out)",
                    t.count
                );
            } else {
                let _ = writeln!(o, "{} {}", t.count, kind.label());
            }
            for (at, why) in &t.shown {
                let file = self
                    .files
                    .get(at.file as usize)
                    .map_or("?", |f| f.0.as_str());
                let _ = writeln!(o, "  {file}:{}: {why}", at.place());
            }
            if t.count > t.shown.len() as u64 {
                let _ = writeln!(o, "  … and {} more", t.count - t.shown.len() as u64);
            }
        }
        for s in self.skewed() {
            let _ = writeln!(
                o,
                "clock skew seen: {}'s clock reads {}{} against {}'s ({} of {} calls' server spans lay outside their client spans); self times are measured on one clock and do not move",
                s.callee,
                if s.offset_ns >= 0.0 { "+" } else { "-" },
                duration(s.offset_ns.abs()),
                s.caller,
                s.outside,
                s.calls
            );
        }
        o
    }
}
