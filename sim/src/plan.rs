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
    /// Step lists: an endpoint's steps, a `session_miss` prefix joined to
    /// them, and each `parallel` branch.
    pub lists: Vec<Vec<PStep>>,
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

/// A `call` step, resolved.
#[derive(Debug)]
pub struct CallPlan {
    pub service: u32,
    pub endpoint: u32,
    /// The caller's pick slot for the callee service.
    pub slot: u32,
    /// Index into [`Plan::edges`].
    pub edge: u32,
    pub timeout: Nanos,
    pub retries: u32,
    pub backoff: Option<Dist>,
    pub shape: BackoffShape,
    pub probability: f64,
    pub times: u32,
    pub continue_on_error: bool,
    /// Retries per first attempt; `None`: unlimited, or never drawn on (no
    /// step on its edge retries).
    pub budget: Option<f64>,
    pub breaker: Option<Breaker>,
    pub pick: Balance,
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
            let endpoints = s
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
        let compiled = steps.iter().map(|s| self.step(s)).collect();
        self.plan.lists.push(compiled);
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
                    budget: c.retry_budget.map(|b| b.ratio),
                    breaker: c.breaker,
                    pick: self.policy.unwrap_or(callee.balance),
                    request: c.request,
                    response: callee.endpoints.get(endpoint).map_or(0, |e| e.response),
                });
                PStep::Call((self.plan.calls.len() - 1) as u32)
            }
        }
    }
}
