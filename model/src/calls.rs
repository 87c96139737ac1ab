//! The call graph of a checked topology, walked in one place: every `call`
//! of every endpoint, in its steps, in every `parallel` branch, and in the
//! service's `session_miss` steps (which run before an endpoint's own when a
//! replica meets an unseen session key). `topolab graph`, the report, the
//! cascade analysis, validation's cycle checks and the replicas' clients all
//! read calls through here, so none of them can miss a kind of call another
//! one sees.

use crate::model::{Call, Service, Step, Topology};

/// Where in a service a call is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CallSite {
    /// In the endpoint's own steps (a `parallel` branch included).
    Steps,
    /// In the service's `session_miss` steps, which run before the
    /// endpoint's own on a session miss.
    SessionMiss,
}

/// One call, from an endpoint to another.
#[derive(Debug, Clone, Copy)]
pub struct CallEdge<'a> {
    /// The calling service and endpoint.
    pub service: &'a str,
    pub endpoint: &'a str,
    /// The call step (its target, timeout, retries, policies).
    pub call: &'a Call,
    pub site: CallSite,
}

/// Every call `steps` make, in file order, `parallel` branches included.
pub fn in_steps(steps: &[Step]) -> Vec<&Call> {
    fn walk<'a>(steps: &'a [Step], out: &mut Vec<&'a Call>) {
        for step in steps {
            match step {
                Step::Work(_) => {}
                Step::Call(c) => out.push(c),
                Step::Parallel(branches) => branches.iter().for_each(|b| walk(b, out)),
            }
        }
    }
    let mut out = Vec::new();
    walk(steps, &mut out);
    out
}

/// Every call a request to any endpoint of `s` can make: each endpoint's
/// own, then (for each endpoint, as a miss may precede any of them) the
/// service's `session_miss` calls.
pub fn of_service(s: &Service) -> Vec<CallEdge<'_>> {
    let miss = in_steps(&s.session_miss);
    let mut out = Vec::new();
    for e in &s.endpoints {
        let edge = |call, site| CallEdge {
            service: &s.name,
            endpoint: &e.name,
            call,
            site,
        };
        out.extend(
            in_steps(&e.steps)
                .into_iter()
                .map(|c| edge(c, CallSite::Steps)),
        );
        out.extend(miss.iter().map(|c| edge(c, CallSite::SessionMiss)));
    }
    out
}

/// Every call in the topology, services in file order.
pub fn of_topology(t: &Topology) -> Vec<CallEdge<'_>> {
    t.services.iter().flat_map(of_service).collect()
}

/// The services `s` calls directly, in first-call order, each once.
pub fn callee_services(s: &Service) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for e in of_service(s) {
        if !out.contains(&e.call.service.as_str()) {
            out.push(&e.call.service);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STICKY: &str = "name: t\nservices:\n  cart:\n    state: sessions\n    session_miss:\n      - call: db/Load\n    endpoints:\n      View:\n        steps:\n          - parallel:\n              - - call: price/Get\n              - - work: 1ms\n                - call: stock/Get\n  price:\n    endpoints:\n      Get: {}\n  stock:\n    endpoints:\n      Get: {}\n  db:\n    endpoints:\n      Load: {}\nload:\n  l:\n    target: cart/View\n    rate: 1/s\n    duration: 1s\n    sessions: 4\n";

    #[test]
    fn every_branch_and_the_session_miss_are_edges() {
        let t = crate::load_str("t.yaml", STICKY, &[]).unwrap().topology;
        let edges = of_topology(&t);
        let seen: Vec<(&str, &str, CallSite)> = edges
            .iter()
            .map(|e| (e.endpoint, e.call.service.as_str(), e.site))
            .collect();
        assert_eq!(
            seen,
            [
                ("View", "price", CallSite::Steps),
                ("View", "stock", CallSite::Steps),
                ("View", "db", CallSite::SessionMiss),
            ]
        );
        let cart = t.service("cart").unwrap();
        assert_eq!(callee_services(cart), ["price", "stock", "db"]);
    }
}
