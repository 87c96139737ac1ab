//! What was left out of an import and why, counted by kind, with the first
//! few cases of each kind kept to show (file and line), so a file of a
//! million bad lines still reports in bounded memory.

use std::collections::BTreeMap;

use crate::read::Loc;

/// Cases of one kind kept to show; the rest are only counted.
const SHOWN: usize = 5;

/// Why something was left out (or read otherwise than it says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A line or record that is not a span of its format.
    BadLine,
    /// A span whose parent is not in its trace.
    Orphan,
    /// Spans whose parent links form a cycle (left out).
    Cycle,
    /// A trace with more than one root span (each imported on its own).
    TwoRoots,
    /// A span id given twice in one trace (the second left out).
    DuplicateId,
    /// A CLIENT span whose callee was not traced (imported as an untraced leaf).
    Untraced,
    /// A retry attempt (its call is counted once).
    Retry,
    /// A call seen too rarely to keep.
    RareCall,
}

impl Kind {
    /// How the summary names the kind.
    pub fn label(self) -> &'static str {
        match self {
            Kind::BadLine => "unreadable lines (left out)",
            Kind::Orphan => {
                "orphan spans (parent not in the trace; subtree imported, not counted as load)"
            }
            Kind::Cycle => "spans in parent cycles (left out)",
            Kind::TwoRoots => "traces with several roots (each root imported)",
            Kind::DuplicateId => "duplicate span ids (the later left out)",
            Kind::Untraced => "CLIENT spans with an untraced callee (imported as untraced leaves)",
            Kind::Retry => "retry attempts (their call counted once)",
            Kind::RareCall => "calls seen too rarely to keep",
        }
    }
}

/// One kind's count and its first cases.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub count: u64,
    pub shown: Vec<(Loc, String)>,
}

/// Everything noted during one import.
#[derive(Debug, Default, Clone)]
pub struct Notes {
    pub by_kind: BTreeMap<Kind, Tally>,
}

impl Notes {
    /// Notes one case; `why` is only built for the first few.
    pub fn note(&mut self, kind: Kind, at: Loc, why: impl FnOnce() -> String) {
        let t = self.by_kind.entry(kind).or_default();
        t.count += 1;
        if t.shown.len() < SHOWN {
            t.shown.push((at, why()));
        }
    }

    /// Adds `n` cases with nothing to show.
    pub fn count(&mut self, kind: Kind, n: u64) {
        if n > 0 {
            self.by_kind.entry(kind).or_default().count += n;
        }
    }

    /// How many cases of `kind`.
    pub fn of(&self, kind: Kind) -> u64 {
        self.by_kind.get(&kind).map_or(0, |t| t.count)
    }
}
