//! The entries of one YAML map, after duplicate keys, unknown keys and keys
//! not supported yet were reported: what every walker reads its keys from.

use std::collections::HashMap;

use super::{Checker, did_you_mean, error_at};
use crate::tree::{Located, Node};

/// The known keys of a map, first occurrence of each.
pub(crate) struct Fields<'a> {
    entries: Vec<(&'a Located<String>, &'a Located<Node>)>,
}

impl<'a> Fields<'a> {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&'a Located<Node>> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key and value under `key`.
    pub fn entry(&self, key: &str) -> Option<(&'a Located<String>, &'a Located<Node>)> {
        self.entries.iter().find(|(k, _)| k.value == key).copied()
    }
}

impl Checker {
    /// Reads `node` as a map describing `what` (e.g. "service `kitchen`").
    /// `known` keys are returned; `later` keys are refused as not supported
    /// yet; anything else is an unknown key, with a "did you mean". A null
    /// node reads as an empty map (`Ping:` with nothing under it).
    pub fn fields<'a>(
        &mut self,
        node: &'a Located<Node>,
        what: &str,
        known: &[&str],
        later: &[&str],
    ) -> Option<Fields<'a>> {
        let mut fields = Fields {
            entries: Vec::new(),
        };
        let entries = match &node.value {
            Node::Null => return Some(fields),
            Node::Map(entries) => entries,
            other => {
                self.push(
                    error_at(
                        format!("{what} should be a map, found {}", other.describe()),
                        node,
                    )
                    .help(format!("expected keys such as `{}`", known.join("`, `"))),
                );
                return None;
            }
        };
        let mut seen: HashMap<&str, u32> = HashMap::new();
        for (k, v) in entries {
            let key = k.value.as_str();
            if let Some(first) = seen.get(key) {
                self.push(
                    error_at(format!("duplicate key `{key}` in {what}"), k)
                        .note(format!("first written at line {first}"))
                        .help("keep one of them"),
                );
                continue;
            }
            seen.insert(key, k.loc.line);
            if known.contains(&key) {
                fields.entries.push((k, v));
            } else if later.contains(&key) {
                self.not_supported(&format!("`{key}`"), k);
            } else {
                let mut d = error_at(format!("unknown key `{key}` in {what}"), k);
                match did_you_mean(key, known.iter().chain(later).copied()) {
                    Some(m) => d = d.help(format!("did you mean `{m}`?")),
                    None => d = d.help(format!("expected one of `{}`", known.join("`, `"))),
                }
                self.push(d);
            }
        }
        Some(fields)
    }
}
