//! Data that changes and the clients that follow it: a service's `updates`,
//! a generator's `poll`, `long_poll` or `subscribe` (each a closed loop of
//! `clients`), and, once every service is known, that what they follow is a
//! service whose data changes.

use super::graph::{self, Ref};
use super::{Checker, Fields, error_at};
use crate::dist::Dist;
use crate::model::{Pattern, Service, Target};
use crate::service_kind::Kind;
use crate::tree::{Located, Node};
use crate::updates::{Follow, MIN_MEAN_GAP};
use crate::values;

/// The keys that make a generator follow versions, one at most.
const FOLLOW_KEYS: [&str; 3] = ["poll", "long_poll", "subscribe"];

/// A generator that follows a target's versions, kept to check the target
/// once every service is known.
pub(super) struct FollowRef {
    pub key: &'static str,
    pub to: Target,
    pub site: Located<()>,
}

/// A service's `updates`: the time between versions, as a distribution.
pub(super) fn updates(
    ck: &mut Checker,
    key: &Located<String>,
    v: &Located<Node>,
    kind: &Kind,
) -> Option<Dist> {
    if let Kind::Balancer { backend, .. } = kind {
        ck.push(
            error_at("a balancer has no data of its own to update", key)
                .help(format!("put `updates` on its backend `{backend}`")),
        );
        return None;
    }
    let d = ck.parse("updates", v, values::DIST, values::dist)?;
    if d.mean() < MIN_MEAN_GAP {
        ck.push(
            error_at(
                format!(
                    "`updates` has a mean gap of {:?}, below the limit of {MIN_MEAN_GAP:?}",
                    d.mean()
                ),
                v,
            )
            .help("versions that close together cannot be told apart from one hop's latency; use e.g. `exp(2s)`"),
        );
        return None;
    }
    Some(d)
}

/// Reads `poll`, `long_poll` or `subscribe`. A subscription names its own
/// target (recorded in `refs` to be resolved); the others use `target`.
pub(super) fn generator(
    ck: &mut Checker,
    f: &Fields,
    what: &str,
    refs: &mut Vec<Ref>,
    follows: &mut Vec<FollowRef>,
) -> Option<(Follow, Option<Target>)> {
    let present: Vec<_> = FOLLOW_KEYS.iter().filter_map(|k| f.entry(k)).collect();
    let &(key, v) = present.first()?;
    for (extra, _) in &present[1..] {
        ck.push(
            error_at(
                format!("{what} has both `{}` and `{}`", key.value, extra.value),
                *extra,
            )
            .help("a generator's clients follow in one way: keep one of `poll`, `long_poll`, `subscribe`"),
        );
    }
    let site = |n: &Located<Node>| Located {
        value: (),
        loc: n.loc,
        set_by: n.set_by.clone(),
    };
    let (follow, word, subscribed) = match key.value.as_str() {
        "poll" => (
            Follow::Poll {
                interval: ck.positive_duration("poll", v)?,
            },
            "poll",
            None,
        ),
        "long_poll" => (
            Follow::LongPoll {
                timeout: ck.positive_duration("long_poll", v)?,
            },
            "long_poll",
            None,
        ),
        _ => {
            let t = graph::target(ck, "subscribe", v)?;
            refs.push(Ref {
                from: None,
                to: t.clone(),
                site: site(v),
            });
            (Follow::Subscribe, "subscribe", Some(t))
        }
    };
    let refuse = |ck: &mut Checker, k: &str, help: String| {
        if let Some((k_node, _)) = f.entry(k) {
            ck.push(error_at(format!("`{k}` does not go with `{word}`"), k_node).help(help));
        }
    };
    if subscribed.is_some() {
        refuse(
            ck,
            "target",
            "`subscribe` names the endpoint itself: remove `target`".into(),
        );
        refuse(
            ck,
            "mix",
            "`subscribe` names the endpoint itself: remove `mix`".into(),
        );
    } else {
        refuse(
            ck,
            "mix",
            format!("`{word}` clients follow one endpoint: use `target`"),
        );
    }
    refuse(
        ck,
        "rate",
        format!("`{word}` clients are a closed loop: use `clients: N` instead of `rate`"),
    );
    refuse(
        ck,
        "think",
        format!("a `{word}` client's pause is its `{word}` setting: remove `think`"),
    );
    refuse(
        ck,
        "retries",
        format!(
            "a failed `{word}` client tries again by itself (after its interval, or a backoff): remove `retries`"
        ),
    );
    let to = subscribed.clone().or_else(|| {
        let t = f.get("target")?;
        // Errors in `target` are reported where `targets` reads it.
        graph::target(
            &mut Checker {
                diags: Vec::new(),
                limits: crate::Limits::FORMAT,
            },
            "target",
            t,
        )
    });
    if let Some(to) = to {
        follows.push(FollowRef {
            key: word,
            to,
            site: site(v),
        });
    }
    Some((follow, subscribed))
}

/// A following generator's clients must be a closed loop of `clients` (or
/// client stages); a plain `rate` was refused already.
pub(super) fn check_pattern(ck: &mut Checker, f: &Fields, follow: Follow, pattern: &Pattern) {
    if let (Pattern::Open { stages, .. }, Some((k, _))) = (pattern, f.entry(follow.key()))
        && !stages.is_empty()
        && f.get("rate").is_none()
    {
        ck.push(
            error_at(format!("`{}` needs clients, not a rate", follow.key()), k)
                .help("give the generator `clients: N` (or stages of `clients`)"),
        );
    }
}

/// What a generator follows must be a service with `updates`, directly or
/// through a balancer (which forwards polls, long polls and streams to its
/// backend).
pub(super) fn check_targets(ck: &mut Checker, services: &[Service], follows: &[FollowRef]) {
    for r in follows {
        let Some(s) = services.iter().find(|s| s.name == r.to.service) else {
            continue; // reported by the reference check
        };
        let data = match &s.kind {
            Kind::Balancer { backend, .. } => match services.iter().find(|b| &b.name == backend) {
                Some(b) => b,
                None => continue, // an unknown backend is reported already
            },
            Kind::Service => s,
        };
        if data.updates.is_none() {
            let through = if data.name == s.name {
                String::new()
            } else {
                format!(" (through balancer `{}`)", s.name)
            };
            ck.push(
                error_at(
                    format!(
                        "`{}` follows `{}`{through}, whose data never changes",
                        r.key, r.to
                    ),
                    &r.site,
                )
                .help(format!(
                    "add `updates: exp(2s)` (the time between new versions) to service `{}`",
                    data.name
                )),
            );
        }
    }
}
