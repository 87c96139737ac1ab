//! The session written back as a topology, `lab.yaml`: every generator's
//! load as it was actually sent (its stages, then held, changed by each
//! `set`, `pause` and `resume`) written as the format's own `stages`, and
//! every fault applied from the lab added to `faults` at its time, so that
//! `topolab run lab.yaml` replays the session. A restart has no form in the
//! format; it is written as a comment.

use serde_json::Value;
#[cfg(test)]
use std::time::Duration;
use topolab_model::tree::{self, Loc, Located, Node};
use topolab_model::{Generator, Pattern, Topology};

use crate::session::{Action, ActionKind};

/// Why the topology's text could not be edited.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("the topology could not be read again: {0}")]
    Parse(String),
    #[error("the topology is not a map")]
    NotAMap,
}

fn located(value: Node) -> Located<Node> {
    Located::new(value, Loc::default())
}

fn key(k: &str) -> Located<String> {
    Located::new(k.to_string(), Loc::default())
}

fn scalar(s: impl Into<String>) -> Located<Node> {
    located(Node::Scalar(s.into()))
}

/// A JSON value as a YAML node (numbers and booleans as their text).
pub fn node_of_json(v: &Value) -> Located<Node> {
    located(match v {
        Value::Null => Node::Null,
        Value::String(s) => Node::Scalar(s.clone()),
        Value::Bool(_) | Value::Number(_) => Node::Scalar(v.to_string()),
        Value::Array(a) => Node::Seq(a.iter().map(node_of_json).collect()),
        Value::Object(o) => Node::Map(o.iter().map(|(k, v)| (key(k), node_of_json(v))).collect()),
    })
}

fn parse(yaml: &str) -> Result<Located<Node>, EditError> {
    let root = tree::parse(yaml).map_err(|e| EditError::Parse(e.message))?;
    match root.value {
        Node::Map(_) => Ok(root),
        _ => Err(EditError::NotAMap),
    }
}

/// The entry `k` of a map node, added (empty) when missing.
fn entry<'a>(map: &'a mut Node, k: &str, empty: Node) -> &'a mut Located<Node> {
    let Node::Map(entries) = map else {
        unreachable!("checked to be a map")
    };
    let i = match entries.iter().position(|(key, _)| key.value == k) {
        Some(i) => i,
        None => {
            entries.push((key(k), located(empty)));
            entries.len() - 1
        }
    };
    if entries[i].1.value == Node::Null {
        entries[i].1.value = Node::Map(Vec::new());
    }
    &mut entries[i].1
}

/// `yaml` with `fault` added at the end of its `faults`.
pub fn with_fault(yaml: &str, fault: Located<Node>) -> Result<String, EditError> {
    let mut root = parse(yaml)?;
    push_faults(&mut root.value, vec![fault]);
    Ok(topolab_model::emit::emit(&root.value))
}

fn push_faults(root: &mut Node, faults: Vec<Located<Node>>) {
    if faults.is_empty() {
        return;
    }
    let list = entry(root, "faults", Node::Seq(Vec::new()));
    if !matches!(list.value, Node::Seq(_)) {
        list.value = Node::Seq(Vec::new());
    }
    if let Node::Seq(items) = &mut list.value {
        items.extend(faults);
    }
}

/// Milliseconds, as the format writes a duration.
fn ms(secs: f64) -> String {
    format!("{}ms", (secs * 1e3).round().max(0.0) as u64)
}

/// A rate as the format writes it.
fn per_s(rate: f64) -> String {
    let r = (rate * 1e6).round() / 1e6;
    format!("{r}/s")
}

/// `lab.yaml`: `yaml` (the topology as the lab started) with the session
/// `actions` played into stages and faults, for a session that stopped
/// issuing `end_s` seconds after the start of load.
pub fn lab_yaml(
    yaml: &str,
    topology: &Topology,
    actions: &[Action],
    end_s: f64,
) -> Result<String, EditError> {
    let mut root = parse(yaml)?;
    let load = entry(&mut root.value, "load", Node::Map(Vec::new()));
    let mut notes = Vec::new();
    for g in &topology.load {
        let Some(stages) = played(g, actions, end_s) else {
            // The format refuses a generator that never sends.
            if let Node::Map(entries) = &mut load.value {
                entries.retain(|(k, _)| k.value != g.name);
            }
            notes.push(format!(
                "# `{}` sent nothing in the session (stopped before its start, or paused): left out",
                g.name
            ));
            continue;
        };
        let gen_node = entry(&mut load.value, &g.name, Node::Map(Vec::new()));
        if let Node::Map(entries) = &mut gen_node.value {
            entries.retain(|(k, _)| {
                !matches!(k.value.as_str(), "rate" | "clients" | "duration" | "stages")
            });
            entries.push((key("stages"), located(Node::Seq(stages))));
        }
    }
    let mut faults = Vec::new();
    for a in actions {
        match &a.kind {
            ActionKind::Fault(f) => {
                let mut m = vec![
                    (key("at"), scalar(ms(a.t_s))),
                    (key("target"), scalar(f.target.to_string())),
                ];
                if let Some(d) = f.duration {
                    m.push((key("for"), scalar(ms(d.as_secs_f64()))));
                }
                let (k, v) = match &f.action {
                    topolab_model::FaultAction::Kill => ("kill", "true".to_string()),
                    topolab_model::FaultAction::Pause => ("pause", "true".to_string()),
                    topolab_model::FaultAction::Slow(x) => ("slow", format!("{x}x")),
                    topolab_model::FaultAction::Errors(e) => (
                        "errors",
                        format!("{}% {}", (e.rate * 1e6).round() / 1e4, e.status.name()),
                    ),
                };
                m.push((key(k), scalar(v)));
                faults.push(located(Node::Map(m)));
            }
            ActionKind::Capacity { .. } => notes.push(format!(
                "# at {:.3} s the lab did `{}`: the format has no timeline for it, so a replay keeps the value below",
                a.t_s, a.what
            )),
            ActionKind::Replicas { service, replicas } => notes.push(format!(
                "# at {:.3} s the lab set {service} to {replicas} replica(s): the format has no timeline for replicas, so a replay keeps the count below",
                a.t_s
            )),
            ActionKind::Updates { .. } => notes.push(format!(
                "# at {:.3} s the lab did `{}`: the format has no timeline for `updates`, so a replay keeps the value below",
                a.t_s, a.what
            )),
            ActionKind::Restart(r) => notes.push(format!(
                "# at {:.3} s the lab restarted {r}: the format has no restart, so a replay leaves it dead",
                a.t_s
            )),
            _ => {}
        }
    }
    push_faults(&mut root.value, faults);
    let mut out = format!(
        "# Written by `topolab lab`: the session as it ran ({:.3} s of load), its\n# changes as stages and faults. Replay it with `topolab run lab.yaml`.\n",
        end_s
    );
    for n in notes {
        out.push_str(&n);
        out.push('\n');
    }
    out.push_str(&topolab_model::emit::emit(&root.value));
    Ok(out)
}

/// What a generator's load was in force at a moment: its own stages, or a
/// rate or clients set from the lab, and whether it was paused.
#[derive(Clone, Copy)]
struct Knob {
    set: Option<f64>,
    paused: bool,
}

/// One action on a generator: a level set, or a pause or resume.
#[derive(Clone, Copy)]
enum Change {
    Set(f64),
    Pause(bool),
}

/// The stages `g` actually played from its start until `end_s` (from the
/// start of load): breakpoints at its own stage boundaries and at every
/// action on it; between two, a stage of its own (ramps kept) or a flat one.
/// `None` when they send nothing (stopped before its start, or paused
/// throughout).
fn played(g: &Generator, actions: &[Action], end_s: f64) -> Option<Vec<Located<Node>>> {
    let start = g.start.as_secs_f64();
    if end_s <= start {
        return None;
    }
    let span = end_s - start;
    let own: Vec<(f64, f64, f64)> = match &g.pattern {
        Pattern::Open { stages, .. } => stages
            .iter()
            .map(|s| (s.from, s.to, s.duration.as_secs_f64()))
            .collect(),
        Pattern::Closed { stages, .. } => stages
            .iter()
            .map(|s| {
                (
                    f64::from(s.clients),
                    f64::from(s.clients),
                    s.duration.as_secs_f64(),
                )
            })
            .collect(),
    };
    let open = matches!(g.pattern, Pattern::Open { .. });
    let base = |t: f64| -> f64 {
        let mut t0 = 0.0;
        for &(a, b, len) in &own {
            if t < t0 + len {
                return a + (b - a) * ((t - t0) / len.max(1e-12));
            }
            t0 += len;
        }
        own.last().map_or(0.0, |s| s.1)
    };
    // Changes on this generator, in generator time.
    let mut changes: Vec<(f64, Change)> = Vec::new();
    for a in actions {
        let t = (a.t_s - start).max(0.0);
        let change = match &a.kind {
            ActionKind::Rate { generator, rate } if *generator == g.name => Change::Set(*rate),
            ActionKind::Clients { generator, clients } if *generator == g.name => {
                Change::Set(f64::from(*clients))
            }
            ActionKind::Pause { generator, paused } if *generator == g.name => {
                Change::Pause(*paused)
            }
            _ => continue,
        };
        changes.push((t, change));
    }
    let mut cuts: Vec<f64> = changes.iter().map(|c| c.0).collect();
    let mut t0 = 0.0;
    for &(_, _, len) in &own {
        t0 += len;
        cuts.push(t0);
    }
    cuts.push(span);
    cuts.retain(|&c| c > 0.0 && c <= span);
    cuts.sort_by(f64::total_cmp);
    cuts.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
    let mut knob = Knob {
        set: None,
        paused: false,
    };
    let mut next_change = 0;
    let mut out: Vec<(String, f64)> = Vec::new();
    let mut from = 0.0;
    for cut in cuts {
        while next_change < changes.len() && changes[next_change].0 <= from + 1e-9 {
            match changes[next_change].1 {
                Change::Set(level) => knob.set = Some(level),
                Change::Pause(p) => knob.paused = p,
            }
            next_change += 1;
        }
        let (a, b) = match knob {
            Knob { paused: true, .. } => (0.0, 0.0),
            Knob { set: Some(r), .. } => (r, r),
            _ => (base(from), base(cut - 1e-9)),
        };
        let value = if !open {
            a.round().to_string()
        } else if (a - b).abs() < 1e-9 {
            per_s(a)
        } else {
            format!("{} -> {}", per_s(a), per_s(b))
        };
        match out.last_mut() {
            // The same flat level on: one stage, not two.
            Some((v, len)) if *v == value && !value.contains("->") => *len += cut - from,
            _ => out.push((value, cut - from)),
        }
        from = cut;
    }
    if out.iter().all(|(v, _)| v == "0/s" || v == "0") {
        return None;
    }
    let k = if open { "rate" } else { "clients" };
    let stages = out
        .into_iter()
        .map(|(value, len)| {
            located(Node::Map(vec![
                (key(k), scalar(value)),
                (key("for"), scalar(ms(len))),
            ]))
        })
        .collect();
    Some(stages)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DINER: &str = include_str!("../../topologies/diner.yaml");

    fn action(t_s: f64, kind: ActionKind) -> Action {
        Action {
            t_s,
            what: String::new(),
            kind,
        }
    }

    /// The stages `lab.yaml` gives a generator, as (rate, ms) pairs.
    fn stages_of(yaml: &str, generator: &str) -> Vec<(String, String)> {
        let root = tree::parse(yaml).unwrap();
        let g = root
            .value
            .get("load")
            .unwrap()
            .value
            .get(generator)
            .unwrap();
        let Node::Seq(items) = &g.value.get("stages").unwrap().value else {
            panic!("no stages")
        };
        items
            .iter()
            .map(|s| {
                let text = |k: &str| match &s.value.get(k).unwrap().value {
                    Node::Scalar(v) => v.clone(),
                    other => panic!("{other:?}"),
                };
                (text("rate"), text("for"))
            })
            .collect()
    }

    #[test]
    fn a_session_is_written_as_stages_and_faults_that_load_again() {
        let loaded = topolab_model::load_str("diner.yaml", DINER, &[]).unwrap();
        let kill = loaded.topology.faults.first().cloned();
        assert!(kill.is_none(), "the diner has no faults of its own");
        let regulars = "regulars".to_string();
        let fault = topolab_model::load_str(
            "f.yaml",
            &with_fault(
                DINER,
                node_of_json(&serde_json::json!({"at": "0s", "target": "kitchen#0", "kill": true})),
            )
            .unwrap(),
            &[],
        )
        .unwrap()
        .topology
        .faults[0]
            .clone();
        let actions = [
            action(
                2.0,
                ActionKind::Rate {
                    generator: regulars.clone(),
                    rate: 9.0,
                },
            ),
            action(
                5.0,
                ActionKind::Pause {
                    generator: regulars.clone(),
                    paused: true,
                },
            ),
            action(
                7.0,
                ActionKind::Pause {
                    generator: regulars.clone(),
                    paused: false,
                },
            ),
            action(8.0, ActionKind::Fault(fault)),
        ];
        let yaml = lab_yaml(&loaded.yaml, &loaded.topology, &actions, 30.0).unwrap();
        assert_eq!(
            stages_of(&yaml, "regulars"),
            [
                ("3/s".into(), "2000ms".into()),
                ("9/s".into(), "3000ms".into()),
                ("0/s".into(), "2000ms".into()),
                ("9/s".into(), "23000ms".into()),
            ]
        );
        // The rush starts at 6 s: its 8 s, then held at 5/s until 30 s.
        assert_eq!(
            stages_of(&yaml, "lunch-rush"),
            [("5/s".into(), "24000ms".into())]
        );
        let again = topolab_model::load_str("lab.yaml", &yaml, &[]).expect("lab.yaml loads");
        let t = &again.topology;
        assert_eq!(t.load[0].duration, Duration::from_secs(30));
        assert_eq!(
            t.load[1].start + t.load[1].duration,
            Duration::from_secs(30)
        );
        assert_eq!(t.faults.len(), 1);
        assert_eq!(t.faults[0].at, Duration::from_secs(8));
        assert_eq!(t.faults[0].target.to_string(), "kitchen#0");
    }

    #[test]
    fn a_generator_that_sent_nothing_is_left_out() {
        let loaded = topolab_model::load_str("diner.yaml", DINER, &[]).unwrap();
        let pause = action(
            0.0,
            ActionKind::Pause {
                generator: "regulars".into(),
                paused: true,
            },
        );
        for (actions, end_s) in [(vec![], 4.0), (vec![pause], 10.0)] {
            let yaml = lab_yaml(&loaded.yaml, &loaded.topology, &actions, end_s).unwrap();
            let again = topolab_model::load_str("lab.yaml", &yaml, &[]).expect("lab.yaml loads");
            assert_eq!(again.topology.load.len(), 1, "{yaml}");
            assert!(yaml.contains("sent nothing in the session"), "{yaml}");
        }
    }
}
