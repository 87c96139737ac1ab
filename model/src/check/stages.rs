//! How hard a generator asks over time: `rate` (open loop) or `clients`
//! (closed loop) with `duration`, or a list of `stages`, each a rate (or a
//! `FROM -> TO` ramp) or a number of clients held `for` a while. `duration`
//! beside `stages` stretches or shrinks them all to that total, which is what
//! `run --duration` relies on.

use std::time::Duration;

use super::{Checker, Fields, error_at};
use crate::model::{Arrivals, ClientStage, Pattern, RateStage};
use crate::tree::{Located, Node};
use crate::values;

pub(crate) const STAGE_KEYS: &[&str] = &["rate", "clients", "for"];

/// One stage as written, before all stages are known to be of one kind.
enum Level {
    Rate(f64, f64),
    Clients(u32),
}

/// The generator's pattern: exactly one of `rate`, `clients` and `stages`
/// says how hard it asks; `arrivals` goes only with rates and `think` only
/// with clients.
pub(super) fn pattern(ck: &mut Checker, f: &Fields, what: &str, name: &Located<String>) -> Pattern {
    let duration = f
        .get("duration")
        .and_then(|v| ck.positive_duration("duration", v));
    let mut open = true;
    let mut rate_stages = Vec::new();
    let mut client_stages = Vec::new();
    match (f.entry("rate"), f.entry("clients"), f.entry("stages")) {
        (Some(_), Some((k, _)), _) => {
            ck.push(
                error_at(format!("{what} has both `rate` and `clients`"), k)
                    .help("use `rate` for an open loop or `clients` for a closed loop, not both"),
            );
        }
        (Some((k, _)), None, Some(_)) | (None, Some((k, _)), Some(_)) => {
            ck.push(
                error_at(format!("{what} has both `{}` and `stages`", k.value), k)
                    .help("give each stage its own `rate` or `clients` and remove this one"),
            );
        }
        (Some((_, v)), None, None) => {
            let rate = ck
                .parse("rate", v, values::RATE, values::rate)
                .unwrap_or(0.0);
            if rate == 0.0 && matches!(&v.value, Node::Scalar(s) if values::rate(s).is_ok()) {
                ck.push(
                    error_at("`rate` must be above zero", v).help("expected a rate like `4/s`"),
                );
            }
            let d = single_duration(ck, f, what, name, duration);
            rate_stages.push(RateStage {
                from: rate,
                to: rate,
                duration: d,
            });
        }
        (None, Some((_, v)), None) => {
            open = false;
            let clients = ck.positive_count("clients", v).unwrap_or(1);
            let d = single_duration(ck, f, what, name, duration);
            client_stages.push(ClientStage {
                clients,
                duration: d,
            });
        }
        (None, None, Some((k, v))) => {
            let levels = stage_list(ck, v);
            open = !matches!(levels.first(), Some((Level::Clients(_), _, _)));
            for (level, d, at) in levels {
                match (level, open) {
                    (Level::Rate(from, to), true) => rate_stages.push(RateStage {
                        from,
                        to,
                        duration: d,
                    }),
                    (Level::Clients(clients), false) => client_stages.push(ClientStage {
                        clients,
                        duration: d,
                    }),
                    _ => ck.push(
                        error_at("this stage is not of the same kind as the first one", at)
                            .help("a generator's stages are all `rate` (open loop) or all `clients` (closed loop)"),
                    ),
                }
            }
            let silent = if open {
                rate_stages.iter().all(|s| s.from == 0.0 && s.to == 0.0)
            } else {
                client_stages.iter().all(|s| s.clients == 0)
            };
            if silent && !(rate_stages.is_empty() && client_stages.is_empty()) {
                ck.push(
                    error_at(format!("the `stages` of {what} never send anything"), k)
                        .help("give at least one stage a rate above `0/s` or at least 1 client"),
                );
            }
            if let Some(d) = duration {
                scale(&mut rate_stages, &mut client_stages, d);
            }
        }
        (None, None, None) => {
            ck.push(
                error_at(
                    format!("{what} needs `rate` (open loop) or `clients` (closed loop)"),
                    name,
                )
                .help("add e.g. `rate: 4/s` or `clients: 10`, or `stages`"),
            );
            single_duration(ck, f, what, name, duration);
            // Neither loop is known, so `think` and `arrivals` cannot be misplaced.
            return Pattern::Open {
                arrivals: Arrivals::Poisson,
                stages: Vec::new(),
            };
        }
    }
    if open {
        if let Some((k, _)) = f.entry("think") {
            ck.push(
                error_at("`think` applies only with `clients` (a closed loop)", k)
                    .help("remove `think`, or replace `rate` with `clients`"),
            );
        }
        let mut arrivals = Arrivals::Poisson;
        if let Some(v) = f.get("arrivals") {
            let options = [
                ("poisson", Arrivals::Poisson),
                ("constant", Arrivals::Constant),
            ];
            arrivals = ck.choice("arrivals", v, &options).unwrap_or(arrivals);
        }
        Pattern::Open {
            arrivals,
            stages: rate_stages,
        }
    } else {
        if let Some((k, _)) = f.entry("arrivals") {
            ck.push(
                error_at("`arrivals` applies only with `rate` (an open loop)", k).help(
                    "remove `arrivals`; closed-loop clients send when the last response came",
                ),
            );
        }
        let think = f
            .get("think")
            .and_then(|v| ck.parse("think", v, values::DIST, values::dist));
        Pattern::Closed {
            think,
            stages: client_stages,
        }
    }
}

/// How long the pattern issues requests: the sum of its stages.
pub(super) fn total(p: &Pattern) -> Duration {
    match p {
        Pattern::Open { stages, .. } => stages.iter().map(|s| s.duration).sum(),
        Pattern::Closed { stages, .. } => stages.iter().map(|s| s.duration).sum(),
    }
}

/// `duration` for a generator without stages: required.
fn single_duration(
    ck: &mut Checker,
    f: &Fields,
    what: &str,
    name: &Located<String>,
    duration: Option<Duration>,
) -> Duration {
    if f.get("duration").is_none() {
        ck.missing(what, "duration", name.loc, "duration: 30s");
    }
    duration.unwrap_or_default()
}

/// Stretches or shrinks every stage by one factor so they last `total`.
fn scale(rates: &mut [RateStage], clients: &mut [ClientStage], total: Duration) {
    let now: Duration = rates
        .iter()
        .map(|s| s.duration)
        .chain(clients.iter().map(|s| s.duration))
        .sum();
    if now.is_zero() {
        return;
    }
    let k = total.as_secs_f64() / now.as_secs_f64();
    for s in rates {
        s.duration = s.duration.mul_f64(k);
    }
    for s in clients {
        s.duration = s.duration.mul_f64(k);
    }
}

/// Reads `stages:` as a list of `{ rate: RATE | RAMP, for: DURATION }` or
/// `{ clients: N, for: DURATION }`, keeping where each was written.
fn stage_list<'a>(
    ck: &mut Checker,
    node: &'a Located<Node>,
) -> Vec<(Level, Duration, &'a Located<Node>)> {
    let items = match &node.value {
        Node::Seq(items) if !items.is_empty() => items,
        Node::Seq(_) => {
            ck.push(
                error_at("`stages` is empty", node)
                    .help("add stages like `- { rate: 5/s, for: 10s }`"),
            );
            return Vec::new();
        }
        other => {
            ck.push(
                error_at(
                    format!("`stages` should be a list, found {}", other.describe()),
                    node,
                )
                .help("write stages like `- { rate: 5/s -> 50/s, for: 20s }`"),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let what = format!("stage {}", i + 1);
        let Some(f) = ck.fields(item, &what, STAGE_KEYS, &[]) else {
            continue;
        };
        let level = match (f.get("rate"), f.get("clients")) {
            (Some(_), Some(_)) => {
                ck.push(
                    error_at(format!("{what} has both `rate` and `clients`"), item)
                        .help("a stage is either a `rate` or a number of `clients`"),
                );
                None
            }
            (Some(v), None) => stage_rate(ck, v),
            (None, Some(v)) => ck
                .parse("clients", v, values::COUNT, values::count)
                .map(Level::Clients),
            (None, None) => {
                ck.push(
                    error_at(format!("{what} needs `rate` or `clients`"), item)
                        .help("add e.g. `rate: 5/s` or `clients: 10`"),
                );
                None
            }
        };
        let d = match f.get("for") {
            Some(v) => ck.positive_duration("for", v),
            None => {
                ck.push(
                    error_at(format!("{what} needs `for`"), item)
                        .help("add how long the stage lasts, like `for: 10s`"),
                );
                None
            }
        };
        // Kept even without a valid `for`, so the kind of later stages is
        // still checked against it (the error already refuses the file).
        if let Some(level) = level {
            out.push((level, d.unwrap_or_default(), item));
        }
    }
    out
}

/// A stage's `rate`: a rate (zero allowed: a pause) or a `FROM -> TO` ramp.
fn stage_rate(ck: &mut Checker, v: &Located<Node>) -> Option<Level> {
    let is_ramp = matches!(&v.value, Node::Scalar(s) if s.contains("->"));
    if is_ramp {
        ck.parse("rate", v, values::RAMP, values::ramp)
            .map(|r| Level::Rate(r.from, r.to))
    } else {
        ck.parse("rate", v, values::RATE, values::rate)
            .map(|r| Level::Rate(r, r))
    }
}
