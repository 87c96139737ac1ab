//! The `faults` timeline: each fault's time (`at`, `for`), its `target` (a
//! service, or one replica `name#i`, checked against the services) and
//! exactly one action (`slow`, `errors`, `kill`, `pause`). A fault that would
//! start after the load has ended is an error (it would never fire); one that
//! lasts past the end is a warning (it is cleared when the load ends). `kill`
//! and `pause` are errors where no replica can be signalled
//! ([`crate::Limits::no_signals`]). A fault with `link` shapes a link of the
//! network instead (checked in [`super::network`]).

use std::time::Duration;

use std::collections::BTreeMap;

use super::{Checker, did_you_mean, error_at, network, warning_at};
use crate::fault::{Fault, FaultAction, FaultTarget};
use crate::model::Service;
use crate::network::LinkFault;
use crate::tree::{Located, Node};
use crate::values;

pub(crate) const FAULT_KEYS: &[&str] = &[
    "at",
    "for",
    "target",
    "slow",
    "errors",
    "kill",
    "pause",
    "link",
    "delay",
    "jitter",
    "loss",
    "bandwidth",
    "partition",
];
const ACTIONS: &[&str] = &["slow", "errors", "kill", "pause"];

/// The faults of a `faults:` list, in file order: those on services, and
/// those on links of the network.
#[derive(Default)]
pub(super) struct Timeline {
    pub faults: Vec<Fault>,
    pub links: Vec<LinkFault>,
}

/// The `faults:` list, in file order. `load_end` is when the last generator
/// stops, from the start of load (`None` without load: the services stay up
/// until Ctrl-C and faults fire whenever they are due).
pub(super) fn faults(
    ck: &mut Checker,
    node: &Located<Node>,
    services: &[Service],
    zones: &BTreeMap<String, Vec<String>>,
    load_end: Option<Duration>,
) -> Timeline {
    let mut out = Timeline::default();
    let items = match &node.value {
        Node::Null => return out,
        Node::Seq(items) => items,
        other => {
            ck.push(
                error_at(
                    format!("`faults` should be a list, found {}", other.describe()),
                    node,
                )
                .help("write one fault per `- ` item, like `- { at: 10s, target: db, slow: 10x }`"),
            );
            return out;
        }
    };
    for i in items {
        match fault(ck, i, services, zones) {
            Some(Either::Service(f)) => {
                if let Some(end) = load_end {
                    within_load(ck, i, f.at, f.duration, end);
                }
                out.faults.push(f);
            }
            Some(Either::Link(f)) => {
                if let Some(end) = load_end {
                    within_load(ck, i, f.at, f.duration, end);
                }
                out.links.push(f);
            }
            None => {}
        }
    }
    out
}

enum Either {
    Service(Fault),
    Link(LinkFault),
}

fn fault(
    ck: &mut Checker,
    node: &Located<Node>,
    services: &[Service],
    zones: &BTreeMap<String, Vec<String>>,
) -> Option<Either> {
    let f = ck.fields(node, "a fault", FAULT_KEYS, &[])?;
    let at = match f.get("at") {
        Some(v) => ck.parse("at", v, values::DURATION, values::duration),
        None => {
            ck.missing("a fault", "at", node.loc, "at: 10s");
            None
        }
    };
    let duration = f.get("for").and_then(|v| ck.positive_duration("for", v));
    if let Some((link_key, _)) = f.entry("link") {
        let stray = ["target"].iter().chain(ACTIONS).find_map(|k| f.entry(k));
        if let Some((k, _)) = stray {
            ck.push(
                error_at(format!("a link fault has no `{}`", k.value), k).help(format!(
                    "`{}` is for a fault on a service; write it as a fault of its own",
                    k.value
                )),
            );
            return None;
        }
        let _ = link_key;
        let link = network::fault_link(ck, &f, node, services, zones)?;
        return Some(Either::Link(LinkFault {
            at: at?,
            duration,
            link,
        }));
    }
    if let Some((k, _)) = network::SHAPE_KEYS.iter().find_map(|k| f.entry(k)) {
        ck.push(
            error_at(
                format!("`{}` shapes a link, but this fault has no `link`", k.value),
                k,
            )
            .help("add the link it shapes, like `link: api -> db`"),
        );
        return None;
    }
    let target = match f.get("target") {
        Some(v) => target(ck, v, services),
        None => {
            ck.missing("a fault", "target", node.loc, "target: db");
            None
        }
    };
    let present: Vec<_> = ACTIONS.iter().filter_map(|a| f.entry(a)).collect();
    let Some((key, value)) = present.first() else {
        ck.push(
            error_at(
                "a fault needs one of `slow`, `errors`, `kill` or `pause`",
                node,
            )
            .help("add e.g. `slow: 10x`"),
        );
        return None;
    };
    if let Some((second, _)) = present.get(1) {
        ck.push(
            error_at(
                format!(
                    "a fault does one thing, but this one has `{}` and `{}`",
                    key.value, second.value
                ),
                *second,
            )
            .help("write them as two faults, each its own `- ` item"),
        );
        return None;
    }
    let action = match key.value.as_str() {
        "slow" => {
            let x = ck.parse("slow", value, values::FACTOR, values::factor)?;
            if x <= 0.0 {
                ck.push(error_at("`slow` must be above 0x", value).help("e.g. `slow: 10x`"));
                return None;
            }
            FaultAction::Slow(x)
        }
        "errors" => {
            FaultAction::Errors(ck.parse("errors", value, values::ERRORS, values::errors)?)
        }
        word => {
            if !matches!(&value.value, Node::Scalar(s) if s == "true") {
                ck.push(
                    error_at(format!("`{word}` takes `true`"), value)
                        .help(format!("write `{word}: true`, or remove the fault")),
                );
                return None;
            }
            if let Some(why) = ck.limits.no_signals {
                ck.push(
                    error_at(format!("a `{word}` fault cannot be carried out here: {why}"), *key)
                        .help(
                            "`kill` and `pause` signal a replica's process or container: run it locally or with `run --on swarm`, or remove the fault (`slow` and `errors` work everywhere)",
                        ),
                );
                return None;
            }
            if word == "kill" {
                if let Some((k, _)) = f.entry("for") {
                    ck.push(
                        error_at("`for` does not apply to `kill`", k).help(
                            "a killed process stays dead; `restart: always` on its service brings it back",
                        ),
                    );
                }
                FaultAction::Kill
            } else {
                FaultAction::Pause
            }
        }
    };
    Some(Either::Service(Fault {
        at: at?,
        duration,
        target: target?,
        action,
    }))
}

/// A fault due at or after the end of load never fires: an error at its `at`.
/// One that runs past the end is cut short there: a warning at its `for`.
fn within_load(
    ck: &mut Checker,
    node: &Located<Node>,
    f_at: Duration,
    f_duration: Option<Duration>,
    end: Duration,
) {
    let (Some(at), for_) = (node.value.get("at"), node.value.get("for")) else {
        return;
    };
    if f_at >= end {
        ck.push(
            error_at(
                format!(
                    "this fault is due at {}, but the load ends at {}, so it would never fire",
                    secs(f_at),
                    secs(end)
                ),
                at,
            )
            .help(format!(
                "`at` counts from the start of load: move it before {}, or make the load last longer",
                secs(end)
            )),
        );
    } else if let (Some(d), Some(for_)) = (f_duration, for_)
        && f_at + d > end
    {
        ck.push(
            warning_at(
                format!(
                    "this fault would last until {}, past the end of load at {}: it is cleared then, after {}",
                    secs(f_at + d),
                    secs(end),
                    secs(end - f_at)
                ),
                for_,
            )
            .help("shorten `for`, or leave it out: a fault without `for` lasts until the load ends"),
        );
    }
}

/// `12s`, `2.5s`, `0.3s`: seconds as people write them in a topology.
fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    let text = format!("{s:.3}");
    format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
}

/// `db` or `db#1`, against the services of the topology.
fn target(ck: &mut Checker, node: &Located<Node>, services: &[Service]) -> Option<FaultTarget> {
    let text = ck.scalar(
        "target",
        node,
        "a service like `db`, or one replica like `db#1`",
    )?;
    let (name, replica) = match text.split_once('#') {
        Some((n, i)) => match values::count(i) {
            Ok(i) => (n.trim(), Some(i)),
            Err(_) => {
                ck.push(
                    error_at(
                        format!("invalid `target`: `{i}` is not a replica index"),
                        node,
                    )
                    .help("write one replica as `name#index`, counting from 0, like `db#0`"),
                );
                return None;
            }
        },
        None => (text.trim(), None),
    };
    let Some(s) = services.iter().find(|s| s.name == name) else {
        let mut d = error_at(format!("unknown service `{name}` in fault target"), node);
        if let Some(m) = did_you_mean(name, services.iter().map(|s| s.name.as_str())) {
            d = d.help(format!("did you mean `{m}`?"));
        }
        ck.push(d);
        return None;
    };
    if let Some(i) = replica
        && i >= s.replicas
    {
        ck.push(
            error_at(
                format!(
                    "`{name}` has {} replica(s), so there is no `{name}#{i}`",
                    s.replicas
                ),
                node,
            )
            .help(format!(
                "replicas count from 0: `{name}#0` to `{name}#{}`",
                s.replicas - 1
            )),
        );
        return None;
    }
    Some(FaultTarget {
        service: name.to_string(),
        replica,
    })
}
