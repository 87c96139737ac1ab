//! The topology's call graph at service level: who calls whom, which services
//! the load enters at, and a depth per service for drawing it left to right.
//! The cascade analysis follows its edges; the report draws it.

use std::collections::{BTreeMap, BTreeSet};

use topolab_model::{Topology, calls};

/// Services and the services each one calls directly.
#[derive(Debug, Clone, Default)]
pub struct CallGraph {
    /// Service → the services its endpoints call (any step, any branch,
    /// its `session_miss` steps), as the model's one walker finds them.
    pub callees: BTreeMap<String, BTreeSet<String>>,
    /// Services the load generators target.
    pub entries: BTreeSet<String>,
    /// Services in file order.
    pub order: Vec<String>,
}

impl CallGraph {
    /// The graph of `t`.
    pub fn of(t: &Topology) -> Self {
        let mut g = CallGraph::default();
        for s in &t.services {
            let out = calls::callee_services(s).into_iter().map(String::from);
            g.callees.insert(s.name.clone(), out.collect());
            g.order.push(s.name.clone());
        }
        g.entries = t.load.iter().map(|l| l.target.service.clone()).collect();
        g
    }

    /// Services `service` calls directly.
    pub fn callees_of(&self, service: &str) -> impl Iterator<Item = &str> {
        self.callees
            .get(service)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// Longest distance from an entry (entries and unreached services are 0),
    /// so every call edge points to the right in a drawing. The graph is
    /// acyclic at endpoint level, but service-level loops are allowed: depth
    /// is capped at the number of services so a loop cannot run forever.
    pub fn depths(&self) -> BTreeMap<String, usize> {
        let mut depth: BTreeMap<String, usize> =
            self.order.iter().map(|s| (s.clone(), 0)).collect();
        let cap = self.order.len();
        for _ in 0..cap {
            let mut changed = false;
            for (from, tos) in &self.callees {
                let d = depth.get(from).copied().unwrap_or(0);
                for to in tos {
                    let slot = depth.entry(to.clone()).or_default();
                    if *slot < d + 1 && d + 1 < cap {
                        *slot = d + 1;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        depth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_has_increasing_depths() {
        let t = topolab_model::load_str(
            "t.yaml",
            "name: t\nservices:\n  a:\n    endpoints:\n      X:\n        steps:\n          - parallel:\n              - call: b/Y\n              - call: c/Z\n  b:\n    endpoints:\n      Y:\n        steps:\n          - call: c/Z\n  c:\n    endpoints:\n      Z: {}\nload:\n  l:\n    target: a/X\n    rate: 1/s\n    duration: 1s\n",
            &[],
        )
        .unwrap()
        .topology;
        let g = CallGraph::of(&t);
        assert_eq!(g.callees_of("a").collect::<Vec<_>>(), vec!["b", "c"]);
        let d = g.depths();
        assert_eq!((d["a"], d["b"], d["c"]), (0, 1, 2));
        assert!(g.entries.contains("a"));
    }

    #[test]
    fn a_session_miss_is_an_edge() {
        let t = topolab_model::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../topologies/sticky-sessions.yaml"),
            &[],
        )
        .unwrap()
        .topology;
        let g = CallGraph::of(&t);
        assert_eq!(g.callees_of("cart").collect::<Vec<_>>(), vec!["db"]);
        assert_eq!(g.callees_of("rr").collect::<Vec<_>>(), vec!["cart"]);
        assert_eq!(g.depths()["db"], 2);
    }
}
