//! The `network:` section (its `zones` and standing `links`) and the link
//! faults of the `faults:` list: each link's ends against the services,
//! replicas and zones, each shape's values (loss within 0–100%, a bandwidth
//! above zero), and a warning for a link that no call crosses.

use std::collections::{BTreeMap, BTreeSet};

use super::{Checker, Fields, did_you_mean, error_at, warning_at};
use crate::model::Service;
use crate::network::{Link, LinkEnd, LinkShape, Network};
use crate::service_kind::Kind;
use crate::tree::{Located, Node};
use crate::values;

pub(crate) const NETWORK_KEYS: &[&str] = &["zones", "links"];
/// What a link (standing or a fault's) may do to its packets.
pub(crate) const SHAPE_KEYS: &[&str] = &["delay", "jitter", "loss", "bandwidth", "partition"];
const BANDWIDTH: &str = "a rate like `100kbit`, `1mbit` or `1gbit`";
const LINK: &str =
    "a link like `api -> db` or `east <-> west` (ends: services, replicas `name#i`, zones, `*`)";

/// The `network:` section; `services` are the topology's, checked.
pub(super) fn network(ck: &mut Checker, node: &Located<Node>, services: &[Service]) -> Network {
    let mut net = Network::default();
    let Some(f) = ck.fields(node, "`network`", NETWORK_KEYS, &[]) else {
        return net;
    };
    if let Some(z) = f.get("zones") {
        net.zones = zones(ck, z, services);
    }
    if let Some(links) = f.get("links") {
        match &links.value {
            Node::Null => {}
            Node::Map(entries) => {
                for (path, body) in entries {
                    let ends = ends(ck, path, &path.value, services, &net.zones);
                    let shape = ck
                        .fields(body, "a link", SHAPE_KEYS, &[])
                        .and_then(|f| shape(ck, &f, body));
                    if let (Some((from, to, both_ways)), Some(shape)) = (ends, shape) {
                        let link = Link {
                            from,
                            to,
                            both_ways,
                            shape,
                        };
                        uncalled(ck, path, &link, services, &net.zones);
                        net.links.push(link);
                    }
                }
            }
            other => ck.push(
                error_at(
                    format!("`links` should be a map, found {}", other.describe()),
                    links,
                )
                .help("write one link per line, like `api -> db: { delay: 2ms }`"),
            ),
        }
    }
    net
}

/// `zones: { east: [web, api], west: [db] }`: each service in one zone at most.
fn zones(
    ck: &mut Checker,
    node: &Located<Node>,
    services: &[Service],
) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let Node::Map(entries) = &node.value else {
        ck.push(
            error_at(
                format!("`zones` should be a map, found {}", node.value.describe()),
                node,
            )
            .help("name each zone and list its services, like `zones: { east: [web, api], west: [db] }`"),
        );
        return out;
    };
    let mut placed: BTreeMap<String, String> = BTreeMap::new();
    for (zone, members) in entries {
        if !ck.name("zone", zone, false) {
            continue;
        }
        if services.iter().any(|s| s.name == zone.value) {
            ck.push(
                error_at(
                    format!("zone `{}` has the name of a service", zone.value),
                    zone,
                )
                .help("give the zone a name of its own, like `east`"),
            );
            continue;
        }
        let Node::Seq(items) = &members.value else {
            ck.push(
                error_at(
                    format!(
                        "zone `{}` should list services, found {}",
                        zone.value,
                        members.value.describe()
                    ),
                    members,
                )
                .help("write its services as a list, like `[web, api]`"),
            );
            continue;
        };
        let mut names = Vec::new();
        for item in items {
            let Some(name) = ck.scalar("zone", item, "a service name") else {
                continue;
            };
            if !services.iter().any(|s| s.name == name) {
                ck.push(unknown(
                    item,
                    name,
                    "service",
                    services.iter().map(|s| s.name.as_str()),
                ));
                continue;
            }
            if let Some(other) = placed.insert(name.to_string(), zone.value.clone()) {
                ck.push(
                    error_at(
                        format!("service `{name}` is already in zone `{other}`"),
                        item,
                    )
                    .help("a service lives in one zone: remove it from one of them"),
                );
                continue;
            }
            names.push(name.to_string());
        }
        out.insert(zone.value.clone(), names);
    }
    out
}

/// A link fault: its `link` and shape (the caller checked `at` and `for`).
pub(super) fn fault_link(
    ck: &mut Checker,
    f: &Fields<'_>,
    node: &Located<Node>,
    services: &[Service],
    zones: &BTreeMap<String, Vec<String>>,
) -> Option<Link> {
    let path_node = f.get("link")?;
    let text = ck.scalar("link", path_node, LINK)?;
    let ends = ends(ck, path_node, text, services, zones);
    let shape = shape(ck, f, node)?;
    let (from, to, both_ways) = ends?;
    let link = Link {
        from,
        to,
        both_ways,
        shape,
    };
    uncalled(ck, path_node, &link, services, zones);
    Some(link)
}

/// `api -> db`, `east <-> west`, `"* -> db"`, `api#0 -> db`.
fn ends<T>(
    ck: &mut Checker,
    at: &Located<T>,
    text: &str,
    services: &[Service],
    zones: &BTreeMap<String, Vec<String>>,
) -> Option<(LinkEnd, LinkEnd, bool)> {
    let (a, b, both) = if let Some((a, b)) = text.split_once("<->") {
        (a, b, true)
    } else if let Some((a, b)) = text.split_once("->") {
        (a, b, false)
    } else {
        ck.push(
            error_at(
                format!("invalid link `{text}`: it has no `->` or `<->`"),
                at,
            )
            .help(format!("write {LINK}")),
        );
        return None;
    };
    let from = end(ck, at, a.trim(), services, zones);
    let to = end(ck, at, b.trim(), services, zones);
    Some((from?, to?, both))
}

fn end<T>(
    ck: &mut Checker,
    at: &Located<T>,
    text: &str,
    services: &[Service],
    zones: &BTreeMap<String, Vec<String>>,
) -> Option<LinkEnd> {
    if text == "*" {
        return Some(LinkEnd::Any);
    }
    let (name, index) = match text.split_once('#') {
        Some((n, i)) => match values::count(i) {
            Ok(i) => (n.trim(), Some(i)),
            Err(_) => {
                ck.push(
                    error_at(
                        format!("invalid link end `{text}`: `{i}` is not a replica index"),
                        at,
                    )
                    .help("write one replica as `name#index`, counting from 0, like `db#0`"),
                );
                return None;
            }
        },
        None => (text, None),
    };
    if index.is_none() && zones.contains_key(name) {
        return Some(LinkEnd::Zone(name.to_string()));
    }
    let Some(s) = services.iter().find(|s| s.name == name) else {
        let names = services
            .iter()
            .map(|s| s.name.as_str())
            .chain(zones.keys().map(String::as_str));
        ck.push(unknown(at, name, "service or zone", names).help(
            "a link's ends are services, replicas (`db#0`), zones of `network.zones`, or `*`",
        ));
        return None;
    };
    match index {
        Some(i) if i >= s.replicas => {
            ck.push(
                error_at(
                    format!(
                        "`{name}` has {} replica(s), so there is no `{name}#{i}`",
                        s.replicas
                    ),
                    at,
                )
                .help(format!(
                    "replicas count from 0: `{name}#0` to `{name}#{}`",
                    s.replicas - 1
                )),
            );
            None
        }
        Some(i) => Some(LinkEnd::Replica(name.to_string(), i)),
        None => Some(LinkEnd::Service(name.to_string())),
    }
}

fn unknown<'a, T>(
    at: &Located<T>,
    name: &str,
    what: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> crate::diagnostic::Diag {
    let d = error_at(format!("unknown {what} `{name}` in link"), at);
    match did_you_mean(name, names) {
        Some(m) => d.help(format!("did you mean `{m}`?")),
        None => d,
    }
}

/// The shape keys of a link or a link fault; `None` when one was bad.
fn shape(ck: &mut Checker, f: &Fields<'_>, node: &Located<Node>) -> Option<LinkShape> {
    let mut s = LinkShape::default();
    let mut ok = true;
    if let Some(v) = f.get("delay") {
        s.delay = ck.parse("delay", v, values::DIST, values::dist);
        ok &= s.delay.is_some();
    }
    if let Some(v) = f.get("jitter") {
        s.jitter = ck.parse("jitter", v, values::DURATION, values::duration);
        ok &= s.jitter.is_some();
    }
    if let Some(v) = f.get("loss") {
        // `percent` refuses below 0% and above 100%.
        s.loss = ck.parse("loss", v, values::PERCENT, values::percent);
        ok &= s.loss.is_some();
    }
    if let Some(v) = f.get("bandwidth") {
        s.bandwidth = ck.parse("bandwidth", v, BANDWIDTH, bandwidth);
        if s.bandwidth == Some(0) {
            ck.push(
                error_at("`bandwidth` must be above zero", v)
                    .help("give a rate like `1mbit`; `partition: true` cuts a link"),
            );
            s.bandwidth = None;
        }
        ok &= s.bandwidth.is_some();
    }
    if let Some(v) = f.get("partition") {
        match &v.value {
            Node::Scalar(t) if t == "true" => s.partition = true,
            Node::Scalar(t) if t == "false" => {}
            _ => {
                ck.push(error_at("`partition` takes `true`", v).help("write `partition: true`"));
                ok = false;
            }
        }
    }
    if s == LinkShape::default() && ok {
        ck.push(
            error_at("this link changes nothing", node)
                .help("give it one of `delay`, `jitter`, `loss`, `bandwidth` or `partition: true`"),
        );
        return None;
    }
    ok.then_some(s)
}

/// `1mbit`, `250kbit`, `1.5gbit`, `800bit`, as bits per second.
pub(crate) fn bandwidth(text: &str) -> Result<u64, values::ValueError> {
    let t = text.trim();
    let bad = |problem: String| values::ValueError {
        problem,
        expected: BANDWIDTH,
    };
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let v: f64 = num
        .parse()
        .map_err(|_| bad(format!("`{t}` does not start with a number")))?;
    let per = match unit.trim() {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "" => return Err(bad(format!("`{t}` has no unit"))),
        u => return Err(bad(format!("unknown unit `{u}` in `{t}`"))),
    };
    if v < 0.0 {
        return Err(bad(format!(
            "`{t}` is below zero: a bandwidth must be above zero"
        )));
    }
    Ok((v * per).round() as u64)
}

/// A link no call crosses is legal but shapes nothing: a warning.
fn uncalled<T>(
    ck: &mut Checker,
    at: &Located<T>,
    link: &Link,
    services: &[Service],
    zones: &BTreeMap<String, Vec<String>>,
) {
    let mut edges: BTreeSet<(&str, &str)> = BTreeSet::new();
    for s in services {
        for callee in crate::calls::callee_services(s) {
            edges.insert((&s.name, callee));
        }
        if let Kind::Balancer { backend, .. } = &s.kind {
            edges.insert((&s.name, backend));
        }
    }
    let on = |end: &LinkEnd, s: &str| match end {
        LinkEnd::Service(n) | LinkEnd::Replica(n, _) => n == s,
        LinkEnd::Zone(z) => zones.get(z).is_some_and(|m| m.iter().any(|x| x == s)),
        LinkEnd::Any => true,
    };
    let crossed = edges.iter().any(|(a, b)| {
        (on(&link.from, a) && on(&link.to, b))
            || (link.both_ways && on(&link.to, a) && on(&link.from, b))
    });
    if !crossed {
        let arrow = if link.both_ways {
            "either way"
        } else {
            "from the first to the second"
        };
        ck.push(
            warning_at(
                format!(
                    "no call crosses the link `{}` ({arrow}): it shapes nothing",
                    link.path()
                ),
                at,
            )
            .help("link ends that call each other, like `api -> db` where api has `call: db/...`"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::bandwidth;

    #[test]
    fn bandwidths_are_bits_per_second() {
        assert_eq!(bandwidth("1mbit"), Ok(1_000_000));
        assert_eq!(bandwidth("250kbit"), Ok(250_000));
        assert_eq!(bandwidth("1.5gbit"), Ok(1_500_000_000));
        assert!(bandwidth("1MB").is_err());
        assert!(bandwidth("-1mbit").is_err());
        assert!(bandwidth("fast").is_err());
    }
}
