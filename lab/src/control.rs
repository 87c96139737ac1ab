//! The commands of `POST /api/control`, each checked before anything
//! changes: `{"set": PATH, "value": V}` goes through the topology's own
//! validator, exactly as `--set PATH=V` would (then only what a running
//! experiment can change is applied: a generator's rate or clients, a
//! service's workers, queue limit or replicas, see [`crate::scale`]);
//! `{"pause": G}`, `{"resume": G}`; `{"kill": "svc#i"}`, `{"restart":
//! "svc#i"}`; `{"fault": {...}}` in the format's fault syntax (its `at` is
//! now); `{"reset": true}` (the page's figures start afresh); `{"stop": true}`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use topolab_fleet::faults::{Signal, record, set_fault};
use topolab_fleet::supervisor::ReplicaId;
use topolab_model::{Fault, FaultAction, Pattern, Topology};
use topolab_proto::v1::SetFaultRequest;

use crate::replay::{self, node_of_json};
use crate::session::{ActionKind, Session};

/// Why a command was refused (400, or 409 before the load starts).
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Not a command this API knows, or malformed.
    #[error("{0}")]
    Malformed(String),
    /// The topology's validator refused it; its messages, as `--set` prints them.
    #[error("{0}")]
    Invalid(String),
    /// Valid, but a running lab cannot apply it (yet).
    #[error("{0} is not supported yet in a running lab")]
    NotSupportedYet(String),
    /// The load has not started yet, or has stopped.
    #[error("{0}")]
    NotRunning(&'static str),
    #[error("too many actions in one session ({0})")]
    TooMany(usize),
}

/// Applies one command; what was done, in words.
pub async fn apply(session: &Arc<Session>, command: &Value) -> Result<String, Refused> {
    if session.state.lock().actions.len() >= crate::session::MAX_ACTIONS {
        return Err(Refused::TooMany(crate::session::MAX_ACTIONS));
    }
    let obj = command
        .as_object()
        .ok_or_else(|| Refused::Malformed("a command is one JSON object".into()))?;
    let str_of = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Refused::Malformed(format!("`{k}` takes a string")))
    };
    if obj.contains_key("stop") {
        running(session)?;
        session.record("stop".into(), ActionKind::Stop);
        session.stop();
        return Ok("stopping".into());
    }
    if obj.contains_key("reset") {
        running(session)?;
        session.state.lock().resets += 1;
        session.record("reset the figures".into(), ActionKind::Reset);
        return Ok("the page's figures start afresh".into());
    }
    if obj.contains_key("set") {
        let value = match obj.get("value") {
            Some(Value::String(s)) => s.clone(),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
            _ => return Err(Refused::Malformed("`set` needs a `value`".into())),
        };
        return set(session, &str_of("set")?, &value).await;
    }
    if let Some(paused) = [("pause", true), ("resume", false)]
        .into_iter()
        .find(|(k, _)| obj.contains_key(*k))
    {
        return pause(session, &str_of(paused.0)?, paused.1);
    }
    if obj.contains_key("kill") {
        let target = str_of("kill")?;
        let fault = serde_json::json!({"target": target, "kill": true});
        return fault_now(session, &fault).await;
    }
    if obj.contains_key("restart") {
        return restart(session, &str_of("restart")?);
    }
    if let Some(f) = obj.get("fault") {
        return fault_now(session, f).await;
    }
    Err(Refused::Malformed(
        "unknown command: expected one of set, pause, resume, kill, restart, fault, reset, stop"
            .into(),
    ))
}

fn running(session: &Session) -> Result<(), Refused> {
    let st = session.state.lock();
    match (&st.attached, st.stopped) {
        (None, _) => Err(Refused::NotRunning("the load has not started yet")),
        (_, true) => Err(Refused::NotRunning("the lab is stopping")),
        _ => Ok(()),
    }
}

/// `--set PATH=VALUE` on the running experiment.
async fn set(session: &Arc<Session>, path: &str, value: &str) -> Result<String, Refused> {
    let kv = format!("{path}={value}");
    let mut sets = session.state.lock().sets.clone();
    sets.push(kv.clone());
    let setup = &session.setup;
    let checked =
        topolab_model::load_str_with(&setup.file, &setup.yaml, &sets, setup.limits.clone())
            .map_err(|r| Refused::Invalid(r.errors.join("\n")))?;
    running(session)?;
    let old = session.state.lock().topology.clone();
    let changes = changes(&old, &checked.topology, value)?;
    for kind in &changes {
        match kind {
            ActionKind::Rate { generator, rate } => session.knobs[generator].set_rate(*rate),
            ActionKind::Clients { generator, clients } => {
                session.knobs[generator].set_clients(*clients)
            }
            ActionKind::Capacity {
                service,
                workers,
                queue,
            } => {
                // Parked replicas too: taken back later, they serve as set.
                let addrs: Vec<_> = session
                    .state
                    .lock()
                    .attached
                    .as_ref()
                    .map(|a| {
                        let in_use = a.peers.get(service).into_iter().flatten();
                        in_use
                            .chain(a.parked.get(service).into_iter().flatten())
                            .copied()
                            .collect()
                    })
                    .unwrap_or_default();
                let problems = crate::capacity::set(&addrs, *workers, *queue).await;
                if problems.len() == addrs.len() && !addrs.is_empty() {
                    return Err(Refused::Invalid(format!(
                        "no replica of {service} took it: {}",
                        problems.join("; ")
                    )));
                }
            }
            ActionKind::Replicas { service, replicas } => {
                crate::scale::to(session.clone(), service.clone(), *replicas).await?;
            }
            ActionKind::Updates { service, gaps } => {
                // Cannot be None: `changes` only names a service whose
                // `updates` changed from one timing to another.
                let dist = checked.topology.service(service).and_then(|s| s.updates);
                let (load, addrs, from, change) = {
                    let st = session.state.lock();
                    let a = st
                        .attached
                        .as_ref()
                        .ok_or(Refused::NotRunning("the load has not started yet"))?;
                    let change = 1 + st
                        .actions
                        .iter()
                        .filter(|x| matches!(&x.kind, ActionKind::Updates { service: s, .. } if s == service))
                        .count() as u64;
                    (
                        a.load.clone(),
                        a.peers.get(service).cloned().unwrap_or_default(),
                        a.begin.elapsed() + crate::versions::LEAD,
                        change,
                    )
                };
                let Some(dist) = dist else { continue };
                let problems = crate::versions::retime(
                    &old,
                    &load,
                    &addrs,
                    service,
                    (gaps, dist),
                    from,
                    change,
                )
                .await;
                if problems.len() == addrs.len() && !addrs.is_empty() {
                    return Err(Refused::Invalid(format!(
                        "no replica of {service} took it: {}",
                        problems.join("; ")
                    )));
                }
            }
            _ => {}
        }
    }
    {
        let mut st = session.state.lock();
        st.topology = checked.topology;
        st.sets = sets;
    }
    for kind in changes {
        session.record(format!("set {kv}"), kind);
    }
    crate::ghost::predict(session.clone());
    Ok(format!("set {kv}"))
}

/// What a checked `--set` changes that a running lab can apply: per
/// generator its new rate or clients, per service its workers and queue
/// limit or its replicas, or how often its data changes (`updates`, to
/// `value`). Anything else is refused by name.
fn changes(old: &Topology, new: &Topology, value: &str) -> Result<Vec<ActionKind>, Refused> {
    let mut out = Vec::new();
    for (a, b) in old.load.iter().zip(&new.load) {
        if a == b {
            continue;
        }
        let mut same = b.clone();
        same.pattern = a.pattern.clone();
        same.duration = a.duration;
        if same != *a || a.follow.is_some() {
            return Err(Refused::NotSupportedYet(format!(
                "changing `load.{}` other than its rate or clients",
                a.name
            )));
        }
        let generator = a.name.clone();
        out.push(match &b.pattern {
            Pattern::Open { stages, .. } => ActionKind::Rate {
                generator,
                rate: stages.last().map_or(0.0, |s| s.to),
            },
            Pattern::Closed { stages, .. } => ActionKind::Clients {
                generator,
                clients: stages.last().map_or(0, |s| s.clients),
            },
        });
    }
    for (a, b) in old.services.iter().zip(&new.services) {
        if a == b {
            continue;
        }
        let mut same = b.clone();
        same.workers = a.workers;
        same.queue = a.queue;
        same.replicas = a.replicas;
        if a.updates.is_some() && b.updates.is_some() {
            same.updates = a.updates;
        }
        if same != *a {
            return Err(Refused::NotSupportedYet(format!(
                "changing `services.{}` other than its workers, queue, replicas or `updates`",
                a.name
            )));
        }
        if a.updates != b.updates {
            out.push(ActionKind::Updates {
                service: a.name.clone(),
                gaps: value.to_string(),
            });
        }
        if (a.workers, a.queue) != (b.workers, b.queue) {
            out.push(ActionKind::Capacity {
                service: a.name.clone(),
                workers: b.workers,
                queue: b.queue,
            });
        }
        if a.replicas != b.replicas {
            out.push(ActionKind::Replicas {
                service: a.name.clone(),
                replicas: b.replicas,
            });
        }
    }
    let mut rest_old = old.clone();
    let mut rest_new = new.clone();
    for t in [&mut rest_old, &mut rest_new] {
        t.load.clear();
        t.services.clear();
    }
    if rest_old != rest_new {
        return Err(Refused::NotSupportedYet(
            "changing anything but the load and services' workers, queue and replicas".into(),
        ));
    }
    Ok(out)
}

fn pause(session: &Arc<Session>, generator: &str, paused: bool) -> Result<String, Refused> {
    let Some(knob) = session.knobs.get(generator) else {
        let names: Vec<&str> = session.knobs.keys().map(String::as_str).collect();
        return Err(Refused::Malformed(format!(
            "there is no generator `{generator}` (the load has: {})",
            names.join(", ")
        )));
    };
    running(session)?;
    knob.pause(paused);
    let what = format!("{} {generator}", if paused { "pause" } else { "resume" });
    let generator = generator.to_string();
    session.record(what.clone(), ActionKind::Pause { generator, paused });
    crate::ghost::predict(session.clone());
    Ok(what)
}

/// A fault in the format's syntax, checked by the topology's validator as
/// if it were written in the file with `at: 0s`, applied now.
async fn fault_now(session: &Arc<Session>, fault: &Value) -> Result<String, Refused> {
    let mut fault = fault.clone();
    let Some(obj) = fault.as_object_mut() else {
        return Err(Refused::Malformed("`fault` takes an object".into()));
    };
    if obj.contains_key("at") {
        return Err(Refused::Malformed(
            "a live fault has no `at`: it is applied now".into(),
        ));
    }
    obj.insert("at".into(), Value::String("0s".into()));
    let setup = &session.setup;
    let yaml = replay::with_fault(&setup.yaml, node_of_json(&fault))
        .map_err(|e| Refused::Invalid(e.to_string()))?;
    let sets = session.state.lock().sets.clone();
    let checked = topolab_model::load_str_with(&setup.file, &yaml, &sets, setup.limits.clone())
        .map_err(|r| Refused::Invalid(r.errors.join("\n")))?;
    running(session)?;
    // Cannot be None: the fault was just added at the end of the list.
    let mut f = checked.topology.faults.last().cloned().expect("added");
    f.at = Duration::from_secs_f64(session.now_s());
    let reached = apply_fault(session, &f).await;
    let what = format!("{} on {}", f.action, f.target);
    let mut rec = record(&f);
    rec.applied_s = Some(rec.at_s);
    rec.replicas = reached.iter().map(ToString::to_string).collect();
    session.marks.lock().faults.push(rec);
    session.record(what.clone(), ActionKind::Fault(f));
    Ok(what)
}

/// Sends the fault to its replicas; lifts it after its `for` (not `kill`).
async fn apply_fault(session: &Arc<Session>, f: &Fault) -> Vec<ReplicaId> {
    let (fleet, peers) = {
        let st = session.state.lock();
        // Cannot fail: checked running, and a session once attached stays so.
        let a = st.attached.as_ref().expect("checked running");
        (a.fleet.clone(), a.peers.clone())
    };
    let t = &f.target;
    let signal = |sig: Signal| {
        fleet
            .upgrade()
            .map(|fl| fl.lock().signal(&t.service, t.replica, sig))
            .unwrap_or_default()
    };
    let targets: Vec<ReplicaId> = (0..peers.get(&t.service).map_or(0, Vec::len) as u32)
        .filter(|i| t.replica.is_none_or(|r| r == *i))
        .map(|index| ReplicaId {
            service: t.service.clone(),
            index,
        })
        .collect();
    let request = |on: bool| match (&f.action, on) {
        (FaultAction::Slow(x), true) => SetFaultRequest {
            slow: *x,
            ..Default::default()
        },
        (FaultAction::Errors(e), true) => SetFaultRequest {
            slow: 1.0,
            error_rate: e.rate,
            error_code: e.status.0,
        },
        _ => SetFaultRequest {
            slow: 1.0,
            ..Default::default()
        },
    };
    let reached = match f.action {
        FaultAction::Kill => signal(Signal::KILL),
        FaultAction::Pause => signal(Signal::STOP),
        FaultAction::Slow(_) | FaultAction::Errors(_) => {
            for r in &targets {
                if let Some(addr) = peers.get(&r.service).and_then(|a| a.get(r.index as usize)) {
                    let _ = set_fault(*addr, request(true)).await;
                }
            }
            targets.clone()
        }
    };
    if let (Some(d), false) = (f.duration, f.action == FaultAction::Kill) {
        let (f, me, reached) = (f.clone(), session.clone(), reached.clone());
        let clear = request(false);
        tokio::spawn(async move {
            tokio::time::sleep(d).await;
            for r in &reached {
                if f.action == FaultAction::Pause {
                    if let Some(fl) = fleet.upgrade() {
                        fl.lock().signal(&r.service, Some(r.index), Signal::CONT);
                    }
                } else if let Some(addr) =
                    peers.get(&r.service).and_then(|a| a.get(r.index as usize))
                {
                    let _ = set_fault(*addr, clear).await;
                }
            }
            let t = me.now_s();
            let mut marks = me.marks.lock();
            if let Some(rec) = marks
                .faults
                .iter_mut()
                .rev()
                .find(|r| r.fault == f.action.to_string() && r.target == f.target.to_string())
            {
                rec.cleared_s = Some((t * 1e3).round() / 1e3);
            }
        });
    }
    reached
}

/// Starts a fresh process for a killed replica, on its same address.
fn restart(session: &Arc<Session>, replica: &str) -> Result<String, Refused> {
    let id = parse_replica(replica)?;
    running(session)?;
    let fleet = session
        .state
        .lock()
        .attached
        .as_ref()
        .and_then(|a| a.fleet.upgrade())
        .ok_or(Refused::NotRunning("the lab is stopping"))?;
    fleet
        .lock()
        .restart(&id)
        .map_err(|e| Refused::Invalid(format!("cannot restart {id}: {e:#}")))?;
    let t = session.now_s();
    session.marks.lock().restarts.push((id.clone(), t));
    let what = format!("restart {id}");
    session.record(what.clone(), ActionKind::Restart(id.to_string()));
    Ok(what)
}

fn parse_replica(s: &str) -> Result<ReplicaId, Refused> {
    let bad = || Refused::Malformed(format!("`{s}` is not a replica: write `service#index`"));
    let (service, index) = s.split_once('#').ok_or_else(bad)?;
    let index = index.parse().map_err(|_| bad())?;
    Ok(ReplicaId {
        service: service.to_string(),
        index,
    })
}
