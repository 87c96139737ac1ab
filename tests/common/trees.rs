//! Reading a run's traces as trees in tests: a span's children, the callee
//! that served a CLIENT span, and the `topolab.children` counts checked
//! against what the trace holds.

use topolab_proto::span_keys::CHILDREN;
use topolab_results::trace::{Kind, Span, Trace};

pub fn children<'a>(t: &'a Trace, parent: &Span) -> Vec<&'a Span> {
    t.spans
        .iter()
        .filter(|s| s.parent_id.as_deref() == Some(parent.span_id.as_str()))
        .collect()
}

/// The one SERVER child of a CLIENT span (the callee serving that attempt).
pub fn served<'a>(t: &'a Trace, client: &Span) -> &'a Span {
    let c = children(t, client);
    assert_eq!(c.len(), 1, "{} has {} children", client.name, c.len());
    assert_eq!(c[0].kind, Kind::Server);
    c[0]
}

/// Every span that says how many children it has (`topolab.children`, which
/// lets the collector decide a trace without waiting) has exactly that many
/// in its trace; returns how many spans said.
pub fn assert_children_counted(t: &Trace) -> usize {
    let mut said = 0;
    for s in &t.spans {
        if let Some(n) = s.attributes.get(CHILDREN) {
            said += 1;
            let n: usize = n.parse().expect("a count");
            assert_eq!(children(t, s).len(), n, "{} says {n} children", s.name);
        }
    }
    said
}
