//! One trace of a run found by (a prefix of) its id, streaming the file and
//! holding only the spans of the first two ids that match: what `topolab
//! trace --id` shows, and what the lab's page opens when a dot is clicked.

use std::collections::HashSet;
use std::path::Path;

use super::load::{TraceError, for_each_span};
use super::span::{Span, Trace};

/// Distinct ids matching an ambiguous prefix counted at most.
const MAX_COUNTED_MATCHES: usize = 10_000;

/// Why no one trace was found.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error(transparent)]
    Unreadable(#[from] TraceError),
    /// No span carries an id starting so.
    #[error("no trace {0:?} in this run; list some with --slowest 10")]
    NotFound(String),
    /// Several traces start with the prefix.
    #[error("{}{count} traces start with {prefix:?}; give more of the id", if *.at_least { "at least " } else { "" })]
    Ambiguous {
        prefix: String,
        count: usize,
        at_least: bool,
    },
}

/// The trace whose id starts with `id` (case-insensitive); it must be unique.
pub fn find(run_dir: &Path, id: &str) -> Result<Trace, FindError> {
    let id = id.trim().to_ascii_lowercase();
    let mut matched: Vec<(String, Vec<Span>)> = Vec::new();
    let mut distinct = HashSet::new();
    for_each_span(run_dir, |s| {
        if !s.trace_id.starts_with(&id) {
            return;
        }
        if distinct.len() < MAX_COUNTED_MATCHES {
            distinct.insert(s.trace_id.clone());
        }
        match matched.iter().position(|(t, _)| *t == s.trace_id) {
            Some(i) => matched[i].1.push(s),
            None if matched.len() < 2 => matched.push((s.trace_id.clone(), vec![s])),
            None => {}
        }
    })?;
    match matched.len() {
        0 => Err(FindError::NotFound(id)),
        1 => {
            // Cannot fail: one match.
            let (tid, spans) = matched.pop().expect("one match");
            Ok(Trace::new(tid, spans))
        }
        _ => Err(FindError::Ambiguous {
            prefix: id,
            count: distinct.len(),
            at_least: distinct.len() >= MAX_COUNTED_MATCHES,
        }),
    }
}
