//! The topology compiled for simulation: services, endpoints and steps by
//! index instead of by name, every replica numbered once across the
//! topology, and each call step resolved to its callee and to the slot where
//! its caller keeps the state of picking that callee's replicas.

use std::collections::HashMap;

use topolab_model::{
    BackoffShape, Balance, Breaker, Deadlines, Discipline, Dist, Kind, OnError, Restart,
    ServeModel, State, StatusCode, Step, Topology,
};

use crate::engine::Nanos;

/// The compiled topology.
#[derive(Debug)]
pub struct Plan {
    pub services: Vec<SvcPlan>,
    /// Per service, what every request at it reads, sixteen bytes apiece:
    /// at ten thousand services nothing stays in cache, and reading these
    /// from [`SvcPlan`] cost a line or more each.
    pub hot: Vec<SvcHot>,
    /// Per endpoint, by [`SvcHot::ep_first`] plus its index: where its
    /// steps are and its injected errors, dense for the same reason.
    pub eps: Vec<EpRun>,
    /// Every step list's steps back to back (an endpoint's steps, a
    /// `session_miss` prefix joined to them, each `parallel` branch), so
    /// a step costs no walk through a list's own allocation.
    pub steps: Vec<PStep>,
    /// Each step list as (its first step in `steps`, its length).
    pub lists: Vec<(u32, u32)>,
    pub calls: Vec<CallPlan>,
    /// Caller service and callee (service, endpoint) of each distinct call
    /// edge, for the `calls` figures, budgets and breakers.
    pub edges: Vec<(u32, u32, u32)>,
    /// The service of each replica, by global replica index.
    pub replica_service: Vec<u32>,
    /// Where each replica's pick slots start in the world's pick table.
    pub pick_base: Vec<u32>,
    /// Pick slots in all.
    pub pick_slots: u32,
}

/// One service.
#[derive(Debug)]
pub struct SvcPlan {
    pub name: String,
    pub replicas: u32,
    /// Global index of replica 0.
    pub first: u32,
    pub workers: u32,
    /// `None`: unbounded.
    pub queue: Option<u32>,
    pub discipline: Discipline,
    pub blocking: bool,
    pub deadlines: Deadlines,
    pub sessions: bool,
    pub restart: bool,
    /// How callers pick one of its replicas.
    pub balance: Balance,
    /// A balancer's policy, which its forwarding call uses instead of the
    /// backend's `balance`.
    pub policy: Option<Balance>,
    pub endpoints: Vec<EpPlan>,
    /// Distinct callee services, one pick slot each.
    pub callees: Vec<u32>,
}

/// What a request at a service reads of it ([`Plan::hot`]).
#[derive(Debug, Clone, Copy)]
pub struct SvcHot {
    /// Global index of replica 0.
    pub first: u32,
    pub replicas: u32,
    /// Where its endpoints start in [`Plan::eps`] (and the world's
    /// per-endpoint counters).
    pub ep_first: u32,
    pub restart: bool,
    pub sessions: bool,
    pub blocking: bool,
    pub deadlines: Deadlines,
}

/// What a request at an endpoint reads of it ([`Plan::eps`]).
#[derive(Debug, Clone, Copy)]
pub struct EpRun {
    pub list: u32,
    /// `session_miss` followed by the endpoint's steps, `u32::MAX`: none.
    pub miss_list: u32,
    pub errors: Option<(f64, StatusCode)>,
}

/// One endpoint.
#[derive(Debug)]
pub struct EpPlan {
    pub name: String,
    pub list: u32,
    /// `session_miss` followed by the endpoint's steps.
    pub miss_list: Option<u32>,
    pub errors: Option<(f64, StatusCode)>,
}

/// A step, by index.
#[derive(Debug, Clone)]
pub enum PStep {
    Work(Dist),
    Call(u32),
    /// Branch step lists.
    Parallel(Vec<u32>),
}

/// A `call` step, resolved. What every attempt and its response read is
/// in its first cache line (`repr(C)`, aligned to a line); what only
/// retries, modelled networks and picking among several replicas read
/// follows it.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct CallPlan {
    pub service: u32,
    pub endpoint: u32,
    /// The caller's pick slot for the callee service.
    pub slot: u32,
    /// Index into [`Plan::edges`].
    pub edge: u32,
    pub times: u32,
    pub continue_on_error: bool,
    /// Its request is larger than a replica decodes
    /// ([`topolab_rules::message::fits`]).
    pub oversize: bool,
    pub timeout: Nanos,
    pub probability: f64,
    /// Retries per first attempt; `None`: unlimited, or never drawn on (no
    /// step on its edge retries).
    pub budget: Option<f64>,
    /// Boxed: eight bytes in the first line, where a breaker's forty
    /// would push the rest out of it.
    pub breaker: Option<Box<Breaker>>,
    pub retries: u32,
    pub pick: Balance,
    pub backoff: Option<Dist>,
    pub shape: BackoffShape,
    /// Request payload in bytes (a modelled network's bandwidth).
    pub request: u64,
    /// The callee endpoint's response payload in bytes, on the way back.
    pub response: u64,
}

impl Plan {
    /// Compiles a validated topology.
    pub fn new(t: &Topology) -> Plan {
        let index: HashMap<&str, usize> = t
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let mut plan = Plan {
            services: Vec::with_capacity(t.services.len()),
            hot: Vec::with_capacity(t.services.len()),
            eps: Vec::new(),
            steps: Vec::new(),
            lists: Vec::new(),
            calls: Vec::new(),
            edges: Vec::new(),
            replica_service: Vec::new(),
            pick_base: Vec::new(),
            pick_slots: 0,
        };
        let mut edges: HashMap<(u32, u32, u32), u32> = HashMap::new();
        let mut first = 0;
        for (si, s) in t.services.iter().enumerate() {
            let policy = match &s.kind {
                Kind::Balancer { policy, .. } => Some(*policy),
                Kind::Service => None,
            };
            let mut b = Builder {
                t,
                index: &index,
                caller: si as u32,
                callees: Vec::new(),
                policy,
                edges: &mut edges,
                plan: &mut plan,
            };
            let endpoints: Vec<EpPlan> = s
                .endpoints
                .iter()
                .map(|e| {
                    let list = b.list(&e.steps);
                    let miss_list = (s.state == State::Sessions).then(|| {
                        let mut all = s.session_miss.clone();
                        all.extend(e.steps.iter().cloned());
                        b.list(&all)
                    });
                    EpPlan {
                        name: e.name.clone(),
                        list,
                        miss_list,
                        errors: e.errors.as_ref().map(|x| (x.rate, x.status)),
                    }
                })
                .collect();
            let callees = std::mem::take(&mut b.callees);
            plan.hot.push(SvcHot {
                first,
                replicas: s.replicas,
                ep_first: plan.eps.len() as u32,
                restart: s.restart == Restart::Always,
                sessions: s.state == State::Sessions,
                blocking: s.model == ServeModel::Blocking,
                deadlines: s.deadlines,
            });
            plan.eps.extend(endpoints.iter().map(|e| EpRun {
                list: e.list,
                miss_list: e.miss_list.unwrap_or(u32::MAX),
                errors: e.errors,
            }));
            plan.services.push(SvcPlan {
                name: s.name.clone(),
                replicas: s.replicas,
                first,
                workers: s.workers.max(1),
                queue: s.queue,
                discipline: s.discipline,
                blocking: s.model == ServeModel::Blocking,
                deadlines: s.deadlines,
                sessions: s.state == State::Sessions,
                restart: s.restart == Restart::Always,
                balance: s.balance,
                policy,
                endpoints,
                callees,
            });
            for _ in 0..s.replicas {
                plan.replica_service.push(si as u32);
                plan.pick_base.push(plan.pick_slots);
                plan.pick_slots += plan.services[si].callees.len() as u32;
            }
            first += s.replicas;
        }
        let mut by_index: Vec<_> = edges.into_iter().collect();
        by_index.sort_by_key(|(_, i)| *i);
        plan.edges = by_index.into_iter().map(|(e, _)| e).collect();
        // A budget is drawn on only by retries: on an edge where no step
        // retries it decides nothing, and is not kept.
        let mut retried = vec![false; plan.edges.len()];
        for c in &plan.calls {
            retried[c.edge as usize] |= c.retries > 0;
        }
        for c in &mut plan.calls {
            c.budget = c.budget.filter(|_| retried[c.edge as usize]);
        }
        plan
    }

    /// Step list `list`'s steps.
    #[inline]
    pub fn list(&self, list: u32) -> &[PStep] {
        let (start, len) = self.lists[list as usize];
        &self.steps[start as usize..(start + len) as usize]
    }

    /// Replicas in all.
    pub fn replica_count(&self) -> usize {
        self.replica_service.len()
    }

    /// `service/Endpoint` of an endpoint by index.
    pub fn endpoint_label(&self, service: u32, endpoint: u32) -> String {
        let s = &self.services[service as usize];
        format!("{}/{}", s.name, s.endpoints[endpoint as usize].name)
    }
}

struct Builder<'a> {
    t: &'a Topology,
    index: &'a HashMap<&'a str, usize>,
    caller: u32,
    callees: Vec<u32>,
    policy: Option<Balance>,
    edges: &'a mut HashMap<(u32, u32, u32), u32>,
    plan: &'a mut Plan,
}

impl Builder<'_> {
    fn list(&mut self, steps: &[Step]) -> u32 {
        // Branches are compiled first, so this list's steps stay together.
        let compiled: Vec<PStep> = steps.iter().map(|s| self.step(s)).collect();
        let start = self.plan.steps.len() as u32;
        self.plan.lists.push((start, compiled.len() as u32));
        self.plan.steps.extend(compiled);
        (self.plan.lists.len() - 1) as u32
    }

    fn step(&mut self, s: &Step) -> PStep {
        match s {
            Step::Work(d) => PStep::Work(*d),
            Step::Parallel(branches) => {
                PStep::Parallel(branches.iter().map(|b| self.list(b)).collect())
            }
            Step::Call(c) => {
                // Validation guarantees the callee and its endpoint exist.
                let service = self.index[c.service.as_str()];
                let callee = &self.t.services[service];
                let endpoint = callee
                    .endpoints
                    .iter()
                    .position(|e| e.name == c.endpoint)
                    .unwrap_or(0);
                let slot = match self.callees.iter().position(|&x| x == service as u32) {
                    Some(i) => i,
                    None => {
                        self.callees.push(service as u32);
                        self.callees.len() - 1
                    }
                };
                let key = (self.caller, service as u32, endpoint as u32);
                let next = self.edges.len() as u32;
                let edge = *self.edges.entry(key).or_insert(next);
                self.plan.calls.push(CallPlan {
                    service: service as u32,
                    endpoint: endpoint as u32,
                    slot: slot as u32,
                    edge,
                    timeout: c.timeout.as_nanos() as Nanos,
                    retries: c.retries,
                    backoff: c.backoff,
                    shape: c.backoff_shape,
                    probability: c.probability,
                    times: c.times,
                    continue_on_error: c.on_error == OnError::Continue,
                    oversize: !topolab_rules::message::fits(c.request),
                    budget: c.retry_budget.map(|b| b.ratio),
                    breaker: c.breaker.map(Box::new),
                    pick: self.policy.unwrap_or(callee.balance),
                    request: c.request,
                    response: callee.endpoints.get(endpoint).map_or(0, |e| e.response),
                });
                PStep::Call((self.plan.calls.len() - 1) as u32)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layouts the comments promise: at ten thousand services each
    /// line a request touches is a miss.
    #[test]
    fn hot_records_fit_their_cache_lines() {
        assert_eq!(std::mem::offset_of!(CallPlan, retries), 64);
        assert_eq!(std::mem::size_of::<SvcHot>(), 16);
        assert_eq!(std::mem::size_of::<crate::state::EpHot>(), 32);
    }
}
