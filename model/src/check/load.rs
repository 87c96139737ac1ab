//! Load generators: who they ask (`target` or a weighted `mix`), for how long
//! and with what deadline, retries, payload and client identities. How hard
//! they ask over time (`rate`, `clients`, `stages`) is in [`super::stages`].

use super::follow::{self, FollowRef};
use super::graph::{self, Ref};
use super::stages;
use super::{Checker, error_at};
use crate::defaults;
use crate::model::{Generator, Target, Weighted};
use crate::tree::{Located, Node};
use crate::values;

pub(crate) const GENERATOR_KEYS: &[&str] = &[
    "target",
    "mix",
    "rate",
    "arrivals",
    "clients",
    "think",
    "duration",
    "stages",
    "start",
    "timeout",
    "retries",
    "request",
    "sessions",
    "poll",
    "long_poll",
    "subscribe",
];

/// Most client identities one generator may have (each is a string the
/// services may remember).
pub const MAX_SESSIONS: u32 = 1_000_000;

/// The `load:` map, in file order.
pub(super) fn generators(
    ck: &mut Checker,
    node: &Located<Node>,
    refs: &mut Vec<Ref>,
    follows: &mut Vec<FollowRef>,
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
    let mut seen = std::collections::HashSet::new();
    for (name, body) in entries {
        if !seen.insert(name.value.as_str()) {
            ck.push(error_at(
                format!("duplicate generator `{}`", name.value),
                name,
            ));
            continue;
        }
        ck.name("generator", name, false);
        if let Some(g) = generator(ck, name, body, refs, follows) {
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
    follows: &mut Vec<FollowRef>,
) -> Option<Generator> {
    let what = format!("generator `{}`", name.value);
    let f = ck.fields(node, &what, GENERATOR_KEYS, &[])?;
    let followed = follow::generator(ck, &f, &what, refs, follows);
    let mix = match &followed {
        Some((_, Some(subscribed))) => vec![Weighted {
            target: subscribed.clone(),
            share: 1.0,
        }],
        _ => targets(ck, &f, &what, name, refs),
    };
    let target = mix.first().map(|w| w.target.clone()).unwrap_or(Target {
        service: String::new(),
        endpoint: String::new(),
    });
    let mut g = Generator {
        mix,
        ..defaults::generator(&name.value, target)
    };
    g.pattern = stages::pattern(ck, &f, &what, name);
    if let Some((follow, _)) = followed {
        follow::check_pattern(ck, &f, follow, &g.pattern);
        g.follow = Some(follow);
    }
    g.duration = stages::total(&g.pattern);
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
        if g.sessions > MAX_SESSIONS {
            ck.push(
                error_at(
                    format!(
                        "`sessions` is {}, more than the limit of {MAX_SESSIONS}",
                        g.sessions
                    ),
                    v,
                )
                .help("use fewer client identities"),
            );
        }
    }
    Some(g)
}

/// Exactly one of `target` and `mix`; a mix's shares must add up to 100%.
fn targets(
    ck: &mut Checker,
    f: &super::Fields,
    what: &str,
    name: &Located<String>,
    refs: &mut Vec<Ref>,
) -> Vec<Weighted> {
    let mut push_ref = |t: &Target, v: &Located<Node>| {
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
    };
    match (f.entry("target"), f.entry("mix")) {
        (Some(_), Some((k, _))) => {
            ck.push(
                error_at(format!("{what} has both `target` and `mix`"), k)
                    .help("use `target` for one endpoint or `mix` for several, not both"),
            );
            Vec::new()
        }
        (Some((_, v)), None) => match graph::target(ck, "target", v) {
            Some(t) => {
                push_ref(&t, v);
                vec![Weighted {
                    target: t,
                    share: 1.0,
                }]
            }
            None => Vec::new(),
        },
        (None, Some((k, v))) => {
            let Node::Map(entries) = &v.value else {
                ck.push(
                    error_at(format!("`mix` should be a map, found {}", v.value.describe()), v)
                        .help("map each target to its share, like `mix: { api/Feed: 80%, api/Post: 20% }`"),
                );
                return Vec::new();
            };
            let mut out: Vec<Weighted> = Vec::new();
            let mut complete = true;
            for (key, share) in entries {
                let as_node = Located {
                    value: Node::Scalar(key.value.clone()),
                    loc: key.loc,
                    set_by: key.set_by.clone(),
                };
                let t = graph::target(ck, "mix", &as_node);
                let s = ck.parse("mix", share, values::PERCENT, values::percent);
                match (t, s) {
                    (Some(t), Some(s)) => {
                        if out.iter().any(|w| w.target == t) {
                            ck.push(error_at(format!("`{t}` appears twice in `mix`"), key));
                            continue;
                        }
                        if s <= 0.0 {
                            ck.push(
                                error_at(
                                    format!("the share of `{t}` in `mix` must be above 0%"),
                                    share,
                                )
                                .help("remove the entry, or give it a share like `10%`"),
                            );
                        }
                        push_ref(&t, &as_node);
                        out.push(Weighted {
                            target: t,
                            share: s,
                        });
                    }
                    _ => complete = false,
                }
            }
            let sum: f64 = out.iter().map(|w| w.share).sum();
            if out.is_empty() && complete {
                ck.push(
                    error_at("`mix` is empty", v).help(
                        "add targets with shares, like `mix: { api/Feed: 80%, api/Post: 20% }`",
                    ),
                );
            } else if complete && (sum - 1.0).abs() > 1e-6 {
                ck.push(
                    error_at(
                        format!(
                            "the shares in `mix` add up to {}%, not 100%",
                            round(sum * 100.0)
                        ),
                        k,
                    )
                    .help("make the percentages add up to exactly 100%"),
                );
            }
            out
        }
        (None, None) => {
            ck.missing(what, "target", name.loc, "target: kitchen/Cook");
            Vec::new()
        }
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
