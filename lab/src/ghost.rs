//! The prediction beside the measurement: for the settings now in force
//! (each generator held at its current rate or clients, paused ones left
//! out, the services as set), the simulator's steady state: per generator
//! p50 and p99, per service the mean queue. Taken again after every change,
//! on a blocking thread, so a slow prediction never holds up the page: the
//! frames carry the latest one, with the change it answers and how long it
//! took.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use topolab_load::knob::{held_clients, held_rate};
use topolab_model::{ClientStage, Pattern, RateStage, Topology};

use crate::session::Session;

/// How long a steady state is simulated; its second half is measured.
const SIMULATED: Duration = Duration::from_secs(30);
/// One gRPC hop's round trip on a machine like this one (see
/// `docs/predict.md`; `topolab predict` probes it, the lab assumes it).
const HOP_COST_NS: u64 = 250_000;

/// Each generator's level now (rate or clients; 0 paused or not started):
/// a prediction answers one set of levels, and is taken again when they
/// change, by a control or by a generator's own stages.
pub fn levels(session: &Session, topology: &Topology, now_s: f64) -> Vec<f64> {
    topology
        .load
        .iter()
        .map(|g| {
            let knob = session
                .knobs
                .get(&g.name)
                .map(|k| k.get())
                .unwrap_or_default();
            let since = now_s - g.start.as_secs_f64();
            if knob.paused || since < 0.0 {
                return 0.0;
            }
            match &g.pattern {
                Pattern::Open { stages, .. } => {
                    knob.rate.unwrap_or_else(|| held_rate(stages, since).0)
                }
                Pattern::Closed { stages, .. } => knob
                    .clients
                    .map_or_else(|| f64::from(held_clients(stages, since)), f64::from),
            }
        })
        .collect()
}

/// Predicts again when the levels in force are no longer the ones the
/// latest prediction answered (the frame ticker asks five times a second).
pub fn refresh(session: &Arc<Session>, now_s: f64) {
    let changed = {
        let st = session.state.lock();
        levels(session, &st.topology, now_s) != st.ghost_levels
    };
    if changed {
        predict(session.clone());
    }
}

/// The topology as it runs now, each generator flat at its level.
fn steady(session: &Session, topology: &Topology, now_s: f64) -> (Topology, Vec<String>) {
    let mut t = topology.clone();
    t.faults.clear();
    t.settings.warmup = Duration::ZERO;
    let mut left_out = Vec::new();
    let mut levels = levels(session, topology, now_s).into_iter();
    t.load.retain_mut(|g| {
        let level = levels.next().unwrap_or(0.0);
        let keep = match (&mut g.pattern, g.follow) {
            (_, Some(_)) => {
                left_out.push(format!("{} (following clients are not simulated)", g.name));
                false
            }
            (Pattern::Open { stages, .. }, None) => {
                *stages = vec![RateStage {
                    from: level,
                    to: level,
                    duration: SIMULATED,
                }];
                level > 0.0
            }
            (Pattern::Closed { stages, .. }, None) => {
                *stages = vec![ClientStage {
                    clients: level as u32,
                    duration: SIMULATED,
                }];
                level >= 1.0
            }
        };
        g.start = Duration::ZERO;
        g.duration = SIMULATED;
        keep
    });
    (t, left_out)
}

/// Predicts the settings now in force, in the background; the result
/// replaces the previous one unless a later change came first.
pub fn predict(session: Arc<Session>) {
    let (topology, now_s, generation) = {
        let mut st = session.state.lock();
        st.ghost_generation += 1;
        let now_s = st
            .attached
            .as_ref()
            .map_or(0.0, |a| a.begin.elapsed().as_secs_f64());
        st.ghost_levels = levels(&session, &st.topology, now_s);
        (st.topology.clone(), now_s, st.ghost_generation)
    };
    let (steady, left_out) = steady(&session, &topology, now_s);
    let seed = topology.settings.seed.unwrap_or(1);
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let figures = if steady.load.is_empty() && !left_out.is_empty() {
            Err(format!("not simulated: {}", left_out.join(", ")))
        } else if steady.load.is_empty() {
            Err("nothing is sent: nothing to predict".to_string())
        } else {
            let opts = topolab_sim::Options {
                seed,
                hop_cost: HOP_COST_NS,
                work_overhead: 0,
                message_cost: 0,
                push_cost: 0,
                version_late: 0,
                telemetry: true,
            };
            topolab_sim::simulate(&steady, &opts).map_err(|e| e.to_string())
        };
        let took_s = started.elapsed().as_secs_f64();
        let ghost = match figures {
            Ok(f) => summarize(&steady, &f, now_s, took_s, &left_out),
            Err(why) => json!({"at_s": now_s, "took_s": took_s, "error": why}),
        };
        let mut st = session.state.lock();
        if st.ghost_generation == generation {
            st.ghost = Some(ghost);
        }
    });
}

/// The figures the page draws from a prediction.
fn summarize(
    t: &Topology,
    f: &topolab_sim::Figures,
    at_s: f64,
    took_s: f64,
    left_out: &[String],
) -> Value {
    let generators: serde_json::Map<String, Value> = t
        .load
        .iter()
        .zip(&f.load)
        .map(|(g, l)| {
            let h = &l.latency_us;
            let ms = |q: f64| (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1e3);
            (
                g.name.clone(),
                json!({"p50_ms": ms(0.5), "p99_ms": ms(0.99)}),
            )
        })
        .collect();
    // The second half of the simulated span: the steady state.
    let half = (SIMULATED.as_nanos() as u64 / 2 / f.sample_every.max(1)) as u32;
    let mut services = serde_json::Map::new();
    for (i, s) in t.services.iter().enumerate() {
        let (sum, n) = f
            .samples
            .iter()
            .filter(|x| x.service as usize == i && x.tick >= half)
            .fold((0u64, 0u64), |(a, n), x| (a + u64::from(x.queue), n + 1));
        let replicas = u64::from(s.replicas.max(1));
        let per_tick = n as f64 / replicas as f64;
        let queue = if per_tick > 0.0 {
            sum as f64 / per_tick
        } else {
            0.0
        };
        services.insert(s.name.clone(), json!({"queue": queue}));
    }
    json!({
        "at_s": at_s, "took_s": took_s, "generators": generators,
        "services": services, "left_out": left_out,
    })
}
