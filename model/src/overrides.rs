//! `--set a.b.c=VALUE` overrides, applied to the located tree before
//! validation. An overridden value keeps the location of the value it
//! replaced and remembers the override, so errors about it point at the
//! original line and say which `--set` wrote it.

use std::rc::Rc;

use crate::Override;
use crate::check::did_you_mean;
use crate::diagnostic::Diag;
use crate::tree::{Loc, Located, Node};

/// Applies each override in order; returns an error for each one that is
/// malformed or leads nowhere. A missing key is added to an existing map; the
/// `settings` map itself is created when the file has none. A list's items
/// are named by their index from 0 (`endpoints.Cook.steps.0.work=100ms`).
pub fn apply(tree: &mut Located<Node>, overrides: &[Override]) -> Vec<Diag> {
    overrides
        .iter()
        .filter_map(|o| apply_one(tree, o).err())
        .collect()
}

fn apply_one(tree: &mut Located<Node>, over: &Override) -> Result<(), Diag> {
    let (o, flag) = (over.set.as_str(), over.flag.as_str());
    let malformed = |why: &str| {
        Diag::unplaced(format!("invalid override `{flag}`: {why}"))
            .help("write `--set KEY.PATH=VALUE`, like `--set services.db.workers=4`")
    };
    let Some((path, value)) = o.split_once('=') else {
        return Err(malformed("there is no `=`"));
    };
    let segs: Vec<&str> = path.trim().split('.').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Err(malformed("the path has an empty part"));
    }
    let value = unquote(value.trim());
    if value.is_empty() {
        return Err(malformed("there is no value after `=`"));
    }
    let origin: Rc<str> = Rc::from(flag);
    let mut cur = tree;
    let mut at = Loc {
        line: 1,
        col: 1,
        len: 0,
    };
    for (i, seg) in segs.iter().enumerate() {
        let here = segs[..i].join(".");
        if cur.value == Node::Null {
            cur.value = Node::Map(Vec::new());
        }
        let last = i + 1 == segs.len();
        let describe = cur.value.describe();
        let cur_loc = cur.loc;
        let next = match &mut cur.value {
            Node::Seq(items) => {
                let it = item(items, seg, flag, &here, cur_loc)?;
                at = it.loc;
                it
            }
            Node::Map(entries) => {
                let pos = match entries.iter().position(|(k, _)| k.value == *seg) {
                    Some(p) => p,
                    None if last || (i == 0 && *seg == "settings") => {
                        let key = Located {
                            value: seg.to_string(),
                            loc: at,
                            set_by: Some(origin.clone()),
                        };
                        let new = Located {
                            value: Node::Null,
                            loc: at,
                            set_by: Some(origin.clone()),
                        };
                        entries.push((key, new));
                        entries.len() - 1
                    }
                    None => {
                        let inside = if here.is_empty() {
                            "the topology".to_string()
                        } else {
                            format!("`{here}`")
                        };
                        let mut d =
                            Diag::unplaced(format!("`{flag}`: there is no `{seg}` in {inside}"));
                        if let Some(m) =
                            did_you_mean(seg, entries.iter().map(|(k, _)| k.value.as_str()))
                        {
                            d = d.help(format!("did you mean `{m}`?"));
                        }
                        return Err(d);
                    }
                };
                let (key, node) = &mut entries[pos];
                at = key.loc;
                node
            }
            _ => {
                let d = Diag::error(
                    format!("`{flag}`: `{here}` is not a map or a list but {describe}"),
                    cur_loc,
                )
                .help("an override can only set keys inside maps, or items of lists by index");
                return Err(d);
            }
        };
        if last {
            next.value = Node::Scalar(value.to_string());
            next.set_by = Some(origin.clone());
            return Ok(());
        }
        cur = next;
    }
    Ok(())
}

/// Item `seg` (an index from 0) of a list: an override replaces or reaches
/// into an item; it never appends one, since a new item would have none of
/// the keys an item needs.
fn item<'a>(
    items: &'a mut [Located<Node>],
    seg: &str,
    flag: &str,
    here: &str,
    loc: Loc,
) -> Result<&'a mut Located<Node>, Diag> {
    let len = items.len();
    let Ok(index) = seg.parse::<usize>() else {
        return Err(Diag::error(
            format!("`{flag}`: `{here}` is a list, so `{seg}` should be an index"),
            loc,
        )
        .help(format!(
            "name an item by its position from 0, like `{here}.0`"
        )));
    };
    items.get_mut(index).ok_or_else(|| {
        let range = match len {
            0 => "it is empty".to_string(),
            1 => "its only item is `0`".to_string(),
            n => format!("its items are `0` to `{}`", n - 1),
        };
        Diag::error(
            format!("`{flag}`: `{here}` has {len} item(s), so there is no item {index}"),
            loc,
        )
        .help(format!("{range}; an override cannot add an item to a list"))
    })
}

/// `'x'` and `"x"` are the scalar `x`, as in YAML.
fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::parse;

    fn get<'a>(n: &'a Node, path: &[&str]) -> &'a Located<Node> {
        let Node::Map(entries) = n else {
            panic!("not a map")
        };
        let (_, v) = entries
            .iter()
            .find(|(k, _)| k.value == path[0])
            .expect("key");
        if path.len() == 1 {
            v
        } else {
            get(&v.value, &path[1..])
        }
    }

    #[test]
    fn sets_an_existing_key_keeping_its_location() {
        let mut t = parse("services:\n  db:\n    workers: 1\n").unwrap();
        assert!(apply(&mut t, &crate::from_sets(&["services.db.workers=4".into()])).is_empty());
        let v = get(&t.value, &["services", "db", "workers"]);
        assert_eq!(v.value, Node::Scalar("4".into()));
        assert_eq!((v.loc.line, v.loc.col), (3, 14));
        assert_eq!(v.set_by.as_deref(), Some("--set services.db.workers=4"));
    }

    #[test]
    fn adds_a_missing_key_and_creates_settings() {
        let mut t = parse("services:\n  db: {}\n").unwrap();
        let sets = [
            "services.db.queue='unbounded'".into(),
            "settings.seed=7".into(),
        ];
        assert!(apply(&mut t, &crate::from_sets(&sets)).is_empty());
        assert_eq!(
            get(&t.value, &["services", "db", "queue"]).value,
            Node::Scalar("unbounded".into())
        );
        assert_eq!(
            get(&t.value, &["settings", "seed"]).value,
            Node::Scalar("7".into())
        );
    }

    #[test]
    fn malformed_and_impossible_overrides_are_errors_naming_them() {
        let mut t = parse("name: x\nservices:\n  db: {}\n").unwrap();
        let sets = [
            "workers".into(),
            "a..b=1".into(),
            "name.x=1".into(),
            "servics.db.workers=2".into(),
        ];
        let d = apply(&mut t, &crate::from_sets(&sets));
        assert_eq!(d.len(), 4);
        assert!(d[0].message.contains("`--set workers`") && d[0].message.contains("no `=`"));
        assert!(d[1].message.contains("empty part"));
        assert_eq!(
            d[2].message,
            "`--set name.x=1`: `name` is not a map or a list but `x`"
        );
        assert_eq!(d[2].loc.map(|l| l.line), Some(1));
        assert_eq!(
            d[3].message,
            "`--set servics.db.workers=2`: there is no `servics` in the topology"
        );
        assert_eq!(d[3].help, ["did you mean `services`?"]);
    }

    #[test]
    fn reaches_into_lists_by_index() {
        let mut t = parse(
            "services:\n  k:\n    endpoints:\n      Cook:\n        steps:\n          - work: 1ms\n          - work: 2ms\nfaults:\n  - { at: 1s, target: k, slow: 2x }\n",
        )
        .unwrap();
        let sets = [
            "services.k.endpoints.Cook.steps.1.work=100ms".into(),
            "faults.0.for=3s".into(),
        ];
        assert!(apply(&mut t, &crate::from_sets(&sets)).is_empty());
        let steps = get(&t.value, &["services", "k", "endpoints", "Cook", "steps"]);
        let Node::Seq(items) = &steps.value else {
            panic!("steps is a list")
        };
        let work = get(&items[1].value, &["work"]);
        assert_eq!(work.value, Node::Scalar("100ms".into()));
        assert_eq!((work.loc.line, work.loc.col), (7, 19));
        let Node::Seq(faults) = &get(&t.value, &["faults"]).value else {
            panic!("faults is a list")
        };
        let added = get(&faults[0].value, &["for"]);
        assert_eq!(added.value, Node::Scalar("3s".into()));
        assert_eq!(added.loc.line, 9, "a new key points at its item");
    }

    #[test]
    fn a_bad_index_says_what_the_list_holds() {
        let mut t = parse("faults:\n  - { at: 1s, target: k, slow: 2x }\n").unwrap();
        let sets = ["faults.3.at=2s".into(), "faults.first.at=2s".into()];
        let d = apply(&mut t, &crate::from_sets(&sets));
        assert_eq!(d.len(), 2);
        assert_eq!(
            d[0].message,
            "`--set faults.3.at=2s`: `faults` has 1 item(s), so there is no item 3"
        );
        assert_eq!(d[0].loc.map(|l| l.line), Some(2));
        assert!(
            d[0].help[0].contains("its only item is `0`"),
            "{:?}",
            d[0].help
        );
        assert!(
            d[1].message.contains("should be an index"),
            "{}",
            d[1].message
        );
    }
}
