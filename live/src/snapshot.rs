//! A moment of the run as the live displays show it: the load's counts,
//! current rate and latency, and each service's levels, read briefly from the
//! shared recorders and telemetry.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::Sources;
use topolab_results::graph::CallGraph;
use topolab_telemetry as telemetry;

/// Rates are measured over this much of the recent past.
pub const RATE_WINDOW: Duration = Duration::from_secs(1);

/// Where a generator is in its schedule.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Phase {
    /// Its `start` is still ahead: it starts in this many seconds.
    Waiting(f64),
    #[default]
    Sending,
    /// Its schedule is over (requests may still be in flight).
    Done,
}

/// One generator now.
#[derive(Debug, Clone, Default)]
pub struct LoadNow {
    pub target: String,
    pub phase: Phase,
    pub sent: u64,
    pub ok: u64,
    pub rejected: u64,
    pub timeouts: u64,
    pub errors: u64,
    /// Requests sent per second over the last [`RATE_WINDOW`].
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// A `poll`, `long_poll` or `subscribe` generator: how stale its
    /// clients were so far, as a display line.
    pub staleness: Option<String>,
}

/// One service now, its replicas added up.
#[derive(Debug, Clone, Default)]
pub struct ServiceNow {
    pub in_flight: u64,
    pub queued: u64,
    pub workers: u64,
    /// `queue × replicas`; none when unbounded.
    pub capacity: Option<u64>,
    /// Rejected in the last [`RATE_WINDOW`], and arrived in it.
    pub rejected_recent: u64,
    /// A service with `updates`: long polls held and streams open now.
    pub follows: Option<(u64, u64)>,
    /// Calls from the load's entry to this service: among services whose
    /// workers are all busy, the deepest is the one the others wait on.
    pub depth: usize,
}

impl ServiceNow {
    /// Every worker busy.
    fn saturated(&self) -> bool {
        self.workers > 0 && self.in_flight >= self.workers
    }

    fn share(n: u64, of: u64) -> f64 {
        if of == 0 { 0.0 } else { n as f64 / of as f64 }
    }
}

/// Orders services the bottleneck first: those with every worker busy, the
/// deepest in the call graph first (its callers' workers wait on it), then
/// the rest by how busy, then how full their queue is; ties keep the file's
/// order.
pub fn bottleneck_first(services: &mut [(String, ServiceNow)]) {
    services.sort_by(|(_, a), (_, b)| {
        let queue = |v: &ServiceNow| ServiceNow::share(v.queued, v.capacity.unwrap_or(v.workers));
        b.saturated()
            .cmp(&a.saturated())
            .then_with(|| {
                if a.saturated() && b.saturated() {
                    b.depth.cmp(&a.depth)
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .then_with(|| {
                ServiceNow::share(b.in_flight, b.workers)
                    .total_cmp(&ServiceNow::share(a.in_flight, a.workers))
            })
            .then_with(|| queue(b).total_cmp(&queue(a)))
    });
}

/// Everything a display draws.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub elapsed: Duration,
    /// Generators in the topology file's order.
    pub load: Vec<(String, LoadNow)>,
    pub services: Vec<(String, ServiceNow)>,
    /// Every generator together (p99 over all of them).
    pub total: LoadNow,
}

/// Keeps recent `sent` counts so rates can be computed between snapshots.
#[derive(Default)]
pub struct Taker {
    history: VecDeque<(Instant, BTreeMap<String, u64>)>,
    /// Each service's depth in the call graph, found once.
    depths: Option<BTreeMap<String, usize>>,
}

impl Taker {
    /// Reads the sources now.
    pub fn take(&mut self, s: &Sources) -> Snapshot {
        let now = Instant::now();
        let mut snap = Snapshot {
            elapsed: now.saturating_duration_since(s.begin),
            ..Default::default()
        };
        let mut all = Histogram::<u64>::new(3).ok();
        let mut sent_now = BTreeMap::new();
        for g in &s.topology.load {
            let Some(rec) = s.load.get(&g.name) else {
                continue;
            };
            let l = {
                // Held briefly: the generator's requests record into it.
                let r = rec.lock();
                if let Some(h) = all.as_mut() {
                    let _ = h.add(&r.latency_us);
                }
                let phase = if snap.elapsed < g.start {
                    Phase::Waiting((g.start - snap.elapsed).as_secs_f64())
                } else if snap.elapsed >= g.start + g.duration && s.keys.is_none() {
                    // (A steered run's generators are held until stopped.)
                    Phase::Done
                } else {
                    Phase::Sending
                };
                LoadNow {
                    target: g.target.to_string(),
                    phase,
                    sent: r.sent,
                    ok: r.ok,
                    rejected: r.rejected,
                    timeouts: r.timeouts,
                    errors: r.errors.values().sum(),
                    rate: 0.0,
                    p50_ms: quantile_ms(&r.latency_us, 0.5),
                    p99_ms: quantile_ms(&r.latency_us, 0.99),
                    staleness: r.freshness.as_ref().map(|f| {
                        let u = f.figures();
                        format!(
                            "{} stale mean {:.0} ms p99 {:.0} ms · versions seen {} missed {} · reconnects {}",
                            u.way,
                            u.staleness_ms.mean,
                            u.staleness_ms.p99,
                            u.versions_seen,
                            u.versions_missed,
                            u.reconnects
                        )
                    }),
                }
            };
            sent_now.insert(g.name.clone(), l.sent);
            snap.load.push((g.name.clone(), l));
        }
        while self
            .history
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
            && self.history.len() > 1
        {
            self.history.pop_front();
        }
        if let Some((then, old)) = self.history.front() {
            let dt = now.duration_since(*then).as_secs_f64();
            if dt > 0.05 {
                for (name, l) in &mut snap.load {
                    let before = old.get(name).copied().unwrap_or(0);
                    l.rate = l.sent.saturating_sub(before) as f64 / dt;
                }
            }
        }
        self.history.push_back((now, sent_now));

        for (_, l) in &snap.load {
            let t = &mut snap.total;
            t.sent += l.sent;
            t.ok += l.ok;
            t.rejected += l.rejected;
            t.timeouts += l.timeouts;
            t.errors += l.errors;
            t.rate += l.rate;
        }
        if let Some(h) = &all {
            snap.total.p50_ms = quantile_ms(h, 0.5);
            snap.total.p99_ms = quantile_ms(h, 0.99);
        }

        let levels = telemetry::service_levels(&s.telemetry, RATE_WINDOW);
        let depths = self
            .depths
            .get_or_insert_with(|| CallGraph::of(&s.topology).depths());
        for svc in &s.topology.services {
            let l = levels.get(&svc.name).copied().unwrap_or_default();
            snap.services.push((
                svc.name.clone(),
                ServiceNow {
                    in_flight: l.in_flight,
                    queued: l.queued,
                    workers: u64::from(svc.workers) * u64::from(svc.replicas),
                    capacity: svc.queue.map(|q| u64::from(q) * u64::from(svc.replicas)),
                    rejected_recent: l.rejected,
                    follows: svc.updates.map(|_| (l.held, l.streams)),
                    depth: depths.get(&svc.name).copied().unwrap_or(0),
                },
            ));
        }
        bottleneck_first(&mut snap.services);
        snap
    }
}

fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now(in_flight: u64, workers: u64, queued: u64, depth: usize) -> ServiceNow {
        ServiceNow {
            in_flight,
            workers,
            queued,
            capacity: Some(64),
            depth,
            ..Default::default()
        }
    }

    #[test]
    fn the_bottleneck_comes_first() {
        // The cascade at its height: every tier's workers busy, the front's
        // queue full; db, the deepest, is the one the others wait on.
        let mut services = vec![
            ("frontend".to_string(), now(8, 8, 64, 0)),
            ("api".to_string(), now(4, 4, 30, 1)),
            ("db".to_string(), now(2, 2, 3, 2)),
            ("cache".to_string(), now(1, 4, 0, 1)),
        ];
        bottleneck_first(&mut services);
        let order: Vec<&str> = services.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(order, ["db", "api", "frontend", "cache"]);
        // Nobody saturated: the busiest first, ties in the file's order.
        let mut calm = vec![
            ("a".to_string(), now(1, 4, 0, 0)),
            ("b".to_string(), now(3, 4, 0, 1)),
            ("c".to_string(), now(1, 4, 0, 2)),
        ];
        bottleneck_first(&mut calm);
        let order: Vec<&str> = calm.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(order, ["b", "a", "c"]);
    }
}
