//! The arithmetic a user wants before running: how much of each service's
//! worker pool the offered load keeps busy (utilisation ρ = λ × hold time /
//! workers), which service saturates first (the bottleneck), and the offered
//! load at which it does (the topology's capacity). Hold times are those of
//! an unloaded topology: a `blocking` request holds its worker for its whole
//! response time, calls included; an `async` one only for its `work`.

use std::collections::HashMap;

use topolab_model::{Pattern, Topology};

use crate::figures::Figures;
use crate::plan::{PStep, Plan};

/// One service at the offered load.
#[derive(Debug, Clone, PartialEq)]
pub struct Utilisation {
    pub service: String,
    /// Requests per second arriving at the service.
    pub arrival_rate: f64,
    /// Worker-seconds each request holds, unloaded.
    pub hold_s: f64,
    /// λ × hold / (workers × replicas): above 1 the service cannot keep up.
    pub rho: f64,
    /// What the simulation measured: busy worker time / worker time.
    pub simulated: f64,
}

/// The whole topology at the offered load.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    /// Per service, in the topology's order.
    pub services: Vec<Utilisation>,
    /// Offered load in all, requests per second.
    pub offered: f64,
    /// The service with the highest ρ.
    pub bottleneck: Option<String>,
    /// The offered load (same mix) at which the bottleneck reaches ρ = 1.
    pub capacity: Option<f64>,
}

/// Works out utilisation and capacity; `figures` gives closed loops' rates
/// (what their clients managed) and the simulated busy shares.
pub fn capacity(t: &Topology, figures: &Figures, hop_cost_s: f64) -> Capacity {
    capacity_with(t, figures, hop_cost_s, 0.0)
}

/// As [`capacity`], each `work` step also costing `work_overhead_s` (what
/// the simulation charged: [`crate::Options::work_overhead`]).
pub fn capacity_with(
    t: &Topology,
    figures: &Figures,
    hop_cost_s: f64,
    work_overhead_s: f64,
) -> Capacity {
    let cost = Cost {
        hop: hop_cost_s,
        work: work_overhead_s,
    };
    let plan = Plan::new(t);
    let mut memo = HashMap::new();
    let mut rate: HashMap<(u32, u32), f64> = HashMap::new();
    let secs = figures.duration as f64 / 1e9;
    let by_name: HashMap<&str, usize> = plan
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut offered = 0.0;
    for (gi, g) in t.load.iter().enumerate() {
        let r = match &g.pattern {
            Pattern::Open { .. } => g.pattern.mean_rate().unwrap_or(0.0),
            Pattern::Closed { .. } => {
                let l = &figures.load[gi];
                let span = match (l.first_due, l.issue_end) {
                    (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
                    _ => secs,
                };
                if span > 0.0 {
                    l.sent as f64 / span
                } else {
                    0.0
                }
            }
        };
        offered += r;
        for w in &g.mix {
            let s = by_name.get(w.target.service.as_str()).copied();
            let e = s.and_then(|s| {
                plan.services[s]
                    .endpoints
                    .iter()
                    .position(|e| e.name == w.target.endpoint)
            });
            if let (Some(s), Some(e)) = (s, e) {
                spread(&plan, s as u32, e as u32, r * w.share, &mut rate);
            }
        }
    }
    let services: Vec<Utilisation> = plan
        .services
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let mut demand = 0.0;
            let mut arrival = 0.0;
            for e in 0..s.endpoints.len() {
                let lam = rate.get(&(si as u32, e as u32)).copied().unwrap_or(0.0);
                let (resp, work) = times(&plan, si as u32, e as u32, cost, &mut memo);
                let hold = if s.blocking { resp } else { work };
                demand += lam * hold;
                arrival += lam;
            }
            let servers = f64::from(s.workers) * f64::from(s.replicas);
            let hold_s = if arrival > 0.0 { demand / arrival } else { 0.0 };
            let simulated = if secs > 0.0 {
                figures.busy_ns[si] / 1e9 / (servers * secs)
            } else {
                0.0
            };
            Utilisation {
                service: s.name.clone(),
                arrival_rate: arrival,
                hold_s,
                rho: demand / servers,
                simulated,
            }
        })
        .collect();
    let top = services
        .iter()
        .filter(|u| u.rho > 0.0)
        .max_by(|a, b| a.rho.total_cmp(&b.rho));
    Capacity {
        bottleneck: top.map(|u| u.service.clone()),
        capacity: top.map(|u| offered / u.rho),
        offered,
        services,
    }
}

/// What a hop and a work step cost beyond the model's own times, seconds.
#[derive(Debug, Clone, Copy)]
struct Cost {
    hop: f64,
    work: f64,
}

/// Adds `lam` requests per second at (s, e) and what its calls pass on.
fn spread(plan: &Plan, s: u32, e: u32, lam: f64, rate: &mut HashMap<(u32, u32), f64>) {
    *rate.entry((s, e)).or_default() += lam;
    let list = plan.services[s as usize].endpoints[e as usize].list;
    spread_list(plan, list, lam, rate);
}

fn spread_list(plan: &Plan, list: u32, lam: f64, rate: &mut HashMap<(u32, u32), f64>) {
    for step in plan.list(list) {
        match step {
            PStep::Work(_) => {}
            PStep::Call(c) => {
                let c = &plan.calls[*c as usize];
                let n = lam * c.probability * f64::from(c.times);
                spread(plan, c.service, c.endpoint, n, rate);
            }
            PStep::Parallel(branches) => {
                for b in branches {
                    spread_list(plan, *b, lam, rate);
                }
            }
        }
    }
}

/// (response time, worker time in `work`) of one request at (s, e),
/// unloaded, in seconds.
fn times(
    plan: &Plan,
    s: u32,
    e: u32,
    cost: Cost,
    memo: &mut HashMap<(u32, u32), (f64, f64)>,
) -> (f64, f64) {
    if let Some(v) = memo.get(&(s, e)) {
        return *v;
    }
    let list = plan.services[s as usize].endpoints[e as usize].list;
    let v = list_times(plan, list, cost, memo);
    memo.insert((s, e), v);
    v
}

fn list_times(
    plan: &Plan,
    list: u32,
    cost: Cost,
    memo: &mut HashMap<(u32, u32), (f64, f64)>,
) -> (f64, f64) {
    let (mut resp, mut work) = (0.0, 0.0);
    for step in plan.list(list) {
        match step {
            PStep::Work(d) => {
                let m = d.mean().as_secs_f64() + cost.work;
                resp += m;
                work += m;
            }
            PStep::Call(c) => {
                let c = &plan.calls[*c as usize];
                let (r, _) = times(plan, c.service, c.endpoint, cost, memo);
                resp += c.probability * f64::from(c.times) * (cost.hop + r);
            }
            PStep::Parallel(branches) => {
                let mut slowest: f64 = 0.0;
                for b in branches {
                    let (r, w) = list_times(plan, *b, cost, memo);
                    slowest = slowest.max(r);
                    work += w;
                }
                resp += slowest;
            }
        }
    }
    (resp, work)
}
