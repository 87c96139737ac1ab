//! The writer's decisions without its thread: which traces are decided the
//! moment they arrive, and which wait for quiet.

use std::time::Instant;

use prost::Message;
use topolab_services::trace::SpanContext;
use topolab_services::trace::span::{Kind, SpanBuilder, keys};

use super::*;
use crate::raw::{RawScopeSpans, trace_key};

/// A span of `ctx` under `parent`, saying it has `children` (or not saying).
fn span(ctx: SpanContext, parent: Option<&SpanContext>, children: Option<i64>) -> Vec<u8> {
    let now = Instant::now();
    let b = SpanBuilder::new(
        ctx,
        parent.map(|p| p.span_id),
        Kind::Server,
        "a/B".into(),
        now,
        now,
    );
    let b = match children {
        Some(n) => b.int(keys::CHILDREN, n),
        None => b,
    };
    b.into_otlp().encode_to_vec()
}

fn batch(spans: Vec<Vec<u8>>) -> Vec<RawResourceSpans> {
    let spans = spans.into_iter().map(Bytes::from).collect();
    vec![RawResourceSpans {
        resource: None,
        scope_spans: vec![RawScopeSpans {
            scope: None,
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }]
}

fn state(dir: &Path) -> State {
    let file = TracesFile::create(dir).unwrap();
    State::new(file, 1 << 30, Arc::new(AtomicUsize::new(0)))
}

/// A chain root → server → client → server, each span saying its children
/// unless `silent` names one; the spans in leaf-first order.
fn chain(silent: Option<usize>) -> (u128, Vec<Vec<u8>>) {
    let root = SpanContext::new_root(true);
    let s1 = root.child();
    let c = s1.child();
    let s2 = c.child();
    let says = |i: usize, n: i64| (silent != Some(i)).then_some(n);
    let spans = vec![
        span(s2, Some(&c), says(3, 0)),
        span(c, Some(&s1), says(2, 1)),
        span(s1, Some(&root), says(1, 1)),
        span(root, None, says(0, 1)),
    ];
    (trace_key(&root.trace_id), spans)
}

#[test]
fn a_trace_whose_spans_all_count_is_decided_as_its_last_span_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = state(dir.path());
    let lone = SpanContext::new_root(true);
    w.take(batch(vec![span(lone, None, Some(0))]));
    assert_eq!(w.out.len(), 1, "a one-span trace was not kept at once");
    assert!(w.open.is_empty(), "a one-span trace waited");
    // No span can follow it, so its decision takes no slot.
    assert_eq!(w.decided.get(trace_key(&lone.trace_id)), None);

    let (id, mut spans) = chain(None);
    let root = spans.pop().unwrap();
    w.take(batch(spans));
    assert!(w.open.contains_key(&id), "decided before its root came");
    w.take(batch(vec![root]));
    assert!(!w.open.contains_key(&id), "a whole trace waited");
    assert_eq!(w.decided.get(id), Some(true));
    assert_eq!(w.out.len(), 5);
}

#[test]
fn a_trace_with_a_span_missing_or_not_counting_waits_for_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = state(dir.path());
    // Every span in, one of them silent on its children.
    let (silent, spans) = chain(Some(3));
    w.take(batch(spans));
    // A span missing: the client span between the two servers.
    let (missing, mut spans) = chain(None);
    spans.remove(1);
    w.take(batch(spans));
    for id in [silent, missing] {
        assert!(w.open.contains_key(&id), "decided without every span");
        assert_eq!(w.decided.get(id), None);
    }
    // The end of the run decides what still waits.
    w.decide_due(Instant::now(), true);
    assert_eq!(w.decided.get(silent), Some(true));
    assert_eq!(w.decided.get(missing), Some(true));
}
