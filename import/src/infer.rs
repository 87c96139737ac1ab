//! What the traces add up to, kept as counts and histograms so memory
//! grows with the system (its services, endpoints and instances), never
//! with the length of the input: per endpoint the requests, their self
//! times, their merged call shapes and their own errors; per generator its
//! arrivals; per pair of services the clock offset and wire time seen.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::concurrency::Concurrency;
use crate::fit;
use crate::rate::Arrivals;
use crate::shape::{Template, shape};
use crate::trace::{Hop, Invocation, Target};

/// Instances kept per service at most (more are counted, not swept).
const MAX_INSTANCES: usize = 1024;

/// A queue wait past this says the pool was full (not just a hand-off).
pub const WAITED_NS: u64 = 1_000_000;

/// Codes that say what load did to a request rather than what the
/// service chose to answer: not injected as errors.
pub const LOAD_CODES: [i64; 3] = [1, 4, 8];

/// One endpoint, summed over its requests.
#[derive(Debug)]
pub struct EndpointAcc {
    pub requests: u64,
    /// Self time: the span's duration less the union of its calls and its
    /// queue wait, ns; or, where the span says how long its work steps took
    /// (topolab's own `topolab.work_ns`), that.
    pub self_time: Histogram<u64>,
    /// Requests whose work came from `topolab.work_ns`.
    pub work_attr: u64,
    /// Self time as measured from the spans alone, whatever they say of
    /// their work, ns.
    pub measured: Histogram<u64>,
    pub template: Template,
    /// Failures the endpoint answered with itself (no call failed with the
    /// same code), by code.
    pub own_errors: BTreeMap<i64, u64>,
    /// Failures from load (queue full, deadline, cancelled), by code.
    pub load_errors: BTreeMap<i64, u64>,
}

impl Default for EndpointAcc {
    fn default() -> Self {
        EndpointAcc {
            requests: 0,
            self_time: fit::histogram(),
            work_attr: 0,
            measured: fit::histogram(),
            template: Template::default(),
            own_errors: BTreeMap::new(),
            load_errors: BTreeMap::new(),
        }
    }
}

/// One service.
#[derive(Debug, Default)]
pub struct ServiceAcc {
    pub endpoints: BTreeMap<String, EndpointAcc>,
    pub instances: BTreeMap<String, Concurrency>,
    pub more_instances: u64,
    /// The most requests one instance served at once (after [`Accumulator::finish`]).
    pub workers: u32,
    /// Requests whose spans say they waited over [`WAITED_NS`] in a queue.
    pub waited: u64,
}

/// One load generator.
#[derive(Debug, Default)]
pub struct GeneratorAcc {
    pub targets: BTreeMap<Target, u64>,
    pub arrivals: Arrivals,
}

/// Calls from one service to another whose both ends were traced.
#[derive(Debug)]
pub struct LinkAcc {
    pub calls: u64,
    pub offset_sum_ns: f64,
    /// SERVER spans that began before or ended after their CLIENT span.
    pub outside: u64,
    pub wire: Histogram<u64>,
}

/// Everything counted so far.
#[derive(Debug, Default)]
pub struct Accumulator {
    pub services: BTreeMap<String, ServiceAcc>,
    /// Callees that sent no span, by the name their callers gave them.
    pub untraced: BTreeMap<String, ServiceAcc>,
    pub generators: BTreeMap<String, GeneratorAcc>,
    pub links: BTreeMap<(String, String), LinkAcc>,
    /// How far calls may overlap and still be one after the other, ns.
    pub tolerance_ns: u64,
    pub traces: u64,
    pub spans: u64,
}

impl Accumulator {
    /// An empty accumulator with this overlap tolerance.
    pub fn new(tolerance_ns: u64) -> Self {
        Accumulator {
            tolerance_ns,
            ..Default::default()
        }
    }

    /// Counts one request served.
    pub fn invocation(&mut self, mut inv: Invocation) {
        let book = if inv.untraced {
            &mut self.untraced
        } else {
            &mut self.services
        };
        let svc = book.entry(inv.target.service.clone()).or_default();
        svc.waited += u64::from(inv.queue_ns > WAITED_NS);
        let room = svc.instances.len() < MAX_INSTANCES;
        // In service: from the end of its queue wait, where the span says it.
        let served = (inv.start + inv.queue_ns).min(inv.end);
        match svc.instances.get_mut(&inv.instance) {
            Some(c) => c.add(served, inv.end),
            None if room => {
                let mut c = Concurrency::default();
                c.add(served, inv.end);
                svc.instances.insert(inv.instance.clone(), c);
            }
            None => svc.more_instances += 1,
        }
        let ep = svc
            .endpoints
            .entry(inv.target.endpoint.clone())
            .or_default();
        ep.requests += 1;
        let measured = self_time(&inv);
        // Cannot fail: the value is clamped into the histogram's bounds.
        ep.measured
            .record(measured.clamp(1, ep.measured.high()))
            .expect("value within bounds");
        let own = match inv.work_ns {
            Some(w) => {
                ep.work_attr += 1;
                w
            }
            None => measured,
        };
        // Cannot fail: the value is clamped into the histogram's bounds.
        ep.self_time
            .record(own.clamp(1, ep.self_time.high()))
            .expect("value within bounds");
        if inv.code != 0 {
            if LOAD_CODES.contains(&inv.code) {
                *ep.load_errors.entry(inv.code).or_default() += 1;
            } else if !inv.calls.iter().any(|c| c.code == inv.code) {
                *ep.own_errors.entry(inv.code).or_default() += 1;
            }
        }
        ep.template.merge(shape(&mut inv.calls, self.tolerance_ns));
        if let Some((generator, at)) = &inv.entry {
            let g = self.generators.entry(generator.clone()).or_default();
            *g.targets.entry(inv.target.clone()).or_default() += 1;
            g.arrivals.add(*at);
        }
    }

    /// Ends the concurrency sweeps, once everything is read.
    pub fn finish(&mut self) {
        for svc in self.services.values_mut().chain(self.untraced.values_mut()) {
            for ep in svc.endpoints.values_mut() {
                ep.template.settle();
            }
            svc.workers = svc
                .instances
                .values_mut()
                .map(Concurrency::finish)
                .max()
                .unwrap_or(1);
        }
    }

    /// Counts one CLIENT/SERVER pair.
    pub fn hop(&mut self, h: Hop) {
        let l = self
            .links
            .entry((h.caller, h.callee))
            .or_insert_with(|| LinkAcc {
                calls: 0,
                offset_sum_ns: 0.0,
                outside: 0,
                wire: fit::histogram(),
            });
        l.calls += 1;
        l.offset_sum_ns += h.offset_ns as f64;
        l.outside += u64::from(h.outside);
        let w = h.wire_ns.max(1) as u64;
        // Cannot fail: the value is clamped into the histogram's bounds.
        l.wire
            .record(w.min(l.wire.high()))
            .expect("value within bounds");
    }
}

/// A request's own time: its duration less the union of its calls'
/// intervals (not their sum: parallel calls overlap) and its queue wait.
pub fn self_time(inv: &Invocation) -> u64 {
    let mut iv: Vec<(u64, u64)> = inv
        .calls
        .iter()
        .map(|c| (c.start.max(inv.start), c.end.min(inv.end)))
        .filter(|(s, e)| s < e)
        .collect();
    iv.sort_unstable();
    let mut covered = 0;
    let mut cur: Option<(u64, u64)> = None;
    for (s, e) in iv {
        match &mut cur {
            Some((_, ce)) if s <= *ce => *ce = (*ce).max(e),
            _ => {
                if let Some((cs, ce)) = cur {
                    covered += ce - cs;
                }
                cur = Some((s, e));
            }
        }
    }
    if let Some((cs, ce)) = cur {
        covered += ce - cs;
    }
    (inv.end - inv.start)
        .saturating_sub(covered)
        .saturating_sub(inv.queue_ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::CallObs;

    #[test]
    fn self_time_subtracts_the_union_of_calls_not_their_sum() {
        let t = Target {
            service: "a".into(),
            endpoint: "E".into(),
        };
        let call = |s, e| CallObs {
            target: t.clone(),
            start: s,
            end: e,
            untraced: false,
            code: 0,
        };
        let inv = Invocation {
            target: t.clone(),
            instance: "a".into(),
            start: 0,
            end: 100,
            queue_ns: 5,
            work_ns: None,
            code: 0,
            calls: vec![call(10, 40), call(20, 50), call(60, 70)],
            entry: None,
            untraced: false,
        };
        assert_eq!(self_time(&inv), 100 - 40 - 10 - 5);
    }
}
