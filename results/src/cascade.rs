//! Cascade analysis: from the per-service time series, when each service's
//! queue built up and stayed built, in which order, and which callee each one
//! was waiting on. This is the story of a blocking topology under overload:
//! the slowest service fills first, its callers' workers all end up waiting
//! on it, and their queues fill next, up to the front door.
//!
//! # The rule
//!
//! - A service's queue `Q(t)` is the sum over its replicas at each sample.
//! - Its threshold is `B = max(2, ⌈workers × replicas / 2⌉)`, capped at the
//!   queue's capacity (`queue × replicas`); a service with `queue: 0` has none.
//! - The queue is *built* at a sample when `Q(t) ≥ B`.
//! - The *onset* is the first sample where the queue is built and stays
//!   built: at least 80% of the samples from it over the next
//!   `max(1 s, 5 samples)` are built (a window cut short by the end of the run
//!   needs at least 3 samples).
//! - A service *waits on* the callee (a service it calls directly) whose onset
//!   came first, no later than one sampling interval after its own. A service
//!   with an onset and no such callee is where the cascade starts: it is
//!   *saturated*.
//! - A blocking service's workers are *held* by a callee at a sample when all
//!   of them are busy and that callee has at least half as many requests in
//!   flight: its workers wait there, even if no queue builds anywhere (pool
//!   exhaustion behind a slow dependency). Held from a sample on, by the same
//!   80% rule, is an onset too, waiting on that callee; a callee that holds
//!   its callers' workers without an onset of its own is where the cascade
//!   starts: it is *slow*.
//! - There is a cascade when at least one onset waits on a callee's.
//! - Onsets are ordered by time; onsets in the same sample go callee first,
//!   and so does a callee whose onset came up to one sample *after* that of a
//!   service waiting on it (the caller's requests were already queued in the
//!   callee; the 80% rule merely confirmed the callee's queue a sample later).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use topolab_model::Topology;

use crate::graph::CallGraph;
use crate::timeseries::ServiceSeries;

/// Share of samples in the hold window that must be built.
const STAY_SHARE: f64 = 0.8;
/// The hold window: at least this long …
const HOLD_S: f64 = 1.0;
/// … and at least this many samples.
const HOLD_SAMPLES: usize = 5;

/// The `cascade` section of `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cascade {
    /// True when at least one service's queue built up behind a callee's.
    pub detected: bool,
    /// The cascade in words, as `run` prints it.
    pub text: String,
    /// Every onset, earliest first.
    pub onsets: Vec<Onset>,
    /// The rule the onsets follow, for readers of the JSON.
    pub rule: String,
}

/// What built up at an onset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnsetKind {
    /// The queue built up and stayed built.
    #[default]
    Queue,
    /// Every worker was held waiting on a callee.
    Held,
    /// A callee held its callers' workers, its own queue staying short.
    Slow,
}

/// When one service's queue built up and stayed built, or its workers were
/// held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Onset {
    pub service: String,
    /// Seconds from the start of load.
    pub t_s: f64,
    /// The queue depth counted as built (`B`).
    pub threshold: u64,
    /// Deepest queue over the hold window, and the capacity (`queue ×
    /// replicas`; absent when unbounded).
    pub queue_peak: u64,
    pub queue_capacity: Option<u64>,
    /// Workers busy at the onset, and how many there are.
    pub in_flight: u64,
    pub workers: u64,
    /// The callee whose earlier onset this one follows; none: it starts here.
    pub waiting_on: Option<String>,
    /// What built up (absent in summaries written before it was named: a queue).
    #[serde(default)]
    pub kind: OnsetKind,
}

/// The rule in one sentence, stored beside the onsets.
pub const RULE: &str = "a queue is built when it holds at least max(2, workers x replicas / 2) requests (at most its capacity); a blocking service's workers are held when all are busy and a callee has at least half as many in flight; an onset is the first sample from which a queue stays built, or workers stay held, in 80% of the samples over the next max(1 s, 5 samples); a service waits on the callee whose onset came first, at most one sample after its own, or on the callee that holds its workers (slow, where the cascade starts, when it has no onset of its own); onsets are listed by time, a callee before the services waiting on it";

/// Finds the onsets in `series` (per service, see
/// [`crate::timeseries::by_service`]) and relates them through the call graph.
pub fn analyze(topology: &Topology, series: &BTreeMap<String, ServiceSeries>) -> Cascade {
    let graph = CallGraph::of(topology);
    let mut onsets: Vec<Onset> = topology
        .services
        .iter()
        .filter_map(|s| {
            let ser = series.get(&s.name)?;
            let workers = u64::from(s.workers) * u64::from(s.replicas);
            let capacity = s.queue.map(|q| u64::from(q) * u64::from(s.replicas));
            let threshold = threshold(workers, capacity)?;
            let (i, end) = onset(ser, |k| ser.queue[k] >= threshold)?;
            Some(Onset {
                service: s.name.clone(),
                t_s: ser.t_s[i],
                threshold,
                queue_peak: ser.queue[i..end].iter().copied().max().unwrap_or(0),
                queue_capacity: capacity,
                in_flight: ser.in_flight[i],
                workers,
                waiting_on: None,
                kind: OnsetKind::Queue,
            })
        })
        .collect();
    let held = held_onsets(topology, series, &graph);
    // Ties (the same sample) go callee first: that is the causal order.
    let depth = graph.depths();
    onsets.sort_by(|a, b| {
        a.t_s.total_cmp(&b.t_s).then_with(|| {
            let d = |o: &Onset| depth.get(&o.service).copied().unwrap_or(0);
            d(b).cmp(&d(a))
        })
    });
    let step = series
        .values()
        .find_map(|s| (s.t_s.len() > 1).then(|| s.t_s[1] - s.t_s[0]))
        .unwrap_or(0.1);
    let at: BTreeMap<String, f64> = onsets.iter().map(|o| (o.service.clone(), o.t_s)).collect();
    for o in &mut onsets {
        if let Some((callee, (i, _))) = held.get(&o.service)
            && series[&o.service].t_s[*i] <= o.t_s + step * 1.01
        {
            o.waiting_on = Some(callee.clone());
            continue;
        }
        o.waiting_on = graph
            .callees_of(&o.service)
            .filter(|c| *c != o.service)
            .filter_map(|c| at.get(c).map(|t| (c, *t)))
            .filter(|(_, t)| *t <= o.t_s + step * 1.01)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, _)| c.to_string());
    }
    add_held(&mut onsets, held, topology, series);
    order_callees_first(&mut onsets, &depth);
    let detected = onsets.iter().any(|o| o.waiting_on.is_some());
    Cascade {
        detected,
        text: describe(&onsets, detected),
        onsets,
        rule: RULE.into(),
    }
}

/// `B`, or none when the queue can hold nothing.
fn threshold(workers: u64, capacity: Option<u64>) -> Option<u64> {
    let b = 2.max(workers.div_ceil(2));
    match capacity {
        Some(0) => None,
        Some(c) => Some(b.min(c)),
        None => Some(b),
    }
}

/// Blocking services whose workers were held by a callee: the callee and
/// the held onset's sample index and hold window's end.
fn held_onsets(
    topology: &Topology,
    series: &BTreeMap<String, ServiceSeries>,
    graph: &CallGraph,
) -> BTreeMap<String, (String, (usize, usize))> {
    let mut out = BTreeMap::new();
    for s in &topology.services {
        if s.model != topolab_model::ServeModel::Blocking {
            continue;
        }
        let Some(ser) = series.get(&s.name) else {
            continue;
        };
        let workers = u64::from(s.workers) * u64::from(s.replicas);
        let holder = |k: usize| -> Option<&str> {
            if ser.in_flight[k] < workers {
                return None;
            }
            graph
                .callees_of(&s.name)
                .filter(|c| *c != s.name)
                .filter_map(|c| Some((c, series.get(c)?.in_flight.get(k).copied()?)))
                .filter(|(_, n)| *n * 2 >= workers)
                .max_by_key(|(_, n)| *n)
                .map(|(c, _)| c)
        };
        let found = (0..ser.t_s.len()).find_map(|i| {
            let callee = holder(i)?;
            let end = stays(ser, i, |k| holder(k) == Some(callee))?;
            Some((callee.to_string(), (i, end)))
        });
        if let Some(f) = found {
            out.insert(s.name.clone(), f);
        }
    }
    out
}

/// Adds the held onsets of services that had no queue onset, and a slow
/// onset for each holding callee that has none of its own.
fn add_held(
    onsets: &mut Vec<Onset>,
    held: BTreeMap<String, (String, (usize, usize))>,
    topology: &Topology,
    series: &BTreeMap<String, ServiceSeries>,
) {
    let service = |name: &str| topology.services.iter().find(|s| s.name == name);
    for (name, (callee, (i, end))) in held {
        let (Some(s), Some(ser)) = (service(&name), series.get(&name)) else {
            continue;
        };
        let workers = u64::from(s.workers) * u64::from(s.replicas);
        let t_s = ser.t_s[i];
        if let Some(o) = onsets.iter_mut().find(|o| o.service == name) {
            // A queue that built behind held workers: held first, then queued.
            if t_s < o.t_s {
                o.t_s = t_s;
                o.kind = OnsetKind::Held;
                o.in_flight = ser.in_flight[i];
            }
        } else {
            onsets.push(Onset {
                service: name.clone(),
                t_s,
                threshold: workers,
                queue_peak: ser.queue[i..end].iter().copied().max().unwrap_or(0),
                queue_capacity: s.queue.map(|q| u64::from(q) * u64::from(s.replicas)),
                in_flight: ser.in_flight[i],
                workers,
                waiting_on: Some(callee.clone()),
                kind: OnsetKind::Held,
            });
        }
        if onsets.iter().all(|o| o.service != callee)
            && let (Some(c), Some(cs)) = (service(&callee), series.get(&callee))
        {
            onsets.push(Onset {
                service: callee.clone(),
                t_s,
                threshold: 0,
                queue_peak: cs.queue[i..end.min(cs.queue.len())]
                    .iter()
                    .copied()
                    .max()
                    .unwrap_or(0),
                queue_capacity: c.queue.map(|q| u64::from(q) * u64::from(c.replicas)),
                in_flight: cs.in_flight.get(i).copied().unwrap_or(0),
                workers: u64::from(c.workers) * u64::from(c.replicas),
                waiting_on: None,
                kind: OnsetKind::Slow,
            });
        }
    }
    onsets.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
}

/// The onset's sample index and the end (exclusive) of its hold window: the
/// first sample where `built` holds and keeps holding (see the module docs).
fn onset(s: &ServiceSeries, built: impl Fn(usize) -> bool) -> Option<(usize, usize)> {
    (0..s.t_s.len()).find_map(|i| {
        if !built(i) {
            return None;
        }
        Some((i, stays(s, i, &built)?))
    })
}

/// The end (exclusive) of the hold window from sample `i` when `built`
/// keeps holding over it; none when it does not.
fn stays(s: &ServiceSeries, i: usize, built: impl Fn(usize) -> bool) -> Option<usize> {
    let n = s.t_s.len();
    let until = s.t_s[i] + HOLD_S;
    let mut end = i;
    while end < n && (s.t_s[end] < until || end - i < HOLD_SAMPLES) {
        end += 1;
    }
    let window = end - i;
    let full = s.t_s[end - 1] + 1e-9 >= until - 1e-3 && window >= HOLD_SAMPLES;
    if !full && window < 3 {
        return None;
    }
    let held = (i..end).filter(|k| built(*k)).count();
    (held as f64 >= STAY_SHARE * window as f64).then_some(end)
}

/// The words every page uses for an onset's service: where a cascade starts
/// a service is *saturated* (its own queue) or *slow* (holding its callers'
/// workers); behind it, a service *waits on* its callee.
pub fn label(o: &Onset) -> String {
    match (&o.waiting_on, o.kind) {
        (None, OnsetKind::Slow) => format!("slow from {:.1}s", o.t_s),
        (None, _) => format!("saturated from {:.1}s", o.t_s),
        (Some(c), OnsetKind::Held) => format!("workers held from {:.1}s, waiting on {c}", o.t_s),
        (Some(c), _) => format!("queue built from {:.1}s, waiting on {c}", o.t_s),
    }
}

fn describe(onsets: &[Onset], detected: bool) -> String {
    let queue = |o: &Onset| match o.queue_capacity {
        Some(c) => format!("queue {}/{c}", o.queue_peak),
        None => format!("queue {}", o.queue_peak),
    };
    let detail = |o: &Onset| match (&o.waiting_on, o.kind) {
        (None, OnsetKind::Slow) => format!(" ({} in flight, its queue short)", o.in_flight),
        (None, _) => format!(
            " ({}, {}/{} workers busy)",
            queue(o),
            o.in_flight,
            o.workers
        ),
        (Some(_), OnsetKind::Held) => format!(" ({}/{} busy)", o.in_flight, o.workers),
        (Some(_), _) => String::new(),
    };
    if onsets.is_empty() {
        return "no cascade: no service's queue built up and stayed built, and no workers were held".into();
    }
    let parts: Vec<String> = onsets
        .iter()
        .map(|o| format!("{} {}{}", o.service, label(o), detail(o)))
        .collect();
    if !detected {
        return format!("no cascade: {}; nothing waits on it", parts.join("; "));
    }
    parts.join(" → ")
}

/// Puts every callee that a listed service waits on before that service
/// (see the module docs): each onset's sort key is the earliest of its own
/// time and the keys of the services waiting on it.
fn order_callees_first(onsets: &mut [Onset], depth: &BTreeMap<String, usize>) {
    let mut key: BTreeMap<String, f64> =
        onsets.iter().map(|o| (o.service.clone(), o.t_s)).collect();
    // Waiting-on chains are acyclic and short: a few passes reach the fixpoint.
    for _ in 0..onsets.len() {
        for o in onsets.iter() {
            if let Some(c) = &o.waiting_on {
                let k = key[&o.service];
                if let Some(ck) = key.get_mut(c)
                    && k < *ck
                {
                    *ck = k;
                }
            }
        }
    }
    onsets.sort_by(|a, b| {
        key[&a.service].total_cmp(&key[&b.service]).then_with(|| {
            let d = |o: &Onset| depth.get(&o.service).copied().unwrap_or(0);
            d(b).cmp(&d(a))
        })
    });
}

#[cfg(test)]
#[path = "cascade_tests.rs"]
mod tests;
