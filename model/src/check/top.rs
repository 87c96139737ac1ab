//! The top level of a topology and its `settings`: required keys and the limits of this machine (processes, total rate).

use super::{Checker, error_at, faults, follow, graph, load, network, service};
use crate::defaults;
use crate::diagnostic::Diag;
use crate::model::{Settings, Topology};
use crate::tree::{Loc, Located, Node};
use crate::values;

pub(crate) const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "services",
    "load",
    "faults",
    "settings",
    "network",
];
pub(crate) const SETTINGS_KEYS: &[&str] = &[
    "seed",
    "timeout",
    "sample_every",
    "trace",
    "trace_budget",
    "warmup",
];

/// The smallest trace budget taken: below it the keeping policy would thin
/// a run of a few requests.
const MIN_TRACE_BUDGET: u64 = 64 << 10;

/// Checks the whole document; `None` only when it is not a map at all.
pub(super) fn topology(ck: &mut Checker, root: &Located<Node>) -> Option<Topology> {
    let top_loc = Loc {
        line: 1,
        col: 1,
        len: 0,
    };
    if !matches!(root.value, Node::Map(_)) {
        ck.push(
            Diag::error(
                format!(
                    "a topology is a map with `name` and `services`, found {}",
                    root.value.describe()
                ),
                root.loc,
            )
            .help("start the file with `name: my-topology`"),
        );
        return None;
    }
    let f = ck.fields(root, "the topology", TOP_KEYS, &[])?;

    let name = match f.get("name") {
        Some(n) => topology_name(ck, n),
        None => {
            ck.missing("the topology", "name", top_loc, "name: diner");
            String::new()
        }
    };
    let description = f.get("description").and_then(|d| match &d.value {
        Node::Null => None,
        _ => ck.scalar("description", d, "free text").map(str::to_string),
    });
    let settings = match f.entry("settings") {
        Some((_, v)) => settings(ck, v),
        None => defaults::settings(),
    };
    let mut services = Vec::new();
    let mut calls = Vec::new();
    match f.entry("services") {
        Some((k, v)) => {
            services = service::services(ck, k, v, &settings, &mut calls);
            let total: u64 = services.iter().map(|s| u64::from(s.replicas)).sum();
            let limit = ck.limits.processes;
            if total > u64::from(limit) {
                let message = format!(
                    "this topology starts {total} processes, more than the limit of {limit}"
                );
                let help = ck.limits.processes_help.to_string();
                let d = match biggest(v, "replicas", |s| values::count(s).map(f64::from).ok()) {
                    Some(r) => error_at(message, r),
                    None => error_at(message, k),
                };
                ck.push(d.help(help));
            }
        }
        None => ck.missing(
            "the topology",
            "services",
            top_loc,
            "services: { kitchen: ... }",
        ),
    }
    let mut generators = Vec::new();
    let mut follows = Vec::new();
    if let Some((k, v)) = f.entry("load") {
        generators = load::generators(ck, v, &mut calls, &mut follows);
        let total: f64 = generators.iter().map(|g| g.pattern.peak_rate()).sum();
        let limit = ck.limits.total_rate;
        if total > limit {
            let message = format!(
                "the open-loop generators ask for {total}/s in all, more than the limit of {limit}/s"
            );
            let d = match biggest(v, "rate", |s| values::rate(s).ok()) {
                Some(r) => error_at(message, r),
                None => error_at(message, k),
            };
            ck.push(d.help("lower the `rate` of the generators"));
        }
    }
    let mut network = match f.get("network") {
        Some(v) => network::network(ck, v, &services),
        None => Default::default(),
    };
    let timeline = match f.get("faults") {
        Some(v) => {
            let load_end = generators.iter().map(|g| g.start + g.duration).max();
            faults::faults(ck, v, &services, &network.zones, load_end)
        }
        None => Default::default(),
    };
    network.faults = timeline.links;
    graph::check(ck, &services, &calls);
    follow::check_targets(ck, &services, &follows);
    Some(Topology {
        name,
        description,
        services,
        load: generators,
        settings,
        faults: timeline.faults,
        network,
    })
}

/// Among the entries of `map`, the `key` value that `size` finds largest:
/// where a limit error points, since that is what to lower first.
fn biggest<'a>(
    map: &'a Located<Node>,
    key: &str,
    size: impl Fn(&str) -> Option<f64>,
) -> Option<&'a Located<Node>> {
    let Node::Map(entries) = &map.value else {
        return None;
    };
    entries
        .iter()
        .filter_map(|(_, body)| body.value.get(key))
        .filter_map(|v| match &v.value {
            Node::Scalar(s) => size(s).map(|n| (n, v)),
            _ => None,
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, v)| v)
}

/// The topology's name is used in run folder names, so it must be a
/// non-empty single path component.
fn topology_name(ck: &mut Checker, node: &Located<Node>) -> String {
    let Some(s) = ck.scalar("name", node, "a name like `diner`") else {
        return String::new();
    };
    let bad = s.is_empty()
        || s.starts_with('.')
        || s.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        ck.push(
            error_at(
                format!("invalid `name`: `{s}` cannot name a run folder"),
                node,
            )
            .help("use letters, digits, `-` or `_`, like `diner`"),
        );
    }
    s.to_string()
}

fn settings(ck: &mut Checker, node: &Located<Node>) -> Settings {
    let mut s = defaults::settings();
    let Some(f) = ck.fields(node, "`settings`", SETTINGS_KEYS, &[]) else {
        return s;
    };
    if let Some(v) = f.get("seed") {
        s.seed = ck.parse("seed", v, values::COUNT, values::seed);
    }
    if let Some(v) = f.get("timeout") {
        s.timeout = ck.positive_duration("timeout", v).unwrap_or(s.timeout);
    }
    if let Some(v) = f.get("sample_every") {
        s.sample_every = ck
            .positive_duration("sample_every", v)
            .unwrap_or(s.sample_every);
    }
    if let Some(v) = f.get("trace") {
        s.trace = ck
            .parse("trace", v, values::PERCENT, values::percent)
            .unwrap_or(s.trace);
    }
    if let Some(v) = f.get("warmup") {
        s.warmup = ck
            .parse("warmup", v, values::DURATION, values::duration)
            .unwrap_or(s.warmup);
    }
    if let Some(v) = f.get("trace_budget") {
        match ck.parse("trace_budget", v, values::SIZE, values::size) {
            Some(b) if b < MIN_TRACE_BUDGET => ck.push(
                error_at(
                    format!("`trace_budget` of {b} bytes is below the least of 64KiB"),
                    v,
                )
                .help("give at least `64KiB`; `trace: 0%` turns tracing off instead"),
            ),
            Some(b) => s.trace_budget = b,
            None => {}
        }
    }
    s
}
