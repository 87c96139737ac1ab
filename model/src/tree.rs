//! The located YAML tree: every node of the document with the line and column
//! it came from, so that validation can point at the offending text. Scalars
//! are kept as text; the checker gives them meaning.

use std::fmt;
use std::rc::Rc;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where a node sits in the source, 1-based, with the width to underline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    /// Line, from 1; 0 only for a default location that is never rendered.
    pub line: u32,
    /// Column in characters, from 1.
    pub col: u32,
    /// Characters to underline; at least 1 when rendered.
    pub len: u32,
}

impl Loc {
    fn from_saphyr(l: serde_saphyr::Location) -> Self {
        Loc {
            line: l.line() as u32,
            col: l.column() as u32,
            len: l.span().len() as u32,
        }
    }
}

/// A node with its location and, when a `--set` override wrote it, that
/// override, so errors about it can say where the value really came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    /// The node itself.
    pub value: T,
    /// Where it was written (for an added key: where its map was named).
    pub loc: Loc,
    /// The flag that wrote this value, as the user typed it
    /// (`--set services.db.workers=4`, `--duration 10s`).
    pub set_by: Option<Rc<str>>,
}

impl<T> Located<T> {
    /// A node read from the file at `loc`.
    pub fn new(value: T, loc: Loc) -> Self {
        Located {
            value,
            loc,
            set_by: None,
        }
    }
}

/// One YAML node, with scalars as their text (`4`, `exp(2ms)`, `true`).
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `~`, `null`, or nothing at all after a colon.
    Null,
    /// Any scalar, as text: numbers and booleans included, quotes removed.
    Scalar(String),
    /// A list, in file order.
    Seq(Vec<Located<Node>>),
    /// Entries in file order; duplicates are kept so the checker can report them.
    Map(Vec<(Located<String>, Located<Node>)>),
}

impl Node {
    /// The first value under `key`, when this is a map.
    pub fn get(&self, key: &str) -> Option<&Located<Node>> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k.value == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// How the node reads in an error message: "a map", "`4/s`".
    pub fn describe(&self) -> String {
        match self {
            Node::Null => "nothing".into(),
            Node::Scalar(s) => format!("`{s}`"),
            Node::Seq(_) => "a list".into(),
            Node::Map(_) => "a map".into(),
        }
    }
}

/// A YAML syntax error: the parser's message and where it stopped.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    /// The parser's message, without its own location suffix.
    pub message: String,
    /// Where the parser stopped.
    pub loc: Loc,
}

/// Parses one YAML document into a located tree.
pub fn parse(text: &str) -> Result<Located<Node>, SyntaxError> {
    let options = serde_saphyr::options! {
        // Duplicates reach our visitor, which keeps both so the checker can
        // report every one of them, with both locations.
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::PassThrough,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
    };
    match serde_saphyr::from_str_with_options::<Option<Spanned<NodeDe>>>(text, options) {
        Ok(Some(root)) => Ok(located(root)),
        Ok(None) => Ok(Located::new(
            Node::Null,
            Loc {
                line: 1,
                col: 1,
                len: 1,
            },
        )),
        Err(e) => {
            let e = e.without_snippet();
            let loc = e.location().map(Loc::from_saphyr).unwrap_or(Loc {
                line: 1,
                col: 1,
                len: 1,
            });
            Err(SyntaxError {
                message: strip_location(&e.to_string()),
                loc,
            })
        }
    }
}

/// serde-saphyr appends " at line L, column C" to its messages; the
/// diagnostic shows the location itself.
fn strip_location(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or(msg);
    match first.rfind(" at line ") {
        Some(i) => first[..i].trim_end().to_string(),
        None => first.trim_end().to_string(),
    }
}

fn located(s: Spanned<NodeDe>) -> Located<Node> {
    Located::new(s.value.0, Loc::from_saphyr(s.referenced))
}

/// Deserialization shim: [`Node`] built by a hand-written visitor.
struct NodeDe(Node);

impl<'de> Deserialize<'de> for NodeDe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor).map(NodeDe)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Scalar(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<NodeDe>>()? {
            items.push(located(item));
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<NodeDe>>()?;
            let key = Located::new(key.value, Loc::from_saphyr(key.referenced));
            entries.push((key, located(value)));
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_one_based_and_cover_the_text() {
        let root =
            parse("name: diner\nservices:\n  kitchen:\n    workers: 1\n    q: [a, bb]\n").unwrap();
        eprintln!("{root:#?}");
        let Node::Map(top) = &root.value else {
            panic!()
        };
        assert_eq!(
            top[0].0.loc,
            Loc {
                line: 1,
                col: 1,
                len: 4
            }
        );
        assert_eq!(
            top[0].1.loc,
            Loc {
                line: 1,
                col: 7,
                len: 5
            }
        );
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let e = parse("name: a\nservices:\n  x: [1, 2\n").unwrap_err();
        eprintln!("{e:?}");
        assert!(e.loc.line >= 3);
    }

    #[test]
    fn duplicates_are_kept() {
        let root = parse("a: 1\na: 2\n").unwrap();
        let Node::Map(top) = &root.value else {
            panic!()
        };
        assert_eq!(top.len(), 2);
    }
}
