//! Validation: walks the located tree (raw) and builds the checked
//! [`Topology`], collecting every problem as a [`Diag`] instead of stopping at
//! the first. The walkers fill in defaults where a value was bad, so checking
//! can go on; a topology with any error is thrown away at the end.

mod balancer;
mod faults;
mod fields;
mod follow;
mod graph;
mod load;
mod network;
mod policy;
mod service;
mod stages;
mod top;

use std::rc::Rc;

use crate::Limits;
use crate::diagnostic::{Diag, Severity};
use crate::model::Topology;
use crate::tree::{Loc, Located, Node};
use crate::values::ValueError;

pub(crate) use fields::Fields;

/// Checks a whole document. The topology is `None` when any error was found;
/// the diagnostics hold errors and warnings, sorted by position.
pub fn check(root: &Located<Node>, limits: Limits) -> (Option<Topology>, Vec<Diag>) {
    let mut ck = Checker {
        diags: Vec::new(),
        limits,
    };
    let topology = top::topology(&mut ck, root);
    let mut diags = ck.diags;
    diags.sort_by_key(|d| d.loc.map(|l| (l.line, l.col)));
    let failed = diags.iter().any(|d| d.severity == Severity::Error);
    (topology.filter(|_| !failed), diags)
}

/// Collects diagnostics while the walkers run.
pub(crate) struct Checker {
    /// Everything found so far, in the order found.
    pub diags: Vec<Diag>,
    /// The sizes this topology may reach (a run's machine, or a simulation).
    pub limits: Limits,
}

/// A diagnostic at a node, noting the flag that wrote it, if one did.
pub(crate) fn error_at<T>(message: impl Into<String>, node: &Located<T>) -> Diag {
    with_origin(Diag::error(message, node.loc), &node.set_by)
}

/// A warning at a node, noting the flag that wrote it, if one did.
pub(crate) fn warning_at<T>(message: impl Into<String>, node: &Located<T>) -> Diag {
    with_origin(Diag::warning(message, node.loc), &node.set_by)
}

fn with_origin(d: Diag, set_by: &Option<Rc<str>>) -> Diag {
    match set_by {
        Some(flag) => d.note(format!("set by `{flag}`")),
        None => d,
    }
}

/// The closest of `candidates` to `word`, if one is close enough to be a typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            let score = if c.eq_ignore_ascii_case(word) {
                1.0
            } else {
                strsim::jaro_winkler(c, word)
            };
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

impl Checker {
    /// Records a diagnostic.
    pub fn push(&mut self, d: Diag) {
        self.diags.push(d);
    }

    /// The text of a scalar, or an error naming what `key` expects.
    pub fn scalar<'a>(
        &mut self,
        key: &str,
        node: &'a Located<Node>,
        expected: &str,
    ) -> Option<&'a str> {
        match &node.value {
            Node::Scalar(s) => Some(s),
            other => {
                let d = error_at(format!("invalid `{key}`: found {}", other.describe()), node)
                    .help(format!("expected {expected}"));
                self.push(d);
                None
            }
        }
    }

    /// Parses a scalar with one of the [`crate::values`] parsers.
    pub fn parse<T>(
        &mut self,
        key: &str,
        node: &Located<Node>,
        expected: &str,
        f: fn(&str) -> Result<T, ValueError>,
    ) -> Option<T> {
        let text = self.scalar(key, node, expected)?;
        match f(text) {
            Ok(v) => Some(v),
            Err(e) => {
                let d = error_at(format!("invalid `{key}`: {}", e.problem), node)
                    .help(format!("expected {}", e.expected));
                self.push(d);
                None
            }
        }
    }

    /// A count that must be at least 1 (replicas, workers, clients, times).
    pub fn positive_count(&mut self, key: &str, node: &Located<Node>) -> Option<u32> {
        let n = self.parse(key, node, crate::values::COUNT, crate::values::count)?;
        if n == 0 {
            let d = error_at(format!("`{key}` must be at least 1, found `0`"), node)
                .help(format!("set `{key}` to 1 or more"));
            self.push(d);
            return None;
        }
        Some(n)
    }

    /// A duration that must be longer than zero (timeouts, run lengths).
    pub fn positive_duration(
        &mut self,
        key: &str,
        node: &Located<Node>,
    ) -> Option<std::time::Duration> {
        let d = self.parse(key, node, crate::values::DURATION, crate::values::duration)?;
        if d.is_zero() {
            let diag = error_at(format!("`{key}` must be longer than zero"), node)
                .help(format!("expected {}", crate::values::DURATION));
            self.push(diag);
            return None;
        }
        Some(d)
    }

    /// One of a fixed set of words, with a "did you mean" for near misses.
    pub fn choice<T: Copy>(
        &mut self,
        key: &str,
        node: &Located<Node>,
        options: &[(&str, T)],
    ) -> Option<T> {
        let names: Vec<String> = options.iter().map(|(n, _)| format!("`{n}`")).collect();
        let expected = format!("one of {}", names.join(", "));
        let text = self.scalar(key, node, &expected)?;
        if let Some((_, v)) = options.iter().find(|(n, _)| *n == text) {
            return Some(*v);
        }
        let mut d = error_at(format!("invalid `{key}`: unknown value `{text}`"), node);
        if let Some(m) = did_you_mean(text, options.iter().map(|(n, _)| *n)) {
            d = d.help(format!("did you mean `{m}`?"));
        }
        self.push(d.help(format!("expected {expected}")));
        None
    }

    /// Checks a name against the spec's pattern: a lowercase letter, then
    /// lowercase letters, digits and `-` (services, generators), or a letter,
    /// then letters, digits and `_` (endpoints).
    pub fn name(&mut self, what: &str, key: &Located<String>, endpoint_style: bool) -> bool {
        let s = key.value.as_str();
        let ok = if endpoint_style {
            s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        } else {
            s.starts_with(|c: char| c.is_ascii_lowercase())
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if !ok {
            let rule = if endpoint_style {
                "a letter, then letters, digits or `_` (like `GetUser`)"
            } else {
                "a lowercase letter, then lowercase letters, digits or `-` (like `auth-db`)"
            };
            self.push(
                error_at(format!("invalid {what} name `{s}`"), key)
                    .help(format!("a {what} name is {rule}")),
            );
        }
        ok
    }

    /// Reports a key this version does not implement yet.
    pub fn not_supported(&mut self, what: &str, node: &Located<String>) {
        self.push(
            error_at(format!("{what} is not supported yet"), node)
                .help("remove it; this version of topolab cannot run it"),
        );
    }

    /// An error with no better place than the key that names a map.
    pub fn missing(&mut self, what: &str, key: &str, at: Loc, example: &str) {
        self.push(
            Diag::error(format!("{what} needs `{key}`"), at).help(format!("add e.g. `{example}`")),
        );
    }
}

/// The keys each kind of map accepts, for the JSON Schema (`crate::schema`),
/// so the schema can never drift from what validation accepts.
pub(crate) mod keys {
    pub(crate) use super::faults::FAULT_KEYS;
    pub(crate) use super::load::GENERATOR_KEYS;
    pub(crate) use super::network::{NETWORK_KEYS, SHAPE_KEYS};
    pub(crate) use super::policy::BREAKER_KEYS;
    pub(crate) use super::service::{CALL_KEYS, ENDPOINT_KEYS, SERVICE_KEYS};
    pub(crate) use super::stages::STAGE_KEYS;
    pub(crate) use super::top::{SETTINGS_KEYS, TOP_KEYS};
}
