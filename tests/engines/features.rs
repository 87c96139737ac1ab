//! The rows of the engines table, read from the format itself: the variants
//! of the model's enums and the fields of its structs, as serde names them
//! (the words a topology file uses). A variant or field added to the model
//! is a new row at once, and the test fails until it has a check.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use topolab_model::{
    Arrivals, Balance, Call, Deadlines, FaultAction, Generator, Kind, Network, Pattern, Settings,
    State, Step, updates::Follow,
};

/// One row: a word of the format and the group it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Feature {
    /// The group, as the README's compact table names it.
    pub group: &'static str,
    /// The word a topology writes (`p2c`, `retry_budget`, `kill`).
    pub word: &'static str,
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.group, self.word)
    }
}

/// Fields of a `call` step that say which endpoint, not how it is called.
const CALL_IDENTITY: &[&str] = &["service", "endpoint"];

/// Fields of a generator that are rows of other groups, or that every
/// generator has: its name and target, its pattern (the generator kind),
/// `duration` (the length of every one) and `follow` (the updates ways).
const GENERATOR_ELSEWHERE: &[&str] = &["name", "target", "pattern", "duration", "follow"];

/// Every row, in the order the tables show them.
pub fn all() -> Vec<Feature> {
    let mut rows = Vec::new();
    let mut add = |group: &'static str, words: Vec<&'static str>| {
        rows.extend(words.into_iter().map(|word| Feature { group, word }));
    };
    add("step kind", variants::<Step>());
    add("service kind", variants::<Kind>());
    add("balance policy", variants::<Balance>());
    add("session", variants::<State>());
    add("deadlines", variants::<Deadlines>());
    add("call policy", without(fields::<Call>(), CALL_IDENTITY));
    let mut faults = variants::<FaultAction>();
    // A `faults:` item that names a `link` (the network's own list).
    faults.extend(
        fields::<Network>()
            .into_iter()
            .filter(|f| *f == "faults")
            .map(|_| "link"),
    );
    add("fault kind", faults);
    let mut shape = variants::<Arrivals>();
    shape.extend(without(fields::<Generator>(), GENERATOR_ELSEWHERE));
    add("load shape", shape);
    add("generator kind", variants::<Pattern>());
    add("updates way", variants::<Follow>());
    add("setting", fields::<Settings>());
    rows
}

/// The groups in table order, each once.
pub fn groups(rows: &[Feature]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in rows {
        if !out.contains(&r.group) {
            out.push(r.group);
        }
    }
    out
}

fn without(words: Vec<&'static str>, skip: &[&str]) -> Vec<&'static str> {
    words.into_iter().filter(|w| !skip.contains(w)).collect()
}

/// The variant names serde gives `T` (an enum).
fn variants<'de, T: Deserialize<'de>>() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let _ = T::deserialize(Introspect(&mut seen));
    assert!(
        !seen.variants.is_empty(),
        "{} is not an enum",
        std::any::type_name::<T>()
    );
    seen.variants.to_vec()
}

/// The field names serde gives `T` (a struct).
fn fields<'de, T: Deserialize<'de>>() -> Vec<&'static str> {
    let mut seen = Seen::default();
    let _ = T::deserialize(Introspect(&mut seen));
    assert!(
        !seen.fields.is_empty(),
        "{} is not a struct",
        std::any::type_name::<T>()
    );
    seen.fields.to_vec()
}

/// What a type told the deserializer about itself before it gave up.
#[derive(Default)]
struct Seen {
    variants: &'static [&'static str],
    fields: &'static [&'static str],
}

/// A deserializer that holds no data: it only records the names a derived
/// `Deserialize` hands it, then fails.
struct Introspect<'a>(&'a mut Seen);

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("introspection only")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for Introspect<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.0.variants = variants;
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.0.fields = fields;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map identifier ignored_any
    }
}
