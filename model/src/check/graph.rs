//! Who calls whom: `service/Endpoint` references resolved against the
//! services (with "did you mean"), endpoint-level call cycles (errors) and
//! service-level loops in the `blocking` model (warnings).

use std::collections::{BTreeSet, HashMap};

use super::{Checker, did_you_mean, error_at, warning_at};
use crate::calls;
use crate::model::{ServeModel, Service, Target};
use crate::tree::{Located, Node};

/// One reference to an endpoint, from a `call:` step or a `target:`.
#[derive(Clone)]
pub(super) struct Ref {
    /// The endpoint making the call; `None` for a load generator's target.
    pub from: Option<(String, String)>,
    /// The endpoint referred to.
    pub to: Target,
    /// Where the reference is written.
    pub site: Located<()>,
}

/// Parses `service/Endpoint` (the syntax only; [`check`] resolves it).
pub(super) fn target(ck: &mut Checker, key: &str, node: &Located<Node>) -> Option<Target> {
    let expected = "a target like `auth/Verify` (service/Endpoint)";
    let text = ck.scalar(key, node, expected)?;
    match text.split_once('/') {
        Some((s, e)) if !s.trim().is_empty() && !e.trim().is_empty() && !e.contains('/') => {
            Some(Target {
                service: s.trim().to_string(),
                endpoint: e.trim().to_string(),
            })
        }
        _ => {
            let d = error_at(
                format!("invalid `{key}`: `{text}` is not `service/Endpoint`"),
                node,
            )
            .help(format!("expected {expected}"));
            ck.push(d);
            None
        }
    }
}

/// Resolves every reference, then looks for cycles among the calls the
/// checked services make, as the model's one call walker
/// ([`crate::calls`]) finds them; each call is located by the reference
/// that wrote it, so a cycle is reported where it closes.
pub(super) fn check(ck: &mut Checker, services: &[Service], refs: &[Ref]) {
    let by_name: HashMap<&str, &Service> = services.iter().map(|s| (s.name.as_str(), s)).collect();
    let resolved: Vec<&Ref> = refs
        .iter()
        .filter(|r| resolve(ck, services, &by_name, r))
        .collect();
    let mut sites: HashMap<(&str, &str, String), &Ref> = HashMap::new();
    for r in &resolved {
        if let Some((s, e)) = &r.from {
            sites.entry((s, e, r.to.to_string())).or_insert(r);
        }
    }
    let edges: Vec<&Ref> = services
        .iter()
        .flat_map(calls::of_service)
        .filter_map(|e| {
            let to = format!("{}/{}", e.call.service, e.call.endpoint);
            sites.get(&(e.service, e.endpoint, to)).copied()
        })
        .collect();
    endpoint_cycles(ck, &edges);
    service_loops(ck, services, &edges);
}

fn resolve(
    ck: &mut Checker,
    services: &[Service],
    by_name: &HashMap<&str, &Service>,
    r: &Ref,
) -> bool {
    let Some(service) = by_name.get(r.to.service.as_str()) else {
        let mut d = error_at(
            format!("unknown service `{}` in `{}`", r.to.service, r.to),
            &r.site,
        );
        let names = services.iter().map(|s| s.name.as_str());
        if let Some(m) = did_you_mean(&r.to.service, names) {
            d = d.help(format!("did you mean `{m}`?"));
        }
        ck.push(d);
        return false;
    };
    if service.endpoint(&r.to.endpoint).is_some() {
        return true;
    }
    let mut d = error_at(
        format!(
            "unknown endpoint `{}` of service `{}`",
            r.to.endpoint, service.name
        ),
        &r.site,
    );
    let names = service.endpoints.iter().map(|e| e.name.as_str());
    match did_you_mean(&r.to.endpoint, names) {
        Some(m) => d = d.help(format!("did you mean `{m}`?")),
        None if !service.endpoints.is_empty() => {
            let all: Vec<&str> = service.endpoints.iter().map(|e| e.name.as_str()).collect();
            d = d.help(format!("`{}` has `{}`", service.name, all.join("`, `")));
        }
        None => {}
    }
    ck.push(d);
    false
}

/// A directed graph over names, with the first reference of each edge.
struct Graph<'a> {
    nodes: Vec<String>,
    index: HashMap<String, usize>,
    edges: HashMap<usize, Vec<(usize, &'a Ref)>>,
}

impl<'a> Graph<'a> {
    fn new(pairs: impl Iterator<Item = (String, String, &'a Ref)>) -> Self {
        let mut g = Graph {
            nodes: Vec::new(),
            index: HashMap::new(),
            edges: HashMap::new(),
        };
        for (a, b, r) in pairs {
            let (a, b) = (g.index(a), g.index(b));
            let out = g.edges.entry(a).or_default();
            if !out.iter().any(|(to, _)| *to == b) {
                out.push((b, r));
            }
        }
        g
    }

    fn index(&mut self, name: String) -> usize {
        if let Some(&i) = self.index.get(&name) {
            return i;
        }
        self.index.insert(name.clone(), self.nodes.len());
        self.nodes.push(name);
        self.nodes.len() - 1
    }

    /// One cycle per back edge found by depth-first search, each as its
    /// nodes (rotated to start at the smallest index) and the reference
    /// that closes it.
    fn cycles(&self) -> Vec<(Vec<usize>, &'a Ref)> {
        let mut state = vec![0u8; self.nodes.len()]; // 0 new, 1 on stack, 2 done
        let mut stack = Vec::new();
        let mut found = Vec::new();
        let mut seen = BTreeSet::new();
        for start in 0..self.nodes.len() {
            self.visit(start, &mut state, &mut stack, &mut found, &mut seen);
        }
        found
    }

    fn visit(
        &self,
        n: usize,
        state: &mut [u8],
        stack: &mut Vec<usize>,
        found: &mut Vec<(Vec<usize>, &'a Ref)>,
        seen: &mut BTreeSet<Vec<usize>>,
    ) {
        if state[n] != 0 {
            return;
        }
        state[n] = 1;
        stack.push(n);
        for &(to, r) in self.edges.get(&n).map(Vec::as_slice).unwrap_or_default() {
            if state[to] == 1 {
                // `to` is on the stack, so `position` always finds it.
                let at = stack.iter().position(|&s| s == to).unwrap_or(0);
                let mut cycle = stack[at..].to_vec();
                let min = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
                cycle.rotate_left(min);
                if seen.insert(cycle.clone()) {
                    found.push((cycle, r));
                }
            } else {
                self.visit(to, state, stack, found, seen);
            }
        }
        stack.pop();
        state[n] = 2;
    }

    /// `a → b → a`.
    fn path(&self, cycle: &[usize]) -> String {
        let mut names: Vec<&str> = cycle.iter().map(|&i| self.nodes[i].as_str()).collect();
        names.push(names[0]);
        names.join(" → ")
    }
}

fn endpoint_cycles(ck: &mut Checker, refs: &[&Ref]) {
    let pairs = refs.iter().filter_map(|r| {
        let (s, e) = r.from.as_ref()?;
        Some((format!("{s}/{e}"), r.to.to_string(), *r))
    });
    let g = Graph::new(pairs);
    for (cycle, r) in g.cycles() {
        let first = &g.nodes[cycle[0]];
        ck.push(
            error_at(format!("call cycle: {}", g.path(&cycle)), &r.site)
                .help(format!("a request to `{first}` would call `{first}` again, forever; remove a call or call another endpoint")),
        );
    }
}

fn service_loops(ck: &mut Checker, services: &[Service], refs: &[&Ref]) {
    let pairs = refs.iter().filter_map(|r| {
        let (s, _) = r.from.as_ref()?;
        Some((s.clone(), r.to.service.clone(), *r))
    });
    let g = Graph::new(pairs);
    for (cycle, r) in g.cycles() {
        let blocking: Vec<&str> = cycle
            .iter()
            .map(|&i| g.nodes[i].as_str())
            .filter(|n| {
                services
                    .iter()
                    .any(|s| s.name == *n && s.model == ServeModel::Blocking)
            })
            .collect();
        if blocking.is_empty() {
            continue;
        }
        ck.push(
            warning_at(format!("service-level loop {} can deadlock", g.path(&cycle)), &r.site)
                .note(format!(
                    "`{}` {} `model: blocking`: a request holds its worker while its calls run, so the loop can take every worker and wait on itself until timeouts end it",
                    blocking.join("`, `"),
                    if blocking.len() == 1 { "uses" } else { "use" },
                ))
                .help("give the loop's services more workers, or use `model: async`"),
        );
    }
}
