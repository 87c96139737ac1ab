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

/// When one service's queue built up and stayed built.
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
}

/// The rule in one sentence, stored beside the onsets.
pub const RULE: &str = "a queue is built when it holds at least max(2, workers x replicas / 2) requests (at most its capacity); its onset is the first sample from which it stays built in 80% of the samples over the next max(1 s, 5 samples); a service waits on the callee whose onset came first, at most one sample after its own; onsets are listed by time, a callee before the services waiting on it";

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
            let (i, end) = onset(ser, threshold)?;
            Some(Onset {
                service: s.name.clone(),
                t_s: ser.t_s[i],
                threshold,
                queue_peak: ser.queue[i..end].iter().copied().max().unwrap_or(0),
                queue_capacity: capacity,
                in_flight: ser.in_flight[i],
                workers,
                waiting_on: None,
            })
        })
        .collect();
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
        o.waiting_on = graph
            .callees_of(&o.service)
            .filter(|c| *c != o.service)
            .filter_map(|c| at.get(c).map(|t| (c, *t)))
            .filter(|(_, t)| *t <= o.t_s + step * 1.01)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, _)| c.to_string());
    }
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

/// The onset's sample index and the end (exclusive) of its hold window.
fn onset(s: &ServiceSeries, threshold: u64) -> Option<(usize, usize)> {
    let n = s.t_s.len();
    (0..n).find_map(|i| {
        if s.queue[i] < threshold {
            return None;
        }
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
        let built = s.queue[i..end].iter().filter(|q| **q >= threshold).count();
        (built as f64 >= STAY_SHARE * window as f64).then_some((i, end))
    })
}

fn describe(onsets: &[Onset], detected: bool) -> String {
    let queue = |o: &Onset| match o.queue_capacity {
        Some(c) => format!("queue {}/{c}", o.queue_peak),
        None => format!("queue {}", o.queue_peak),
    };
    if onsets.is_empty() {
        return "no cascade: no service's queue built up and stayed built".into();
    }
    if !detected {
        let list: Vec<String> = onsets
            .iter()
            .map(|o| format!("{} from {:.1}s ({})", o.service, o.t_s, queue(o)))
            .collect();
        return format!(
            "no cascade: queues built up at {}, but none behind a callee's",
            list.join(", ")
        );
    }
    let parts: Vec<String> = onsets
        .iter()
        .enumerate()
        .map(|(i, o)| match &o.waiting_on {
            None => format!(
                "{} saturated at {:.1}s ({}, {}/{} workers busy)",
                o.service,
                o.t_s,
                queue(o),
                o.in_flight,
                o.workers
            ),
            Some(c) if i == 1 => format!(
                "{} queue building from {:.1}s, waiting on {c}",
                o.service, o.t_s
            ),
            Some(c) => format!("{} from {:.1}s, waiting on {c}", o.service, o.t_s),
        })
        .collect();
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
mod tests {
    use super::*;

    const TOPO: &str = "name: t\nservices:\n  frontend:\n    workers: 4\n    endpoints:\n      Get:\n        steps:\n          - call: api/Get\n  api:\n    workers: 2\n    endpoints:\n      Get:\n        steps:\n          - call: db/Q\n  db:\n    workers: 1\n    queue: 8\n    endpoints:\n      Q:\n        steps:\n          - work: 10ms\nload:\n  l:\n    target: frontend/Get\n    rate: 1/s\n    duration: 1s\n";

    fn topology() -> Topology {
        topolab_model::load_str("t.yaml", TOPO, &[])
            .unwrap()
            .topology
    }

    /// A series of 100 ms samples whose queue is 0 before `from` and `q` after.
    fn series(from: Option<f64>, q: u64) -> ServiceSeries {
        let mut s = ServiceSeries::default();
        for i in 1..=50 {
            let t = i as f64 / 10.0;
            s.t_s.push(t);
            s.queue
                .push(if from.is_some_and(|f| t >= f) { q } else { 0 });
            s.in_flight.push(1);
            for v in [
                &mut s.arrived,
                &mut s.completed,
                &mut s.rejected,
                &mut s.failed,
            ] {
                v.push(0);
            }
        }
        s
    }

    #[test]
    fn orders_onsets_and_names_what_each_waits_on() {
        let map = BTreeMap::from([
            ("db".to_string(), series(Some(1.0), 8)),
            ("api".to_string(), series(Some(1.3), 5)),
            ("frontend".to_string(), series(Some(2.0), 9)),
        ]);
        let c = analyze(&topology(), &map);
        assert!(c.detected);
        let order: Vec<&str> = c.onsets.iter().map(|o| o.service.as_str()).collect();
        assert_eq!(order, ["db", "api", "frontend"]);
        assert_eq!(c.onsets[1].waiting_on.as_deref(), Some("db"));
        assert_eq!(c.onsets[2].waiting_on.as_deref(), Some("api"));
        assert_eq!(
            c.text,
            "db saturated at 1.0s (queue 8/8, 1/1 workers busy) → api queue building from 1.3s, waiting on db → frontend from 2.0s, waiting on api"
        );
    }

    #[test]
    fn short_spikes_and_shallow_queues_are_no_cascade() {
        let mut spiky = series(None, 0);
        for i in (0..50).step_by(3) {
            spiky.queue[i] = 6;
        }
        let map = BTreeMap::from([
            ("db".to_string(), spiky),
            ("api".to_string(), series(Some(1.0), 1)),
        ]);
        let c = analyze(&topology(), &map);
        assert!(!c.detected);
        assert!(c.onsets.is_empty(), "{:?}", c.onsets);
        assert!(c.text.starts_with("no cascade"));
    }

    #[test]
    fn a_callee_confirmed_one_sample_after_its_caller_still_goes_first() {
        // Seen on a busy machine: frontend's queue confirmed at 1.4 s, api's
        // (which frontend's requests were queued in) at 1.5 s.
        let map = BTreeMap::from([
            ("db".to_string(), series(Some(1.0), 8)),
            ("api".to_string(), series(Some(1.5), 5)),
            ("frontend".to_string(), series(Some(1.4), 9)),
        ]);
        let c = analyze(&topology(), &map);
        let order: Vec<&str> = c.onsets.iter().map(|o| o.service.as_str()).collect();
        assert_eq!(order, ["db", "api", "frontend"]);
        assert_eq!(c.onsets[2].waiting_on.as_deref(), Some("api"));
        // Two samples apart is no longer "the same moment": time order stands.
        let map = BTreeMap::from([
            ("api".to_string(), series(Some(1.6), 5)),
            ("frontend".to_string(), series(Some(1.4), 9)),
        ]);
        let c = analyze(&topology(), &map);
        let order: Vec<&str> = c.onsets.iter().map(|o| o.service.as_str()).collect();
        assert_eq!(order, ["frontend", "api"]);
    }

    #[test]
    fn onsets_in_the_same_sample_go_callee_first() {
        let map = BTreeMap::from([
            ("db".to_string(), series(Some(1.0), 8)),
            ("api".to_string(), series(Some(1.5), 5)),
            ("frontend".to_string(), series(Some(1.5), 9)),
        ]);
        let c = analyze(&topology(), &map);
        let order: Vec<&str> = c.onsets.iter().map(|o| o.service.as_str()).collect();
        assert_eq!(order, ["db", "api", "frontend"]);
    }

    #[test]
    fn a_lone_full_queue_is_not_a_cascade() {
        let map = BTreeMap::from([("db".to_string(), series(Some(2.0), 8))]);
        let c = analyze(&topology(), &map);
        assert!(!c.detected);
        assert_eq!(c.onsets.len(), 1);
        assert!(c.text.contains("db from 2.0s"), "{}", c.text);
    }

    #[test]
    fn a_queue_built_at_the_very_end_still_counts() {
        let map = BTreeMap::from([("db".to_string(), series(Some(4.7), 8))]);
        assert_eq!(analyze(&topology(), &map).onsets.len(), 1);
        let map = BTreeMap::from([("db".to_string(), series(Some(4.95), 8))]);
        assert!(analyze(&topology(), &map).onsets.is_empty());
    }

    #[test]
    fn thresholds() {
        assert_eq!(threshold(1, Some(64)), Some(2));
        assert_eq!(threshold(16, Some(64)), Some(8));
        assert_eq!(threshold(16, Some(3)), Some(3));
        assert_eq!(threshold(16, Some(0)), None);
        assert_eq!(threshold(16, None), Some(8));
    }

    #[test]
    fn a_session_miss_call_is_an_edge_the_cascade_follows() {
        // sticky-sessions: cart calls db only on a session miss.
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../topologies/sticky-sessions.yaml");
        let t = topolab_model::load(&path, &[]).unwrap().topology;
        let quiet = series(None, 0);
        let mut all: BTreeMap<String, ServiceSeries> = t
            .services
            .iter()
            .map(|s| (s.name.clone(), quiet.clone()))
            .collect();
        all.insert("db".into(), series(Some(1.0), 20));
        all.insert("cart".into(), series(Some(1.3), 30));
        let c = analyze(&t, &all);
        assert!(c.detected, "{}", c.text);
        let cart = c.onsets.iter().find(|o| o.service == "cart").unwrap();
        assert_eq!(cart.waiting_on.as_deref(), Some("db"), "{}", c.text);
    }
}
