//! One assembled trace into what the inference counts: every server-side
//! span as an [`Invocation`] of its endpoint with the calls it made, the
//! load's arrivals at entry endpoints, and the trace's faults (orphans,
//! cycles, several roots, duplicate ids) noted with their lines.
//!
//! Rules (docs/import.md): a SERVER span serves; a span without a kind
//! (INTERNAL, unset) serves when its parent is in another service or it
//! has none, and is otherwise its endpoint's own work. A CLIENT span is a
//! call; its callee is its child that serves, or, when none was traced, an
//! untraced leaf named from the span's attributes.

use std::collections::HashMap;

use topolab_proto::span_keys as keys;
use topolab_results::trace::{Kind, Span};

use crate::assemble::Located;
use crate::names;
use crate::notes::{self, Notes};
use crate::read::Loc;

/// A `service/Endpoint` in the topology's names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    /// The service, as the format names services.
    pub service: String,
    /// The endpoint, as the format names endpoints.
    pub endpoint: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.service, self.endpoint)
    }
}

/// One call an invocation made, as its caller saw it.
#[derive(Debug, Clone)]
pub struct CallObs {
    /// Whom it called.
    pub target: Target,
    /// When the call began and ended, ns, on the caller's clock (the
    /// callee's for a kind-less span).
    pub start: u64,
    pub end: u64,
    /// No span of the callee was traced.
    pub untraced: bool,
    /// The call's gRPC code as its caller saw it.
    pub code: i64,
}

/// One request served by one endpoint.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The endpoint that served it.
    pub target: Target,
    /// The instance (replica, pod) that served it.
    pub instance: String,
    /// When it arrived and was answered, ns.
    pub start: u64,
    pub end: u64,
    /// Time waiting in the queue when the span says so (topolab's own).
    pub queue_ns: u64,
    /// Time in work steps when the span says so (topolab's own).
    pub work_ns: Option<u64>,
    /// Its gRPC code (0: OK).
    pub code: i64,
    /// The calls it made, in the order they were read.
    pub calls: Vec<CallObs>,
    /// Arrived from outside: the generator's name and when it was sent.
    pub entry: Option<(String, u64)>,
    /// An untraced leaf: what its caller's CLIENT span saw.
    pub untraced: bool,
}

/// A CLIENT span and the SERVER span that answered it, for clock skew and
/// wire time between two services.
#[derive(Debug, Clone)]
pub struct Hop {
    /// The calling and the called service.
    pub caller: String,
    pub callee: String,
    /// How far the callee's clock reads ahead of the caller's, ns (the
    /// difference of the two spans' midpoints).
    pub offset_ns: i64,
    /// CLIENT duration minus SERVER duration, ns.
    pub wire_ns: i64,
    /// The SERVER span began before its CLIENT span or ended after it.
    pub outside: bool,
}

/// What one trace yields.
#[derive(Debug, Default)]
pub struct Yield {
    /// Every request served in the trace.
    pub invocations: Vec<Invocation>,
    /// Every CLIENT span answered by a SERVER span.
    pub hops: Vec<Hop>,
}

/// Reads one trace's spans.
pub fn analyse(spans: Vec<Located>, notes: &mut Notes) -> Yield {
    let t = Tree::build(spans, notes);
    let mut y = Yield::default();
    for &r in &t.starts {
        t.walk(r, None, &mut y, notes);
    }
    y
}

struct Tree {
    spans: Vec<Located>,
    children: Vec<Vec<usize>>,
    parent: Vec<Option<usize>>,
    /// Roots and orphans: where walks begin.
    starts: Vec<usize>,
    orphan: Vec<bool>,
}

impl Tree {
    fn build(mut spans: Vec<Located>, notes: &mut Notes) -> Tree {
        spans.sort_by_key(|(s, _)| (s.start_ns, std::cmp::Reverse(s.end_ns)));
        let mut index: HashMap<String, usize> = HashMap::with_capacity(spans.len());
        let mut keep = Vec::with_capacity(spans.len());
        for (s, at) in spans {
            if index.contains_key(&s.span_id) {
                notes.note(notes::Kind::DuplicateId, at, || {
                    format!(
                        "span id {} appears twice in trace {}",
                        s.span_id, s.trace_id
                    )
                });
                continue;
            }
            index.insert(s.span_id.clone(), keep.len());
            keep.push((s, at));
        }
        let n = keep.len();
        let mut children = vec![Vec::new(); n];
        let mut parent = vec![None; n];
        let mut starts = Vec::new();
        let mut orphan = vec![false; n];
        let mut roots = Vec::new();
        for (i, (s, at)) in keep.iter().enumerate() {
            match s.parent_id.as_ref().map(|p| (p, index.get(p))) {
                None => {
                    roots.push(i);
                    starts.push(i);
                }
                Some((_, Some(&p))) if p != i => {
                    children[p].push(i);
                    parent[i] = Some(p);
                }
                Some((p, _)) => {
                    notes.note(notes::Kind::Orphan, *at, || {
                        format!(
                            "span {} (`{}`) names parent {p}, which is not in trace {}",
                            s.span_id, s.name, s.trace_id
                        )
                    });
                    orphan[i] = true;
                    starts.push(i);
                }
            }
        }
        if roots.len() > 1 {
            let (s, at) = &keep[roots[1]];
            let first = keep[roots[0]].1;
            notes.note(notes::Kind::TwoRoots, *at, || {
                format!(
                    "trace {} has {} root spans (the first at {}); each is imported as a request of its own",
                    s.trace_id,
                    roots.len(),
                    first.place()
                )
            });
        }
        // Spans no walk reaches hang off a cycle of parent links.
        let mut reached = vec![false; n];
        let mut stack = starts.clone();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut reached[i], true) {
                stack.extend(&children[i]);
            }
        }
        if let Some(i) = reached.iter().position(|r| !r) {
            let cut = reached.iter().filter(|r| !**r).count();
            let (s, at) = &keep[i];
            notes.note(notes::Kind::Cycle, *at, || {
                format!(
                    "{cut} span(s) of trace {} are their own ancestors (a cycle of parent ids, through span {}): left out",
                    s.trace_id, s.span_id
                )
            });
            notes.count(notes::Kind::Cycle, cut as u64 - 1);
        }
        Tree {
            spans: keep,
            children,
            parent,
            starts,
            orphan,
        }
    }

    fn span(&self, i: usize) -> &Span {
        &self.spans[i].0
    }

    fn at(&self, i: usize) -> Loc {
        self.spans[i].1
    }

    /// Serves a request: SERVER, or kind-less and entered from another
    /// service (or from nowhere).
    fn serves(&self, i: usize) -> bool {
        let s = self.span(i);
        match s.kind {
            Kind::Server => true,
            Kind::Client => false,
            Kind::Other => match self.parent[i] {
                None => true,
                Some(p) => self.span(p).service != s.service,
            },
        }
    }

    /// Walks from `i`; `entry` is the generator whose request this is, when
    /// `i` is the first span to serve it.
    fn walk(&self, i: usize, entry: Option<(String, u64)>, y: &mut Yield, notes: &mut Notes) {
        let s = self.span(i);
        if self.serves(i) {
            let entry = entry.or_else(|| {
                (self.parent[i].is_none() && !self.orphan[i])
                    .then(|| (generator_name(s, &target_of(s)), s.start_ns))
            });
            self.invocation(i, entry, y, notes);
            return;
        }
        // A CLIENT (or internal) span outside any server: the load when it
        // is a root CLIENT span, else a subtree whose server was not traced.
        let load = s.kind == Kind::Client && self.parent[i].is_none() && !self.orphan[i];
        for &c in &self.children[i] {
            let entry = load.then(|| {
                let cs = self.span(c);
                let name = match s.attributes.get(keys::GENERATOR) {
                    Some(g) => names::service(g),
                    None => generator_name(cs, &target_of(cs)),
                };
                (name, s.start_ns)
            });
            self.walk(c, entry, y, notes);
        }
    }

    fn invocation(&self, i: usize, entry: Option<(String, u64)>, y: &mut Yield, notes: &mut Notes) {
        let s = self.span(i);
        let mut inv = Invocation {
            target: target_of(s),
            instance: s.process.clone(),
            start: s.start_ns,
            end: s.end_ns,
            queue_ns: s.queue_ns.unwrap_or(0),
            work_ns: s.work_ns,
            code: s.code,
            calls: Vec::new(),
            entry,
            untraced: false,
        };
        let mut served = Vec::new();
        self.calls_under(i, &mut inv, &mut served, y, notes);
        y.invocations.push(inv);
        for c in served {
            self.walk(c, None, y, notes);
        }
    }

    /// The calls made under `i` in its own service; callees that serve go
    /// to `served` to be walked in turn.
    fn calls_under(
        &self,
        i: usize,
        inv: &mut Invocation,
        served: &mut Vec<usize>,
        y: &mut Yield,
        notes: &mut Notes,
    ) {
        for &c in &self.children[i] {
            let cs = self.span(c);
            if cs.kind == Kind::Client {
                let callee = self.children[c].iter().copied().find(|&k| self.serves(k));
                served.extend(self.children[c].iter().copied());
                if cs.attempt.is_some_and(|a| a > 1) {
                    notes.note(notes::Kind::Retry, self.at(c), || {
                        format!("retry {} of `{}`", cs.attempt.unwrap_or(0), cs.name)
                    });
                    continue;
                }
                let (target, untraced) = match callee {
                    Some(k) => {
                        let ks = self.span(k);
                        y.hops.push(Hop {
                            caller: names::service(&cs.service),
                            callee: names::service(&ks.service),
                            offset_ns: ((ks.start_ns as i128 + ks.end_ns as i128
                                - cs.start_ns as i128
                                - cs.end_ns as i128)
                                / 2) as i64,
                            wire_ns: cs.duration_ns() as i64 - ks.duration_ns() as i64,
                            outside: ks.start_ns < cs.start_ns || ks.end_ns > cs.end_ns,
                        });
                        (target_of(ks), false)
                    }
                    None => {
                        let t = untraced_target(cs);
                        notes.note(notes::Kind::Untraced, self.at(c), || {
                            format!("`{}` calls {t}, which sent no span", cs.name)
                        });
                        y.invocations.push(Invocation {
                            target: t.clone(),
                            instance: format!("{}(untraced)", t.service),
                            start: cs.start_ns,
                            end: cs.end_ns,
                            queue_ns: 0,
                            work_ns: None,
                            code: cs.code,
                            calls: Vec::new(),
                            entry: None,
                            untraced: true,
                        });
                        (t, true)
                    }
                };
                inv.calls.push(CallObs {
                    target,
                    start: cs.start_ns,
                    end: cs.end_ns,
                    untraced,
                    code: cs.code,
                });
            } else if self.serves(c) {
                inv.calls.push(CallObs {
                    target: target_of(cs),
                    start: cs.start_ns,
                    end: cs.end_ns,
                    untraced: false,
                    code: cs.code,
                });
                served.push(c);
            } else {
                self.calls_under(c, inv, served, y, notes);
            }
        }
    }
}

/// The endpoint a serving span serves.
fn target_of(s: &Span) -> Target {
    let endpoint = s
        .endpoint
        .as_deref()
        .or_else(|| s.attributes.get("rpc.method").map(String::as_str))
        .unwrap_or(&s.name);
    Target {
        service: names::service(&s.service),
        endpoint: names::endpoint(endpoint),
    }
}

/// The callee of a CLIENT span that nothing answered with a span: named by
/// the attributes instrumentations put on client spans.
fn untraced_target(s: &Span) -> Target {
    if let Some((svc, ep)) = s.callee.as_deref().and_then(|c| c.split_once('/')) {
        return Target {
            service: names::service(svc),
            endpoint: names::endpoint(ep),
        };
    }
    let a = |k: &str| s.attributes.get(k).map(String::as_str);
    let service = a("peer.service")
        .or(a("db.system"))
        .or(a("rpc.service"))
        .or(a("server.address"))
        .or(a("net.peer.name"))
        .unwrap_or(&s.name);
    let endpoint = a("rpc.method")
        .or(a("db.operation"))
        .or(a("db.operation.name"))
        .unwrap_or(&s.name);
    Target {
        service: names::service(service),
        endpoint: names::endpoint(endpoint),
    }
}

/// The load generator a root request belongs to: topolab's own name for
/// it, else the entry service and endpoint.
fn generator_name(root: &Span, entry: &Target) -> String {
    match root.attributes.get(keys::GENERATOR) {
        Some(g) => names::service(g),
        None => names::service(&format!("{}-{}", entry.service, entry.endpoint)),
    }
}
