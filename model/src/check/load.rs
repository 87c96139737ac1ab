//! Load generators: open loop (`rate`) or closed loop (`clients`), their
//! target, and how long and how hard they ask.

use std::time::Duration;

use super::graph::{self, Ref};
use super::{Checker, error_at};
use crate::model::{Arrivals, Generator, Pattern, Target};
use crate::tree::{Located, Node};
use crate::values;

const GENERATOR_KEYS: &[&str] = &[
    "target", "rate", "arrivals", "clients", "think", "duration", "start", "timeout", "retries",
    "request", "sessions",
];
const GENERATOR_LATER: &[&str] = &["mix", "stages", "poll", "long_poll", "subscribe"];

/// A generator's default deadline per request. The spec leaves it open; 10 s
/// is long enough not to cut off the slow tails a run is meant to show, and
/// short enough that a deadlocked topology still produces results.
pub const DEFAULT_GENERATOR_TIMEOUT: Duration = Duration::from_secs(10);

/// The `load:` map, in file order.
pub(super) fn generators(
    ck: &mut Checker,
    node: &Located<Node>,
    refs: &mut Vec<Ref>,
) -> Vec<Generator> {
    let entries = match &node.value {
        Node::Map(entries) => entries.as_slice(),
        Node::Null => &[],
        other => {
            ck.push(
                error_at(format!("`load` should be a map, found {}", other.describe()), node)
                    .help("map each generator name to its settings, like `customers: { target: ..., rate: 4/s }`"),
            );
            return Vec::new();
        }
    };
    let mut out: Vec<Generator> = Vec::new();
    for (name, body) in entries {
        if out.iter().any(|g| g.name == name.value) {
            ck.push(error_at(
                format!("duplicate generator `{}`", name.value),
                name,
            ));
            continue;
        }
        ck.name("generator", name, false);
        if let Some(g) = generator(ck, name, body, refs) {
            out.push(g);
        }
    }
    out
}

fn generator(
    ck: &mut Checker,
    name: &Located<String>,
    node: &Located<Node>,
    refs: &mut Vec<Ref>,
) -> Option<Generator> {
    let what = format!("generator `{}`", name.value);
    let f = ck.fields(node, &what, GENERATOR_KEYS, GENERATOR_LATER)?;
    // A key not supported yet may stand in for `target`, `duration` or
    // `rate`; asking for those as well would only confuse.
    let strict = !f.had_unsupported;
    let mut g = Generator {
        name: name.value.clone(),
        target: Target {
            service: String::new(),
            endpoint: String::new(),
        },
        pattern: Pattern::Open {
            rate: 0.0,
            arrivals: Arrivals::Poisson,
        },
        duration: Duration::ZERO,
        start: Duration::ZERO,
        timeout: DEFAULT_GENERATOR_TIMEOUT,
        retries: 0,
        request: 0,
        sessions: 0,
    };
    match f.get("target") {
        Some(v) => {
            if let Some(t) = graph::target(ck, "target", v) {
                let site = Located {
                    value: (),
                    loc: v.loc,
                    set_by: v.set_by.clone(),
                };
                refs.push(Ref {
                    from: None,
                    to: t.clone(),
                    site,
                });
                g.target = t;
            }
        }
        None if strict => ck.missing(&what, "target", name.loc, "target: kitchen/Cook"),
        None => {}
    }
    g.pattern = pattern(ck, &f, &what, name, strict);
    match f.get("duration") {
        Some(v) => g.duration = ck.positive_duration("duration", v).unwrap_or_default(),
        None if strict => ck.missing(&what, "duration", name.loc, "duration: 30s"),
        None => {}
    }
    if let Some(v) = f.get("start") {
        g.start = ck
            .parse("start", v, values::DURATION, values::duration)
            .unwrap_or_default();
    }
    if let Some(v) = f.get("timeout") {
        g.timeout = ck.positive_duration("timeout", v).unwrap_or(g.timeout);
    }
    if let Some(v) = f.get("retries") {
        g.retries = ck
            .parse("retries", v, values::COUNT, values::count)
            .unwrap_or(0);
    }
    if let Some(v) = f.get("request") {
        g.request = ck
            .parse("request", v, values::SIZE, values::size)
            .unwrap_or(0);
    }
    if let Some(v) = f.get("sessions") {
        g.sessions = ck.positive_count("sessions", v).unwrap_or(0);
    }
    Some(g)
}

/// Exactly one of `rate` (open loop) and `clients` (closed loop), with
/// `arrivals` only beside `rate` and `think` only beside `clients`.
fn pattern(
    ck: &mut Checker,
    f: &super::Fields,
    what: &str,
    name: &Located<String>,
    strict: bool,
) -> Pattern {
    let open = Pattern::Open {
        rate: 0.0,
        arrivals: Arrivals::Poisson,
    };
    match (f.entry("rate"), f.entry("clients")) {
        (Some(_), Some((k, _))) => {
            ck.push(
                error_at(format!("{what} has both `rate` and `clients`"), k)
                    .help("use `rate` for an open loop or `clients` for a closed loop, not both"),
            );
            open
        }
        (Some((_, v)), None) => {
            let rate = ck
                .parse("rate", v, values::RATE, values::rate)
                .unwrap_or(0.0);
            if rate == 0.0 && matches!(&v.value, Node::Scalar(s) if values::rate(s).is_ok()) {
                ck.push(
                    error_at("`rate` must be above zero", v).help("expected a rate like `4/s`"),
                );
            }
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
            Pattern::Open { rate, arrivals }
        }
        (None, Some((_, v))) => {
            let clients = ck.positive_count("clients", v).unwrap_or(1);
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
            Pattern::Closed { clients, think }
        }
        (None, None) => {
            if strict {
                ck.push(
                    error_at(
                        format!("{what} needs `rate` (open loop) or `clients` (closed loop)"),
                        name,
                    )
                    .help("add e.g. `rate: 4/s` or `clients: 10`"),
                );
            }
            open
        }
    }
}
