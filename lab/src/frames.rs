//! The figures the page draws, taken five times a second while the load
//! runs and sent to every page as one JSON frame: per generator sent/s,
//! ok/s and p50/p99 of the last seconds; per replica queue, busy workers,
//! arrivals and rejections per second and whether it is alive; the requests
//! finished since the last frame as dots (an even sample past
//! [`DOTS_PER_FRAME`]), those in flight (waiting in a queue or being
//! worked); and the actions applied.
//!
//! Which requests in flight are being worked is inferred, not observed: at
//! a target with `b` busy workers the `b` oldest requests in flight are
//! taken as the ones being worked (first come, first served).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use topolab_load::Outcome;
use topolab_load::knob::{held_clients, held_rate};
use topolab_model::{Pattern, Topology};

use crate::session::{Attached, Session};

/// How often a frame is taken.
pub const EVERY: Duration = Duration::from_millis(200);
/// Finished requests drawn per frame at most (the rest are counted).
pub const DOTS_PER_FRAME: usize = 100;
/// Requests in flight drawn per frame at most.
const FLIGHT_PER_FRAME: usize = 300;
/// Rates are taken over this window.
const RATE_WINDOW: Duration = Duration::from_secs(2);
/// Percentiles are taken over this window...
const LATENCY_WINDOW: Duration = Duration::from_secs(5);
/// ... and over this many answers at most.
const LATENCY_MAX: usize = 50_000;

/// One generator's recent history, kept by the ticker.
#[derive(Default)]
struct Recent {
    counts: VecDeque<(Instant, u64, u64)>,
    ok_us: VecDeque<(Instant, u64)>,
    dropped: u64,
}

/// Starts taking frames until the run hands the fleet back.
pub fn start(session: Arc<Session>) {
    tokio::spawn(async move {
        let mut recent: BTreeMap<String, Recent> = BTreeMap::new();
        let mut resets = 0;
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let frame = {
                let st = session.state.lock();
                let Some(a) = &st.attached else { continue };
                if st.resets != resets {
                    resets = st.resets;
                    recent.clear();
                }
                let mut frame = take(
                    &session,
                    &st.topology,
                    a,
                    &mut recent,
                    &st.actions,
                    st.stopped,
                );
                frame["predicted"] = st.ghost.clone().unwrap_or(Value::Null);
                frame["resets"] = json!(resets);
                frame
            };
            let ended = frame["ended"].as_bool().unwrap_or(false);
            if !ended {
                crate::ghost::refresh(&session, frame["t"].as_f64().unwrap_or(0.0));
            }
            let text: Arc<str> = frame.to_string().into();
            session.state.lock().latest = Some(frame);
            let _ = session.frames.send(text);
            if ended {
                break;
            }
        }
    });
}

fn code(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::Rejected => "rejected",
        Outcome::Timeout => "timeout",
        Outcome::Error(_) => "error",
    }
}

fn pct(sorted: &[u64], q: f64) -> Option<f64> {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).map(|us| *us as f64 / 1e3)
}

/// What the ticker takes of one generator's recorder, under its lock.
struct Read {
    sent: u64,
    ok: u64,
    rejected: u64,
    timeouts: u64,
    errors: u64,
    /// Answered since the last frame.
    taken: Vec<topolab_load::dots::Dot>,
    /// Due times of the requests in flight.
    in_flight: Vec<Instant>,
    dropped: u64,
    /// Following clients: how stale their view was, so far.
    staleness: Option<Value>,
}

fn read(rec: &mut topolab_load::Recorder) -> Read {
    let (taken, in_flight, dropped) = match &mut rec.dots {
        Some(d) => (d.take(), d.in_flight().collect(), d.dropped),
        None => (Vec::new(), Vec::new(), 0),
    };
    Read {
        sent: rec.sent,
        ok: rec.ok,
        rejected: rec.rejected,
        timeouts: rec.timeouts,
        errors: rec.errors.values().sum(),
        taken,
        in_flight,
        dropped,
        staleness: rec
            .freshness
            .as_ref()
            .and_then(|f| serde_json::to_value(f.figures()).ok()),
    }
}

fn take(
    session: &Session,
    topology: &Topology,
    a: &Attached,
    recent: &mut BTreeMap<String, Recent>,
    actions: &[crate::session::Action],
    stopped: bool,
) -> Value {
    let now = Instant::now();
    let t = now.saturating_duration_since(a.begin).as_secs_f64();
    let at = |i: Instant| i.saturating_duration_since(a.begin).as_secs_f64();
    let mut generators = serde_json::Map::new();
    let mut dots = Vec::new();
    let mut finished = 0usize;
    // In flight, by the target service: (due, generator index).
    let mut flying: BTreeMap<&str, Vec<(Instant, usize)>> = BTreeMap::new();
    for (gi, g) in topology.load.iter().enumerate() {
        let Some(rec) = a.load.get(&g.name) else {
            continue;
        };
        let r = recent.entry(g.name.clone()).or_default();
        let Read {
            sent,
            ok,
            rejected,
            timeouts,
            errors,
            taken,
            in_flight,
            dropped,
            staleness,
        } = read(&mut rec.lock());
        r.dropped = dropped;
        r.counts.push_back((now, sent, ok));
        while r.counts.len() > 2 && now.duration_since(r.counts[0].0) > RATE_WINDOW {
            r.counts.pop_front();
        }
        for d in &taken {
            if d.outcome == Outcome::Ok && r.ok_us.len() < LATENCY_MAX {
                r.ok_us.push_back((now, d.latency_us));
            }
        }
        while r
            .ok_us
            .front()
            .is_some_and(|x| now.duration_since(x.0) > LATENCY_WINDOW)
        {
            r.ok_us.pop_front();
        }
        let (t0, s0, o0) = r.counts[0];
        let dt = now.duration_since(t0).as_secs_f64();
        let per_s = |x: u64| if dt > 0.0 { x as f64 / dt } else { 0.0 };
        let mut lat: Vec<u64> = r.ok_us.iter().map(|x| x.1).collect();
        lat.sort_unstable();
        let setting = session
            .knobs
            .get(&g.name)
            .map(|k| k.get())
            .unwrap_or_default();
        let since = t - g.start.as_secs_f64();
        let (kind, level) = match &g.pattern {
            _ if g.follow.is_some() => ("follow", Value::Null),
            Pattern::Open { stages, .. } => (
                "open",
                json!(
                    setting
                        .rate
                        .unwrap_or_else(|| held_rate(stages, since.max(0.0)).0)
                ),
            ),
            Pattern::Closed { stages, .. } => (
                "closed",
                json!(
                    setting
                        .clients
                        .unwrap_or_else(|| held_clients(stages, since.max(0.0)))
                ),
            ),
        };
        generators.insert(
            g.name.clone(),
            json!({
                "kind": kind, "level": level, "paused": setting.paused,
                "sent": sent, "ok": ok, "rejected": rejected, "timeouts": timeouts, "errors": errors,
                "sent_s": per_s(sent - s0), "ok_s": per_s(ok - o0),
                "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99),
                "in_flight": in_flight.len(), "dropped": dropped, "staleness": staleness,
            }),
        );
        finished += taken.len();
        dots.extend(taken.into_iter().map(|d| (gi, d)));
        flying
            .entry(g.target.service.as_str())
            .or_default()
            .extend(in_flight.into_iter().map(|due| (due, gi)));
    }
    let stride = finished.div_ceil(DOTS_PER_FRAME).max(1);
    let dots: Vec<Value> = dots
        .iter()
        .step_by(stride)
        .map(|(gi, d)| {
            let id = d
                .trace_id
                .map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>());
            json!([
                gi,
                at(d.due),
                d.latency_us as f64 / 1e3,
                code(d.outcome),
                id
            ])
        })
        .collect();
    let (replicas, busy) = replicas(a, topology);
    let mut flight = Vec::new();
    for (service, mut list) in flying {
        list.sort();
        let working = busy.get(service).copied().unwrap_or(0) as usize;
        let n = list.len();
        let stride = n.div_ceil(FLIGHT_PER_FRAME).max(1);
        for (i, (due, gi)) in list.into_iter().enumerate().step_by(stride) {
            let state = if i < working { "working" } else { "queued" };
            flight.push(json!([gi, at(due), state]));
        }
    }
    let marks: Vec<&crate::session::Action> = actions.iter().rev().take(200).rev().collect();
    let ended = a.fleet.strong_count() == 0;
    json!({
        "t": t,
        "generators": generators,
        "replicas": replicas,
        "dots": dots,
        "sampled": {"finished": finished, "shown": dots.len()},
        "flight": flight,
        "actions": marks,
        "stopped": stopped,
        "ended": ended,
    })
}

/// Every replica's levels now, and the busy workers per service.
fn replicas(a: &Attached, topology: &Topology) -> (Vec<Value>, BTreeMap<String, u64>) {
    let dead: Vec<(String, u32)> = a
        .fleet
        .upgrade()
        .map(|f| {
            f.lock()
                .exited()
                .into_iter()
                .map(|(id, _)| (id.service, id.index))
                .collect()
        })
        .unwrap_or_default();
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let since = now_us.saturating_sub(1_000_000);
    let telemetry = a.telemetry.lock();
    let mut out = Vec::new();
    let mut busy: BTreeMap<String, u64> = BTreeMap::new();
    for s in &topology.services {
        for i in 0..a.peers.get(&s.name).map_or(0, Vec::len) as u32 {
            let key = (s.name.clone(), i);
            let alive = !dead.contains(&key);
            let r = telemetry.get(&key);
            let last = |f: fn(&topolab_proto::v1::Sample) -> u64| {
                r.map_or(0, |r| {
                    r.samples
                        .iter()
                        .rev()
                        .take_while(|x| x.t_unix_us >= since)
                        .map(f)
                        .sum::<u64>()
                })
            };
            let (queue, in_flight) = match (alive, r) {
                (true, Some(r)) => (r.queue, r.in_flight),
                _ => (0, 0),
            };
            *busy.entry(s.name.clone()).or_default() += in_flight;
            out.push(json!({
                "id": format!("{}#{i}", s.name), "service": s.name, "alive": alive,
                "queue": queue, "busy": in_flight, "workers": s.workers,
                "arrived_s": last(|x| x.arrived), "rejected_s": last(|x| x.rejected),
            }));
        }
    }
    (out, busy)
}

/// The topology as the page draws it: generators with their targets,
/// services with their replicas, and who calls whom.
pub fn shape(topology: &Topology) -> Value {
    let mut edges: Vec<(String, String)> = Vec::new();
    for g in &topology.load {
        for w in &g.mix {
            edges.push((format!("load:{}", g.name), w.target.service.clone()));
        }
    }
    for e in topolab_model::calls::of_topology(topology) {
        edges.push((e.service.to_string(), e.call.service.clone()));
    }
    edges.sort();
    edges.dedup();
    json!({
        "name": topology.name,
        "generators": topology.load.iter().map(|g| json!({
            "name": g.name, "target": g.target.service,
            "kind": if g.follow.is_some() { "follow" } else if matches!(g.pattern, Pattern::Open{..}) { "open" } else { "closed" },
        })).collect::<Vec<_>>(),
        "services": topology.services.iter().map(|s| json!({
            "name": s.name, "replicas": s.replicas, "workers": s.workers, "queue": s.queue,
            "changes": s.updates.is_some(),
        })).collect::<Vec<_>>(),
        "edges": edges,
    })
}
