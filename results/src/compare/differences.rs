//! What differed between the two runs before any figure did: their
//! topologies as they ran (`topology.yaml`, with every `--set`, `--duration`
//! and `--seed` already written in), value by value, as dotted paths a
//! `--set` would name.

use std::path::Path;

use serde::Serialize;
use topolab_model::tree::{self, Located, Node};

/// The file each run folder holds its topology as it ran in.
const TOPOLOGY: &str = "topology.yaml";

/// One value that is not the same in both runs; `None` where a run has no
/// such key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// The dotted path, as `--set` takes it (`services.kitchen.workers`).
    pub path: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

/// The differences between the topologies in folders `a` and `b`, in A's
/// file order (then what only B has); empty when either folder has no
/// readable topology (an older run folder, say).
pub fn between(a: &Path, b: &Path) -> Vec<Difference> {
    let read = |dir: &Path| {
        let text = std::fs::read_to_string(dir.join(TOPOLOGY)).ok()?;
        tree::parse(&text).ok()
    };
    match (read(a), read(b)) {
        (Some(ta), Some(tb)) => {
            let mut out = Vec::new();
            walk("", Some(&ta), Some(&tb), &mut out);
            out
        }
        _ => Vec::new(),
    }
}

/// Appends the differences under `path` between `a` and `b`.
fn walk(
    path: &str,
    a: Option<&Located<Node>>,
    b: Option<&Located<Node>>,
    out: &mut Vec<Difference>,
) {
    let at = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (a.map(|n| &n.value), b.map(|n| &n.value)) {
        (Some(Node::Map(ma)), Some(Node::Map(mb))) => {
            for (k, va) in ma {
                walk(&at(&k.value), Some(va), find(mb, &k.value), out);
            }
            for (k, vb) in mb.iter().filter(|(k, _)| find(ma, &k.value).is_none()) {
                walk(&at(&k.value), None, Some(vb), out);
            }
        }
        (Some(Node::Seq(sa)), Some(Node::Seq(sb))) => {
            for i in 0..sa.len().max(sb.len()) {
                walk(&at(&i.to_string()), sa.get(i), sb.get(i), out);
            }
        }
        (va, vb) => {
            let (ta, tb) = (va.map(text), vb.map(text));
            if ta != tb {
                out.push(Difference {
                    path: path.to_string(),
                    a: ta,
                    b: tb,
                });
            }
        }
    }
}

/// The value under `key` in a map's entries.
fn find<'a>(
    entries: &'a [(Located<String>, Located<Node>)],
    key: &str,
) -> Option<&'a Located<Node>> {
    entries.iter().find(|(k, _)| k.value == key).map(|(_, v)| v)
}

/// A value in one line: a scalar as written, a map or list in flow style.
fn text(n: &Node) -> String {
    match n {
        Node::Null => "~".to_string(),
        Node::Scalar(s) => s.clone(),
        Node::Seq(items) => {
            let items: Vec<String> = items.iter().map(|i| text(&i.value)).collect();
            format!("[{}]", items.join(", "))
        }
        Node::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", k.value, text(&v.value)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(a: &str, b: &str) -> Vec<Difference> {
        let mut out = Vec::new();
        let (ta, tb) = (tree::parse(a).unwrap(), tree::parse(b).unwrap());
        walk("", Some(&ta), Some(&tb), &mut out);
        out
    }

    #[test]
    fn values_keys_and_items_that_differ_are_named_by_path() {
        let a = "name: d  # a comment\nservices:\n  k:\n    workers: 1\nload:\n  r: {rate: 3/s}\n";
        let b = "name: d\nservices:\n  k:\n    workers: 2\n    queue: 5\nload:\n  r: {rate: 3/s}\n";
        let d = diff(a, b);
        let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["services.k.workers", "services.k.queue"]);
        assert_eq!(d[0].a.as_deref(), Some("1"));
        assert_eq!(d[0].b.as_deref(), Some("2"));
        assert_eq!(d[1].a, None);
        assert!(diff(a, a).is_empty());
    }
}
