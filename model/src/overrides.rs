//! `--set a.b.c=VALUE` overrides, applied to the located tree before
//! validation. An overridden value keeps the location of the value it
//! replaced and remembers the override, so errors about it point at the
//! original line and say which `--set` wrote it.

use std::rc::Rc;

use crate::check::did_you_mean;
use crate::diagnostic::Diag;
use crate::tree::{Loc, Located, Node};

/// Applies each override in order; returns an error for each one that is
/// malformed or leads nowhere. A missing key is added to an existing map; the
/// `settings` map itself is created when the file has none.
pub fn apply(tree: &mut Located<Node>, overrides: &[String]) -> Vec<Diag> {
    overrides
        .iter()
        .filter_map(|o| apply_one(tree, o).err())
        .collect()
}

fn apply_one(tree: &mut Located<Node>, o: &str) -> Result<(), Diag> {
    let malformed = |why: &str| {
        Diag::unplaced(format!("invalid override `--set {o}`: {why}"))
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
    let origin: Rc<str> = Rc::from(o);
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
        let describe = cur.value.describe();
        let cur_loc = cur.loc;
        let Node::Map(entries) = &mut cur.value else {
            let d = Diag::error(
                format!("`--set {o}`: `{here}` is not a map but {describe}"),
                cur_loc,
            )
            .help("an override can only set keys inside maps");
            return Err(d);
        };
        let last = i + 1 == segs.len();
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
                let mut d = Diag::unplaced(format!("`--set {o}`: there is no `{seg}` in {inside}"));
                if let Some(m) = did_you_mean(seg, entries.iter().map(|(k, _)| k.value.as_str())) {
                    d = d.help(format!("did you mean `{m}`?"));
                }
                return Err(d);
            }
        };
        let (key, node) = &mut entries[pos];
        if last {
            node.value = Node::Scalar(value.to_string());
            node.set_by = Some(origin.clone());
            return Ok(());
        }
        at = key.loc;
        cur = node;
    }
    Ok(())
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
        assert!(apply(&mut t, &["services.db.workers=4".into()]).is_empty());
        let v = get(&t.value, &["services", "db", "workers"]);
        assert_eq!(v.value, Node::Scalar("4".into()));
        assert_eq!((v.loc.line, v.loc.col), (3, 14));
        assert_eq!(v.set_by.as_deref(), Some("services.db.workers=4"));
    }

    #[test]
    fn adds_a_missing_key_and_creates_settings() {
        let mut t = parse("services:\n  db: {}\n").unwrap();
        let sets = [
            "services.db.queue='unbounded'".into(),
            "settings.seed=7".into(),
        ];
        assert!(apply(&mut t, &sets).is_empty());
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
        let d = apply(&mut t, &sets);
        assert_eq!(d.len(), 4);
        assert!(d[0].message.contains("`--set workers`") && d[0].message.contains("no `=`"));
        assert!(d[1].message.contains("empty part"));
        assert_eq!(
            d[2].message,
            "`--set name.x=1`: `name` is not a map but `x`"
        );
        assert_eq!(d[2].loc.map(|l| l.line), Some(1));
        assert_eq!(
            d[3].message,
            "`--set servics.db.workers=2`: there is no `servics` in the topology"
        );
        assert_eq!(d[3].help, ["did you mean `services`?"]);
    }
}
