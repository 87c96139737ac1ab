//! A trace's spans linked into a tree (parent → children in start order)
//! and its critical path: the chain of spans that the end-to-end time
//! actually waited on, walking back from each span's end through the child
//! that finished last (so of parallel siblings, only the slower one).

use std::collections::{BTreeSet, HashMap};

use super::span::Trace;

/// The spans of one trace as a tree, by index into `trace.spans`.
#[derive(Debug)]
pub struct Tree<'a> {
    pub trace: &'a Trace,
    children: Vec<Vec<usize>>,
    roots: Vec<usize>,
}

impl<'a> Tree<'a> {
    /// Links the spans; a span whose parent is missing becomes a root.
    pub fn new(trace: &'a Trace) -> Self {
        let index: HashMap<&str, usize> = trace
            .spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id.as_str(), i))
            .collect();
        let mut children = vec![Vec::new(); trace.spans.len()];
        let mut roots = Vec::new();
        for (i, s) in trace.spans.iter().enumerate() {
            match s.parent_id.as_deref().and_then(|p| index.get(p)) {
                Some(&p) if p != i => children[p].push(i),
                _ => roots.push(i),
            }
        }
        Tree {
            trace,
            children,
            roots,
        }
    }

    /// Spans without a parent in the trace (one for a connected trace).
    pub fn roots(&self) -> &[usize] {
        &self.roots
    }

    /// Children of span `i`, in start order.
    pub fn children(&self, i: usize) -> &[usize] {
        &self.children[i]
    }

    /// Every span with its depth, parents before children (the waterfall's order).
    pub fn depth_first(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::with_capacity(self.trace.spans.len());
        let mut stack: Vec<(usize, usize)> = self.roots.iter().rev().map(|&r| (r, 0)).collect();
        while let Some((i, d)) = stack.pop() {
            out.push((i, d));
            stack.extend(self.children[i].iter().rev().map(|&c| (c, d + 1)));
        }
        out
    }

    /// Spans on the critical path of every root.
    pub fn critical_path(&self) -> BTreeSet<usize> {
        let mut on = BTreeSet::new();
        let mut stack: Vec<usize> = self.roots.clone();
        while let Some(i) = stack.pop() {
            on.insert(i);
            // Walk back from this span's end: the child that ended last before
            // `t` is what it waited on; then continue from that child's start.
            let mut t = self.trace.spans[i].end_ns;
            let mut left: Vec<usize> = self.children[i].clone();
            loop {
                let next = left
                    .iter()
                    .enumerate()
                    .filter(|&(_, &c)| self.trace.spans[c].start_ns < t)
                    .max_by_key(|&(_, &c)| self.trace.spans[c].end_ns.min(t));
                let Some((k, &c)) = next else { break };
                stack.push(c);
                t = self.trace.spans[c].start_ns;
                left.swap_remove(k);
            }
        }
        on
    }
}

#[cfg(test)]
mod tests {
    use super::super::span::{Kind, Span};
    use super::*;

    fn span(id: &str, parent: Option<&str>, start: u64, end: u64) -> Span {
        Span {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_id: parent.map(String::from),
            name: id.into(),
            kind: Kind::Server,
            service: "s".into(),
            process: "s#0".into(),
            endpoint: None,
            callee: None,
            callee_replica: None,
            attempt: None,
            start_ns: start,
            end_ns: end,
            code: 0,
            message: String::new(),
            queue_ns: None,
            work_ns: None,
            downstream_ns: None,
            held_ns: None,
            attributes: Default::default(),
        }
    }

    #[test]
    fn critical_path_takes_the_slower_parallel_branch_and_all_sequential_calls() {
        let trace = Trace {
            id: "t".into(),
            spans: vec![
                span("root", None, 0, 100),
                span("a1", Some("root"), 5, 20),
                span("fast", Some("root"), 25, 40),
                span("slow", Some("root"), 25, 90),
                span("a2", Some("root"), 91, 99),
            ],
        };
        let tree = Tree::new(&trace);
        assert_eq!(tree.roots(), &[0]);
        let on: Vec<&str> = tree
            .critical_path()
            .iter()
            .map(|&i| trace.spans[i].span_id.as_str())
            .collect();
        assert_eq!(on, ["root", "a1", "slow", "a2"]);
        let order: Vec<usize> = tree.depth_first().iter().map(|&(i, _)| i).collect();
        assert_eq!(order, [0, 1, 2, 3, 4]);
    }
}
